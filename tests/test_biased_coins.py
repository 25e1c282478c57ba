"""The biased-coins family ([LKC25] Example 5) and Loader's binomial pmf.

Three references that share no code with the JAX path of the family:

* the generic ``finite`` family on the explicit product pmfs over ``{0, 1}^L``;
* a brute-force NumPy oracle that enumerates ``{0, 1}^L`` and evaluates the closed form
  ``p^{S,t}(x) = p^S(prefix) p(suffix | prefix)`` (theory.md §1.4);
* for lengths where the tails are truncated, the same curves on the full
  ``(n + 1) x (m + 1)`` grid of counts with SciPy's binomial pmf.

Loader's algorithm is checked against a 50-digit ``decimal`` evaluation of
``log C(n, k) + k log p + (n - k) log q`` and against SciPy.
"""

from __future__ import annotations

import itertools
import json
import math
from decimal import Decimal, getcontext

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import binom

import localize
import synthetic.biased_coins as bc
from localize import divergences as dv
from localize.binomial import log_binom_pmf
from localize.errors import LocalizeError
from localize.posterior import log_set_weights
from localize.report import _curves_chunk
from synthetic.finite import finite_mixture
from synthetic.registry import build, families_info

TOL = 1e-12
FIELDS = localize.WindowCurves._fields


def assert_curves_close(got, want, tol=TOL, where=""):
    """Every field of two sets of curves; ``log_*`` fields compared as logs (``-inf`` too)."""
    for name in FIELDS:
        a = np.asarray(getattr(got, name), dtype=np.float64)
        b = np.asarray(getattr(want, name), dtype=np.float64)
        if name.startswith("log_"):
            np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), err_msg=f"{where} {name}")
            a, b = a[np.isfinite(b)], b[np.isfinite(b)]
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{where} {name}")
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=f"{where} {name}")


# --------------------------------------------------------------------------------------
# brute-force oracles (NumPy only)


def _tv(a, b):
    return 0.5 * np.abs(a - b).sum()


def _log_overlap(a, b):
    with np.errstate(divide="ignore"):
        return np.log(np.minimum(a, b).sum())


def _curves_from_laws(weights, noised, clean, fr_of, s_init, s_target):
    """Every :class:`localize.WindowCurves` field at one time from component laws.

    ``noised`` is ``(K, |Z|)``, ``clean`` is ``(K, |U|)`` and ``fr_of(ratio)`` returns the
    forward-reverse law on ``U`` for a function ``ratio = p_t^S / p_t`` on ``Z``. Empty
    complements are replaced by the set itself, as the core does.
    """
    w = np.asarray(weights, dtype=np.float64)
    k = w.size
    init = np.isin(np.arange(k), s_init)
    target = np.isin(np.arange(k), s_target)
    rest_t = ~target if w[~target].sum() > 0 else target
    rest_i = ~init if w[~init].sum() > 0 else init

    def mix(tables, mask):
        return (w * mask) @ tables / w[mask].sum()

    z_init, z_target = mix(noised, init), mix(noised, target)
    z_rest_t, z_rest_i, z_all = mix(noised, rest_t), mix(noised, rest_i), w @ noised
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(z_all > 0, z_init / z_all, 0.0)
        post = lambda mask: np.where(z_all > 0, (w * mask) @ noised / z_all, 0.0)  # noqa: E731
    fr = fr_of(ratio)
    return dict(
        tv_init_target=_tv(z_init, z_target),
        tv_target_rest=_tv(z_target, z_rest_t),
        log_overlap_target_rest=_log_overlap(z_target, z_rest_t),
        tv_init_rest=_tv(z_init, z_rest_i),
        log_overlap_init_rest=_log_overlap(z_init, z_rest_i),
        fr_tv_target=_tv(fr, mix(clean, target)),
        fr_tv_init=_tv(fr, mix(clean, init)),
        fr_tv_full=_tv(fr, w @ clean),
        label_mass_target=(z_init * post(target)).sum(),
        exit_mass_target=(z_target * post(rest_t)).sum(),
        bc_target_rest=np.sqrt(z_target * z_rest_t).sum(),
    )


def _stack(rows):
    return localize.WindowCurves(**{f: np.array([r[f] for r in rows]) for f in FIELDS})


def sequences(length):
    return np.array(list(itertools.product([0, 1], repeat=length)), dtype=np.int64)


def product_pmfs(deltas, length):
    """``(K, 2^L)`` pmfs of i.i.d. coins, lexicographic with the first token most significant."""
    x = sequences(length)
    p = 0.5 + np.asarray(deltas, dtype=np.float64)
    return np.prod(np.where(x[None] == 1, p[:, None, None], 1.0 - p[:, None, None]), axis=2)


def brute_curves(weights, deltas, length, s_init, s_target, times, order=None):
    """The curves on ``{0, 1}^L`` itself: ``y`` = the visible tokens, read off each sequence."""
    x = sequences(length)
    clean = product_pmfs(deltas, length)
    order = list(range(length)) if order is None else list(order)
    rows = []
    for t in times:
        visible = order[: length - int(t)]
        y = x[:, visible] @ (2 ** np.arange(len(visible)))
        noised = np.stack([np.bincount(y, weights=c, minlength=2 ** len(visible)) for c in clean])
        p_x = np.asarray(weights) @ clean
        # p^{S,t}(x) = p^S_t(prefix) p(suffix | prefix) = p(x) p^S_t(y) / p_t(y).
        rows.append(_curves_from_laws(weights, noised, clean,
                                      lambda ratio, y=y, p_x=p_x: p_x * ratio[y],
                                      s_init, s_target))
    return _stack(rows)


def count_curves(weights, deltas, length, s_init, s_target, times):
    """The curves on the full grid of counts ``(k1, k2)``, with SciPy's binomial pmf."""
    p = 0.5 + np.asarray(deltas, dtype=np.float64)
    rows = []
    for t in times:
        n, m = length - int(t), int(t)
        noised = np.stack([binom.pmf(np.arange(n + 1), n, pi) for pi in p])
        hidden = np.stack([binom.pmf(np.arange(m + 1), m, pi) for pi in p])
        clean = (noised[:, :, None] * hidden[:, None, :]).reshape(p.size, -1)
        p_u = np.asarray(weights) @ clean

        def fr_of(ratio, p_u=p_u, m=m):
            return (p_u.reshape(-1, m + 1) * ratio[:, None]).ravel()

        rows.append(_curves_from_laws(weights, noised, clean, fr_of, s_init, s_target))
    return _stack(rows)


# --------------------------------------------------------------------------------------
# exactness on small and truncated instances

# (length, weights, deltas, process, set pairs)
SMALL = {
    "L3-K2-trunc": (3, [0.4, 0.6], [0.3, -0.1], "truncation", [([0], [0]), ([1], [0, 1])]),
    "L5-K3-order": (5, [0.2, 0.3, 0.5], [0.5, -0.25, 0.1], "ordered_masking",
                    [([0], [0, 1]), ([2], [2])]),
    "L6-K3-trunc": (6, [0.25, 0.25, 0.5], [-0.5, 0.05, 0.45], "truncation",
                    [([1], [0, 1]), ([2], [0, 1, 2])]),
}


def _order(length, process, seed=0):
    if process != "ordered_masking":
        return None
    return np.random.default_rng(seed).permutation(length).tolist()


@pytest.mark.parametrize("case", sorted(SMALL))
def test_matches_finite_family_and_brute_force(case):
    length, w, d, process, pairs = SMALL[case]
    order = _order(length, process)
    coins = bc.biased_coins(w, d, length, process, order)
    finite = finite_mixture(w, product_pmfs(d, length), 2, length, process, order)
    assert coins.error_bound == 0.0 and not coins.truncated
    times = list(range(length + 1))
    for s_init, s_target in pairs:
        got = localize.window_curves(coins, s_init, s_target, times)
        where = f"{case} {s_init} {s_target}"
        assert_curves_close(got, localize.window_curves(finite, s_init, s_target, times),
                            where=where + " vs finite")
        assert_curves_close(got, brute_curves(w, d, length, s_init, s_target, times, order),
                            where=where + " vs brute force")


def test_brute_force_length_ten_with_a_zero_weight():
    w, d = [0.3, 0.0, 0.7], [0.15, 0.5, -0.35]
    coins = bc.biased_coins(w, d, 10)
    times = [0, 1, 3, 6, 9, 10]
    got = localize.window_curves(coins, [0], [0, 2], times)
    assert_curves_close(got, brute_curves(w, d, 10, [0], [0, 2], times))


# Truncated tails: a point mass at n (delta = 1/2) and two overlapping windows.
TRUNCATED = (500, [0.2, 0.3, 0.5], [0.5, -0.1, 0.05])


def test_truncated_tails_within_error_bound():
    length, w, d = TRUNCATED
    coins = bc.biased_coins(w, d, length)
    assert coins.truncated and coins.error_bound == 2 * bc.TAIL
    assert coins.axis_size < length + 1
    times = [0, 1, 57, length // 2, length - 150, length - 1, length]
    for s_init, s_target in (([0], [0, 1]), ([1], [1, 2])):
        got = localize.window_curves(coins, s_init, s_target, times)
        want = count_curves(w, d, length, s_init, s_target, times)
        assert_curves_close(got, want, tol=coins.error_bound + 1e-12, where=str(s_init))
    report = localize.window_report(coins, [0], [0, 1], 0.1, times)
    assert report.error_bound == 2e-13 and set(report.method.values()) == {"exact"}
    json.dumps(report.to_json(), allow_nan=False)


def test_merged_windows_are_the_union_of_the_component_windows():
    length = 3000
    d = np.array([0.49, -0.2, -0.19])
    coins = bc.biased_coins([0.2, 0.3, 0.5], d, length)
    p, _ = bc._probs(coins.deltas)
    ns = np.arange(length + 1)
    ks, oks, sizes = jax.jit(jax.vmap(lambda n: coins._axis(n, p)))(jnp.asarray(ns))
    ks, oks, sizes = map(np.asarray, (ks, oks, sizes))
    radius = np.ceil(np.sqrt(ns * math.log(2 / bc.TAIL) / 2)).astype(int) + 1
    for n in ns:
        real = ks[n][oks[n]]
        want = set()
        for pi in np.asarray(p):
            c = int(np.round(n * pi))
            lo = min(max(c - radius[n], 0), max(n + 1 - (2 * radius[n] + 1), 0))
            want |= set(range(lo, min(lo + 2 * radius[n] + 1, n + 1)))
        assert sizes[n] == real.size == len(want)
        assert np.all(np.diff(real) > 0) and set(real.tolist()) == want
        assert np.all(np.flatnonzero(oks[n]) == np.arange(real.size))


def test_retained_mass_at_length_1e5():
    coins = bc.biased_coins([0.5, 0.5], [0.004, -0.004], 100_000)
    assert coins.truncated
    view = jax.jit(lambda m, t: m.view(t))
    for t in (0.0, 1.0, 50_000.0, 99_999.0):
        v = view(coins, jnp.float64(t))
        noised = np.exp(np.asarray(v.log_noised)).sum(axis=1)
        clean = np.exp(np.asarray(v.log_clean)).sum(axis=(1, 2))
        assert np.all(noised >= 1 - bc.TAIL) and np.all(noised <= 1 + 1e-12), (t, noised)
        assert np.all(clean >= (1 - bc.TAIL) ** 2) and np.all(clean <= 1 + 1e-12), (t, clean)


# --------------------------------------------------------------------------------------
# theory.md §6 item 20 and the table of §3.3


def _noised_tv(coins, t):
    """``TV(p_t^0, p_t^1)`` from the model's noised laws alone (no clean table)."""
    rows = jnp.stack([log_set_weights(coins.log_w, jnp.array(m)) for m in
                      ([True, False], [False, True])])
    laws = coins.log_noised_mixtures(t, rows)
    return dv.tv(laws[0], laws[1])


_noised_tvs = jax.jit(jax.vmap(_noised_tv, in_axes=(None, 0)))

# (Delta, eps, printed TV at T^C_after, digits, printed TV at T^C_before, digits, whether the
# full window curves fit: 309,484 visible tokens do, 4.5 million need the noised laws only).
TABLE = [(0.004, 0.01, 0.999991, 6, 0.012, 3, True),
         (0.001, 0.015, 0.99998, 5, 0.024, 3, False)]


@pytest.mark.parametrize("delta, eps, after, after_digits, before, before_digits, curves", TABLE)
def test_example5_binomial_check(delta, eps, after, after_digits, before, before_digits,
                                 curves):
    n_after = math.ceil(math.log(2 / eps**2) / (2 * delta**2))
    n_before = math.floor(eps**2 / delta**2 - 2)
    coins = bc.biased_coins([0.5, 0.5], [delta, -delta], n_after + 100)
    times = [coins.length - n_after, coins.length - n_before]
    if curves:
        tvs = localize.window_curves(coins, [0], [0, 1], times).tv_init_rest
    else:
        tvs = np.asarray(_noised_tvs(coins, jnp.asarray(times, dtype=jnp.float64)))
    assert tvs[0] >= 1 - eps**2
    assert tvs[1] <= 3 * eps
    assert round(float(tvs[0]), after_digits) == after
    assert round(float(tvs[1]), before_digits) == before
    if curves:
        # The exact binomial TV from the full pmfs (SciPy) agrees within the error bound.
        for n, value in zip((n_after, n_before), tvs, strict=True):
            k = np.arange(n + 1)
            exact = 0.5 * np.abs(binom.pmf(k, n, 0.5 + delta) - binom.pmf(k, n, 0.5 - delta)).sum()
            assert abs(value - exact) <= coins.error_bound + 1e-11


# --------------------------------------------------------------------------------------
# Loader's binomial pmf

getcontext().prec = 50
_PI = Decimal("3.14159265358979323846264338327950288419716939937510")
# B_2j / (2j (2j - 1)) for the Stirling series of log n!.
_STIRLING = [Decimal(num) / Decimal(den) for num, den in (
    (1, 12), (-1, 360), (1, 1260), (-1, 1680), (1, 1188), (-691, 360360), (1, 156),
    (-3617, 122400))]


def _log_factorial(n: int) -> Decimal:
    if n < 300:
        return Decimal(math.factorial(n)).ln() if n > 1 else Decimal(0)
    dn = Decimal(n)
    series = sum(c / dn ** (2 * j + 1) for j, c in enumerate(_STIRLING))
    return (dn + Decimal("0.5")) * dn.ln() - dn + (2 * _PI).ln() / 2 + series


def decimal_log_pmf(k: int, n: int, p: float, q: float) -> float:
    value = _log_factorial(n) - _log_factorial(k) - _log_factorial(n - k)
    if k:
        value += k * Decimal(p).ln()
    if n - k:
        value += (n - k) * Decimal(q).ln()
    return float(value)


_log_binom_pmf = jax.jit(log_binom_pmf)


def test_log_binom_pmf_against_50_digit_decimal():
    rng = np.random.default_rng(5)
    cases = []
    for n in (1, 2, 7, 15, 16, 17, 36, 81, 300, 501, 4_096, 77_777, 100_000):
        # p and q exact complements, so the oracle and Loader see the same distribution.
        for big in (0.5, 0.504, 0.7, 0.9, 0.999, 0.5 + 2**-40):
            for p, q in ((big, 1.0 - big), (1.0 - big, big)):
                sd = math.sqrt(n * p * q)
                lo, hi = max(0, int(n * p - 8 * sd)), min(n, int(n * p + 8 * sd) + 1)
                ks = np.unique(np.concatenate([[0, n, lo, hi], rng.integers(lo, hi + 1, 6)]))
                cases += [(int(k), n, p, q) for k in ks]
    k, n, p, q = map(np.array, zip(*cases, strict=True))
    got = np.asarray(_log_binom_pmf(k, n, p, q))
    want = np.array([decimal_log_pmf(*c) for c in cases])
    # 1e-13 relative on the pmf, beyond the rounding of the log itself.
    np.testing.assert_allclose(got, want, rtol=4e-16, atol=1e-13)
    assert len(cases) > 500


def test_log_binom_pmf_against_scipy():
    # SciPy's logpmf uses gammaln and pmf uses Boost: accurate to 1e-13 for small n only;
    # at n = 1e5 they are off by 4e-10 and 4e-12 (the decimal test is the reference there).
    grid = [(k, n, p) for n in (0, 1, 2, 5, 20, 60, 100) for k in range(-2, n + 3)
            for p in (0.0, 1e-3, 0.25, 0.5, 0.93, 1.0)]
    k, n, p = map(np.array, zip(*grid, strict=True))
    got = np.asarray(_log_binom_pmf(k, n, p, 1.0 - p))
    want = binom.logpmf(k, n, p)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-13, atol=1e-13)
    k = np.arange(100_001)
    for p in (0.5, 0.496, 0.1):
        want = binom.pmf(k, 100_000, p)
        got = np.exp(np.asarray(_log_binom_pmf(k, 100_000, p, 1.0 - p)))
        big = want > 1e-300
        np.testing.assert_allclose(got[big], want[big], rtol=1e-11)


def test_log_binom_pmf_edge_cases():
    assert float(log_binom_pmf(0, 0, 0.3)) == 0.0
    assert float(log_binom_pmf(0, 10, 0.0)) == 0.0
    assert float(log_binom_pmf(10, 10, 1.0)) == 0.0
    for k, n, p in ((1, 10, 0.0), (9, 10, 1.0), (-1, 10, 0.5), (11, 10, 0.5), (2.5, 10, 0.5)):
        assert np.isneginf(float(log_binom_pmf(k, n, p)))
    # k = 0 and k = n with a base close to 1 (the bd0 branch) and far from it.
    for n, p in ((100_000, 1e-6), (100_000, 0.3), (7, 0.05)):
        assert abs(float(log_binom_pmf(0, n, p)) - n * math.log1p(-p)) <= 1e-13 * n * p + 1e-15
        assert abs(float(log_binom_pmf(n, n, 1 - p, p)) - n * math.log1p(-p)) <= 1e-13 * n * p


# --------------------------------------------------------------------------------------
# interface: validation, registry, compilation


@pytest.mark.parametrize("kwargs, param", [
    (dict(deltas=[0.1]), "model.deltas"),
    (dict(deltas=[0.1, 0.6]), "model.deltas"),
    (dict(deltas=[0.1, float("nan")]), "model.deltas"),
    (dict(deltas="ab"), "model.deltas"),
    (dict(deltas=[[0.1, 0.2]]), "model.deltas"),
    (dict(weights=[0.5, 0.6]), "model.weights"),
    (dict(weights=[1.5, -0.5]), "model.weights"),
    (dict(length=0), "model.length"),
    (dict(length=2.5), "model.length"),
    (dict(length=True), "model.length"),
    (dict(length=bc.MAX_LENGTH + 1), "model.length"),
    (dict(process="random_masking"), "process.kind"),
    (dict(process="diffusion"), "process.kind"),
    (dict(process=localize.RandomMasking(4)), "process.kind"),
    (dict(process=localize.Truncation(5)), "process.length"),
    (dict(process="ordered_masking"), "process.order"),
    (dict(process="ordered_masking", order=[0, 1, 1, 3]), "order"),
    (dict(process="truncation", order=[0, 1, 2, 3]), "process.order"),
])
def test_bad_inputs_name_the_parameter(kwargs, param):
    args = dict(weights=[0.5, 0.5], deltas=[0.1, -0.1], length=4, process="truncation")
    args.update(kwargs)
    with pytest.raises(LocalizeError, match=rf"^{param}:"):
        bc.biased_coins(**args)


def test_registry_refuses_random_masking():
    info = {f["name"]: f for f in families_info()}["biased_coins"]
    assert info["processes"] == ["truncation", "ordered_masking"]
    assert set(info["params"]) == {"length", "deltas", "weights"}
    params = dict(weights=[0.5, 0.5], deltas=[0.1, -0.1], length=4)
    with pytest.raises(LocalizeError, match=r"process\.kind: .*truncation.*ordered_masking.*"
                                            r"biased_coins.*'random_masking'"):
        build("biased_coins", process="random_masking", **params)
    model = build("biased_coins", process="ordered_masking", order=[3, 1, 0, 2], **params)
    assert isinstance(model, bc.BiasedCoins)
    described = model.describe()
    assert described["family"] == "biased_coins" and described["deltas"] == [0.1, -0.1]
    assert described["process"] == {"kind": "ordered_masking", "length": 4,
                                    "order": [3, 1, 0, 2]}
    json.dumps(described)


def test_second_call_does_not_compile():
    length, w, d = TRUNCATED
    a = bc.biased_coins(w, d, length)
    # The same spread of biases gives the same static shapes: one compilation serves both.
    b = bc.biased_coins([0.6, 0.3, 0.1], [0.25, -0.35, 0.0], length)
    assert (a.axis_size, a.short_size) == (b.axis_size, b.short_size)
    localize.window_curves(a, [0], [0, 1], [0, 100, 300])
    size = _curves_chunk._cache_size()
    localize.window_curves(a, [1], [1], [1, 2, 3])
    localize.window_curves(b, [0], [0, 2], [5, 250, 499])
    assert _curves_chunk._cache_size() == size


def test_table_size_gives_one_time_per_chunk_at_length_1e5():
    from localize.report import CHUNK_BUDGET

    coins = bc.biased_coins([0.5, 0.5], [0.004, -0.004], 100_000)
    # The core takes max(1, CHUNK_BUDGET // table_size) times per chunk.
    assert CHUNK_BUDGET // coins.table_size() <= 1
    assert coins.table_size() == 5 * coins.axis_size * coins.short_size
