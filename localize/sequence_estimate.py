"""Monte Carlo curves for any :class:`~localize.sequence.SequenceModel` ([LKC25] §2-3).

The defaults of the sequence models' curve hooks. Every density is exact (the model's
:meth:`~localize.sequence.SequenceModel.log_prefix` and
:meth:`~localize.sequence.SequenceModel.log_observed`); only the outer expectation over
sequences is sampled, so each value comes with a standard error from the sample variance.

* :func:`mc_tv`, :func:`mc_bc`: ``TV(p_t^A, p_t^B)``, ``log(1 - TV)`` and ``BC`` as means of
  the bounded integrands ``|p - q| / (p + q)``, ``2 min(p, q) / (p + q)`` and
  ``2 sqrt(pq) / (p + q)`` under ``M = (P + Q) / 2``; the log-overlap is accumulated in log
  space, so it stays finite however small it is (but, sampled from ``M``, an overlap much below
  ``1 / samples`` is seen only by its rare visits: its standard error says so).
* :func:`mc_label_mass`, :func:`mc_label_law`: ``E_{Y ~ p_t^A}[pi_t(B | Y)]`` with the exact
  label posterior (theory.md §1.4).
* :func:`mc_fr_tv`: ``TV(p^{A,t}, p^B)`` for the forward-reverse law of Definition 3. By
  theory.md §1.4, ``p^{A,t}(x) = p(x) g_t(x)`` with ``g_t(x) = E_{Y ~ K_t(. | x)}[p_t^A(Y) /
  p_t(Y)]``. Truncation and ordered masking see ``x`` through a deterministic kernel, so
  ``g_t(x) = p_t^A(y_t(x)) / p_t(y_t(x))`` is exact (for truncation this is the identity
  ``p^{A,t}(x) = p^A(prefix) p(suffix | prefix)`` of theory.md §6 item 4), and no resampling
  is needed: every time is served by one pass over the same sequences. Sequences are drawn
  from the defensive proposal ``r = (p^A + p^B + p) / 3``, whose density is exact and which
  dominates both laws (``p^{A,t} <= p / w(A) <= 3 r / w(A)``), so the estimate
  ``1/2 mean |p^{A,t} - p^B| / r`` is unbiased with a bounded integrand. Under random masking
  ``g_t`` is itself an expectation over mask patterns; it is replaced by the mean of
  ``config.inner_samples`` patterns, and the upward bias this causes is bounded as in
  :func:`localize.estimate.mc_fr_tv` (Jensen twice): at most
  ``1/2 sqrt(E_p[sigma_t^2(X)] / M)``, reported in ``bias``.

**Common random numbers.** The sequences (and the uniforms of random masking) depend only on
the key, the model's shapes and the sample budget, never on the times asked for, so a curve
is a deterministic function of ``t`` given the seed, and the refinement of the thresholds
between grid times sees the same sequences as the grid.

**Drawn once.** The threshold refinement of a report asks each curve again at new times,
and by the common random numbers it sees the same sequences every time; drawing them
(about 0.4 s for ``10^7`` tokens of a Markov chain on two cores, uniforms included) costs
several times a pass over them (about 0.05 s under truncation). So the draws are kept on
the model object, per key, law and batch size, up to :data:`DRAW_CACHE_BYTES` (oldest
dropped first): the values are the same as drawing again, only faster.

**One pass.** Under truncation, the prefix log-likelihoods at every requested length come
from one scan over the positions (:meth:`~localize.sequence.SequenceModel.log_prefix`); the
times go through in blocks of :data:`TIME_BLOCK` (padded to multiples of 8, so repeated calls
with other times compile nothing new), and sequences in batches bounded by
:data:`SAMPLE_BUDGET` entries.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from localize.continuous import Estimate, EstimateConfig
from localize.errors import bad
from localize.estimate import (
    _categorical,
    _check_config,
    _check_mask,
    _check_row,
    _combine,
    _moments,
    _no_nan,
)
from localize.processes import RandomMasking, Truncation
from localize.sequence import visible_mask

# Times per pass over the sequences; the buffer of one pass is (batch, TIME_BLOCK, K).
TIME_BLOCK = 128
# Entries one batch may touch per intermediate array (tokens, buffers): 128 MiB of float64.
SAMPLE_BUDGET = 2**24
# Bytes of drawn sequences (and mask uniforms) kept per model between calls.
DRAW_CACHE_BYTES = 2**29
LOG2, LOG3 = math.log(2.0), math.log(3.0)
MC = "monte-carlo"


def _lse(x, axis):
    return jax.nn.logsumexp(x, axis=axis)


def _batch_size(model, config: EstimateConfig, inner: int = 1) -> int:
    """Sequences per batch: a function of the shapes and the budget only (never the times)."""
    per = max(model.length, TIME_BLOCK * model.n_components) * inner
    return int(max(1, min(config.samples, SAMPLE_BUDGET // per)))


def _check(model, ts, config):
    from localize.sequence import SequenceModel

    if not isinstance(model, SequenceModel):
        raise bad("model", type(model).__name__, "a SequenceModel")
    config = _check_config(config)
    ts = model.process.validate_times(ts)
    return ts, config


def _blocks(model, ts):
    """Split the times into padded blocks: ``[(index, ts_block, lengths, slot)]``.

    ``lengths`` are the distinct prefix lengths a truncation pass needs (``L - t`` and ``L``
    itself, increasing, padded with distinct values above ``L`` that are never written) and
    ``slot[i]`` the position of ``L - ts_block[i]`` in them; ``slot`` of ``L`` is ``-1``.
    """
    out = []
    length = model.length
    for start in range(0, ts.size, TIME_BLOCK):
        block = ts[start:start + TIME_BLOCK]
        m = block.size
        size = -(-(m + 1) // 8) * 8
        padded_ts = np.concatenate([block, np.full(size - m, block[-1])])
        lengths = np.unique(np.concatenate([length - block.astype(np.int64), [length]]))
        slot = np.searchsorted(lengths, length - padded_ts.astype(np.int64))
        full = int(np.searchsorted(lengths, length))
        pad = length + 1 + np.arange(size - lengths.size)
        lengths = np.concatenate([lengths, pad]).astype(np.int32)
        out.append((np.arange(start, start + m), padded_ts, lengths, slot.astype(np.int32),
                    full))
    return out


def _noised_and_clean(model, tokens, ts, lengths, slot, full, uniforms):
    """``(m, n, K)`` ``log p_t^theta(y_t(x))`` at each time and ``(n, K)`` ``log p^theta(x)``."""
    if isinstance(model.process, Truncation):
        pre = model.log_prefix(tokens, lengths)  # (n, m', K)
        return jnp.moveaxis(pre[:, slot], 1, 0), pre[:, full]

    def at(t):
        vis = jnp.broadcast_to(visible_mask(model.process, t, uniforms), tokens.shape)
        return model.log_observed(tokens, vis)

    clean = model.log_observed(tokens, jnp.ones(tokens.shape, dtype=bool))
    return jax.lax.map(at, ts), clean


@functools.partial(jax.jit, static_argnames=("n", "masks"))
def _draw(model, key, log_row, *, n, masks):
    """``n`` sequences from the mixture ``log_row``, and the uniforms of random masking
    (``None`` for processes that need none)."""
    k_lab, k_x, k_u = jax.random.split(key, 3)
    labels = _categorical(jax.random.uniform(k_lab, (n,), dtype=jnp.float64), log_row)
    tokens = model.sample(k_x, labels)
    uniforms = jax.random.uniform(k_u, tokens.shape, dtype=jnp.float64) if masks else None
    return tokens, uniforms


def _drawn(model, key, log_row, n):
    """:func:`_draw`, kept on the model object (module docstring, *Drawn once*)."""
    masks = isinstance(model.process, RandomMasking)
    cache = getattr(model, "__dict__", {}).setdefault("_draw_cache", {})
    tag = (np.asarray(jax.random.key_data(key)).tobytes(),
           np.asarray(log_row, dtype=np.float64).tobytes(), n)
    if tag in cache:
        return cache[tag]
    out = _draw(model, key, jnp.asarray(log_row), n=n, masks=masks)
    nbytes = lambda draw: sum(x.nbytes for x in draw if x is not None)  # noqa: E731
    size = nbytes(out)
    if size <= DRAW_CACHE_BYTES:
        # Not a dataclass field: neither compared nor traced; the oldest go first.
        while cache and sum(map(nbytes, cache.values())) + size > DRAW_CACHE_BYTES:
            cache.pop(next(iter(cache)))
        cache[tag] = out
    return out


def _run(batch_fn, key, model, config, ts, batch, log_row, split=False):
    """Apply ``batch_fn(key_b, tokens, uniforms, ts, lengths, slot, full, valid) -> (count,
    mean, m2, extra)`` over batches of sequences drawn from ``log_row`` and over time blocks;
    returns ``(mean, se, extras)`` per time, in order.

    ``split``: draw with the first half of each batch's key and pass the second to
    ``batch_fn`` (for inner randomness of its own); else both get the batch's key.
    """
    n_batches = -(-config.samples // batch)
    keys = jax.random.split(key, n_batches)
    blocks = _blocks(model, ts)
    parts = [[] for _ in blocks]
    for b in range(n_batches):
        k_draw, k_own = jax.random.split(keys[b]) if split else (keys[b], keys[b])
        tokens, uniforms = _drawn(model, k_draw, log_row, batch)
        valid = jnp.asarray(b * batch + np.arange(batch) < config.samples)
        for part, (_, padded_ts, lengths, slot, full) in zip(parts, blocks, strict=True):
            part.append(jax.device_get(batch_fn(
                k_own, tokens, uniforms, jnp.asarray(padded_ts), jnp.asarray(lengths),
                jnp.asarray(slot), jnp.asarray(full, dtype=jnp.int32), valid)))
    means, ses, extras = [], [], []
    for part, (idx, *_) in zip(parts, blocks, strict=True):
        count, mean, m2, extra = (np.stack(x) for x in zip(*part, strict=True))
        total, se = jax.device_get(jax.vmap(_combine, in_axes=(1, 1, 1))(
            jnp.asarray(count), jnp.asarray(mean), jnp.asarray(m2)))
        means.append(np.asarray(total)[: idx.size])
        ses.append(np.asarray(se)[: idx.size])
        extras.append(_merge_logs(extra)[: idx.size] if extra.size else extra)
    cat = lambda xs: np.concatenate(xs, axis=0)  # noqa: E731
    return cat(means), cat(ses), cat(extras) if extras[0].size else None


def _merge_logs(extra):
    """Merge per-batch log-sums ``(batches, m, F)`` by log-sum-exp over the batches."""
    return np.asarray(jax.nn.logsumexp(jnp.asarray(extra), axis=0))


def _per_time_moments(f, valid):
    """``(count, mean, M2)`` per time for ``f`` of shape ``(m, n, F)``."""
    return jax.vmap(lambda g: _moments(g, valid))(f)


# ----------------------------------------------------------------------------- divergences


@jax.jit
def _divergence_batch(model, log_a, log_b, tokens, uniforms, ts, lengths, slot, full, valid):
    noised, _ = _noised_and_clean(model, tokens, ts, lengths, slot, full, uniforms)
    la, lb = _lse(log_a + noised, -1), _lse(log_b + noised, -1)  # (m, n)
    both = jnp.logaddexp(la, lb)
    tv = jnp.abs(jnp.tanh(0.5 * (la - lb)))
    log_g = LOG2 + jnp.minimum(la, lb) - both
    bc = jnp.exp(LOG2 + 0.5 * (la + lb) - both)
    count, mean, m2 = _per_time_moments(jnp.stack([tv, bc], axis=-1), valid)
    # The overlap in log space: log sum g and log sum g^2 over the valid samples.
    log_g = jnp.where(valid[None], log_g, -jnp.inf)
    logs = jnp.stack([_lse(log_g, 1), _lse(2.0 * log_g, 1)], axis=-1)
    return count, mean, m2, logs


def _divergences(key, model, ts, log_a, log_b, config):
    ts, config = _check(model, ts, config)
    k = model.n_components
    log_a, log_b = _check_row("log_a", log_a, k), _check_row("log_b", log_b, k)
    batch = _batch_size(model, config)

    def fn(_key, tokens, uniforms, *rest):
        return _divergence_batch(model, log_a, log_b, tokens, uniforms, *rest)

    log_m = np.logaddexp(log_a, log_b) - LOG2
    mean, se, logs = _run(fn, key, model, config, ts, batch, log_m)
    n = float(config.samples)
    log_mean = logs[:, 0] - math.log(n)
    # Relative variance of the overlap's mean: (E g^2 / (E g)^2 - 1) / n, in log space.
    with np.errstate(over="ignore", invalid="ignore"):
        rel = np.where(np.isneginf(logs[:, 0]), 0.0,
                       np.expm1(np.clip(logs[:, 1] - math.log(n) - 2.0 * log_mean, None, 700)))
    log_se = np.sqrt(np.maximum(rel, 0.0) / max(n - 1.0, 1.0))
    return mean, se, log_mean, log_se


def mc_tv(key, model, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
    """``TV(p_t^A, p_t^B)`` and ``log(1 - TV)`` by Monte Carlo with exact sequence densities.

    Args:
        key: a ``jax.random`` key (the same sequences at every time).
        model: a :class:`~localize.sequence.SequenceModel`.
        ts: ``(n,)`` strictly increasing times of the process's index set.
        log_a: ``(K,)`` normalised log mixing weights of ``A``.
        log_b: ``(K,)`` normalised log mixing weights of ``B``.
        config: the :class:`~localize.continuous.EstimateConfig` (``samples`` sequences).

    Returns:
        An :class:`~localize.continuous.Estimate` with ``log_overlap`` and its standard
        error (delta method).
    """
    mean, se, log_mean, log_se = _divergences(key, model, ts, log_a, log_b, config)
    value = np.clip(mean[:, 0], 0.0, 1.0)
    _no_nan("mc_tv", value, se[:, 0], log_mean, log_se)
    zeros = np.zeros_like(value)
    return Estimate(value, se[:, 0], MC, zeros, zeros, np.minimum(log_mean, 0.0), log_se)


def mc_bc(key, model, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
    """``BC(p_t^A, p_t^B) = E_M[2 sqrt(pq) / (p + q)]`` by Monte Carlo (see :func:`mc_tv`)."""
    mean, se, _, _ = _divergences(key, model, ts, log_a, log_b, config)
    value = np.clip(mean[:, 1], 0.0, 1.0)
    _no_nan("mc_bc", value, se[:, 1])
    zeros = np.zeros_like(value)
    return Estimate(value, se[:, 1], MC, zeros, zeros)


# ------------------------------------------------------------------------ label posteriors


@jax.jit
def _label_batch(model, tokens, uniforms, ts, lengths, slot, full, valid):
    noised, _ = _noised_and_clean(model, tokens, ts, lengths, slot, full, uniforms)
    post = jnp.exp(jax.nn.log_softmax(model.log_weights + noised, axis=-1))  # (m, n, K)
    count, mean, m2 = _per_time_moments(post, valid)
    return count, mean, m2, jnp.zeros((0,))


@jax.jit
def _mass_batch(model, sel, tokens, uniforms, ts, lengths, slot, full, valid):
    noised, _ = _noised_and_clean(model, tokens, ts, lengths, slot, full, uniforms)
    post = jax.nn.log_softmax(model.log_weights + noised, axis=-1)
    mass = jnp.exp(_lse(jnp.where(sel, post, -jnp.inf), -1))[..., None]
    count, mean, m2 = _per_time_moments(mass, valid)
    return count, mean, m2, jnp.zeros((0,))


def mc_label_law(key, model, ts, log_init, config: EstimateConfig) -> Estimate:
    """``P(label(X^{A,t}) = theta) = E_{Y ~ p_t^A}[pi_t(theta | Y)]`` for every ``theta``.

    Args:
        key: a ``jax.random`` key.
        model: a :class:`~localize.sequence.SequenceModel`.
        ts: ``(n,)`` strictly increasing times.
        log_init: ``(K,)`` normalised log mixing weights of ``A``.
        config: the :class:`~localize.continuous.EstimateConfig`.

    Returns:
        An :class:`~localize.continuous.Estimate` whose ``value`` and ``se`` are ``(n, K)``.
    """
    ts, config = _check(model, ts, config)
    log_init = _check_row("log_init", log_init, model.n_components)
    batch = _batch_size(model, config)

    def fn(_key, *rest):
        return _label_batch(model, *rest)

    mean, se, _ = _run(fn, key, model, config, ts, batch, log_init)
    _no_nan("mc_label_law", mean, se)
    zeros = np.zeros_like(mean)
    return Estimate(np.clip(mean, 0.0, 1.0), se, MC, zeros, zeros)


def mc_label_mass(key, model, ts, log_a, mask_b, config: EstimateConfig) -> Estimate:
    """``E_{Y ~ p_t^A}[pi_t(B | Y)]`` for the set ``B`` (a ``(K,)`` boolean mask).

    The label law of :func:`mc_label_law` summed over ``B``, with the standard error of the
    sum (computed from the same samples).
    """
    mask_b = np.asarray(_check_mask("mask_b", mask_b, model.n_components))
    ts, config = _check(model, ts, config)
    log_a = _check_row("log_a", log_a, model.n_components)
    batch = _batch_size(model, config)
    sel = jnp.asarray(mask_b)

    def fn(_key, *rest):
        return _mass_batch(model, sel, *rest)

    mean, se, _ = _run(fn, key, model, config, ts, batch, log_a)
    value, se = np.clip(mean[:, 0], 0.0, 1.0), se[:, 0]
    _no_nan("mc_label_mass", value, se)
    zeros = np.zeros_like(value)
    return Estimate(value, se, MC, zeros, zeros)


# ----------------------------------------------------------------- forward-reverse TV


def _proposal(log_init, log_cmp, log_w):
    """The defensive proposal ``r = (p^A + p^B + p) / 3`` as log mixing weights."""
    return _lse(jnp.stack([log_init, log_cmp, log_w]), 0) - LOG3


@functools.partial(jax.jit, static_argnames=("inner",))
def _fr_batch(k_in, model, log_init, log_cmp, tokens, uniforms, ts, lengths, slot, full,
              valid, *, inner):
    log_w = model.log_weights
    log_r = _proposal(log_init, log_cmp, log_w)
    noised, clean = _noised_and_clean(model, tokens, ts, lengths, slot, full, uniforms)
    log_p, log_q = _lse(log_w + clean, -1), _lse(log_cmp + clean, -1)
    log_prop = _lse(log_r + clean, -1)
    if inner == 0:
        # Deterministic kernel: g_t(x) = p_t^A(y) / p_t(y) exactly.
        log_g = _lse(log_init + noised, -1) - _lse(log_w + noised, -1)  # (m, n)
        var = jnp.zeros_like(log_g)
    else:
        u = jax.random.uniform(k_in, (inner,) + tokens.shape, dtype=jnp.float64)

        def at(t):
            def one(uj):
                vis = visible_mask(model.process, t, uj)
                ln = model.log_observed(tokens, vis)
                return jnp.exp(_lse(log_init + ln, -1) - _lse(log_w + ln, -1))

            ratios = jax.lax.map(one, u)  # (inner, n), each <= 1 / w(A)
            return jnp.mean(ratios, 0), jnp.var(ratios, 0, ddof=1)

        g, var = jax.lax.map(at, ts)
        log_g = jnp.log(g)
    # Importance weights p / r and the integrand |p^{A,t} - p^B| / r, both bounded.
    w_p = jnp.exp(log_p - log_prop)
    f = 0.5 * jnp.abs(jnp.exp(log_p + log_g - log_prop) - jnp.exp(log_q - log_prop))
    count, mean, m2 = _per_time_moments(jnp.stack([f, w_p * var], axis=-1), valid)
    return count, mean, m2, jnp.zeros((0,))


def mc_fr_tv(key, model, ts, log_init, log_cmp, config: EstimateConfig) -> Estimate:
    """``TV(p^{A,t}, p^B)``: the forward-reverse law of Definition 3 against a clean ``p^B``.

    See the module docstring: exact densities under truncation and ordered masking (unbiased,
    ``bias = 0``), an inner mean over ``config.inner_samples`` mask patterns under random
    masking (``bias`` bounds the upward bias).

    Args:
        key: a ``jax.random`` key.
        model: a :class:`~localize.sequence.SequenceModel`.
        ts: ``(n,)`` strictly increasing times.
        log_init: ``(K,)`` normalised log mixing weights of ``A``.
        log_cmp: ``(K,)`` normalised log mixing weights of ``B``.
        config: the :class:`~localize.continuous.EstimateConfig`.

    Returns:
        An :class:`~localize.continuous.Estimate` of shape ``(n,)``.
    """
    ts, config = _check(model, ts, config)
    k = model.n_components
    log_init = _check_row("log_init", log_init, k)
    log_cmp = _check_row("log_cmp", log_cmp, k)
    inner = config.inner_samples if isinstance(model.process, RandomMasking) else 0
    batch = _batch_size(model, config, max(1, inner))

    def fn(k_in, *rest):
        return _fr_batch(k_in, model, log_init, log_cmp, *rest, inner=inner)

    log_r = np.asarray(_proposal(log_init, log_cmp, model.log_weights))
    mean, se, _ = _run(fn, key, model, config, ts, batch, log_r, split=True)
    value, se_value = np.clip(mean[:, 0], 0.0, 1.0), se[:, 0]
    bias = (0.5 * np.sqrt(np.maximum(mean[:, 1], 0.0) / inner) if inner
            else np.zeros_like(value))
    _no_nan("mc_fr_tv", value, se_value, bias)
    return Estimate(value, se_value, MC, bias, np.zeros_like(value))
