"""Sweeps sharded over devices (:mod:`localize.sweep`) against the plain vmapped computation.

The multi-device tests run in subprocesses: ``--xla_force_host_platform_device_count`` only
takes effect if it is set before JAX is imported. One subprocess sees four CPU devices and
one sees a single device; both evaluate the same grid of ``(time, norm, seed)`` of
[LKC25] Example 1 (a Monte Carlo TV from label posteriors and its closed form) and save the
results, which must agree to 1e-15 (with and without chunks). In-process tests check the
sweep against item-by-item evaluation, pytrees, shared arguments, compilation and bad input.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import localize  # noqa: F401  (float64)
from localize.errors import LocalizeError
from localize.sweep import (
    Grid,
    Sharded,
    _jitted,
    batch_mesh,
    product_grid,
    sharded_sweep,
    sweep,
)

ROOT = Path(__file__).resolve().parents[1]

# The per-item function of the subprocesses, also used in-process. For a seed, two random
# means in d = 32 at distance ``norm``; under OU the normalised components are N(e^{-t} m, I),
# and with equal weights TV(p_t^0, p_t^1) = E_{Y ~ p_t}[|pi_t(0|Y) - pi_t(1|Y)|], a mean of
# label posteriors, whose closed form is 2 Phi(||m_0 - m_1|| e^{-t} / 2) - 1 (theory.md §3.1).
PER_ITEM = textwrap.dedent("""
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    DIM, SAMPLES = 32, 2048

    def tv_item(t, norm, key):
        # One Gaussian draw serves the means, the labels and the noise: one threefry to
        # compile instead of three.
        z = jax.random.normal(key, (SAMPLES + 2, DIM + 1), dtype=jnp.float64)
        g, labels, noise = z[:2, :DIM], (z[2:, DIM] > 0).astype(jnp.int32), z[2:, :DIM]
        centre, delta = g.mean(axis=0), g[0] - g[1]
        u = delta / jnp.linalg.norm(delta)
        means = jnp.stack([centre + 0.5 * norm * u, centre - 0.5 * norm * u])
        a = jnp.exp(-t)
        y = a * means[labels] + noise
        log_lik = -0.5 * jnp.sum((y[:, None, :] - a * means[None]) ** 2, axis=-1)
        # pi_t(0|y) - pi_t(1|y) = tanh of half the log-likelihood ratio.
        gap = jnp.abs(jnp.tanh(0.5 * (log_lik[:, 0] - log_lik[:, 1])))
        return {
            "mc": gap.mean(),
            "se": gap.std(ddof=1) / jnp.sqrt(SAMPLES),
            "closed": 2.0 * ndtr(0.5 * jnp.linalg.norm(means[0] - means[1]) * a) - 1.0,
        }
""")

SCRIPT = PER_ITEM + textwrap.dedent("""
    import sys

    import numpy as np

    import localize
    from localize.sweep import product_grid, sharded_sweep

    n_devices, out = int(sys.argv[1]), sys.argv[2]
    assert len(jax.devices()) == n_devices, jax.devices()
    results = {}
    # 45 items, not a multiple of 4: padded to 48, or to 64 with chunks of 4.
    grid = product_grid(np.array([0.0, 0.5, 1.0, 2.0, 3.0]), np.array([1.0, 4.0, 10.0]),
                        jax.random.split(jax.random.key(7), 3))
    for chunk in (None, 4):
        res = sharded_sweep(tv_item, *grid.points, chunk_size=chunk)
        for leaf in jax.tree_util.tree_leaves(res.value):
            assert len(leaf.sharding.device_set) == n_devices, leaf.sharding
            assert len(leaf.addressable_shards) == n_devices
            assert leaf.shape[0] % n_devices == 0 and leaf.shape[0] >= grid.size
        host = grid.unflatten(res.to_host())
        for key, v in host.items():
            assert v.shape == grid.shape, (key, v.shape)
            results[f"{chunk}-{key}"] = v
    np.savez(out, **results)
    print("devices", len(jax.devices()))
""")


def _start_script(n_devices: int, out: Path) -> subprocess.Popen:
    env = dict(os.environ)
    # Without the flag the CPU platform shows one device; JAX_PLATFORMS keeps an accelerator
    # out of the comparison.
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={n_devices}"])
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    script = out.parent / "sweep_script.py"
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script), str(n_devices), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)


def _finish_script(proc: subprocess.Popen, n_devices: int, out: Path) -> dict:
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-4000:]
    assert f"devices {n_devices}" in stdout
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def device_runs(tmp_path_factory):
    """The same sweeps on four devices and on one, each in its own process (concurrently)."""
    outs = {n: tmp_path_factory.mktemp(f"dev{n}") / "out.npz" for n in (4, 1)}
    procs = {n: _start_script(n, out) for n, out in outs.items()}
    return {n: _finish_script(procs[n], n, outs[n]) for n in outs}


def test_four_devices_reproduce_one_device(device_runs):
    four, one = device_runs[4], device_runs[1]
    assert sorted(four) == sorted(one) == sorted(
        f"{c}-{k}" for c in ("None", "4") for k in ("mc", "se", "closed"))
    for name in four:
        # Not bit for bit: XLA may evaluate an element in a vector lane on one split and in
        # the scalar tail on the other, and a reduction in another order (a few ulp).
        np.testing.assert_allclose(four[name], one[name], rtol=0, atol=1e-15, err_msg=name)


def test_monte_carlo_matches_closed_form(device_runs):
    # The sweep computes what it should: all 45 fixed-seed estimates within 5 standard errors
    # of the closed form. The 1e-5 covers the nearly separated pair (TV = 1 - 6e-7), whose
    # 2048 samples see no misclassified point and so report a standard error of ~1e-10.
    mc, se, closed = (device_runs[4][f"None-{k}"] for k in ("mc", "se", "closed"))
    assert np.all(np.abs(mc - closed) <= 5 * se + 1e-5)
    assert np.all((closed >= 0) & (closed <= 1))
    # At t = 0 the norm-10 pair is almost separated; at t = 3 the norm-1 pair has merged.
    assert closed[0, 2, 0] > 0.99 and closed[4, 0, 0] < 0.03


# ---------------------------------------------------------------------------------------
# in-process (whatever devices this process sees; one CPU under the default test command)

_NS: dict = {}
exec(PER_ITEM, _NS)  # noqa: S102  (the same source as the subprocesses)
tv_item = _NS["tv_item"]


GRID_AXES = (np.array([0.0, 1.0, 2.5]), np.array([3.0, 6.0]),
             jax.random.split(jax.random.key(3), 5))


def _grid():
    return product_grid(*GRID_AXES)


@pytest.fixture(scope="module")
def whole():
    """The in-process sweep of :func:`_grid` (30 items), shared by the tests below."""
    return sweep(tv_item, *_grid().points)


def test_sweep_equals_item_by_item_evaluation(whole):
    out = _grid().unflatten(whole)
    single = jax.jit(tv_item)
    ts, norms, keys = GRID_AXES
    for i, j, s in itertools.product(range(3), range(2), range(5)):
        one = single(ts[i], norms[j], keys[s])
        for name, v in one.items():
            np.testing.assert_allclose(out[name][i, j, s], v, rtol=1e-14, atol=1e-15)


def test_chunks_agree_with_one_vmap(whole):
    # 30 items in chunks of 7: padded to 35 on one device (whole chunks).
    part = sweep(tv_item, *_grid().points, chunk_size=7)
    for name in whole:
        assert part[name].shape == (30,)
        np.testing.assert_allclose(part[name], whole[name], rtol=0, atol=1e-15)


def test_padding_repeats_the_last_item_and_is_dropped_on_the_host():
    # Chunks of 7 on one device pad 30 items to 35 even without several devices.
    res = sharded_sweep(tv_item, *_grid().points, devices=jax.devices()[:1], chunk_size=7)
    assert isinstance(res, Sharded) and res.size == 30
    for leaf in jax.tree_util.tree_leaves(res.value):
        assert leaf.shape == (35,)
        # The padded rows are copies of the last item, a valid input (no NaN).
        np.testing.assert_array_equal(np.asarray(leaf)[30:], np.asarray(leaf)[29])
    host = res.to_host()
    assert all(isinstance(v, np.ndarray) and v.shape == (30,) for v in host.values())


def test_shared_argument_and_batch_axis():
    # A model shared by every item (replicated, in_axes None) and points batched along axis 1.
    from synthetic.gaussian_mixture import gaussian_mixture

    model = gaussian_mixture([[2.0, 0.0], [-1.0, 1.0]], weights=[0.3, 0.7], process="ve")
    ts = np.array([0.1, 1.0, 5.0])
    ys = np.random.default_rng(0).normal(size=(2, 3))  # three points, batch along axis 1

    def posterior(m, t, y):
        return m.log_posterior_weights(t, y[None])[0]

    for chunk in (None, 2):
        out = sweep(posterior, model, ts, ys, in_axes=(None, 0, 1), chunk_size=chunk)
        assert out.shape == (3, 2)
        for i in range(3):
            np.testing.assert_allclose(
                out[i], model.log_posterior_weights(ts[i], ys[:, i][None])[0], rtol=1e-13)


def test_pytree_arguments_and_outputs():
    params = {"a": np.arange(5.0), "b": np.arange(10.0).reshape(5, 2)}

    def f(p, k):
        return {"s": p["a"] + p["b"].sum(), "r": jax.random.uniform(k, (3,))}

    keys = jax.random.split(jax.random.key(0), 5)
    out = sweep(f, params, keys)
    ref = jax.vmap(f)(params, keys)
    np.testing.assert_array_equal(out["s"], np.asarray(ref["s"]))
    np.testing.assert_array_equal(out["r"], np.asarray(ref["r"]))


def test_unhashable_callable_still_runs():
    class Scale:
        __hash__ = None  # e.g. a dataclass holding arrays

        def __call__(self, x):
            return 2.0 * x

    np.testing.assert_array_equal(sweep(Scale(), np.arange(3.0)), [0.0, 2.0, 4.0])


def test_second_call_does_not_recompile(whole):
    jitted = _jitted(tv_item, (0, 0, 0), batch_mesh(), None)
    size = jitted._cache_size()
    hits = _jitted.cache_info().hits
    other = product_grid(np.array([0.3, 0.7, 9.0]), np.array([1.0, 2.0]),
                         jax.random.split(jax.random.key(99), 5))
    sweep(tv_item, *other.points)  # new values, same shapes
    assert _jitted.cache_info().hits > hits
    assert jitted._cache_size() == size == 1


# ---------------------------------------------------------------------------------------
# grids


def test_product_grid_order_and_unflatten():
    ts, norms = np.array([0.0, 1.0, 2.0]), np.array([5.0, 7.0])
    keys = jax.random.split(jax.random.key(1), 4)
    grid = product_grid(ts, norms, keys)
    assert isinstance(grid, Grid) and grid.shape == (3, 2, 4) and grid.size == 24
    flat = list(itertools.product(range(3), range(2), range(4)))
    for j, (a, b, c) in enumerate(flat):
        assert grid.points[0][j] == ts[a] and grid.points[1][j] == norms[b]
        np.testing.assert_array_equal(jax.random.key_data(grid.points[2][j]),
                                      jax.random.key_data(keys[c]))
    folded = grid.unflatten({"x": np.arange(24.0), "y": np.ones((24, 2))})
    assert folded["x"].shape == (3, 2, 4) and folded["y"].shape == (3, 2, 4, 2)
    assert folded["x"][2, 1, 3] == 23.0


def test_product_grid_accepts_lists_and_pytree_axes():
    grid = product_grid([1.0, 2.0], {"mu": np.arange(3.0), "var": np.ones(3)})
    assert grid.shape == (2, 3)
    np.testing.assert_array_equal(grid.points[1]["mu"], [0, 1, 2, 0, 1, 2])


# ---------------------------------------------------------------------------------------
# bad input


def _f(x, y):
    return x + y


@pytest.mark.parametrize("args, kwargs, name", [
    ((np.zeros(5), np.zeros(4)), {}, "args[1]"),
    (({"u": np.zeros(3), "v": np.zeros(2)}, np.zeros(3)), {}, "args[0]['v']"),
    ((np.zeros(3), 1.0), {}, "args[1]"),
    ((np.zeros((2, 3)), np.zeros(3)), {"in_axes": (0, 0)}, "args[1]"),
    ((np.zeros(0), np.zeros(0)), {}, "args[0]"),
    ((np.zeros(3), np.zeros(3)), {"in_axes": (0,)}, "in_axes"),
    ((np.zeros(3), np.zeros(3)), {"in_axes": None}, "in_axes"),
    ((np.zeros(3), np.zeros(3)), {"in_axes": 0.5}, "in_axes"),
    ((np.zeros(3), np.zeros(3)), {"chunk_size": 0}, "chunk_size"),
    ((np.zeros(3), np.zeros(3)), {"devices": []}, "devices"),
    ((np.zeros(3), np.zeros(3)), {"devices": ["cpu"]}, "devices"),
])
def test_bad_input_names_the_parameter(args, kwargs, name):
    with pytest.raises(ValueError) as err:
        sweep(_f, *args, **kwargs)
    assert isinstance(err.value, LocalizeError)
    assert str(err.value).startswith(f"{name}:"), str(err.value)


def test_bad_fn_and_grids():
    with pytest.raises(LocalizeError, match="^fn:"):
        sweep("not a function", np.zeros(3))
    with pytest.raises(LocalizeError, match="^args:"):
        sweep(_f)
    with pytest.raises(LocalizeError, match=r"^axes\[1\]:"):
        product_grid(np.zeros(3), np.zeros(0))
    with pytest.raises(LocalizeError, match=r"^axes\[0\]:"):
        product_grid(np.float64(1.0))
    with pytest.raises(LocalizeError, match=r"^axes\[0\]:"):
        product_grid({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(LocalizeError, match=r"^tree\['x'\]:"):
        product_grid(np.zeros(3)).unflatten({"x": np.zeros(4)})
