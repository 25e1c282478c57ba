"""Every exact routine of the core against the brute-force oracle, at tiny sizes.

The instances are Dirichlet mixtures from :func:`synthetic.random_finite` with fixed keys,
one per process, another with alphabet 3, and a hand-written sparse mixture; the oracle
(``tests/oracle.py``) shares no code with the package. The core routines are evaluated
through ``conftest.package_tables`` (every set and time in one compilation). Also covered:
numerics at the edges (posteriors near one, TV within rounding of 1, disjoint supports,
zero-probability outcomes), the no-recompile guarantee of the report, and the validation
of every user-facing parameter.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from decimal import Decimal, getcontext

import jax
import jax.numpy as jnp
import numpy as np
import oracle
import pytest
from conftest import tables

import localize
import synthetic
from localize import divergences as dv
from localize import posterior as lp
from localize import report
from localize.errors import LocalizeError
from localize.kernels import log_mask_adjoint, log_mask_forward
from localize.model import check_weights, set_mask
from localize.processes import log1mexp
from localize.report import _curves_chunk
from localize.windows import t_after_c, t_before_c, t_end, t_start, theorem2_bound

TOL = 1e-12
RANDOM_TIMES = [0.0, 0.2, 0.5, 0.9, 1.0]

# name -> (key, K, A, L, process, order). The shapes are classes of test_properties.COMBOS,
# so the jitted tables compile once for both modules; the three random_finite cases share
# one Dirichlet compilation. key None: NumPy Dirichlet (random_a3) or hand-written (sparse).
CASES = {
    "truncation": (0, 5, 2, 3, "truncation", None),
    "ordered": (1, 5, 2, 3, "ordered_masking", (1, 2, 0)),
    "random": (2, 5, 2, 3, "random_masking", None),
    "random_a3": (None, 3, 3, 2, "random_masking", None),
    "sparse_l4": (None, 4, 2, 4, "truncation", None),
}


class Case:
    """A model, the plain arrays the oracle needs, and the package's tables."""

    def __init__(self, model, kind, times):
        self.model = model
        self.kind = kind
        self.k = model.n_components
        self.a, self.length = model.alphabet, model.length
        self.weights = np.exp(np.asarray(model.log_w))
        self.pmfs = np.exp(np.asarray(model.log_pmfs)).reshape(self.k, -1)
        self.order = getattr(model.process, "order", None)
        self.times = times
        self.tab = tables(model, times)

    def kernel(self, t, rep="masked"):
        return oracle.kernel(self.kind, self.a, self.length, t, self.order, rep)

    def row(self, members):
        return sum(1 << i for i in members) - 1


def _sparse_pmfs():
    # Exact zeros inside each component; the components live on the four blocks of the
    # first two symbols, so they are disjoint until only one symbol is left.
    pmfs = np.zeros((4, 16))
    pmfs[0, [0, 3]] = [0.75, 0.25]
    pmfs[1, [4, 5, 6]] = [0.5, 0.25, 0.25]
    pmfs[2, [9, 10]] = [0.5, 0.5]
    pmfs[3, [12, 15]] = [0.125, 0.875]
    return [0.1, 0.2, 0.3, 0.4], pmfs


@functools.cache
def case(name) -> Case:
    key, k, a, length, kind, order = CASES[name]
    if name == "sparse_l4":
        weights, pmfs = _sparse_pmfs()
        model = synthetic.finite_mixture(weights, pmfs, a, length, kind)
    elif key is None:
        rng = np.random.default_rng(3)
        weights, pmfs = rng.dirichlet(np.ones(k)), rng.dirichlet(np.full(a**length, 0.3), k)
        model = synthetic.finite_mixture(weights / weights.sum(),
                                         pmfs / pmfs.sum(axis=1, keepdims=True), a, length, kind)
    else:
        model = synthetic.random_finite(jax.random.key(key), k, a, length, kind, order=order)
    times = RANDOM_TIMES if kind == "random_masking" else [float(t) for t in range(length + 1)]
    return Case(model, kind, times)


def flat(x):
    return np.exp(np.asarray(x)).reshape(-1)


def subsets(k):
    for r in range(1, k + 1):
        yield from itertools.combinations(range(k), r)


def mask_of(k, members):
    return set_mask(k, list(members))


def close(a, b, rtol=TOL, atol=TOL):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=atol)


# --------------------------------------------------------------------------------------
# divergences


def _pmf_pairs():
    rng = np.random.default_rng(7)
    p, q = rng.dirichlet(np.full(6, 0.4), 2)
    zp, zq = p.copy(), q.copy()
    zp[[0, 1]] = 0.0
    zq[[1, 2]] = 0.0
    zp, zq = zp / zp.sum(), zq / zq.sum()
    t1, t2 = rng.dirichlet(np.ones(12), 2)
    return {
        "generic": (p, q),
        "equal": (p, p),
        "zeros": (zp, zq),
        "disjoint": (np.array([0.5, 0.5, 0, 0, 0, 0]), np.array([0, 0, 0.25, 0.75, 0, 0])),
        "dominated": (np.array([0.5, 0.5, 0, 0, 0, 0]), np.array([0.25, 0.25, 0.5, 0, 0, 0])),
        "point_masses": (np.eye(6)[2], np.eye(6)[2]),
        "tensor": (t1.reshape(3, 4), t2.reshape(3, 4)),
    }


@pytest.mark.parametrize("name", list(_pmf_pairs()))
def test_divergences_match_oracle(name):
    p, q = _pmf_pairs()[name]
    with np.errstate(divide="ignore"):
        lp_, lq_ = np.log(p), np.log(q)
    p, q = p.ravel(), q.ravel()
    for a, b, la, lb in ((p, q, lp_, lq_), (q, p, lq_, lp_)):
        close(dv.tv(la, lb), oracle.tv(a, b))
        with np.errstate(divide="ignore"):
            close(dv.log_overlap(la, lb), np.log(oracle.overlap(a, b)))
        close(dv.bhattacharyya(la, lb), oracle.bc(a, b))
        close(dv.hellinger_sq(la, lb), oracle.h2(a, b))
        close(dv.kl(la, lb), oracle.kl(a, b))
        close(dv.chi_square(la, lb), oracle.chi2(a, b))
        close(dv.posterior_overlap(la, lb), oracle.posterior_overlap(a, b))
        for f in (dv.tv, dv.log_overlap, dv.bhattacharyya, dv.hellinger_sq, dv.kl,
                  dv.chi_square, dv.posterior_overlap):
            assert not np.isnan(f(la, lb)), f.__name__


def test_divergences_at_disjoint_supports_are_exact_and_nan_free():
    la = jnp.log(jnp.array([0.5, 0.5, 0.0, 0.0]))
    lb = jnp.log(jnp.array([0.0, 0.0, 0.3, 0.7]))
    assert float(dv.log_overlap(la, lb)) == -math.inf
    assert float(dv.tv(la, lb)) == 1.0
    assert float(dv.bhattacharyya(la, lb)) == 0.0
    assert float(dv.hellinger_sq(la, lb)) == 2.0
    assert float(dv.posterior_overlap(la, lb)) == 0.0
    assert float(dv.kl(la, lb)) == math.inf
    assert float(dv.chi_square(la, lb)) == math.inf


def test_log_overlap_resolves_tv_within_rounding_of_one():
    for tiny in (1e-17, 1e-20, 1e-200, 1e-300):
        la = jnp.array([0.0, math.log(tiny)])
        lb = jnp.array([math.log(tiny), 0.0])
        # In float64, 1 - TV is 0 here, but the overlap 2 * tiny is still exact.
        assert float(dv.tv(la, lb)) == 1.0
        close(dv.log_overlap(la, lb), math.log(2.0) + math.log(tiny), rtol=1e-14)
        close(dv.bhattacharyya(la, lb), 2.0 * math.sqrt(tiny), rtol=1e-12, atol=0)
        close(dv.posterior_overlap(la, lb), 2.0 * tiny / (1.0 + tiny), rtol=1e-12, atol=0)


def test_chi_square_and_kl_near_zero_are_accurate_in_absolute_terms():
    p = np.array([0.5 + 1e-7, 0.5 - 1e-7])
    q = np.array([0.5, 0.5])
    close(dv.chi_square(np.log(p), np.log(q)), oracle.chi2(p, q), rtol=0, atol=1e-15)
    close(dv.kl(np.log(p), np.log(q)), oracle.kl(p, q), rtol=0, atol=1e-15)


def test_divergences_shape_mismatch_names_both_arrays():
    with pytest.raises(LocalizeError, match=r"log_p, log_q.*\(3,\).*\(2,\)"):
        dv.tv(jnp.zeros(3), jnp.zeros(2))
    assert issubclass(LocalizeError, ValueError)


# --------------------------------------------------------------------------------------
# kernels


_forward = jax.jit(log_mask_forward, static_argnames="lead")
_adjoint = jax.jit(log_mask_adjoint)


@pytest.mark.parametrize("a,length", [(2, 1), (3, 2), (2, 4)])
def test_mask_forward_and_adjoint_match_dense_kernel(a, length):
    rng = np.random.default_rng(a * 10 + length)
    q = rng.uniform(size=length)
    q[0] = 0.0
    if length > 1:
        q[-1] = 1.0
    k_dense = oracle.masking_kernel(a, length, q)
    with np.errstate(divide="ignore"):
        log_q, log_keep = jnp.log(q), jnp.log1p(-q)
    pmfs = rng.dirichlet(np.full(a**length, 0.5), 3)
    pmfs[0, 0] = 0.0
    pmfs[0] /= pmfs[0].sum()
    with np.errstate(divide="ignore"):
        log_pmfs = np.log(pmfs).reshape((3,) + (a,) * length)
    out = _forward(jnp.asarray(log_pmfs), log_q, log_keep)
    assert out.shape == (3,) + (a + 1,) * length
    close(np.exp(np.asarray(out)).reshape(3, -1), pmfs @ k_dense)
    # Two leading batch axes.
    out2 = _forward(jnp.asarray(log_pmfs.reshape((3, 1) + (a,) * length)), log_q,
                            log_keep, lead=2)
    close(np.exp(np.asarray(out2)).reshape(3, -1), pmfs @ k_dense)
    # The adjoint is the transpose: x -> sum_y K(y | x) r(y), zeros allowed in r.
    r = rng.uniform(size=(a + 1) ** length)
    r[::3] = 0.0
    with np.errstate(divide="ignore"):
        log_r = jnp.asarray(np.log(r).reshape((a + 1,) * length))
    adj = _adjoint(log_r, log_q, log_keep)
    assert adj.shape == (a,) * length
    close(flat(adj), k_dense @ r)


@pytest.mark.parametrize("name", ["truncation", "ordered", "random"])
def test_process_mask_probs_match_oracle(name):
    c = case(name)
    probs = jax.jit(c.model.process.log_mask_probs)
    for t in c.times:
        log_q, log_keep = probs(t)
        expected = oracle.mask_probs(c.kind, c.length, t, c.order)
        close(np.exp(np.asarray(log_q)), expected, atol=0)
        close(np.exp(np.asarray(log_keep)), 1.0 - expected, atol=0)


def test_log1mexp_is_accurate_at_both_ends():
    getcontext().prec = 400
    for a in (-1e-20, -1e-10, -0.1, -math.log(2.0), -1.0, -30.0, -700.0):
        expected = float((1 - Decimal(a).exp()).ln())
        close(log1mexp(a), expected, rtol=1e-14, atol=0)


# --------------------------------------------------------------------------------------
# the finite model: views, kernel adjoint


@pytest.mark.parametrize("name", list(CASES))
def test_view_and_adjoint_match_dense_kernel(name):
    c = case(name)
    for ti, t in enumerate(c.times):
        k_t = c.kernel(t)
        close(np.exp(c.tab["view_clean"][ti]).reshape(c.k, -1), c.pmfs, atol=0)
        close(np.exp(c.tab["view_noised"][ti]).reshape(c.k, -1), c.pmfs @ k_t)
        adjoint = np.exp(c.tab["adjoint"][ti])
        close(adjoint.reshape(k_t.shape[1], -1).T, k_t, atol=0)


def test_truncation_noised_law_is_the_prefix_law():
    c = case("truncation")
    a, length = c.a, c.length
    for ti, t in enumerate(c.times):
        noised = np.exp(c.tab["view_noised"][ti])
        keep = length - int(t)
        index = (slice(None),) + (slice(0, a),) * keep + (a,) * int(t)
        prefix = noised[index].reshape(c.k, -1)
        close(prefix, c.pmfs @ c.kernel(t, rep="prefix"))
        # All the mass sits on the observations whose last t symbols are masked.
        close(prefix.sum(axis=1), 1.0)


# --------------------------------------------------------------------------------------
# posteriors and sub-mixtures


@pytest.mark.parametrize("name", list(CASES))
def test_posterior_routines_match_oracle(name):
    c = case(name)
    tab = c.tab
    for ti, t in enumerate(c.times):
        k_t = c.kernel(t)
        noised = c.pmfs @ k_t
        post = oracle.label_posterior(c.weights, noised)
        close(np.exp(tab["post"][ti]).reshape(c.k, -1), post)
        p_t = oracle.mixture(c.weights, noised)
        close(flat(tab["mixture"][ti]), p_t)
        # Off supp p_t the posterior is -inf for every label (nothing is charged there).
        assert np.all(np.isneginf(tab["post"][ti].reshape(c.k, -1)[:, p_t == 0]))
        for members in subsets(c.k):
            r = c.row(members)
            expect_w = np.zeros(c.k)
            expect_w[list(members)] = c.weights[list(members)] / c.weights[list(members)].sum()
            close(np.exp(tab["set_weights"][ti, r]), expect_w)
            close(flat(tab["noised"][ti, r]), oracle.mixture(c.weights, noised, members))
            close(flat(tab["clean"][ti, r]), oracle.mixture(c.weights, c.pmfs, members))
            close(flat(tab["set_post"][ti, r]), post[list(members)].sum(axis=0))
            close(tab["label_law"][ti, r], oracle.label_law(c.weights, c.pmfs, members, k_t))


@pytest.mark.parametrize("name", list(CASES))
def test_many_mixtures_at_once_match_oracle(name):
    c = case(name)
    tab = c.tab
    for ti, t in enumerate(c.times):
        k_t = c.kernel(t)
        for members in subsets(c.k):
            r = c.row(members)
            clean = oracle.mixture(c.weights, c.pmfs, members)
            for prefix in ("", "generic_"):
                close(flat(tab[prefix + "mixtures_clean"][ti, r]), clean)
                close(flat(tab[prefix + "mixtures_noised"][ti, r]), clean @ k_t)


# --------------------------------------------------------------------------------------
# the forward-reverse experiment


@pytest.mark.parametrize("name", list(CASES))
def test_forward_reverse_matches_oracle(name):
    c = case(name)
    fr = localize.ForwardReverse(c.tab["fr"], c.tab["fr_clean"])
    for ti, t in enumerate(c.times):
        k_t = c.kernel(t)
        for members in subsets(c.k):
            r = c.row(members)
            assert not np.any(np.isnan(fr.log_law[ti, r]))
            law = flat(fr.log_law[ti, r])
            close(law, oracle.forward_reverse(c.weights, c.pmfs, members, k_t))
            close(law.sum(), 1.0)
            close(np.exp(fr.log_clean[ti, r]).reshape(c.k, -1), c.pmfs, atol=0)
            close(c.tab["fr_label"][ti, r], oracle.label_law(c.weights, c.pmfs, members, k_t))
            if c.kind == "truncation":
                # Same law through the bare-prefix kernel.
                close(law, oracle.forward_reverse(c.weights, c.pmfs, members,
                                                  c.kernel(t, rep="prefix")))


def test_forward_reverse_keeps_zero_probability_outcomes_at_zero():
    c = case("sparse_l4")
    p = oracle.mixture(c.weights, c.pmfs)
    log_law = c.tab["fr"].reshape(len(c.times), 2**c.k - 1, -1)
    assert not np.any(np.isnan(log_law))
    assert np.all(np.isneginf(log_law[:, :, p == 0]))
    # Disjoint prefixes: up to t = 2 the experiment returns p^{theta} exactly; at t = 3 the
    # components sharing the first symbol are mixed; at t = L it returns p.
    for i in range(c.k):
        for ti in range(3):
            close(np.exp(log_law[ti, c.row([i])]), c.pmfs[i])
        pair = [0, 1] if i < 2 else [2, 3]
        close(np.exp(log_law[3, c.row([i])]), oracle.mixture(c.weights, c.pmfs, pair))
        close(np.exp(log_law[4, c.row([i])]), p)


# --------------------------------------------------------------------------------------
# window curves and report


def _set_pairs(k):
    yield [0], [0]
    yield [0], [0, 1]
    yield [1], list(range(k))
    if k > 2:
        yield [0, 2], [0, 1, 2]
        yield [2], [1, 2]


def _compare_curves(got, expected):
    for name, value in expected.items():
        if value is None:
            continue
        arr = np.asarray(getattr(got, name) if hasattr(got, name) else got[name], dtype=float)
        exp = np.asarray(value, dtype=float)
        if name.startswith("log_overlap"):
            assert np.array_equal(np.isneginf(arr) | (arr <= -1e308), np.isneginf(exp)), name
            fin = np.isfinite(exp)
            close(arr[fin], exp[fin], rtol=1e-11)
        else:
            close(arr, exp, rtol=1e-11)


@pytest.mark.parametrize("name", list(CASES))
def test_window_curves_match_oracle(name):
    c = case(name)
    kernels = [c.kernel(t) for t in c.times]
    for s_init, s_target in _set_pairs(c.k):
        got = localize.window_curves(c.model, s_init, s_target, c.times)
        assert isinstance(got, localize.WindowCurves)
        for value in got:
            assert value.shape == (len(c.times),) and not np.any(np.isnan(value))
        _compare_curves(got, oracle.curves(c.weights, c.pmfs, kernels, s_init, s_target))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("eps", [0.3, 0.9])
def test_window_report_matches_oracle(name, eps):
    c = case(name)
    kernels = [c.kernel(t) for t in c.times]
    for s_init, s_target in _set_pairs(c.k):
        rep = localize.window_report(c.model, s_init, s_target, eps, c.times)
        exp = oracle.window(c.weights, c.pmfs, kernels, c.times, s_init, s_target, eps)
        # No tie between a curve and eps: the thresholds are then unambiguous.
        assert all(abs(v - eps) > 1e-9 for v in exp["tv_init_target"])
        for lo in (exp["log_overlap_target_rest"], exp["log_overlap_init_rest"]):
            assert lo is None or all(abs(v - 2 * math.log(eps)) > 1e-9 for v in lo)
        j = rep.to_json()
        json.dumps(j, allow_nan=False)
        assert j["times"] == c.times
        for field in ("tv_target_rest", "tv_init_rest", "log_overlap_target_rest",
                      "log_overlap_init_rest", "exit_mass_target", "bc_target_rest"):
            assert (j[field] is None) == (exp[field] is None), field
        _compare_curves(j, {k: exp[k] for k in (
            "tv_init_target", "tv_target_rest", "tv_init_rest", "fr_tv_target", "fr_tv_init",
            "fr_tv_full", "label_mass_target", "log_overlap_target_rest",
            "log_overlap_init_rest", "exit_mass_target", "bc_target_rest")})
        for key in ("T_start", "T_end", "T_before_C", "T_after_C", "theorem2_holds"):
            assert j[key] == exp[key], key
        close(j["W"], exp["W"])
        close(j["bound_theorem2"], exp["bound_theorem2"])
        if exp["theorem2_margin"] is None:
            assert j["theorem2_margin"] is None
        else:
            close(j["theorem2_margin"], exp["theorem2_margin"], rtol=1e-11)
        assert j["eps"] == eps
        assert j["s_init"] == sorted(s_init) and j["s_target"] == sorted(s_target)
        # Every curve is exact; a curve against an empty complement has no method.
        assert {m for m in j["method"].values() if m is not None} == {"exact"}
        for name, m in j["method"].items():
            assert (m is None) == (j[name] is None), name
            assert (j[f"{name}_se"] is None) == (j[name] is None), name
        assert j["error_bound"] == 0.0 and j["estimate"] is None
        for name in ("T_start", "T_end", "T_before_C", "T_after_C"):
            assert j[f"{name}_interval"] == (None if j[name] is None else [j[name]] * 2)
        model = j["model"]
        assert model["family"] == "finite" and model["alphabet"] == c.a
        assert model["length"] == c.length
        close(model["weights"], c.weights)
        assert model["process"]["kind"] == c.model.process.kind
        text = rep.to_text()
        assert "T_end" in text and "Theorem 2" in text


def test_window_report_theorem2_is_checked_somewhere():
    """At least one of the reference reports has a non-vacuous Theorem 2 check."""
    checked = []
    for name in ("truncation", "random"):
        c = case(name)
        for s_init, s_target in _set_pairs(c.k):
            rep = localize.window_report(c.model, s_init, s_target, 0.9, c.times)
            checked.append(rep.theorem2_holds)
    assert True in checked and False not in checked


def test_report_with_target_everything_and_init_equal_target():
    c = case("random")
    rep = localize.window_report(c.model, [0, 1], list(range(c.k)), 0.5, c.times)
    assert rep.tv_target_rest is None and rep.log_overlap_target_rest is None
    assert rep.exit_mass_target is None and rep.bc_target_rest is None
    assert rep.W == 0.0
    # No complement: the separation condition holds at every time.
    assert rep.T_start == c.times[-1]
    rep2 = localize.window_report(c.model, [1], [1], 0.5, c.times)
    assert rep2.tv_init_target == [0.0] * len(c.times)
    assert rep2.T_end == c.times[0]


# --------------------------------------------------------------------------------------
# windows on hand-made curves


def test_window_thresholds_on_given_curves():
    times = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    tv_it = np.array([0.9, 0.5, 0.2, 0.05, 0.0])
    tv_tr = np.array([1.0, 0.995, 0.98, 0.5, 0.0])
    eps = 0.1
    assert t_end(times, tv_it, eps) == 3.0
    assert t_start(times, tv_tr, eps) == 1.0
    # T^C_before needs both conditions at the same time: none here.
    assert t_before_c(times, tv_it, tv_tr, eps) is None
    assert t_before_c(times, tv_it, tv_tr, 0.25) == 2.0
    assert t_after_c(times, tv_tr, eps) == 1.0
    # An empty complement (None) counts as separated everywhere.
    assert t_start(times, None, eps) == 4.0
    assert t_before_c(times, tv_it, None, eps) == 3.0
    assert t_after_c(times, None, eps) == 4.0
    # Nothing qualifies.
    assert t_end(times, tv_it + 1.0, eps) is None
    assert t_start(times, tv_tr * 0.5, eps) is None
    # The log-overlap takes precedence over a TV that rounded to 1.
    lo = np.array([math.log(2e-20), math.log(0.005), -1.0, -0.5, 0.0])
    assert t_start(times, np.ones(5), 1e-10, log_overlap=lo) is None
    assert t_start(times, np.ones(5), 1e-9, log_overlap=lo) == 0.0
    assert t_after_c(times, np.ones(5), 1e-9, log_overlap=lo) == 0.0
    close(theorem2_bound(0.1, 0.5), 0.1 * (1 + 1 / math.sqrt(2)))
    close(theorem2_bound(0.1, 3.0), 0.1 * (1 + 3 / math.sqrt(2)))


# --------------------------------------------------------------------------------------
# numerics at the edges


def _near_disjoint(tiny):
    return synthetic.finite_mixture([0.5, 0.5], [[1.0, tiny], [tiny, 1.0]], 2, 1, "truncation")


def test_posterior_near_one_is_accurate_in_log_space():
    tiny = 1e-20
    model = _near_disjoint(tiny)
    view = model.view(0.0)
    post = np.asarray(lp.log_label_posterior(model.log_weights, view.log_noised))
    # pi(1 | y = 0) = tiny / (1 + tiny): the small side is exact, the large side is 1.
    close(post[1, 0], math.log(tiny), rtol=1e-14, atol=0)
    close(post[0, 1], math.log(tiny), rtol=1e-14, atol=0)
    assert abs(post[0, 0]) < 1e-15 and abs(post[1, 1]) < 1e-15
    c = localize.window_curves(model, [0], [0], [0, 1])
    # E_{Y ~ p^{0}}[pi(C | Y)] = 2 tiny / (1 + tiny): computed directly, not as 1 - mass.
    close(c.exit_mass_target[0], 2 * tiny / (1 + tiny), rtol=1e-13, atol=0)
    close(c.log_overlap_target_rest[0], math.log(2 * tiny), rtol=1e-14, atol=0)
    assert c.tv_target_rest[0] == 1.0
    # The forward-reverse output at t = 0 is p^{0} itself, tiny outcome included.
    fr = np.asarray(localize.forward_reverse(model, 0.0, set_mask(2, [0])).log_law)
    close(fr, [0.0, math.log(tiny)], rtol=1e-14, atol=1e-15)


def test_separation_uses_log_overlap_when_tv_rounds_to_one():
    model = _near_disjoint(1e-20)
    # 1 - TV = 2e-20 exactly, but TV is 1.0 in float64. With eps^2 = 1e-20 the pair is not
    # separated; with eps^2 = 1e-18 it is.
    strict = localize.window_report(model, [0], [0], 1e-10, [0, 1])
    assert strict.tv_target_rest[0] == 1.0
    assert strict.T_start is None and strict.T_after_C is None
    loose = localize.window_report(model, [0], [0], 1e-9, [0, 1])
    assert loose.T_start == 0.0 and loose.T_after_C == 0.0


def test_disjoint_components_give_minus_inf_overlap_without_nan():
    c = case("sparse_l4")
    rep = localize.window_report(c.model, [0], [0], 0.1, c.times)
    # -inf is clamped to the most negative double for JSON.
    assert rep.log_overlap_target_rest[0] == -1e308
    assert abs(rep.tv_target_rest[0] - 1.0) < 1e-15 and rep.bc_target_rest[0] == 0.0
    assert rep.exit_mass_target[0] == 0.0 and rep.fr_tv_target[0] < 1e-15
    json.dumps(rep.to_json(), allow_nan=False)
    curves = localize.window_curves(c.model, [0], [0], c.times)
    assert curves.log_overlap_target_rest[0] == -np.inf
    for value in curves:
        assert not np.any(np.isnan(value))


# --------------------------------------------------------------------------------------
# compilation


def test_second_report_with_same_shapes_does_not_recompile():
    c = case("random")
    localize.window_curves(c.model, [0], [0, 1], c.times)
    size = _curves_chunk._cache_size()
    other = synthetic.random_finite(jax.random.key(99), 5, 2, 3, "random_masking")
    localize.window_curves(c.model, [2], [1, 2], [0.0, 0.1, 0.3, 0.7, 0.95])
    localize.window_curves(other, [1], [0, 1, 2], [0.0, 0.4, 0.6, 0.8, 1.0])
    localize.window_report(other, [0, 1], [0, 1], 0.2, [0.05, 0.1, 0.2, 0.3, 0.4])
    assert _curves_chunk._cache_size() == size


def test_curves_walked_in_chunks_equal_one_chunk(monkeypatch):
    c = case("random")
    whole = localize.window_curves(c.model, [0], [0, 1], c.times)
    # Two times per chunk: three chunks, the last one padded.
    monkeypatch.setattr(report, "CHUNK_BUDGET", 2 * c.model.table_size())
    shapes, chunk = [], report._curves_chunk
    monkeypatch.setattr(report, "_curves_chunk",
                        lambda *args: shapes.append(args[-1].shape) or chunk(*args))
    parts = localize.window_curves(c.model, [0], [0, 1], c.times, progress=False)
    assert shapes == [(2,), (2,), (2,)]
    for a, b in zip(whole, parts, strict=True):
        assert a.shape == b.shape == (len(c.times),)
        close(a, b, rtol=1e-14, atol=1e-15)


# --------------------------------------------------------------------------------------
# validation: every bad input raises LocalizeError naming the parameter


@pytest.mark.parametrize("weights,what", [
    ([0.5, -0.1, 0.6], "non-negative"),
    ([0.5, float("nan"), 0.5], "finite"),
    ([0.5, 0.4, 0.3], "summing to 1"),
    ([], "non-empty"),
    ([[0.5, 0.5]], "1-D"),
    (["a", "b"], "numbers"),
])
def test_bad_weights(weights, what):
    with pytest.raises(LocalizeError, match=rf"^weights: .*{what}"):
        check_weights(weights)
    pmfs = [[0.25] * 4] * max(1, len(weights))
    with pytest.raises(LocalizeError, match=r"^model\.weights: "):
        synthetic.finite_mixture(weights, pmfs, 2, 2)


@pytest.mark.parametrize("pmfs,param", [
    ([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5]], r"model\.pmfs"),          # wrong length
    ([[0.25] * 4], r"model\.pmfs"),                                  # wrong number of rows
    ([[0.5, 0.5, 0.5, -0.5], [0.25] * 4], r"model\.pmfs"),           # negative
    ([[0.5, 0.5, float("nan"), 0.0], [0.25] * 4], r"model\.pmfs"),   # NaN
    ([[0.25] * 4, [0.5, 0.5, 0.5, 0.0]], r"model\.pmfs\[1\]"),       # not summing to 1
])
def test_bad_pmfs(pmfs, param):
    with pytest.raises(LocalizeError, match=rf"^{param}: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 2, 2)


def test_bad_model_shape_and_process():
    pmfs = [[0.25] * 4, [0.25] * 4]
    with pytest.raises(LocalizeError, match=r"^model\.alphabet: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 1, 2)
    with pytest.raises(LocalizeError, match=r"^model\.length: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 2, 0)
    with pytest.raises(LocalizeError, match=r"^process\.kind: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 2, 2, "diffusion")
    with pytest.raises(LocalizeError, match=r"^process\.order: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 2, 2, "ordered_masking")
    with pytest.raises(LocalizeError, match=r"^process\.order: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 2, 2, "truncation", order=[1, 0])
    with pytest.raises(LocalizeError, match=r"^order: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 2, 2, "ordered_masking", order=[0, 0])
    with pytest.raises(LocalizeError, match=r"^process\.length: "):
        synthetic.finite_mixture([0.5, 0.5], pmfs, 2, 2, localize.Truncation(3))
    with pytest.raises(LocalizeError, match=r"^length: "):
        localize.Truncation(0)


@pytest.mark.parametrize("subset", [[], [5], [-1], [0, 0], [0.5], "0", None, [True]])
def test_bad_sets(subset):
    c = case("truncation")
    with pytest.raises(LocalizeError, match=r"^s_init: "):
        localize.window_curves(c.model, subset, [0, 1, 2], c.times)
    with pytest.raises(LocalizeError, match=r"^s_target: "):
        localize.window_report(c.model, [0], subset, 0.1, c.times)
    with pytest.raises(LocalizeError, match=r"^set: "):
        set_mask(5, subset)


def test_s_init_must_lie_in_s_target():
    c = case("truncation")
    with pytest.raises(LocalizeError, match=r"^s_init: .*subset of s_target"):
        localize.window_report(c.model, [0, 2], [0, 1], 0.1, c.times)


def test_zero_weight_s_init_is_refused():
    model = synthetic.finite_mixture([0.0, 1.0], [[0.25] * 4, [0.5, 0.5, 0, 0]], 2, 2)
    with pytest.raises(LocalizeError, match=r"^s_init: .*positive total weight"):
        localize.window_curves(model, [0], [0, 1], [0, 1, 2])


@pytest.mark.parametrize("eps", [0.0, 1.0, -0.1, 1.5, float("nan"), float("inf"), True, "0.1",
                                 None])
def test_bad_eps(eps):
    c = case("truncation")
    with pytest.raises(LocalizeError, match=r"^eps: "):
        localize.window_report(c.model, [0], [0, 1], eps, c.times)


@pytest.mark.parametrize("name,times", [
    ("truncation", [0, 1, 4]),        # outside 0..L
    ("truncation", [-1, 0, 1]),
    ("truncation", [0, 0.5, 1]),      # not an integer
    ("truncation", [2, 1, 0]),        # decreasing
    ("truncation", [0, 1, 1]),        # repeated
    ("truncation", []),
    ("truncation", [0, float("nan")]),
    ("truncation", "abc"),
    ("random", [0.0, 0.5, 1.5]),
    ("random", [-0.1, 0.5]),
    ("random", [0.5, 0.2]),
])
def test_bad_times(name, times):
    c = case(name)
    with pytest.raises(LocalizeError, match=r"^times: "):
        localize.window_curves(c.model, [0], [0, 1], times)
    with pytest.raises(LocalizeError, match=r"^times: "):
        localize.window_report(c.model, [0], [0, 1], 0.1, times)
