"""The Monte Carlo curves of sequence models against the exact finite path.

The reference model here is the simplest :class:`localize.SequenceModel`: each component
emits independent tokens with a position-dependent law. Its primitives are a few lines
(independence makes marginalising a hidden position a no-op), and :meth:`finite` gives the
exact mixture, so every estimate of :mod:`localize.sequence_estimate` can be held against the
exact curves of :func:`localize.window_curves` within a few standard errors, at fixed keys.
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import localize
from localize import sequence_estimate as se
from localize.continuous import EstimateConfig
from localize.errors import LocalizeError
from localize.processes import make_process
from synthetic.finite import FiniteMixture

Z = 5.0  # standard errors of slack for every Monte Carlo comparison
# An outcome of probability below 3 / samples may never be drawn (then the sample variance
# misses it too): "rule of three" slack on top of the standard errors.
RARE = 3.0 / 4000


@dataclasses.dataclass(frozen=True)
class IndependentTokens(localize.SequenceModel):
    """Component ``theta`` emits token ``a`` at position ``j`` w.p. ``probs[theta, j, a]``."""

    log_w: jax.Array
    log_probs: jax.Array  # (K, L, A)
    proc: object
    enumerate_exactly: bool = False

    family = "independent_tokens"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def alphabet(self):
        return int(self.log_probs.shape[2])

    def _per_position(self, tokens):
        # (n, L, K): log probs[theta, j, x_j].
        lp = jnp.moveaxis(self.log_probs, 0, -1)  # (L, A, K)
        return lp[jnp.arange(tokens.shape[1])[None], tokens]

    def sample(self, key, labels):
        u = jax.random.uniform(key, (labels.shape[0], self.length), dtype=jnp.float64)
        cdf = jnp.cumsum(jnp.exp(self.log_probs[labels]), axis=-1)  # (n, L, A)
        return jnp.sum(u[..., None] > cdf[..., :-1], axis=-1).astype(jnp.int32)

    def log_prefix(self, tokens, lengths):
        cum = jnp.cumsum(self._per_position(tokens), axis=1)
        cum = jnp.concatenate([jnp.zeros_like(cum[:, :1]), cum], axis=1)  # (n, L+1, K)
        return cum[:, jnp.clip(lengths, 0, self.length)]

    def log_observed(self, tokens, visible):
        return jnp.sum(jnp.where(visible[..., None], self._per_position(tokens), 0.0), axis=1)

    def sample_hidden(self, key, tokens, visible, labels):
        return jnp.where(visible, tokens, self.sample(key, labels))

    def finite(self):
        if not self.enumerate_exactly:
            return None
        k, length, a = self.log_probs.shape
        table = jnp.zeros((k,) + (a,) * length)
        for j in range(length):
            shape = [k] + [1] * length
            shape[1 + j] = a
            table = table + self.log_probs[:, j].reshape(shape)
        return FiniteMixture(self.log_w, table, self.proc)


jax.tree_util.register_dataclass(IndependentTokens, data_fields=["log_w", "log_probs"],
                                 meta_fields=["proc", "enumerate_exactly"])


def _model(kind, seed=0, k=3, length=4, alphabet=2, exact=False):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(alphabet, 0.6), size=(k, length))
    w = rng.dirichlet(np.ones(k))
    order = rng.permutation(length).tolist() if kind == "ordered_masking" else None
    return IndependentTokens(jnp.log(jnp.asarray(w)), jnp.log(jnp.asarray(probs)),
                             make_process(kind, length, order), exact)


def _times(kind, length):
    return np.linspace(0.0, 1.0, 6) if kind == "random_masking" else np.arange(length + 1.0)


def _exact_curves(model, s_init, s_target, times):
    exact = dataclasses.replace(model, enumerate_exactly=True).finite()
    return localize.window_curves(exact, s_init, s_target, times)


CONFIG = EstimateConfig(samples=4000, inner_samples=32, seed=0)


@pytest.mark.parametrize("kind", ["truncation", "ordered_masking", "random_masking"])
def test_curves_match_the_exact_path(kind):
    model = _model(kind)
    times = _times(kind, model.length)
    exact = _exact_curves(model, [0], [0, 1], times)
    lw = np.asarray(model.log_weights)
    row = lambda m: np.asarray(localize.posterior.log_set_weights(lw, np.asarray(m)))  # noqa
    init, target, rest = [True, False, False], [True, True, False], [False, False, True]
    key = jax.random.key(1)
    checks = {
        "tv_init_target": se.mc_tv(key, model, times, row(init), row(target), CONFIG),
        "tv_target_rest": se.mc_tv(key, model, times, row(target), row(rest), CONFIG),
        "bc_target_rest": se.mc_bc(key, model, times, row(target), row(rest), CONFIG),
        "label_mass_target": se.mc_label_mass(key, model, times, row(init),
                                              np.asarray(target), CONFIG),
        "exit_mass_target": se.mc_label_mass(key, model, times, row(target),
                                             np.asarray(rest), CONFIG),
        "fr_tv_target": se.mc_fr_tv(key, model, times, row(init), row(target), CONFIG),
        "fr_tv_full": se.mc_fr_tv(key, model, times, row(init), row([1, 1, 1]), CONFIG),
    }
    for name, est in checks.items():
        truth = getattr(exact, name)
        assert est.method == "monte-carlo"
        # Forward-reverse estimates under random masking carry an upward bias <= est.bias.
        lo = est.value - Z * est.se - est.bias - RARE
        hi = est.value + Z * est.se + RARE
        assert np.all((truth >= lo) & (truth <= hi)), (name, truth, est.value, est.se)
    tv = checks["tv_target_rest"]
    overlap = np.exp(exact.log_overlap_target_rest)
    ok = np.abs(np.exp(tv.log_overlap) - overlap) <= Z * tv.log_overlap_se * overlap + RARE
    assert np.all(ok)
    if kind != "random_masking":
        assert np.all(checks["fr_tv_target"].bias == 0.0)


def test_label_law_sums_to_one_and_matches():
    model = _model("truncation", seed=3)
    times = _times("truncation", model.length)
    est = localize.forward_reverse_label_law(model, times, np.array([False, True, False]),
                                             key=jax.random.key(2), config=CONFIG)
    assert est.value.shape == (times.size, 3)
    np.testing.assert_allclose(est.value.sum(axis=1), 1.0, atol=1e-12)
    exact_model = dataclasses.replace(model, enumerate_exactly=True).finite()
    for i, t in enumerate(times):
        truth = np.asarray(localize.label_law(
            exact_model.log_weights, exact_model.view(t).log_noised,
            np.array([False, True, False])))
        assert np.all(np.abs(est.value[i] - truth) <= Z * est.se[i] + RARE)


def test_common_random_numbers_and_no_recompilation():
    model = _model("truncation", seed=4)
    lw = np.asarray(model.log_weights)
    a = np.asarray(localize.posterior.log_set_weights(lw, np.array([True, False, False])))
    b = np.asarray(localize.posterior.log_set_weights(lw, np.array([False, True, True])))
    key = jax.random.key(0)
    full = se.mc_tv(key, model, np.arange(5.0), a, b, CONFIG)
    size = se._divergence_batch._cache_size()
    part = se.mc_tv(key, model, np.array([1.0, 3.0]), a, b, CONFIG)
    assert se._divergence_batch._cache_size() == size
    # The same sequences at every time, whatever times are asked for.
    np.testing.assert_array_equal(part.value, full.value[[1, 3]])


@pytest.mark.parametrize("kind", ["truncation", "random_masking"])
def test_kept_draws_change_nothing(kind, monkeypatch):
    """The sequences kept on the model object give the numbers a fresh object draws anew;
    they are kept per key and law, and the cache drops its oldest entry at its bound."""
    model = _model(kind, seed=6)
    lw = np.asarray(model.log_weights)
    a = np.asarray(localize.posterior.log_set_weights(lw, np.array([True, False, False])))
    b = np.asarray(localize.posterior.log_set_weights(lw, np.array([False, True, True])))
    times = _times(kind, model.length)
    inner = CONFIG.inner_samples if kind == "random_masking" else 1
    batches = lambda inner: -(-CONFIG.samples // se._batch_size(model, CONFIG, inner))  # noqa
    first = se.mc_fr_tv(jax.random.key(3), model, times, a, b, CONFIG)
    assert len(model.__dict__["_draw_cache"]) == batches(inner)
    again = se.mc_fr_tv(jax.random.key(3), model, times[1:3], a, b, CONFIG)
    fresh = se.mc_fr_tv(jax.random.key(3), dataclasses.replace(model), times[1:3], a, b,
                        CONFIG)
    np.testing.assert_array_equal(again.value, fresh.value)
    np.testing.assert_array_equal(again.value, first.value[1:3])
    se.mc_tv(jax.random.key(3), model, times, a, b, CONFIG)  # another law: other entries
    assert len(model.__dict__["_draw_cache"]) == batches(inner) + batches(1)
    tokens, uniforms = list(model.__dict__["_draw_cache"].values())[-1]
    assert (uniforms is None) == (kind == "truncation")
    size = tokens.nbytes + (0 if uniforms is None else uniforms.nbytes)
    monkeypatch.setattr(se, "DRAW_CACHE_BYTES", size)
    se.mc_tv(jax.random.key(4), model, times, a, b, CONFIG)
    assert len(model.__dict__["_draw_cache"]) == 1
    monkeypatch.setattr(se, "DRAW_CACHE_BYTES", size - 1)  # too big to keep: left as it is
    se.mc_tv(jax.random.key(5), model, times, a, b, CONFIG)
    assert len(model.__dict__["_draw_cache"]) == 1


def test_window_report_estimated_against_exact():
    model = _model("truncation", seed=5, k=2, length=6)
    times = np.arange(7.0)
    cfg = EstimateConfig(samples=3000, seed=3)
    est = localize.window_report(model, [0], [0, 1], 0.3, times, estimate=cfg)
    exact = localize.window_report(dataclasses.replace(model, enumerate_exactly=True),
                                   [0], [0, 1], 0.3, times)
    assert est.method["tv_init_rest"] == "monte-carlo"
    assert exact.method["tv_init_rest"] == "exact"
    assert est.estimate == {"samples": 3000, "inner_samples": 64, "seed": 3}
    assert exact.model["family"] == "independent_tokens"
    for name in ("T_after_C", "T_end"):
        t, iv = getattr(est, name), getattr(est, f"{name}_interval")
        truth = getattr(exact, name)
        if t is None:
            continue
        assert t == int(t) and iv[0] <= truth <= iv[1], (name, t, iv, truth)


def test_discrete_refinement_lands_on_integers():
    # A coarse grid: the thresholds are refined to integer times between grid points, and
    # (the same sequences at every time) they are those of the estimated curves on all times.
    model = _model("truncation", seed=6, k=2, length=40, alphabet=3)
    cfg = EstimateConfig(samples=2000, seed=1)
    coarse = np.array([0.0, 13.0, 27.0, 40.0])
    rep = localize.window_report(model, [0], [0, 1], 0.2, coarse, estimate=cfg)
    lw = np.asarray(model.log_weights)
    row = lambda m: np.asarray(localize.posterior.log_set_weights(lw, np.asarray(m)))  # noqa
    root = jax.random.key(cfg.seed)
    key = lambda name: jax.random.fold_in(root, localize.report.CURVES.index(name))  # noqa
    every = np.arange(41.0)
    sep = se.mc_tv(key("tv_init_rest"), model, every, row([1, 0]), row([0, 1]), cfg)
    close = se.mc_tv(key("tv_init_target"), model, every, row([1, 0]), row([1, 1]), cfg)
    assert rep.T_after_C is not None and rep.T_end is not None
    assert rep.T_after_C == localize.t_after_c(every, sep.value, 0.2,
                                               log_overlap=sep.log_overlap)
    assert rep.T_end == localize.t_end(every, close.value, 0.2)
    # On this instance the separation threshold lies strictly between grid times.
    assert rep.T_after_C not in coarse


def test_bad_input():
    model = _model("truncation")
    row = np.log(np.full(3, 1 / 3))
    with pytest.raises(LocalizeError, match="times"):
        se.mc_tv(jax.random.key(0), model, np.array([0.5]), row, row, CONFIG)
    with pytest.raises(LocalizeError, match="log_a"):
        se.mc_tv(jax.random.key(0), model, np.arange(2.0), row[:2], row, CONFIG)
    with pytest.raises(LocalizeError, match="model"):
        se.mc_tv(jax.random.key(0), object(), np.arange(2.0), row, row, CONFIG)
    with pytest.raises(LocalizeError, match="mask_b"):
        se.mc_label_mass(jax.random.key(0), model, np.arange(2.0), row, [1, 0, 0], CONFIG)


def test_reference_model_is_right():
    """The reference model itself against plain enumeration (so the checks above mean it)."""
    model = _model("truncation", seed=7, k=2, length=3)
    probs = np.exp(np.asarray(model.log_probs))
    tokens = np.array(list(itertools.product(range(2), repeat=3)), dtype=np.int32)
    pre = np.asarray(model.log_prefix(jnp.asarray(tokens), jnp.arange(4, dtype=jnp.int32)))
    for i, x in enumerate(tokens):
        for n in range(4):
            want = [np.log(np.prod([probs[k, j, x[j]] for j in range(n)])) for k in range(2)]
            np.testing.assert_allclose(pre[i, n], want, rtol=1e-12, atol=1e-12)
