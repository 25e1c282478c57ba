"""The ``localize`` command line, end to end.

Most cases call :func:`localize.cli.main` in-process (JAX starts once); a few run the real
console script in a subprocess to check exit codes, streams and the absence of tracebacks
as a user sees them. Every bad input must exit 2 with exactly one ``error:`` line on stderr
naming the parameter, and print nothing on stdout.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import math
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import localize
import synthetic
from localize import cli
from localize.config import load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

TOY = {
    "model": {
        "family": "finite",
        "alphabet": 2,
        "length": 3,
        "weights": [0.5, 0.3, 0.2],
        "pmfs": [
            [0.49, 0.49, 0.005, 0.005, 0.005, 0.005, 0.0, 0.0],
            [0.005, 0.005, 0.49, 0.49, 0.005, 0.005, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.25, 0.25, 0.25, 0.25],
        ],
    },
    "process": {"kind": "truncation"},
    "experiment": {"s_init": [0], "s_target": [0, 1], "eps": 0.2, "times": [0, 1, 2, 3]},
}

REQUIRED_KEYS = (
    "times", "tv_init_target", "tv_target_rest", "tv_init_rest", "fr_tv_target",
    "fr_tv_init", "fr_tv_full", "label_mass_target", "T_start", "T_end", "T_before_C",
    "T_after_C", "W", "bound_theorem2", "theorem2_holds",
)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else
                                                 ("inf" if v > 0 else "-inf"))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def to_toml(doc: dict) -> str:
    """A minimal TOML writer for configs: top-level tables of scalars, lists, inline tables."""
    out = []
    for table, body in doc.items():
        out.append(f"[{table}]")
        out += [f"{k} = {_value(v)}" for k, v in body.items()]
        out.append("")
    return "\n".join(out)


@pytest.fixture
def write(tmp_path):
    def _write(doc, name="config.toml"):
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else to_toml(doc))
        return path

    return _write


def run_main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_input(code, out, err, names):
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert names in lines[0], (names, lines[0])


def toy_report():
    e = TOY["experiment"]
    model = synthetic.build("finite", process="truncation", **{
        k: v for k, v in TOY["model"].items() if k != "family"})
    return localize.window_report(model, e["s_init"], e["s_target"], e["eps"], e["times"])


# ---------------------------------------------------------------- window: the good path


def test_window_json_matches_the_library(write, capsys):
    code, out, err = run_main(capsys, "window", write(TOY), "--json")
    assert code == 0, err
    got = json.loads(out)
    assert out.count("\n") == 1
    for key in REQUIRED_KEYS:
        assert key in got
    assert got == json.loads(json.dumps(toy_report().to_json()))
    assert got["T_end"] == 2.0 and got["T_start"] == 2.0
    assert got["T_after_C"] == 1.0 and got["T_before_C"] == 2.0
    assert got["theorem2_holds"] is True


def test_window_out_writes_the_file_and_nothing_on_stdout(write, capsys, tmp_path):
    target = tmp_path / "report.json"
    code, out, err = run_main(capsys, "window", write(TOY), "--json", "--out", target)
    assert code == 0, err
    assert out == ""
    assert json.loads(target.read_text()) == json.loads(json.dumps(toy_report().to_json()))


def test_sub_population_names(write, capsys):
    # "all" names every component of any model; an unknown name is bad input naming the key.
    doc = {**TOY, "experiment": {**TOY["experiment"], "s_init": [0], "s_target": "all"}}
    code, out, err = run_main(capsys, "window", write(doc), "--json")
    assert code in (0, 1), err
    assert json.loads(out)["s_target"] == [0, 1, 2]
    doc = {**TOY, "experiment": {**TOY["experiment"], "s_init": "signal"}}
    code, out, err = run_main(capsys, "window", write(doc))
    assert_bad_input(code, out, err, "experiment.s_init")
    assert "'all'" in err


def test_window_text(write, capsys):
    code, out, _ = run_main(capsys, "window", write(TOY))
    assert code == 0
    assert out.strip() == toy_report().to_text().strip()
    assert "T_end = 2" in out and "Theorem 2 holds" in out


def test_window_time_grid_table(write, capsys):
    doc = copy.deepcopy(TOY)
    doc["experiment"]["times"] = {"start": 0, "stop": 3, "num": 4}
    code, out, err = run_main(capsys, "window", write(doc), "--json")
    assert code == 0, err
    assert json.loads(out)["times"] == [0.0, 1.0, 2.0, 3.0]


def test_window_exits_1_when_theorem2_fails(write, capsys, monkeypatch):
    failed = dataclasses.replace(toy_report(), theorem2_holds=False)
    monkeypatch.setattr(localize, "window_report", lambda *a, **k: failed)
    code, out, _ = run_main(capsys, "window", write(TOY), "--json")
    assert code == 1
    assert json.loads(out)["theorem2_holds"] is False


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_every_example_parses(name):
    families = {f["name"]: list(f["params"]) for f in synthetic.families_info()}
    cfg = load_config(EXAMPLES / name)
    if cfg.family in families:
        load_config(EXAMPLES / name, families)
    assert cfg.times == sorted(set(cfg.times))


def test_finite_example_runs(capsys):
    code, out, err = run_main(capsys, "window", EXAMPLES / "finite_toy.toml", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["theorem2_holds"] is True
    assert report["T_after_C"] == 1.0 and report["T_before_C"] == 2.0


def _family_module(name):
    """Import the module that registers ``name`` (until the lead imports it in synthetic)."""
    if name not in synthetic.FAMILIES:
        pytest.importorskip(f"synthetic.{name}")
    if name not in synthetic.FAMILIES:
        pytest.skip(f"family {name} is not registered")


def test_example3_runs(capsys):
    _family_module("point_masses")
    code, out, err = run_main(capsys, "window", EXAMPLES / "example3.toml", "--json")
    assert code == 0, err
    report = json.loads(out)
    # TV(p_t^0, p_t^1) = 1 - t^10: separated up to eps^(2/10) = 0.631, on a grid of 0.005.
    assert report["T_after_C"] == pytest.approx(0.63)
    # TV(p_t^0, p_t) = (1 - t^10)/2 <= 0.1 from 0.8^(1/10) = 0.9779.
    assert report["T_before_C"] == pytest.approx(0.98)
    assert report["theorem2_holds"] is True


def test_example7_runs(capsys):
    _family_module("point_masses")
    code, out, err = run_main(capsys, "window", EXAMPLES / "example7.toml", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["T_end"] == 2.0 and report["T_start"] == 2.0
    # Every forward-reverse law is exactly a sub-mixture: p^{{0},2} = p^{S_target}.
    assert report["fr_tv_target"][2] == pytest.approx(0.0, abs=1e-12)
    assert report["theorem2_holds"] is True


def test_example5_runs_on_its_last_times(write, capsys):
    _family_module("biased_coins")
    doc = load_config(EXAMPLES / "example5.toml")
    assert doc.family == "biased_coins" and doc.model_params["length"] == 2000
    small = tomllib.loads((EXAMPLES / "example5.toml").read_text())
    small["experiment"]["times"] = [1990, 1993, 1994, 2000]
    code, out, err = run_main(capsys, "window", write(small), "--json")
    assert code == 0, err
    report = json.loads(out)
    # With n = L - t visible tokens, TV(Bin(n, .55), mixture) <= 0.1 first at n = 6.
    assert report["T_end"] == 1994.0
    assert report["error_bound"] <= 1e-12


# ---------------------------------------------------------------- families, version, check


def test_families(capsys):
    code, out, _ = run_main(capsys, "families")
    assert code == 0
    for fam in synthetic.families_info():
        assert f"{fam['name']}: {fam['summary']}" in out
        for param in fam["params"]:
            assert param in out
    code, out, _ = run_main(capsys, "families", "--json")
    assert code == 0
    assert json.loads(out) == synthetic.families_info()


def test_version(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0
    assert out.strip() == f"localize {localize.__version__}"


class _Result:
    def __init__(self, name, holds):
        self.row = {"name": name, "holds": holds, "lhs": 0.25, "rhs": 0.5,
                    "margin": 0.25 if holds else -0.25, "instances": 10}

    def to_json(self):
        return dict(self.row)


def _fake_proofs_check(monkeypatch, holds):
    calls = []

    def run_all(only=None, progress=False):
        if only is not None and only not in holds:
            raise localize.LocalizeError(f"--only: expected one of {list(holds)}, got {only!r}")
        calls.append(only)
        names = [only] if only else list(holds)
        return [_Result(n, holds[n]) for n in names]

    fake = types.ModuleType("proofs_check")
    fake.CLAIMS = dict.fromkeys(holds)
    fake.run_all = run_all
    monkeypatch.setitem(sys.modules, "proofs_check", fake)
    return calls


def test_check_table_json_and_exit_codes(capsys, monkeypatch):
    calls = _fake_proofs_check(monkeypatch, {"lemma1": True, "theorem2": False})
    code, out, _ = run_main(capsys, "check")
    assert code == 1
    assert "lemma1" in out and "theorem2" in out and "1 FAILED" in out
    code, out, _ = run_main(capsys, "check", "--json")
    assert code == 1
    got = json.loads(out)
    assert got["all_hold"] is False and [c["name"] for c in got["claims"]] == [
        "lemma1", "theorem2"]
    code, out, _ = run_main(capsys, "check", "--only", "lemma1", "--json")
    assert code == 0 and json.loads(out)["all_hold"] is True
    assert calls[-1] == "lemma1"
    assert_bad_input(*run_main(capsys, "check", "--only", "no_such_claim"), "--only")


def _real_proofs_check():
    try:
        import proofs_check
    except ImportError:
        return None
    return proofs_check if getattr(proofs_check, "CLAIMS", None) else None


def test_check_only_one_real_claim(capsys, monkeypatch):
    pc = _real_proofs_check()
    if pc is None:
        pytest.skip("proofs_check has no claims yet")
    # The default catalog takes a while to build; Example 3's instances are enough here.
    small = getattr(importlib.import_module("proofs_check.catalog"), "_example3_instances", None)
    if small is not None:
        monkeypatch.setattr(pc, "default_catalog", lambda *a, **k: small())
    name = "lemma1" if "lemma1" in pc.CLAIMS else sorted(pc.CLAIMS)[0]
    code, out, err = run_main(capsys, "check", "--only", name, "--json")
    got = json.loads(out)
    assert [c["name"] for c in got["claims"]] == [name]
    assert set(got["claims"][0]) >= {"name", "holds", "lhs", "rhs", "margin", "instances"}
    assert code == (0 if got["all_hold"] else 1)
    code, out, _ = run_main(capsys, "check", "--only", name)
    assert out.splitlines()[0].split() == ["name", "holds", "lhs", "rhs", "margin", "instances"]
    assert out.splitlines()[2].startswith(name)
    assert_bad_input(*run_main(capsys, "check", "--only", "no_such_claim"), "--only")


# ---------------------------------------------------------------- bad input: exit 2


def _with(path, value):
    """A copy of TOY with ``path`` ("table.key") set to ``value`` (``...`` deletes it)."""
    doc = copy.deepcopy(TOY)
    table, _, key = path.partition(".")
    if not key:
        if value is ...:
            del doc[table]
        else:
            doc[table] = value
    elif value is ...:
        del doc[table][key]
    else:
        doc[table][key] = value
    return doc


ROW = TOY["model"]["pmfs"][0]
BAD_CONFIGS = {
    "negative weight": (_with("model.weights", [-0.1, 0.6, 0.5]), "model.weights"),
    "NaN weight": (_with("model.weights", [float("nan"), 0.5, 0.5]), "model.weights"),
    "weights not summing to 1": (_with("model.weights", [0.5, 0.3, 0.3]), "model.weights"),
    "weights a string": (_with("model.weights", "0.5, 0.5"), "model.weights"),
    "pmf row too short": (_with("model.pmfs", [ROW[:7], ROW, ROW]), "model.pmfs"),
    "pmf row negative": (_with("model.pmfs", [[-0.01, 1.01] + ROW[2:]] * 3), "model.pmfs"),
    "pmf row not summing": (_with("model.pmfs", [[0.5] + ROW[1:], ROW, ROW]), "model.pmfs"),
    "too few pmf rows": (_with("model.pmfs", [ROW, ROW]), "model.pmfs"),
    "alphabet a string": (_with("model.alphabet", "2"), "model.alphabet"),
    "unknown family": (_with("model.family", "gaussians_please"), "model.family"),
    "family not a string": (_with("model.family", 3), "model.family"),
    "missing family": (_with("model.family", ...), "model.family"),
    "unknown model key": (_with("model.colour", "blue"), "model.colour"),
    "missing model key": (_with("model.pmfs", ...), "model.pmfs"),
    "unknown process": (_with("process.kind", "gaussian_noise"), "process.kind"),
    "missing process kind": (_with("process.kind", ...), "process.kind"),
    "unknown process key": (_with("process.rate", 0.5), "process.rate"),
    "order for truncation": (_with("process.order", [0, 1, 2]), "process.order"),
    "ordered masking without order": (_with("process", {"kind": "ordered_masking"}),
                                      "process.order"),
    "order not a permutation": (_with("process", {"kind": "ordered_masking",
                                                  "order": [0, 0, 1]}), "process.order"),
    "unknown experiment key": (_with("experiment.foo", 1), "experiment.foo"),
    "missing eps": (_with("experiment.eps", ...), "experiment.eps"),
    "unknown table": (_with("plot", {"dpi": 100}), "plot"),
    "missing table": (_with("experiment", ...), "experiment"),
    "empty s_init": (_with("experiment.s_init", []), "experiment.s_init"),
    "empty s_target": (_with("experiment.s_target", []), "experiment.s_target"),
    "s_target out of range": (_with("experiment.s_target", [0, 3]), "experiment.s_target"),
    "negative index": (_with("experiment.s_init", [-1]), "experiment.s_init"),
    "duplicate index": (_with("experiment.s_init", [0, 0]), "experiment.s_init"),
    "index not an integer": (_with("experiment.s_init", [0.5]), "experiment.s_init"),
    "s_init not in s_target": (_with("experiment.s_init", [2]), "experiment.s_init"),
    "eps zero": (_with("experiment.eps", 0.0), "experiment.eps"),
    "eps one": (_with("experiment.eps", 1), "experiment.eps"),
    "eps negative": (_with("experiment.eps", -0.1), "experiment.eps"),
    "eps NaN": (_with("experiment.eps", float("nan")), "experiment.eps"),
    "eps a string": (_with("experiment.eps", "0.1"), "experiment.eps"),
    "eps a boolean": (_with("experiment.eps", True), "experiment.eps"),
    "time past the end": (_with("experiment.times", [0, 1, 4]), "experiment.times"),
    "negative time": (_with("experiment.times", [-1, 0, 1]), "experiment.times"),
    "fractional time under truncation": (_with("experiment.times", [0, 0.5]),
                                         "experiment.times"),
    "times not increasing": (_with("experiment.times", [0, 2, 1]), "experiment.times"),
    "repeated time": (_with("experiment.times", [0, 1, 1]), "experiment.times"),
    "NaN time": (_with("experiment.times", [0, float("nan")]), "experiment.times"),
    "empty times": (_with("experiment.times", []), "experiment.times"),
    "time grid without num": (_with("experiment.times", {"start": 0, "stop": 3}),
                              "experiment.times.num"),
    "time grid num zero": (_with("experiment.times", {"start": 0, "stop": 3, "num": 0}),
                           "experiment.times.num"),
    "time grid reversed": (_with("experiment.times", {"start": 3, "stop": 0, "num": 4}),
                           "experiment.times.stop"),
    "time grid off the integers": (_with("experiment.times", {"start": 0, "stop": 3,
                                                              "num": 5}), "experiment.times"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_with_one_error_line(case, write, capsys):
    doc, names = BAD_CONFIGS[case]
    assert_bad_input(*run_main(capsys, "window", write(doc), "--json"), names)


BAD_FILES = {
    "malformed TOML": "[model]\nfamily = finite\n",
    "unclosed list": "[model]\nweights = [0.5, 0.5\n",
    "duplicate key": "[model]\nfamily = 'finite'\nfamily = 'finite'\n",
    "not UTF-8": b"[model]\nfamily = '\xff'\n",
    "empty file": "",
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_exits_2(case, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    content = BAD_FILES[case]
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert_bad_input(*run_main(capsys, "window", path), "model" if case == "empty file"
                     else "config")


@pytest.mark.parametrize("argv,names", [
    (["window", "no/such/config.toml"], "config"),
    (["window", "."], "config"),
    (["window"], "CONFIG.toml"),
    (["frobnicate"], "COMMAND"),
    ([], "COMMAND"),
    (["window", "--colour", "x.toml"], "--colour"),
])
def test_bad_command_line_exits_2(argv, names, capsys):
    assert_bad_input(*run_main(capsys, *argv), names)


def test_bad_out_path_exits_2(write, capsys, tmp_path):
    result = run_main(capsys, "window", write(TOY), "--out", tmp_path / "missing" / "r.json")
    assert_bad_input(*result, "--out")


def test_parse_config_rejects_non_tables():
    with pytest.raises(localize.ConfigError, match="model"):
        parse_config({"model": 3, "process": {}, "experiment": {}})


# ---------------------------------------------------------------- the real console script


def _script(*argv):
    exe = Path(sys.executable).with_name("localize")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "localize.cli"]
    return subprocess.run(cmd + [str(a) for a in argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_console_script_window_json(write):
    proc = _script("window", write(TOY), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(json.dumps(toy_report().to_json()))


def test_console_script_bad_input(write):
    proc = _script("window", write(_with("experiment.eps", 1.5)))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: experiment.eps: expected a number in (0, 1), got 1.5"]


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "localize.cli", "--version"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"localize {localize.__version__}"
