"""The point-mass family ([LKC25] Examples 3 and 7) against the generic path and an oracle.

The oracle enumerates every mask pattern of a tiny instance in plain NumPy, builds
``p_t^theta`` on the raw observation space ``(A+1)^L`` and evaluates the closed form
``p^{S,t}(x) = p(x) sum_y K_t(y|x) p_t^S(y) / p_t(y)`` (theory.md §1.4); it shares no code
with the JAX path.
"""

from __future__ import annotations

import functools
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import localize
import synthetic.point_masses  # noqa: F401  (registers the family)
from localize import divergences as dv
from localize.errors import LocalizeError
from localize.experiment import forward_reverse
from localize.posterior import log_submixture
from localize.report import _curves_chunk
from synthetic.finite import finite_mixture
from synthetic.point_masses import MAX_PARTITIONS, PointMasses, point_masses
from synthetic.registry import build, families_info

TOL = 1e-12
PROCESSES = ("truncation", "ordered_masking", "random_masking")

# (alphabet, weights, points, set pairs (S_init, S_target)). Repeated points, coordinates where
# all points agree, and columns (0,1,0,1) and (1,0,1,0) that induce the same partition.
CASES = {
    "two-points": (
        2, [0.35, 0.65],
        [[0, 1, 1, 0, 1], [1, 1, 0, 0, 0]],
        [([0], [0]), ([1], [1]), ([0], [0, 1])],
    ),
    "three-ternary": (
        3, [0.2, 0.3, 0.5],
        [[0, 1, 2, 0], [0, 1, 1, 1], [2, 1, 2, 0]],
        [([0], [0]), ([0], [0, 2]), ([1], [0, 1]), ([2], [0, 1, 2])],
    ),
    "four-with-duplicate": (
        2, [0.1, 0.2, 0.3, 0.4],
        [[0, 1, 1, 0], [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0]],
        [([0], [0, 2]), ([1], [1, 3]), ([0, 1], [0, 1, 2]), ([3], [0, 1, 2, 3])],
    ),
}


def _order(length):
    return np.random.default_rng(length).permutation(length).tolist()


def _times(process, length):
    if process == "random_masking":
        return [0.0, 0.25, 0.6, 0.95, 1.0]
    return list(range(length + 1))


def _setup(case, process):
    alphabet, weights, points, pairs = CASES[case]
    length = len(points[0])
    order = _order(length) if process == "ordered_masking" else None
    return alphabet, weights, points, pairs, length, order


@functools.cache
def _pm_curves(case, process):
    alphabet, weights, points, pairs, length, order = _setup(case, process)
    model = point_masses(weights, points, alphabet, process, order)
    times = _times(process, length)
    return [localize.window_curves(model, a, b, times) for a, b in pairs]


def _assert_curves(got, want, label):
    for name in got._fields:
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=TOL, atol=TOL,
                                   err_msg=f"{label}: {name}")


# Compilation dominates the run time: the generic family is compared on two of the cases
# (A = 2 and 3, K = 3 and 4); K = 2 is covered by the oracle and by Example 3.
@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("case", ["three-ternary", "four-with-duplicate"])
def test_agrees_with_finite_family(case, process):
    alphabet, weights, points, pairs, length, order = _setup(case, process)
    pmfs = np.zeros((len(points), alphabet**length))
    for k, x in enumerate(points):
        pmfs[k, np.ravel_multi_index(tuple(x), (alphabet,) * length)] = 1.0
    model = finite_mixture(weights, pmfs, alphabet, length, process, order)
    times = _times(process, length)
    for (a, b), got in zip(pairs, _pm_curves(case, process), strict=True):
        _assert_curves(got, localize.window_curves(model, a, b, times), f"{case} {a} {b}")


# ---------------------------------------------------------------- brute-force oracle (NumPy)


def _mask_probs(process, length, order, t):
    if process == "random_masking":
        return np.full(length, float(t))
    rank = np.arange(length)
    if process == "ordered_masking":
        rank = np.empty(length, dtype=int)
        rank[np.asarray(order)] = np.arange(length)
    return (rank >= length - t).astype(float)


def _oracle(weights, points, alphabet, process, order, t, s_init, s_target):
    """Every field of WindowCurves at one time, by enumeration of the raw observations."""
    w = np.asarray(weights, dtype=float)
    xs = [tuple(p) for p in points]
    k, length = len(xs), len(xs[0])
    q = _mask_probs(process, length, order, t)
    masked = alphabet  # the [MASKED] symbol

    def kernel(x):  # y -> K_t(y | x)
        out = {}
        for pattern in itertools.product((False, True), repeat=length):
            prob = np.prod([q[j] if m else 1.0 - q[j] for j, m in enumerate(pattern)])
            y = tuple(masked if m else x[j] for j, m in enumerate(pattern))
            out[y] = out.get(y, 0.0) + prob
        return out

    kernels = [kernel(x) for x in xs]
    ys = sorted(set().union(*kernels))
    noised = np.array([[kern.get(y, 0.0) for y in ys] for kern in kernels])  # (K, |Y|)
    clean_space = sorted(set(xs))
    clean = np.array([[float(x == u) for u in clean_space] for x in xs])  # (K, |U|)

    def mix(table, s):
        s = np.asarray(sorted(s))
        return w[s] @ table[s] / w[s].sum()

    everything = list(range(k))
    rest_t = [i for i in everything if i not in s_target] or list(s_target)
    rest_i = [i for i in everything if i not in s_init] or list(s_init)
    p_t = mix(noised, everything)
    p_init, p_target = mix(noised, s_init), mix(noised, s_target)
    p_rest_t, p_rest_i = mix(noised, rest_t), mix(noised, rest_i)

    def tv(a, b):
        return 0.5 * np.abs(a - b).sum()

    def posterior(s):  # pi_t(S | y), 0 off the support of p_t
        joint = w[list(s)] @ noised[list(s)]
        return np.divide(joint, p_t, out=np.zeros_like(p_t), where=p_t > 0)

    ratio = np.divide(p_init, p_t, out=np.zeros_like(p_t), where=p_t > 0)
    p_clean = mix(clean, everything)
    fr = np.array([p_clean[i] * sum(kernels[xs.index(u)].get(y, 0.0) * ratio[n]
                                    for n, y in enumerate(ys))
                   for i, u in enumerate(clean_space)])
    with np.errstate(divide="ignore"):
        return {
            "tv_init_target": tv(p_init, p_target),
            "tv_target_rest": tv(p_target, p_rest_t),
            "log_overlap_target_rest": np.log(np.minimum(p_target, p_rest_t).sum()),
            "tv_init_rest": tv(p_init, p_rest_i),
            "log_overlap_init_rest": np.log(np.minimum(p_init, p_rest_i).sum()),
            "fr_tv_target": tv(fr, mix(clean, s_target)),
            "fr_tv_init": tv(fr, mix(clean, s_init)),
            "fr_tv_full": tv(fr, p_clean),
            "label_mass_target": p_init @ posterior(s_target),
            "exit_mass_target": p_target @ posterior(rest_t),
            "bc_target_rest": np.sqrt(p_target * p_rest_t).sum(),
            "fr_total": fr.sum(),
        }


@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_brute_force_oracle(case, process):
    alphabet, weights, points, pairs, length, order = _setup(case, process)
    times = _times(process, length)
    for (a, b), got in zip(pairs, _pm_curves(case, process), strict=True):
        for i, t in enumerate(times):
            want = _oracle(weights, points, alphabet, process, order, t, a, b)
            assert want.pop("fr_total") == pytest.approx(1.0, abs=TOL)
            for name, value in want.items():
                np.testing.assert_allclose(getattr(got, name)[i], value, rtol=TOL, atol=TOL,
                                           err_msg=f"{case} {process} t={t} {a} {b}: {name}")


# ------------------------------------------------------------------- Example 3 at L = 1000

# Every Example 3 model has the same shapes; so do these grids: one compilation for all.
EX3_TIMES = [0.0, 0.3, 0.9, 0.99, 0.999, 0.9999, 1 - 1e-7, 1.0]
REPORT_TIMES = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0]


def _example3(d_h, length=1000):
    rng = np.random.default_rng(d_h)
    plus = rng.integers(0, 2, size=length)
    minus = plus.copy()
    flip = rng.choice(length, size=d_h, replace=False)
    minus[flip] = 1 - minus[flip]
    return point_masses([0.5, 0.5], [plus, minus], 2, "random_masking")


@pytest.mark.parametrize("d_h", [1, 7, 300, 1000])
def test_example3_closed_forms(d_h):
    model = _example3(d_h)
    t = np.asarray(EX3_TIMES)
    t_d = t**d_h
    own = localize.window_curves(model, [0], [0], EX3_TIMES)
    np.testing.assert_allclose(own.tv_init_rest, 1.0 - t_d, rtol=0, atol=TOL)
    np.testing.assert_allclose(own.tv_target_rest, 1.0 - t_d, rtol=0, atol=TOL)
    np.testing.assert_allclose(own.fr_tv_init, t_d / 2, rtol=0, atol=TOL)
    np.testing.assert_allclose(own.fr_tv_full, (1.0 - t_d) / 2, rtol=0, atol=TOL)
    # log(1 - TV) = d_H log t stays exact where t^{d_H} underflows.
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(own.log_overlap_init_rest, d_h * np.log(t), rtol=TOL)
    full = localize.window_curves(model, [0], [0, 1], EX3_TIMES)
    np.testing.assert_allclose(full.tv_init_target, (1.0 - t_d) / 2, rtol=0, atol=TOL)
    np.testing.assert_allclose(full.fr_tv_target, (1.0 - t_d) / 2, rtol=0, atol=TOL)


def test_example3_report_at_scale():
    model = _example3(50)
    eps = 0.1
    report = localize.window_report(model, [0], [0], eps, REPORT_TIMES)
    assert set(report.method.values()) == {"exact"} and report.error_bound == 0.0
    json.dumps(report.to_json())
    # T^C_after = eps^{2/d_H} (theory.md §3.2): the last grid time with TV >= 1 - eps^2.
    assert report.T_after_C == pytest.approx(0.9)


def test_second_call_does_not_recompile():
    model = _example3(7)
    localize.window_curves(model, [0], [0, 1], EX3_TIMES)
    size = _curves_chunk._cache_size()
    shifted = [t * 0.5 for t in EX3_TIMES]
    localize.window_curves(model, [1], [0, 1], shifted)
    localize.window_curves(_example3(9), [0], [0], shifted)
    assert _curves_chunk._cache_size() == size


# --------------------------------------------------------------------- Example 7 hierarchy


def _ex7_at(model, t, cells, rests):
    """Pairwise TVs of single components, TV(cell, rest) and TV(p^{theta,t}, p^{cell})."""
    view = model.view(t)
    lw = model.log_weights
    eye = jnp.eye(model.n_components, dtype=bool)
    singles = jax.vmap(lambda m: log_submixture(lw, view.log_noised, m))(eye)
    pair_tv = jax.vmap(lambda a: jax.vmap(lambda b: dv.tv(a, b))(singles))(singles)

    def per_component(single, cell, rest):
        sep = dv.tv(log_submixture(lw, view.log_noised, cell),
                    log_submixture(lw, view.log_noised, rest))
        law = forward_reverse(model, t, single).log_law
        return sep, dv.tv(law, log_submixture(lw, view.log_clean, cell))

    sep, fr = jax.vmap(per_component)(eye, cells, rests)
    return pair_tv, sep, fr


_ex7_all_times = jax.jit(jax.vmap(_ex7_at, in_axes=(None, 0, 0, 0)))


def test_example7_exact_hierarchy():
    # Theta = {0,1} x {0,1,2} x {0,1} on three scattered coordinates of L = 1000, the others
    # constant; the masking order is a random permutation. Every integer time is checked.
    length, informative = 1000, [17, 503, 941]
    rng = np.random.default_rng(7)
    grid = np.array(list(itertools.product(range(2), range(3), range(2))))
    points = np.tile(rng.integers(0, 3, size=length), (grid.shape[0], 1))
    points[:, informative] = grid
    weights = rng.dirichlet(np.ones(grid.shape[0]))
    order = rng.permutation(length)
    model = point_masses(weights / weights.sum(), points, 3, "ordered_masking", order)
    rank = np.empty(length, dtype=int)
    rank[order] = np.arange(length)
    times = np.arange(length + 1)
    # cells[t, a, b]: components a and b agree on the coordinates still visible at time t.
    seen = rank[None, informative] < length - times[:, None]  # (T, 3)
    differ = grid[:, None, :] != grid[None, :, :]  # (K, K, 3)
    cells = ~np.any(differ[None] & seen[:, None, None, :], axis=-1)
    everything = cells.all(axis=2)  # (T, K): the cell of a is all of Theta
    rests = np.where(everything[..., None], cells, ~cells)
    pair_tv, sep, fr = (np.asarray(a) for a in _ex7_all_times(
        model, jnp.asarray(times, dtype=jnp.float64), cells, rests))
    # Every TV between components is exactly 0 (same cell) or 1 (different cells).
    np.testing.assert_allclose(pair_tv, np.where(cells, 0.0, 1.0), rtol=0, atol=TOL)
    # Separation: each cell against the rest is at TV 1 (unless the cell is everything).
    np.testing.assert_allclose(sep[~everything], 1.0, rtol=0, atol=TOL)
    # p^{theta,t} is exactly the sub-mixture of the components agreeing on what is seen.
    np.testing.assert_allclose(fr, 0.0, rtol=0, atol=TOL)
    # All four depths of the hierarchy occur, from the leaves to the root.
    assert set(seen.sum(axis=1).tolist()) == {0, 1, 2, 3}


# ------------------------------------------------------------ API, registry and bad inputs


def test_registry_describe_and_structure():
    assert "point_masses" in {f["name"] for f in families_info()}
    points = [[0, 1, 1, 2], [0, 1, 1, 2], [1, 1, 0, 2]]
    model = build("point_masses", process="random_masking", alphabet=3,
                  points=points, weights=[0.25, 0.25, 0.5])
    assert isinstance(model, PointMasses)
    info = model.describe()
    assert json.loads(json.dumps(info)) == info
    assert info["points"] == points and info["alphabet"] == 3 and info["length"] == 4
    assert info["process"] == {"kind": "random_masking", "length": 4}
    # Two distinct points, one group of disagreeing coordinates: two partitions.
    assert model.rep.shape == (2,) and model.blocks.shape == (2, 3)
    assert isinstance(model.table_size(), int) and model.table_size() > 0
    trunc = point_masses([0.25, 0.25, 0.5], points, 3)
    assert trunc.deterministic and trunc.n_slots == 1 and trunc.blocks.shape == (5, 3)


def test_many_points_deterministic_but_too_many_partitions_random():
    rng = np.random.default_rng(3)
    points = rng.integers(0, 3, size=(12, 80))
    weights = np.full(12, 1 / 12)
    order = rng.permutation(80)
    model = point_masses(weights, points, 3, "ordered_masking", order)
    assert model.deterministic and model.blocks.shape == (81, 12)
    with pytest.raises(LocalizeError, match=f"model.points.*{MAX_PARTITIONS}"):
        point_masses(weights, points, 3, "random_masking")


GOOD = {"weights": [0.5, 0.5], "points": [[0, 1], [1, 1]], "alphabet": 2}


@pytest.mark.parametrize(
    "change, param",
    [
        ({"alphabet": 1}, "model.alphabet"),
        ({"alphabet": True}, "model.alphabet"),
        ({"alphabet": 2.5}, "model.alphabet"),
        ({"weights": [0.5, 0.6]}, "model.weights"),
        ({"weights": [1.5, -0.5]}, "model.weights"),
        ({"points": [[0, 1], [1, 2]]}, "model.points"),
        ({"points": [[0, -1], [1, 1]]}, "model.points"),
        ({"points": [[0, 0.5], [1, 1]]}, "model.points"),
        ({"points": [[0, 1], [1]]}, "model.points"),
        ({"points": [[0, 1]]}, "model.points"),
        ({"points": [[], []]}, "model.points"),
        ({"points": [0, 1]}, "model.points"),
        ({"points": [["a", "b"], ["c", "d"]]}, "model.points"),
        ({"points": [[True, False], [False, True]]}, "model.points"),
        ({"process": "diffusion"}, "process.kind"),
        ({"process": "ordered_masking"}, "process.order"),
        ({"process": "random_masking", "order": [1, 0]}, "process.order"),
        ({"process": "ordered_masking", "order": [0, 0]}, "order"),
        ({"process": localize.Truncation(3)}, "process.length"),
    ],
)
def test_bad_inputs_name_the_parameter(change, param):
    with pytest.raises(LocalizeError, match=param) as info:
        point_masses(**{**GOOD, **change})
    assert isinstance(info.value, ValueError)
