"""The paper's claims (``proofs_check``): they hold on the catalog, and each one can fail.

The whole catalog is run once (module-scoped fixture). Every claim must then be shown able to
fail: a claim that cannot fail checks nothing. Each failure test feeds a claim a wrong number,
either by corrupting one exact table of a *copy* of a catalog instance (a fresh object, so the
shared tables stay intact), by swapping in a wrong right-hand side, or by crafting an
instance that breaks a hypothesis. Copies reuse the compiled shapes, so these tests are cheap.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import oracle
import pytest

import proofs_check
from localize.errors import LocalizeError
from proofs_check import claims, examples, tables
from proofs_check.catalog import Instance, default_catalog
from proofs_check.result import TOL, ClaimResult, Tally

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = (
    "theorem2", "theorem2_sharp_a", "theorem2_sharp_b", "theorem2_sharp_c", "lemma1", "lemma3",
    "lemma4", "lemma7", "remark2", "dpi", "lc24_lemma15", "corollary2", "example3",
    # issue 4: critical tokens (proofs_check/critical_tokens.py)
    "example4", "example4_finetune",
    "example5", "example7",
    # issue 4: Example 5 with absorbing boundaries (proofs_check/absorbing_walk.py)
    "example5_absorbing",
    # issue 3: Gaussian mixtures under diffusion (proofs_check/gaussian.py)
    "gaussian_example1", "gaussian_example2", "gaussian_theorem2", "gaussian_theorem2_sharp_a",
    "gaussian_theorem2_sharp_b", "gaussian_theorem2_sharp_c", "gaussian_corollary1",
    "gaussian_corollary2", "gaussian_speciation",
    # issue 4: hierarchy depth (proofs_check/depth.py), structured output (structured.py)
    "hierarchy_depth", "structured_output", "structured_estimator",
    # issue 4: in-context learning (proofs_check/icl.py)
    "example11_icl", "corollary3",
    # issue 5: the planted signal (proofs_check/planted.py)
    "planted_detection_monotone", "theorem6_window", "planted_sharpening",
)
# The claims of issue 2, which check the default catalog of exact finite instances.
CATALOG_CLAIMS = (
    "theorem2", "theorem2_sharp_a", "theorem2_sharp_b", "theorem2_sharp_c", "lemma1", "lemma3",
    "lemma4", "lemma7", "remark2", "dpi", "lc24_lemma15", "corollary2", "example3", "example5",
    "example7",
)


@pytest.fixture(scope="module")
def catalog():
    return default_catalog()


@pytest.fixture(scope="module")
def results(catalog):
    # The claims that read the catalog; the others build their own instances and are run
    # by their own test files (test_proofs_check_gaussian, test_critical_tokens, ...).
    return {name: proofs_check.CLAIMS[name](catalog) for name in CATALOG_CLAIMS}


def _first(catalog, role, name_part=""):
    return next(i for i in catalog if role in i.roles and name_part in i.name)


def _copy(inst: Instance, **changes) -> Instance:
    """A fresh instance object (its own cache entry) with some fields changed."""
    return dataclasses.replace(inst, **changes)


def _corrupt(inst: Instance, **fields) -> Instance:
    """A copy of ``inst`` whose exact tables have ``fields`` replaced (name -> function)."""
    copy = _copy(inst)
    tab = tables.compute(copy)
    new = {}
    for name, fn in fields.items():
        if "." in name:
            outer, key = name.split(".")
            new[outer] = {**getattr(tab, outer), key: fn(getattr(tab, outer)[key])}
        else:
            new[name] = fn(getattr(tab, name))
    tables._CACHE[copy] = dataclasses.replace(tab, **new)
    return copy


# --------------------------------------------------------------------------------------
# the registry and the results


def test_registry_names():
    assert tuple(proofs_check.CLAIMS) == EXPECTED
    for name in EXPECTED:
        assert re.fullmatch(r"[a-z0-9_]+", name)


@pytest.mark.parametrize("name", CATALOG_CLAIMS)
def test_claim_holds_on_default_catalog(results, name):
    r = results[name]
    assert r.holds, json.dumps(r.to_json(), indent=1)[:4000]
    assert r.instances > 0
    assert r.margin >= -TOL
    assert math.isclose(r.margin, r.rhs - r.lhs, rel_tol=0, abs_tol=1e-15)


def test_results_json_serialisable_and_nan_free(results):
    assert list(results) == list(CATALOG_CLAIMS)
    for r in results.values():
        j = r.to_json()
        assert {"name", "holds", "lhs", "rhs", "margin", "instances"} <= set(j)
        text = json.dumps(j, allow_nan=False)
        assert "NaN" not in text and "Infinity" not in text
        for key in ("lhs", "rhs", "margin"):
            assert isinstance(j[key], float) and math.isfinite(j[key])
        assert isinstance(j["holds"], bool) and isinstance(j["instances"], int)


def test_catalog_content(catalog):
    roles = {r for inst in catalog for r in inst.roles}
    assert roles == {"general", "corollary2", "example3", "example5", "example7"}
    processes = {inst.model.process.kind for inst in catalog if "random" in inst.name}
    assert processes == {"truncation", "ordered_masking", "random_masking"}
    for inst in catalog:
        assert set(inst.s_init) <= set(inst.s_target)
        if "random" in inst.name:  # a proper S_target; the examples may use Theta
            assert len(inst.s_target) < inst.model.n_components
    ks = {inst.model.n_components for inst in catalog if "random" in inst.name}
    assert ks == {2, 3, 4, 5}


def test_catalog_is_deterministic(catalog):
    again = default_catalog()
    assert [i.name for i in again] == [i.name for i in catalog]
    for a, b in zip(again, catalog, strict=True):
        np.testing.assert_array_equal(np.asarray(a.model.log_weights),
                                      np.asarray(b.model.log_weights))


def test_recorded_numbers_match_theory(results):
    # theory.md §6: the largest ratio of Theorem 2's left side to its bound was 0.586; on the
    # catalog it is attained at Example 3's equality case, 1 / (1 + 1/sqrt 2) = 0.5858.
    ratio = results["theorem2"].detail["max_ratio_lhs_to_bound"]
    assert ratio == pytest.approx(1 / (1 + 1 / math.sqrt(2)), abs=1e-9)
    values = results["example5"].detail["values"]
    first = values["Delta=0.004, eps=0.01"]
    assert first["n_after"] == 309_484 and first["n_before"] == 4
    assert first["tv_at_after"] == pytest.approx(0.999991, abs=1e-6)
    assert first["tv_at_before"] == pytest.approx(0.012, abs=1e-4)
    assert values["Delta=0.001, eps=0.015"]["n_before"] == 223


def test_unknown_only_raises():
    with pytest.raises(LocalizeError) as err:
        proofs_check.run_all(only="theorem3")
    msg = str(err.value)
    assert "--only" in msg and "theorem3" in msg
    for name in EXPECTED:
        assert name in msg


def test_run_all_only(catalog):
    out = proofs_check.run_all(only="lemma1", catalog=catalog)
    assert [r.name for r in out] == ["lemma1"]


def test_localize_does_not_import_proofs_check():
    for path in (ROOT / "localize").glob("*.py"):
        if path.name == "cli.py":
            continue
        assert "proofs_check" not in path.read_text(), path


# --------------------------------------------------------------------------------------
# the padded shape computes the same laws as a brute-force oracle


@pytest.mark.parametrize("kind", ["truncation", "ordered_masking", "random_masking"])
def test_tables_match_oracle(catalog, kind):
    inst = next(i for i in catalog if i.padded and i.model.process.kind == kind
                and "random" in i.name and i.model.n_components >= 3)
    tab = tables.compute(inst)
    m = inst.model
    w = np.exp(np.asarray(m.log_weights))
    pmfs = np.exp(np.asarray(m.log_pmfs)).reshape(m.n_components, -1)
    order = getattr(m.process, "order", None)
    kernels = [oracle.kernel(kind, m.alphabet, m.length, t, order=order) for t in tab.times]
    want = oracle.curves(w, pmfs, kernels, inst.s_init, inst.s_target)
    ii, ti = tab.index(inst.s_init), tab.index(inst.s_target)
    np.testing.assert_allclose(tab.div["tv"][:, ii, ti], want["tv_init_target"], atol=1e-13)
    np.testing.assert_allclose(tab.tv_fr_clean[:, ii, ti], want["fr_tv_target"], atol=1e-13)
    np.testing.assert_allclose(tab.div_rest["tv"][:, ti], want["tv_target_rest"], atol=1e-13)
    np.testing.assert_allclose(tab.div_rest["bc"][:, ti], want["bc_target_rest"], atol=1e-13)
    rest = [c for c in range(m.n_components) if c not in inst.s_target]
    np.testing.assert_allclose(tab.label[:, ti, rest].sum(-1), want["exit_mass_target"],
                               atol=1e-13)


# --------------------------------------------------------------------------------------
# every claim can fail


def test_tally_semantics():
    t = Tally()
    t.add([0.1, 0.5], [0.3, 0.4], where={"case": "x"}, axes=[("i", ["a", "b"])])
    r = t.result("demo", "demo")
    assert not r.holds and r.lhs == 0.5 and r.rhs == 0.4
    assert r.margin == pytest.approx(-0.1) and r.instances == 2
    assert r.detail["worst_at"] == {"case": "x", "i": "b"}
    t = Tally()
    t.add(1.0 + 1e-13, 1.0)  # rounding within the tolerance
    t.add(0.0, 0.0, side="identity")
    assert t.result("demo", "").holds
    t.add(1.0, 0.0, side="identity")  # a failing side check fails the claim
    r = t.result("demo", "")
    assert not r.holds and r.margin == pytest.approx(-1e-13)
    assert not Tally().result("empty", "").holds  # nothing checked is not a pass
    with pytest.raises(FloatingPointError):
        Tally().add(float("nan"), 0.0)
    j = ClaimResult("x", False, None, None, None, 0, detail={"v": float("inf")}).to_json()
    assert json.dumps(j, allow_nan=False)


def _fails(result: ClaimResult):
    assert not result.holds, json.dumps(result.to_json(), indent=1)[:2000]
    json.dumps(result.to_json(), allow_nan=False)
    return result


def test_theorem2_can_fail(catalog, monkeypatch):
    inst = _first(catalog, "example3")
    _fails(claims.theorem2([_corrupt(inst, tv_fr_clean=lambda a: a + 0.5)]))
    # A wrong right-hand side: a tenth of the paper's bound.
    monkeypatch.setattr(claims, "theorem2_bound", lambda eps, w: 0.1 * eps)
    assert claims.theorem2([_copy(inst)]).margin < 0


@pytest.mark.parametrize("form", ["a", "b", "c"])
def test_sharp_forms_can_fail(catalog, form):
    fn = getattr(claims, f"theorem2_sharp_{form}")
    inst = _first(catalog, "general", "random-truncation")
    r = _fails(fn([_corrupt(inst, tv_fr_clean=lambda a: a + 0.5)]))
    assert r.margin < 0


def test_sharp_form_side_check_can_fail(catalog):
    # Put all of the label law of p^{Tgt,t} outside Tgt: form (A) then exceeds form (B),
    # although the main inequality of (B) still holds.
    inst = _first(catalog, "general", "random-truncation")
    tab = tables.compute(inst)
    k = tab.weights.size

    def outside(label):
        out = np.zeros_like(label)
        for i, s in enumerate(tab.sets):
            rest = [c for c in range(k) if c not in s]
            if rest:
                out[:, i, rest[0]] = 1.0
        return out

    r = _fails(claims.theorem2_sharp_b([_corrupt(inst, label=outside)]))
    assert r.margin >= -TOL  # the main inequality still holds ...
    assert not r.detail["side_checks"]["form_a_le_form_b"]["holds"]  # ... the link does not


def test_lemmas_can_fail(catalog):
    inst = _first(catalog, "general", "random-random_masking")
    _fails(claims.lemma1([_corrupt(inst, **{"div.po": lambda a: np.ones_like(a)})]))
    _fails(claims.lemma7([_corrupt(inst, **{"div.bc": lambda a: np.zeros_like(a)})]))
    # pi_t(C | y) = 0 everywhere: Lemma 3's right side vanishes; = 1: Lemma 4's is exceeded.
    _fails(claims.lemma3([_corrupt(inst, pic=lambda a: np.full_like(a, -np.inf))]))
    _fails(claims.lemma4([_corrupt(inst, pic=lambda a: np.zeros_like(a))]))


def test_lemma7_side_check_can_fail(catalog):
    inst = _first(catalog, "general", "random-random_masking")
    r = _fails(claims.lemma7([_corrupt(inst, **{"div.tv": lambda a: np.zeros_like(a)})]))
    assert not r.detail["side_checks"]["one_minus_bc_le_tv"]["holds"]


def test_remark2_can_fail(catalog):
    inst = _first(catalog, "general", "random-ordered_masking")
    _fails(claims.remark2([_corrupt(inst, fr=lambda a: np.roll(a, 1, axis=-1))]))


def test_dpi_can_fail(catalog):
    inst = _first(catalog, "general", "random-truncation")
    r = _fails(claims.dpi([_corrupt(inst, **{"div.tv": lambda a: a[::-1]})]))
    assert r.margin < -0.01


def test_dpi_side_checks_can_fail(catalog):
    inst = _first(catalog, "general", "random-truncation")
    r = _fails(claims.dpi([_corrupt(inst, tv_fr_fr=lambda a: a + 2.0)]))
    assert not r.detail["side_checks"]["term_I_contraction"]["holds"]


def test_lc24_lemma15_can_fail(catalog):
    inst = _first(catalog, "general", "random-random_masking")
    tab = tables.compute(inst)
    big = np.array([len(s) > 1 for s in tab.sets])

    def inflate(tv):
        return np.where(big[None, None, :], 1.0, tv)

    _fails(claims.lc24_lemma15([_corrupt(inst, **{"div.tv": inflate})]))


def test_corollary2_can_fail(catalog):
    inst = _first(catalog, "corollary2", "random")
    twin = _corrupt(inst.twin, pz=lambda a: np.roll(a, 1, axis=-1))
    _fails(claims.corollary2([_copy(inst, twin=twin)]))


def test_corollary2_tree_side_check_can_fail(catalog):
    inst = _first(catalog, "corollary2", "example7")
    # q's separation destroyed: its sub-mixtures overlap completely with their complements.
    twin = _corrupt(inst.twin, **{"div_rest.lo": lambda a: np.zeros_like(a)})
    r = _fails(claims.corollary2([_copy(inst, twin=twin)]))
    assert not r.detail["side_checks"]["q_tree_separation"]["holds"]


def test_example3_can_fail(catalog, monkeypatch):
    inst = _first(catalog, "example3")
    _fails(examples.example3([_corrupt(inst, tv_fr_clean=lambda a: a + 0.01)]))
    # A wrong closed form (t^{d_H + 1} for t^{d_H}) is caught by the identities.
    real = examples.example3_closed_forms
    monkeypatch.setattr(examples, "example3_closed_forms", lambda d, t: real(d + 1, t))
    r = _fails(examples.example3([_copy(inst)]))
    assert not r.detail["side_checks"]["closed_form_tv_components"]["holds"]


def test_example3_equality_case_is_tight(results):
    # The "before" bound is met with equality: the margin is rounding, not slack.
    side = results["example3"].detail["side_checks"]["equality_at_before"]
    assert side["holds"] and abs(side["margin"]) < 1e-12
    assert abs(results["example3"].margin) < 1e-12


def test_example5_can_fail(catalog):
    inst = _first(catalog, "example5")
    cases = [{**c, "n_after": c["n_after"] // 10, "n_before": 10 * c["n_before"]}
             for c in inst.params["cases"]]
    r = _fails(examples.example5([_copy(inst, params={"cases": cases})]))
    assert r.margin < 0


def test_example7_can_fail(catalog):
    inst = _first(catalog, "example7", "finite")
    _fails(examples.example7([_corrupt(inst, tv_fr_clean=lambda a: a + 1e-6)]))
    # A tree built for another masking order than the process's: the forward-reverse laws
    # are no longer its sub-mixtures.
    order = inst.params["order"]
    wrong = examples.example7_tree(inst.params["alphabets"], order[::-1])
    crafted = _copy(inst, sets=wrong.subsets, params={**inst.params, "tree": wrong})
    _fails(examples.example7([crafted]))


def test_jitted_entry_points_do_not_recompile(catalog, results):
    """A second call with the same shapes reuses the compilation of every jitted entry point
    of ``proofs_check`` (the catalog pads its instances to a few shapes for this)."""
    general = [i for i in catalog if "general" in i.roles]
    tables.compute(_copy(general[0]))
    sizes = [f._cache_size() for f in (tables._core, tables._six_rows, tables._tv_rows)]
    # A fresh copy of another instance of the same padded shape: new numbers, same shapes.
    same_shape = [i for i in general[1:] if i.model.log_weights.shape
                  == general[0].model.log_weights.shape]
    assert same_shape, "the catalog should hold two general instances of one padded shape"
    tables.compute(_copy(same_shape[0]))
    tables.divergence_rows(np.log(np.full((3, 4), 0.25)), np.log(np.full((3, 4), 0.25)))
    tables.divergence_rows(np.log(np.full((3, 4), 0.25)), np.log(np.full((3, 4), 0.25)), "tv")
    after = [f._cache_size() for f in (tables._core, tables._six_rows, tables._tv_rows)]
    assert after == sizes
    coin = _first(catalog, "example5")
    examples.example5([coin])
    size = examples._coin_tvs._cache_size()
    examples.example5([_copy(coin)])
    assert examples._coin_tvs._cache_size() == size
