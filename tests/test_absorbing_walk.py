"""The absorbing-walk family ([LKC25] Example 5 with boundaries +-A).

References that share no code with the JAX path of the family:

* a brute-force NumPy enumeration of every token sequence of length ``T <= 10`` (steps until
  the walk hits ``+-A``, then ``halt``), its prefixes under truncation and the closed form
  ``p^{S,t}(x) = p(x) p_t^S(prefix) / p_t(prefix)`` (theory.md §1.4);
* the method of images in exact integer arithmetic for the numbers of paths that stay inside
  ``(-A, A)`` (no cancellation with Python integers), against the recursion's tables;
* the biased-coins family and SciPy's binomial pmf where no walk can be absorbed;
* the gambler's-ruin ceiling ``1 - TV >= 2 / (1 + (p/q)^A)`` for two symmetric modes.
"""

from __future__ import annotations

import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import binom

import localize
import synthetic.absorbing_walk as aw
from localize.errors import LocalizeError
from localize.report import _curves_chunk
from synthetic.biased_coins import biased_coins
from synthetic.registry import build, families_info

TOL = 1e-13
FIELDS = localize.WindowCurves._fields
UP, DOWN, HALT = 1, 0, 2


# --------------------------------------------------------------------------------------
# brute-force enumeration (NumPy only)


def walk_sequences(length, boundary):
    """Every token sequence: up/down steps while strictly inside (-A, A), then halts."""
    out = []
    for steps in itertools.product((UP, DOWN), repeat=length):
        seq, pos = [], 0
        for s in steps:
            if abs(pos) >= boundary:
                seq.append(HALT)
                continue
            seq.append(s)
            pos += 1 if s == UP else -1
        out.append(tuple(seq))
    # Distinct sequences only: after absorption the remaining steps are all 'halt'.
    return sorted(set(out))


def sequence_pmfs(deltas, length, boundary):
    """``(K, |X|)`` probabilities: ``p^u q^d`` over the steps before absorption."""
    xs = walk_sequences(length, boundary)
    arr = np.array(xs, dtype=np.int64)
    ups, downs = (arr == UP).sum(axis=1), (arr == DOWN).sum(axis=1)
    p = 0.5 + np.asarray(deltas, dtype=np.float64)
    return xs, p[:, None] ** ups[None] * (1 - p[:, None]) ** downs[None]


def prefix_class(prefix, boundary):
    """('alive', position) or ('up' / 'down', absorption step) of a visible prefix."""
    pos = 0
    for i, tok in enumerate(prefix):
        if tok == HALT:
            break
        pos += 1 if tok == UP else -1
        if abs(pos) >= boundary:
            return ("up" if pos > 0 else "down", i + 1)
    return ("alive", pos)


def brute_curves(weights, deltas, length, boundary, s_init, s_target, times):
    """Every :class:`localize.WindowCurves` field on the raw sequences."""
    xs, clean = sequence_pmfs(deltas, length, boundary)
    w = np.asarray(weights, dtype=np.float64)
    k = w.size
    rest_t = [i for i in range(k) if i not in s_target] or list(s_target)
    rest_i = [i for i in range(k) if i not in s_init] or list(s_init)

    def mix(tab, s):
        s = list(s)
        return w[s] @ tab[s] / w[s].sum()

    def tv(a, b):
        return 0.5 * np.abs(a - b).sum()

    rows = []
    for t in times:
        seen = {}
        y = np.array([seen.setdefault(x[: length - t], len(seen)) for x in xs])
        noised = np.stack([np.bincount(y, weights=c, minlength=len(seen)) for c in clean])
        z_init, z_target = mix(noised, s_init), mix(noised, s_target)
        z_rest_t, z_rest_i, z_all = mix(noised, rest_t), mix(noised, rest_i), w @ noised
        safe = np.where(z_all > 0, z_all, 1.0)
        fr = (w @ clean) * np.where(z_all > 0, z_init / safe, 0.0)[y]

        def post(s, safe=safe, noised=noised, z_all=z_all):
            s = list(s)
            return np.where(z_all > 0, w[s] @ noised[s] / safe, 0.0)

        with np.errstate(divide="ignore"):
            rows.append(dict(
                tv_init_target=tv(z_init, z_target),
                tv_target_rest=tv(z_target, z_rest_t),
                log_overlap_target_rest=np.log(np.minimum(z_target, z_rest_t).sum()),
                tv_init_rest=tv(z_init, z_rest_i),
                log_overlap_init_rest=np.log(np.minimum(z_init, z_rest_i).sum()),
                fr_tv_target=tv(fr, mix(clean, s_target)),
                fr_tv_init=tv(fr, mix(clean, s_init)),
                fr_tv_full=tv(fr, w @ clean),
                label_mass_target=(z_init * post(s_target)).sum(),
                exit_mass_target=(z_target * post(rest_t)).sum(),
                bc_target_rest=np.sqrt(z_target * z_rest_t).sum(),
            ))
    return {f: np.array([r[f] for r in rows]) for f in FIELDS}


def brute_class_laws(deltas, length, boundary, t):
    """The laws of the prefix classes and of the (prefix class, whole-sequence class) pairs."""
    xs, clean = sequence_pmfs(deltas, length, boundary)
    noised, pairs = {}, {}
    for x, probs in zip(xs, clean.T, strict=True):
        z = prefix_class(x[: length - t], boundary)
        u = (z, prefix_class(x, boundary))
        noised[z] = noised.get(z, 0.0) + probs
        pairs[u] = pairs.get(u, 0.0) + probs
    return np.array(list(noised.values())), np.array(list(pairs.values()))


def sorted_rows(rows):
    """Class probability vectors in a canonical order (rows of ``(n_classes, K)``)."""
    rows = np.asarray(rows, dtype=np.float64)
    order = np.lexsort(np.round(rows, 12).T[::-1])
    return rows[order]


def assert_curves_close(got, want, tol=TOL, where=""):
    for name in FIELDS:
        a = np.asarray(getattr(got, name), dtype=np.float64)
        b = np.asarray(want[name], dtype=np.float64)
        if name.startswith("log_"):
            np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), err_msg=f"{where} {name}")
            a, b = a[np.isfinite(b)], b[np.isfinite(b)]
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{where} {name}")


# --------------------------------------------------------------------------------------
# exactness against the enumeration

# (length, boundary, weights, deltas, set pairs, block budget forcing a stride > 1 or None)
SMALL = {
    "T9-A3-K3-strided": (9, 3, [0.2, 0.3, 0.5], [0.45, -0.25, 0.0],
                         [([1], [0, 1]), ([2], [2])], 300),
    "T8-A2-K2": (8, 2, [0.4, 0.6], [0.3, -0.1], [([0], [0, 1]), ([1], [1])], None),
    "T10-A4-K2": (10, 4, [0.5, 0.5], [0.2, -0.2], [([0], [0, 1])], None),
}


@pytest.mark.parametrize("case", sorted(SMALL))
def test_curves_match_path_enumeration(case, monkeypatch):
    length, boundary, w, d, pairs, budget = SMALL[case]
    if budget is not None:
        monkeypatch.setattr(aw, "BLOCK_BUDGET", budget)
    model = aw.absorbing_walk(w, d, length, boundary)
    assert model.clean and model.error_bound == 0.0 and model.method == "exact"
    if budget is not None:
        # Stored powers every 3 steps: most times advance the recursion from a block.
        assert model.stride == 3 and model.powers.shape[1] == 4
    times = list(range(length + 1))
    for s_init, s_target in pairs:
        got = localize.window_curves(model, s_init, s_target, times)
        want = brute_curves(w, d, length, boundary, s_init, s_target, times)
        assert_curves_close(got, want, where=f"{case} {s_init} {s_target}")


_views = jax.jit(lambda model, ts: jax.vmap(model.view)(ts))


@pytest.mark.parametrize("length, boundary, deltas", [
    (7, 1, [0.2, -0.2]),
    (10, 3, [0.35, -0.1, 0.0]),
])
def test_reduction_is_the_partition_into_count_classes(length, boundary, deltas):
    """Clean and noised laws are exactly the laws of the classes, class by class."""
    k = len(deltas)
    model = aw.absorbing_walk([1 / k] * k, deltas, length, boundary)
    views = _views(model, jnp.arange(length + 1, dtype=jnp.float64))
    for t in range(length + 1):
        noised = np.exp(np.asarray(views.log_noised[t]))
        clean = np.exp(np.asarray(views.log_clean[t])).reshape(k, -1)
        want_noised, want_clean = brute_class_laws(deltas, length, boundary, t)
        for got, want in ((noised, want_noised), (clean, want_clean)):
            got = got[:, got.max(axis=0) > 0].T
            assert got.shape == want.shape, (t, got.shape, want.shape)
            np.testing.assert_allclose(sorted_rows(got), sorted_rows(want), rtol=TOL, atol=0)
    adjoint = jax.jit(lambda m, t, r: m.log_adjoint(t, r))
    # The kernel is deterministic: the adjoint of an indicator is an indicator.
    for t in (0.0, 4.0, float(length)):
        z = int(np.argmax(np.asarray(views.log_noised[int(t)][0])))
        log_r = jnp.full(views.log_noised.shape[2], -jnp.inf).at[z].set(0.0)
        got = np.asarray(adjoint(model, t, log_r))
        clean = np.asarray(views.log_clean[int(t)])
        mass_z = np.exp(np.where(np.isfinite(got), clean, -np.inf)).sum(axis=(1, 2))
        np.testing.assert_allclose(mass_z, np.exp(np.asarray(views.log_noised[int(t)][:, z])),
                                   rtol=TOL)
        assert set(np.unique(got[np.isfinite(got)])) <= {0.0}


# --------------------------------------------------------------------------------------
# the boundary-aware recursion against the method of images (exact integers)


def images(steps, start, end, boundary):
    """Paths of ``steps`` +-1 steps from ``start`` to ``end`` inside ``(-A, A)`` (Python ints)."""
    def free(x):
        if abs(x) > steps or (steps + x) % 2:
            return 0
        return math.comb(steps, (steps + x) // 2)

    total, period = 0, 4 * boundary
    for j in range(-(steps // period) - 2, steps // period + 3):
        total += free(end - start + j * period) - free(2 * boundary - end - start + j * period)
    return total


def test_recursion_counts_against_method_of_images():
    length, boundary = 150, 6
    # Delta = 0: every class probability is its number of paths over 2^steps.
    model = aw.absorbing_walk([1.0], [0.0], length, boundary)
    b = model.half
    alive = np.exp(np.asarray(model.log_alive[0]))
    for n in (0, 1, 5, 6, 7, 40, 149, 150):
        for s in range(-(b - 1), b):
            want = images(n, 0, s, boundary)
            got = alive[n, s + b - 1] * 2.0**n
            assert got == pytest.approx(want, rel=1e-13, abs=0), (n, s)
    absorbed = np.exp(np.asarray(model.log_absorbed[0]))
    for h in range(model.n_absorb):
        tau = boundary + 2 * h
        want = images(tau - 1, 0, boundary - 1, boundary)
        assert absorbed[0, h] * 2.0**tau == pytest.approx(want, rel=1e-13, abs=0)
        assert absorbed[1, h] == absorbed[0, h]
    # Exits after a prefix: from s, first hit +A at step j + 1.
    exit_up = np.exp(np.asarray(model.log_exit_up[0]))
    for j in (0, 1, 9, 80, 149):
        for s in range(-(b - 1), b):
            want = images(j, s, boundary - 1, boundary)
            assert exit_up[j, s + b - 1] * 2.0 ** (j + 1) == pytest.approx(want, rel=1e-13, abs=0)
    # Stored matrix powers G_{kb}(s, s').
    powers = np.asarray(model.powers[0])
    for blk in (0, 1, powers.shape[0] - 1):
        m = blk * model.stride
        for s, s2 in ((0, 0), (-(b - 1), b - 1), (2, -3), (b - 1, b - 1)):
            want = images(m, s, s2, boundary)
            assert powers[blk, s + b - 1, s2 + b - 1] * 2.0**m == pytest.approx(
                want, rel=1e-13, abs=0)


# --------------------------------------------------------------------------------------
# no absorption: biased coins


def test_boundary_beyond_length_matches_biased_coins():
    """No walk is absorbed when ``A > T``: the enumeration on the coin sequences, and the
    biased-coins family (Loader's binomials) on every curve of Definition 4."""
    length, w, d = 6, [0.3, 0.7], [0.25, -0.15]
    far = aw.absorbing_walk(w, d, length, 100)
    near = aw.absorbing_walk(w, d, length, length + 1)
    assert not far.absorbing and far.half == near.half == length + 1
    for name in ("log_alive", "log_absorbed", "powers"):
        np.testing.assert_array_equal(getattr(far, name), getattr(near, name))
    times = list(range(length + 1))
    got = localize.window_curves(far, [0], [0, 1], times)
    want = brute_curves(w, d, length, 100, [0], [0, 1], times)
    assert_curves_close(got, want, where="A = 100")
    coins = aw.noised_curves(biased_coins(w, d, length), [1], times)
    walk = aw.noised_curves(far, [1], times)
    for name in aw.NoisedCurves._fields:
        np.testing.assert_allclose(getattr(walk, name), getattr(coins, name), rtol=TOL,
                                   atol=TOL, err_msg=name)


def test_no_prefix_shorter_than_boundary_is_absorbed():
    """The paper's assumption ``A > n``: the visible prefix is a binomial count, exactly;
    beyond it absorption only loses information (data processing), and the two symmetric
    modes never separate beyond the gambler's-ruin ceiling ``2 / (1 + (p/q)^A)``."""
    length, delta = 300, 0.1
    p, q = 0.5 + delta, 0.5 - delta
    wide = aw.absorbing_walk([0.5, 0.5], [delta, -delta], length, 120, clean_laws=False)
    narrow = aw.absorbing_walk([0.5, 0.5], [delta, -delta], length, 9, clean_laws=False)
    assert not wide.clean and not narrow.clean
    times = np.arange(length + 1, dtype=np.float64)
    n = length - times.astype(int)
    cw = aw.noised_curves(wide, [0], times)
    cn = aw.noised_curves(narrow, [0], times)
    k = np.arange(length + 1)
    free = np.array([0.5 * np.abs(binom.pmf(k[: m + 1], m, p) - binom.pmf(k[: m + 1], m, q)).sum()
                     for m in n])
    before = n < 120
    np.testing.assert_allclose(cw.tv_after_rest[before], free[before], rtol=0, atol=1e-12)
    assert np.all(cw.tv_after_rest <= free + 1e-12)
    assert np.all(cn.tv_after_rest <= cw.tv_after_rest + 1e-14)
    np.testing.assert_allclose(cn.tv_after_rest[n < 9], cw.tv_after_rest[n < 9], atol=1e-15)
    ceiling = 2.0 / (1.0 + (p / q) ** 9)
    overlap = np.exp(cn.log_overlap_after_rest)
    assert np.all(overlap >= ceiling * (1 - 1e-12))
    # By n = T almost every path has been absorbed: the ceiling is reached.
    assert overlap[0] == pytest.approx(ceiling, rel=1e-3)
    # Equal weights: TV to the mixture is half the TV between the modes.
    np.testing.assert_allclose(cn.tv_after_full, cn.tv_after_rest / 2, atol=1e-15)


# --------------------------------------------------------------------------------------
# scale, compilation, noised-only models


def test_window_report_at_length_1000():
    model = aw.absorbing_walk([0.5, 0.5], [0.05, -0.05], 1000, 30)
    assert model.clean and model.stride > 1
    assert localize.report.CHUNK_BUDGET // model.table_size() >= 1
    times = [0, 1, 333, 500, 737, 900, 999, 1000]
    report = localize.window_report(model, [0], [0, 1], 0.1, times)
    assert {m for m in report.method.values() if m is not None} == {"exact"}
    assert report.error_bound == 0.0
    assert report.fr_tv_init[0] == pytest.approx(0.0, abs=1e-13)
    assert report.fr_tv_full[-1] == pytest.approx(0.0, abs=1e-13)
    assert report.theorem2_holds is True
    views = _views(model, jnp.asarray(times, dtype=jnp.float64))
    total_clean = np.exp(np.asarray(views.log_clean)).sum(axis=(2, 3))
    total_noised = np.exp(np.asarray(views.log_noised)).sum(axis=2)
    np.testing.assert_allclose(total_clean, 1.0, atol=1e-12)
    np.testing.assert_allclose(total_noised, 1.0, atol=1e-12)
    json.dumps(report.to_json(), allow_nan=False)


def test_second_call_does_not_compile():
    length, boundary, w, d, _, _ = SMALL["T8-A2-K2"]
    a = aw.absorbing_walk(w, d, length, boundary)
    b = aw.absorbing_walk([0.9, 0.1], [-0.45, 0.05], length, boundary)
    times = list(range(length + 1))
    localize.window_curves(a, [0], [0, 1], times)
    size = _curves_chunk._cache_size()
    localize.window_curves(a, [1], [1], times)
    localize.window_curves(b, [0], [0, 1], times)
    assert _curves_chunk._cache_size() == size


_noised = jax.jit(lambda model, ts: jax.vmap(model.log_noised)(ts))


def test_noised_only_model_refuses_clean_laws():
    # The shapes of the first reduction test: its compiled views serve here.
    w, d = [0.5, 0.5], [0.2, -0.2]
    full = aw.absorbing_walk(w, d, 7, 1)
    light = aw.absorbing_walk(w, d, 7, 1, clean_laws=False)
    assert full.clean and not light.clean
    ts = jnp.arange(8, dtype=jnp.float64)
    np.testing.assert_array_equal(np.asarray(_noised(light, ts)),
                                  np.asarray(_views(full, ts).log_noised))
    with pytest.raises(LocalizeError, match=r"^model\.boundary: .*log_noised"):
        light.view(1.0)
    with pytest.raises(LocalizeError, match=r"^model\.boundary:"):
        localize.window_report(light, [0], [0, 1], 0.1, [0, 1])


@pytest.mark.parametrize("kwargs, param", [
    (dict(boundary=0), "model.boundary"),
    (dict(boundary=-3), "model.boundary"),
    (dict(boundary=2.0), "model.boundary"),
    (dict(boundary=True), "model.boundary"),
    (dict(deltas=[0.5, -0.1]), "model.deltas"),
    (dict(deltas=[0.1, -0.5]), "model.deltas"),
    (dict(deltas=[0.1, 0.7]), "model.deltas"),
    (dict(deltas=[0.1]), "model.deltas"),
    (dict(deltas=[0.1, float("nan")]), "model.deltas"),
    (dict(deltas="ab"), "model.deltas"),
    (dict(length=0), "model.length"),
    (dict(length=2.5), "model.length"),
    (dict(length=False), "model.length"),
    (dict(length=aw.MAX_LENGTH + 1), "model.length"),
    (dict(weights=[0.5, 0.6]), "model.weights"),
    (dict(weights=[1.5, -0.5]), "model.weights"),
    (dict(process="random_masking"), "process.kind"),
    (dict(process="ordered_masking"), "process.kind"),
    (dict(process=localize.RandomMasking(6)), "process.kind"),
    (dict(process=localize.Truncation(5)), "process.length"),
    (dict(order=[0, 1, 2, 3, 4, 5]), "process.order"),
    (dict(clean_laws="yes"), "clean_laws"),
    # A > T leaves every position reachable: the table would be 2 (T+1)(2T+1) entries.
    (dict(length=4000, boundary=5000), "model.boundary"),
    (dict(length=10_000, boundary=150, clean_laws=True), "clean_laws"),
])
def test_bad_inputs_name_the_parameter(kwargs, param):
    args = dict(weights=[0.5, 0.5], deltas=[0.1, -0.1], length=6, boundary=2)
    args.update(kwargs)
    with pytest.raises(LocalizeError, match=rf"^{param}:"):
        aw.absorbing_walk(**args)


def test_budget_message_points_to_biased_coins():
    with pytest.raises(LocalizeError, match="biased_coins"):
        aw.absorbing_walk([0.5, 0.5], [0.1, -0.1], 4000, 5000)


def test_registered_family():
    info = {f["name"]: f for f in families_info()}["absorbing_walk"]
    assert info["processes"] == ["truncation"]
    assert set(info["params"]) == {"length", "boundary", "deltas", "weights"}
    params = dict(weights=[0.5, 0.5], deltas=[0.1, -0.1], length=6, boundary=2)
    with pytest.raises(LocalizeError, match=r"^process\.kind:"):
        build("absorbing_walk", process="random_masking", **params)
    model = build("absorbing_walk", **params)
    assert isinstance(model, aw.AbsorbingWalk)
    described = model.describe()
    assert described["family"] == "absorbing_walk" and described["boundary"] == 2
    assert described["process"] == {"kind": "truncation", "length": 6}
    json.dumps(described)


# --------------------------------------------------------------------------------------
# the claim of proofs_check


def test_claim_holds_and_a_wrong_threshold_fails():
    from proofs_check.absorbing_walk import (
        ceiling_boundary,
        example5_absorbing,
        example5_paper,
        separation_ceiling,
    )

    # Paper's assumption (457.9 < 460) and a boundary above the ceiling A* = 15.9.
    cases = ((0.07, 0.15, 500, (460, 20)),)
    result = example5_absorbing(None, cases=cases)
    assert result.holds and result.instances == 4
    windows = result.detail["windows"]
    wide, narrow = windows["Delta=0.07, eps=0.15, T=500, A=460"], windows[
        "Delta=0.07, eps=0.15, T=500, A=20"]
    assert (wide["exact_n_before"], wide["exact_n_after"]) == (6, 263)
    assert (narrow["exact_n_before"], narrow["exact_n_after"]) == (6, 275)
    assert wide["meets_paper_boundary_assumption"] and not narrow[
        "meets_paper_boundary_assumption"]
    assert ceiling_boundary(0.07, 0.15) == pytest.approx(15.881, abs=1e-3)
    # At A = A* the ceiling is eps^2 exactly.
    a_star = ceiling_boundary(0.05, 0.1)
    assert separation_ceiling(0.05, a_star) == pytest.approx(0.01, rel=1e-12)
    json.dumps(result.to_json(), allow_nan=False)

    def too_early(delta, eps):
        return {**example5_paper(delta, eps), "n_after_int": 150}

    failed = example5_absorbing(None, paper=too_early, cases=cases)
    assert not failed.holds and failed.margin < 0
    assert failed.detail["worst_at"]["n_visible"] == 150
