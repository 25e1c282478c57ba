# Every entry point of the project. The first target that needs Python creates .venv and
# installs the package with its test extra; the stamp file keeps later calls fast.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test figures figures-fast check bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

figures: $(STAMP)
	$(BIN)/python -m figures.make_all

figures-fast: $(STAMP)
	$(BIN)/python -m figures.make_all --fast

check: $(STAMP)
	$(BIN)/localize check

bench: $(STAMP)
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check localize synthetic proofs_check figures bench tests

clean:
	rm -rf $(VENV) .hypothesis .pytest_cache figures/data/*.npz figures/data/*.json bench.json
