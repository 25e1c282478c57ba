"""The Gaussian claims of ``proofs_check`` ([LKC25] §4.1, §5): they hold, and each can fail.

Each claim is run once (module-scoped fixture; the exact numbers are cached inside
:mod:`proofs_check.gaussian`, so the failure tests, which feed the claims wrong closed forms,
wrong noise amounts or shifted curves, cost little). A claim that cannot fail checks nothing.
Oracles share no code with the JAX path: SciPy's ``ndtri`` on the closed forms of Example 1
(theory.md §3.1) and ``scipy.integrate.quad`` for the TV between two perturbed mixtures; the
thresholds are also held to :func:`localize.window_report`'s.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import ndtri
from scipy.stats import norm

import localize
import proofs_check
from localize.errors import LocalizeError
from proofs_check import gaussian
from proofs_check.result import Tally
from synthetic.gaussian_mixture import GaussianMixture, gaussian_mixture

OLD = (
    "theorem2", "theorem2_sharp_a", "theorem2_sharp_b", "theorem2_sharp_c", "lemma1", "lemma3",
    "lemma4", "lemma7", "remark2", "dpi", "lc24_lemma15", "corollary2", "example3", "example5",
    "example7",
)
NEW = (
    "gaussian_example1", "gaussian_example2", "gaussian_theorem2", "gaussian_theorem2_sharp_a",
    "gaussian_theorem2_sharp_b", "gaussian_theorem2_sharp_c", "gaussian_corollary1",
    "gaussian_corollary2", "gaussian_speciation",
)
CITES = {
    "gaussian_example1": "Example 1", "gaussian_example2": "Example 2",
    "gaussian_theorem2": "Theorem 2", "gaussian_theorem2_sharp_a": "Theorem 2",
    "gaussian_theorem2_sharp_b": "Theorem 2", "gaussian_theorem2_sharp_c": "Theorem 2",
    "gaussian_corollary1": "Corollary 1", "gaussian_corollary2": "Corollary 2",
    "gaussian_speciation": "Biroli-Mezard",
}


@pytest.fixture(scope="module")
def results():
    return {name: gaussian.CLAIMS[name](None) for name in NEW}


def test_registry_keeps_the_old_claims_and_adds_the_gaussian_ones():
    names = tuple(proofs_check.CLAIMS)
    assert tuple(n for n in names if n in OLD) == OLD
    start = names.index(NEW[0])
    assert names[start:start + len(NEW)] == NEW
    for name in NEW:
        assert proofs_check.CLAIMS[name] is gaussian.CLAIMS[name]


def test_run_all_runs_a_gaussian_claim_by_name(results):
    # Through the registry (the CLI's --only path), with an empty catalog: the Gaussian
    # claims use their own (cached) instances.
    out = proofs_check.run_all(only="gaussian_speciation", catalog=[])
    assert [r.name for r in out] == ["gaussian_speciation"] and out[0].holds


@pytest.mark.parametrize("name", NEW)
def test_claim_holds_and_dumps(results, name):
    r = results[name]
    assert r.name == name
    assert r.holds, (name, r.detail)
    assert r.instances > 0
    assert r.margin is not None and r.margin >= -1e-12
    assert CITES[name] in r.statement
    text = json.dumps(r.to_json(), allow_nan=False)
    assert "monte-carlo" not in text
    for side in r.detail.get("side_checks", {}).values():
        assert side["holds"] and side["cases"] > 0


def test_example1_window_against_an_independent_oracle(results):
    # 1 - TV(p_t^+, p_t^-) = 2 Phi(-||mu|| e^-t) <= eps^2 and
    # TV(p_t^+, p_t) = Phi(||mu|| e^-t) - 1/2 <= eps: both thresholds in closed form.
    eps = gaussian.EX1_EPS
    windows = results["gaussian_example1"].detail["windows"]
    for norm_mu in gaussian.EX1_NORMS:
        w = windows[f"||mu||={norm_mu:g}"]
        after = math.log(norm_mu) - math.log(-ndtri(eps**2 / 2))
        before = math.log(norm_mu) - math.log(ndtri(0.5 + eps))
        assert w["T_after_C_exact"] == pytest.approx(after, abs=1e-8)
        assert w["T_before_C_exact"] == pytest.approx(before, abs=1e-8)
        # The paper's endpoint is valid; the solution of its proof's inequality is not: the
        # Hellinger route gives a later time than Definition 4's separation.
        assert w["T_after_C_paper"] < w["T_after_C_exact"] < w["T_after_C_proof_inequality"]
        assert w["spread_across_d"] <= gaussian.DIM_TOL


def test_thresholds_agree_with_the_window_report():
    norm_mu, eps = 10.0, gaussian.EX1_EPS
    lnm = math.log(norm_mu)
    grid = gaussian._grid(lnm - 3.0, lnm + 4.5, gaussian.REFINE_POINTS)
    # The claims' reduced form of the model (its kernels are compiled already).
    model = gaussian_mixture(np.array([[norm_mu, 0.0], [-norm_mu, 0.0]])).reduced()
    after, before = gaussian.two_gaussian_window(model, eps, grid)
    rep = localize.window_report(model, [0], [0, 1], eps, grid, progress=False)
    assert rep.T_after_C == pytest.approx(after[0], abs=1e-9)
    assert rep.T_before_C == pytest.approx(before[0], abs=1e-9)
    assert after[1] <= after[0] <= after[2] and before[1] <= before[0] <= before[2]


def test_example2_widths_are_bounded_in_d(results):
    r = results["gaussian_example2"]
    widths = r.detail["exact_width_by_d"]
    assert set(widths) >= {"100", "1000", "10000"}
    limit = r.detail["paper_width_limit"]
    for w in widths.values():
        assert 0 < w < limit
    # The paper's T^C_after is below I for d = 10 (every seed).
    assert all(item.startswith("d=10,") for item in r.detail["paper_after_outside_I"])


def test_speciation_time_is_inside_every_window(results):
    for row in results["gaussian_speciation"].detail["windows"].values():
        assert 0.0 <= row["relative_position"] <= 1.0


def test_perturbed_mixture_tvs_against_quad():
    tree = gaussian.hierarchy_tree()
    shifts = gaussian.corollary2_shifts(tree)
    noise = gaussian.noise_amounts(tree, gaussian.TREE_EPS)
    times = tuple(np.unique(np.array([0.0, *noise])).tolist())
    _, tvs = gaussian._corollary2_tvs(tuple(shifts.ravel().tolist()), times)
    p, q = tree["positions"][:, 0], tree["positions"][:, 0] + shifts[:, 0]
    for subset in [(0, 1), (1, 2, 6, 7), tuple(range(8))]:
        s = list(subset)

        def diff(y, s=s):
            return abs(norm.pdf(y, p[s], 1.0).mean() - norm.pdf(y, q[s], 1.0).mean())

        # One interval per cluster of nearby means (at t = 0 the sd is 1), with the means
        # and the midpoints of each perturbed pair (near the kinks of |p^S - q^S|) as breaks.
        centres = np.unique(np.round(p[s] / 100.0)) * 100.0
        marks = np.concatenate([p[s], q[s], 0.5 * (p[s] + q[s])])
        total = sum(quad(diff, c - 30.0, c + 30.0, limit=1000,
                         points=np.sort(marks[np.abs(marks - c) < 30.0]),
                         epsabs=1e-16, epsrel=1e-13)[0] for c in centres)
        assert tvs[subset][0][0] == pytest.approx(total / 2, rel=1e-9)


def test_noise_amounts_merge_at_exactly_eps():
    tree = gaussian.hierarchy_tree()
    noise = gaussian.noise_amounts(tree, gaussian.TREE_EPS)
    pos = tree["positions"][:, 0]
    for u, subset in enumerate(tree["subsets"]):
        if len(subset) > 1:
            widest = pos[list(subset)].max() - pos[list(subset)].min()
            sd = math.exp(noise[u])  # sqrt(1 + e^{2t} - 1)
            assert 2 * norm.cdf(widest / (2 * sd)) - 1 == pytest.approx(gaussian.TREE_EPS,
                                                                        rel=1e-9)


# --------------------------------------------------------------------------------------
# every claim can fail


def test_example1_fails_on_wrong_paper_endpoints_and_curves():
    def late_after(norm_mu, eps):
        p = gaussian.example1_paper(norm_mu, eps)
        return {**p, "after": p["after"] + 1.0}

    def early_before(norm_mu, eps):
        p = gaussian.example1_paper(norm_mu, eps)
        return {**p, "before": p["before"] - 2.0}

    r = gaussian.gaussian_example1(paper=late_after)
    assert not r.holds and r.margin < 0 and "T^C_after" in r.detail["worst_at"]["endpoint"]
    r = gaussian.gaussian_example1(paper=early_before)
    assert not r.holds and r.margin < 0 and "T^C_before" in r.detail["worst_at"]["endpoint"]
    r = gaussian.gaussian_example1(fr_shift=0.5)
    assert not r.holds
    assert not r.detail["side_checks"]["after_conclusion"]["holds"]
    assert not r.detail["side_checks"]["before_conclusion"]["holds"]


def test_example2_fails_on_wrong_paper_endpoints_and_curves():
    def late_after(means, i, eps):
        p = gaussian.example2_paper(means, i, eps)
        return {**p, "after": p["after"] + 1.0}

    def early_before(means, i, eps):
        p = gaussian.example2_paper(means, i, eps)
        return {**p, "before": p["before"] - 3.0}

    r = gaussian.gaussian_example2(paper=late_after, dims=(1_000,), seeds=(0,))
    assert not r.holds and r.margin < 0
    assert not r.detail["side_checks"]["proof_bc_at_paper_after"]["holds"]
    r = gaussian.gaussian_example2(paper=early_before, dims=(1_000,), seeds=(0,))
    assert not r.holds and r.margin < 0
    r = gaussian.gaussian_example2(fr_shift=0.5)
    assert not r.holds and r.margin < 0


def _corrupted(key, fn):
    return tuple({**tab, key: fn(tab[key])} for tab in gaussian.theorem2_tables())


@pytest.mark.parametrize("name", ["gaussian_theorem2", "gaussian_theorem2_sharp_a",
                                  "gaussian_theorem2_sharp_b", "gaussian_theorem2_sharp_c"])
def test_theorem2_claims_fail_on_a_corrupted_forward_reverse_tv(name):
    r = gaussian.CLAIMS[name](None, tables=_corrupted("lhs", lambda a: a + 1.0))
    assert not r.holds and r.margin < 0


def test_sharp_form_side_check_fails_when_form_a_exceeds_form_b():
    r = gaussian.gaussian_theorem2_sharp_b(None, tables=_corrupted("exit", lambda a: a + 1.0))
    assert not r.holds
    assert not r.detail["side_checks"]["form_a_le_form_b"]["holds"]


def test_corollary1_fails_on_a_corrupted_forward_reverse_tv():
    r = gaussian.gaussian_corollary1(fr_shift=0.5)
    assert not r.holds and r.margin < 0


def _definition8(noise, exact=False):
    # exact: the line tree of Corollary 2 (p is components 0-7 of its 16-component model,
    # whose kernels are compiled already); else the planar tree of Corollary 1.
    tree = gaussian.hierarchy_tree(planar=not exact)
    if exact:
        shifts = gaussian.corollary2_shifts(tree)
        model = gaussian._corollary2_model(tuple(shifts.ravel().tolist()))
    else:
        model = gaussian._tree_model(tree)
    tally = Tally()
    gaussian.tree_conditions(tally, model, tree, noise, gaussian.TREE_EPS, {}, "d8",
                             exact_separation=exact)
    return tally.result("d8", "").detail["side_checks"]


@pytest.mark.parametrize("exact", [False, True])
def test_definition8_conditions_fail_on_wrong_noise_amounts(exact):
    tree = gaussian.hierarchy_tree(planar=not exact)
    noise = list(gaussian.noise_amounts(tree, gaussian.TREE_EPS))
    assert all(side["holds"] for side in _definition8(noise, exact).values())
    early = [0.5 * n for n in noise]  # merging fails at every internal node
    assert not _definition8(early, exact)["d8_merging"]["holds"]
    late = [n + 3.0 if len(s) > 1 else n for n, s in zip(noise, tree["subsets"], strict=True)]
    assert not _definition8(late, exact)["d8_separation"]["holds"]
    flat = [noise[0]] * len(noise)  # every node at the root's time: not monotone
    assert not _definition8(flat, exact)["d8_monotone"]["holds"]


def test_corollary2_fails_on_large_shifts_and_on_corrupted_tvs(monkeypatch):
    tree = gaussian.hierarchy_tree()
    # The shifts drawn for delta = 0.01, checked against delta = 0.001: hypothesis violated.
    r = gaussian.gaussian_corollary2(shifts=gaussian.corollary2_shifts(tree), delta=0.001)
    assert not r.holds
    assert not r.detail["side_checks"]["hypothesis_delta"]["holds"]
    original = gaussian._corollary2_tvs

    def corrupted(shifts, times):
        per_comp, tvs = original(shifts, times)
        return per_comp, {s: (v + 0.5, e) for s, (v, e) in tvs.items()}

    monkeypatch.setattr(gaussian, "_corollary2_tvs", corrupted)
    r = gaussian.gaussian_corollary2()
    assert not r.holds and r.margin < 0


@pytest.mark.parametrize("offset", [-2.0, 3.0])
def test_speciation_fails_for_a_time_outside_the_window(offset):
    r = gaussian.gaussian_speciation(t_s=lambda n, v: gaussian.speciation_time(n, v) + offset)
    assert not r.holds and r.margin < 0


def test_a_sampled_curve_is_refused(monkeypatch):
    # A hook that falls back to Monte Carlo (as for means spanning R^3) is refused.
    original = GaussianMixture.tv_curve

    def sampled(self, *args, **kwargs):
        return original(self, *args, **kwargs)._replace(method="monte-carlo")

    monkeypatch.setattr(GaussianMixture, "tv_curve", sampled)
    model = gaussian_mixture(np.array([[0.0], [3.0]]))
    with pytest.raises(LocalizeError, match="exact"):
        gaussian._curve("tv", model, [0.5], gaussian._row(model, [0]),
                        gaussian._row(model, [1]))
