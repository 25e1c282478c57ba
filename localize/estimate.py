"""Monte Carlo curves for any :class:`~localize.continuous.ContinuousModel` ([LKC25] §2-3).

These are the defaults of the curve hooks of :class:`ContinuousModel`: they use only the
model's primitives (component log-densities, samplers) and return an
:class:`~localize.continuous.Estimate` over a vector of times with its standard error.

* :func:`mc_tv`, :func:`mc_bc`: ``TV(p_t^A, p_t^B)``, its log-overlap ``log(1 - TV)`` and
  ``BC(p_t^A, p_t^B)`` as means of bounded integrands under ``M = (P + Q) / 2``
  (``|p - q| / (p + q)``, ``2 min(p, q) / (p + q)``, ``2 sqrt(pq) / (p + q)``), by
  importance sampling from a *defensive* proposal (below).
* :func:`mc_label_mass`, :func:`mc_label_law`: ``E_{Y ~ p_t^A}[pi_t(B | Y)]`` with the exact
  label posterior ``pi_t`` (a log-softmax; theory.md §1.3-1.4).
* :func:`mc_fr_tv`: ``TV(p^{A,t}, p^B)`` for the forward-reverse law of Definition 3, by a
  nested estimator whose upward bias is bounded and reported.

**Rare overlaps.** Plain sampling from ``M`` cannot see an overlap ``1 - TV`` much smaller
than ``1 / samples``: it lives where ``p ~ q``, a region ``M`` almost never visits (two
Gaussians ``N(+-a, 1)`` overlap around 0, at ``a`` standard deviations). The TV and BC
estimators therefore draw from ``r = 1/2 M_t + 1/2 mean_j M_{t_j}``, where ``M_{t_j}`` is
``M`` seen with extra Gaussian noise of variance ``Delta_j = c_j (s^2 + v(t))`` (``s^2`` the
per-coordinate variance of the clean mixture from a pilot sample, ``c_j`` in
:data:`LADDER`); the noisier copies reach the region between the components. Every density
is known (``M_{t_j}`` is ``M`` at the time ``t_j`` with ``v(t_j) = v(t) + Delta_j``, the
channel being Markov), so the weights ``omega = m / r <= 2`` are exact. The estimates are
self-normalised, ``sum omega f / sum omega``: ``TV`` stays in ``[0, 1]`` and ``TV`` and the
overlap add up to one; the bias is ``O(1 / samples)``, far inside the standard error. The
standard errors use the delta method; the log-overlap is computed in log space throughout
(a log-sum-exp of ``log omega + log f``), so it stays finite and accurate at overlaps like
``1e-200``. With ``omega <= 2`` the variance is at most about twice that of plain sampling
when the proposal does not help (e.g. in high dimension), and exponentially smaller when it
does.

**Common random numbers.** Every time uses the same key, hence the same labels, the same
standard normals and the same proposal levels: a curve is a smooth deterministic function of
``t`` given the seed, which the bisection of the thresholds relies on (and which makes curve
differences far more precise than their standard errors suggest).

**Shapes.** Times are processed in chunks of :data:`TIME_CHUNK` (padded), samples in
batches whose size depends only on the model's shapes and the config, inside one jitted
function per estimator: a second call with another number of times does not compile again,
and memory is bounded by :data:`SAMPLE_BUDGET` float64 entries per intermediate array.

A model passed here must be a JAX pytree (e.g. a frozen dataclass registered with
``jax.tree_util.register_dataclass``), as :class:`localize.Model` is.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from localize.channels import OU, VE, SLChannel
from localize.continuous import Estimate, EstimateConfig
from localize.errors import LocalizeError, bad

# Times per jitted call (padded with the last time); shapes, hence compilations, are fixed.
TIME_CHUNK = 8
# Float64 entries one batch of samples may touch per intermediate array (64 MiB).
SAMPLE_BUDGET = 2**23
# Extra noise of the defensive proposal, as fractions of s^2 + v(t) (see the module doc).
LADDER = (1.0, 1.0 / 8.0, 1.0 / 64.0)
# Clean draws that measure the spread s^2 of the clean mixture, independent of the estimate.
PILOT_SAMPLES = 2048
LOG2 = math.log(2.0)
MC = "monte-carlo"


# ----------------------------------------------------------------------------- helpers


def _check_model(model):
    leaves = jax.tree_util.tree_leaves(model)
    if len(leaves) == 1 and leaves[0] is model:
        raise bad("model", type(model).__name__,
                  "a ContinuousModel registered as a JAX pytree "
                  "(jax.tree_util.register_dataclass)")


def _check_row(name, row, k):
    row = np.asarray(row, dtype=np.float64)
    if row.shape != (k,):
        raise bad(name, f"array of shape {row.shape}", f"a ({k},) array of log weights")
    if np.any(np.isnan(row)) or not np.any(np.isfinite(row)):
        raise bad(name, row.tolist(), "log weights with at least one finite entry, no NaN")
    return jnp.asarray(row)


def _check_mask(name, mask, k):
    mask = np.asarray(mask)
    if mask.shape != (k,) or mask.dtype != bool:
        raise bad(name, mask.tolist(), f"a ({k},) boolean mask")
    return jnp.asarray(mask)


def _check_config(config):
    if not isinstance(config, EstimateConfig):
        raise bad("config", config, "an EstimateConfig")
    return config


def _batches(samples: int, per_sample: int) -> tuple[int, int]:
    """``(n_batches, batch)`` with ``n_batches * batch >= samples``, balanced, within budget."""
    cap = max(1, SAMPLE_BUDGET // (TIME_CHUNK * max(1, per_sample)))
    n_batches = -(-samples // min(cap, samples))
    return n_batches, -(-samples // n_batches)


def _cost(model) -> int:
    """Float64 entries per sample of one evaluation of the component log-densities."""
    k, d = model.n_components, model.dim
    return k * d + k + d


def _lse(x, axis):
    """``log sum exp`` along ``axis``; all ``-inf`` gives ``-inf`` (a lean version of
    ``jax.nn.logsumexp``: these kernels call it many times, and compile time adds up)."""
    m = jnp.max(x, axis=axis, keepdims=True)
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    return jnp.log(jnp.sum(jnp.exp(x - m), axis=axis)) + jnp.squeeze(m, axis)


def _log_mix(log_row, log_comp):
    """``log sum_theta row_theta p^theta(y)`` from ``(..., n, K)`` component log-densities."""
    return _lse(log_row + log_comp, axis=-1)


def _categorical(u, log_p):
    """Labels from uniforms ``u`` by the inverse CDF of ``softmax(log_p)``.

    One uniform per draw (cheaper to compile than Gumbel-max over ``K``); labels of zero
    weight are never returned, even when rounding leaves the CDF short of 1.
    """
    p = jnp.exp(log_p - _lse(log_p, axis=0))
    cdf = jnp.cumsum(p)
    labels = jnp.sum(u[:, None] * cdf[-1] > cdf[None, :-1], axis=1)
    last = jnp.max(jnp.where(p > 0, jnp.arange(p.shape[0]), 0))
    return jnp.minimum(labels, last)


def _batch_keys(key, n_batches, per):
    """``(n_batches + 1, per)`` keys from one split (each split or fold_in inside a kernel
    compiles a threefry block of its own); the last row is spare, for a pilot."""
    return jax.random.split(key, (n_batches + 1) * per).reshape(n_batches + 1, per)


def _draw_noised(model, key, t, labels):
    """``Y~_t`` from the components ``labels``: the same normals at every ``t`` for one key."""
    if hasattr(model, "sample_noised"):
        return model.sample_noised(key, t, labels)
    k_x, k_y = jax.random.split(key)
    return model.sample_forward(k_y, t, model.sample_clean(k_x, labels))


def time_of_var(process, v):
    """The time ``t`` with ``v(t) = v`` for a Gaussian channel (``ve_var`` is increasing).

    Args:
        process: a :class:`localize.channels.GaussianChannel`.
        v: the normalised noise variance (traceable, non-negative).

    Returns:
        ``t`` (closed form for OU, VE and the SL channel; bisection otherwise).
    """
    v = jnp.asarray(v, dtype=jnp.float64)
    if isinstance(process, OU):
        return 0.5 * jnp.log1p(v)
    if isinstance(process, (VE, SLChannel)):
        return v
    # Bisection on s = log1p(t), which resolves both tiny and huge times.
    def step(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        below = process.ve_var(jnp.expm1(mid)) < v
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 200, step, (jnp.zeros_like(v),
                                              jnp.full_like(v, math.log1p(process.max_time))))
    return jnp.expm1(hi)


def _moments(f, valid):
    """Per-batch ``(count, mean, M2)`` over the leading (sample) axis of ``f``."""
    w = valid.reshape(valid.shape + (1,) * (f.ndim - 1)).astype(f.dtype)
    count = jnp.sum(valid).astype(f.dtype)
    mean = jnp.sum(w * f, axis=0) / count
    m2 = jnp.sum(w * (f - mean) ** 2, axis=0)
    return count, mean, m2


def _combine(count, mean, m2):
    """Merge per-batch moments (leading batch axis) exactly (Chan et al.); returns mean, se."""
    c = count.reshape(count.shape + (1,) * (mean.ndim - 1))
    n = jnp.sum(count)
    total = jnp.sum(c * mean, axis=0) / n
    m2_all = jnp.sum(m2, axis=0) + jnp.sum(c * (mean - total) ** 2, axis=0)
    se = jnp.sqrt(jnp.maximum(m2_all, 0.0) / (n - 1.0) / n)
    return total, se


def _snis(l_w, l_w2, sums):
    """Self-normalised estimate in log space and the relative variance of its mean.

    ``log mu = log sum omega f - log sum omega``; the delta method gives
    ``Var(mu^) / mu^2 = sum omega^2 (f/mu - 1)^2 / (sum omega)^2``, expanded in three
    log-sums (each term is a bounded ratio, so nothing overflows).
    """
    a1, a2, a3 = sums
    log_mu = a1 - l_w
    zero = jnp.isneginf(a1)
    safe = jnp.where(zero, 0.0, a1)
    rel = (jnp.exp(a3 - 2.0 * safe) - 2.0 * jnp.exp(a2 - safe - l_w)
           + jnp.exp(l_w2 - 2.0 * l_w))
    return log_mu, jnp.where(zero, 0.0, jnp.maximum(rel, 0.0))


def _over_times(fn, ts):
    """Apply a jitted ``fn(ts_chunk)`` over fixed-size chunks of ``ts``; concatenate."""
    ts = np.asarray(ts, dtype=np.float64)
    n = ts.size
    n_chunks = -(-n // TIME_CHUNK)
    padded = np.concatenate([ts, np.full(n_chunks * TIME_CHUNK - n, ts[-1])])
    parts = [jax.device_get(fn(jnp.asarray(padded[i * TIME_CHUNK:(i + 1) * TIME_CHUNK])))
             for i in range(n_chunks)]
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a)[:n], *parts)


def _no_nan(name, *arrays):
    for a in arrays:
        if a is not None and np.any(np.isnan(a)):
            raise LocalizeError(f"{name}: the Monte Carlo estimate produced NaN; please "
                                "report this model")


def _prepare(model, ts, config):
    _check_model(model)
    config = _check_config(config)
    ts = model.process.validate_times(ts)
    return ts, config


# ----------------------------------------------------------- TV, log-overlap and BC


def _divergence_sample(model, t, log_a, log_b, spread, labels, level, k_y, noise):
    """Log weights and log integrands (TV, overlap, BC) for one batch at one time."""
    log_m = jnp.logaddexp(log_a, log_b) - LOG2
    v = model.process.ve_var(t)
    deltas = jnp.asarray((0.0,) + LADDER) * (spread + v)
    levels_t = jnp.concatenate([jnp.reshape(t, (1,)),
                                time_of_var(model.process, v + deltas[1:])])
    y0 = _draw_noised(model, k_y, t, labels)
    y = y0 + jnp.sqrt(deltas[level])[:, None] * noise
    # Every density at once: the components at t and at each noisier level of the ladder.
    lc = jax.vmap(lambda s: model.log_noised(s, y))(levels_t)  # (J + 1, n, K)
    lp, lq = _log_mix(log_a, lc[0]), _log_mix(log_b, lc[0])
    lm = jnp.logaddexp(lp, lq) - LOG2
    # The proposal density: 1/2 M_t + 1/2 mean_j M_{t_j}, every part in closed form.
    ladder = _log_mix(log_m, lc[1:])  # (J, n)
    log_r = jnp.logaddexp(lm - LOG2, _lse(ladder, axis=0) - math.log(2.0 * len(LADDER)))
    dead = jnp.isneginf(lm)
    log_w = jnp.where(dead, -jnp.inf, lm - jnp.where(dead, 0.0, log_r))
    diff = jnp.where(dead, 0.0, lp - lq)
    lse = jnp.where(dead, 0.0, jnp.logaddexp(lp, lq))
    l_tv = jnp.log(jnp.abs(jnp.tanh(0.5 * diff)))
    l_ov = jnp.where(dead, -jnp.inf, LOG2 + jnp.minimum(lp, lq) - lse)
    l_bc = jnp.where(dead, -jnp.inf, LOG2 + 0.5 * (lp + lq) - lse)
    return log_w, jnp.stack([l_tv, l_ov, l_bc], axis=1)


@functools.partial(jax.jit, static_argnames=("n_batches", "batch", "samples"))
def _divergence_chunk(key, model, ts, log_a, log_b, *, n_batches, batch, samples):
    log_m = jnp.logaddexp(log_a, log_b) - LOG2
    j = len(LADDER)
    keys = _batch_keys(key, n_batches, 2)
    # The spread s^2 of the clean mixture from an independent pilot (Y~_0 = X) with labels
    # in exact proportion; it does not depend on t, so the curves keep their common draws.
    n_pilot = min(samples, PILOT_SAMPLES)
    pilot_labels = _categorical((jnp.arange(n_pilot) + 0.5) / n_pilot, log_m)
    spread = jnp.mean(jnp.var(_draw_noised(model, keys[-1, 0], 0.0, pilot_labels), axis=0))

    def one_batch(args):
        b, (k_u, k_y) = args
        # One normal draw gives the extra noise and, through Phi, the two uniforms.
        z = jax.random.normal(k_u, (batch, model.dim + 2), dtype=jnp.float64)
        noise, u = z[:, :-2], ndtr(z[:, -2:])
        labels = _categorical(u[:, 0], log_m)
        # Level 0 (plain M) with probability 1/2, each noisier level with 1/(2J).
        level = jnp.where(u[:, 1] < 0.5, 0,
                          1 + jnp.minimum((2.0 * j * (u[:, 1] - 0.5)).astype(int), j - 1))
        valid = b * batch + jnp.arange(batch) < samples

        def at(t):
            log_w, log_f = _divergence_sample(model, t, log_a, log_b, spread, labels, level,
                                              k_y, noise)
            log_w = jnp.where(valid, log_w, -jnp.inf)[:, None]
            # Every sum the self-normalised estimates need, in one reduction.
            terms = jnp.concatenate([log_w, 2.0 * log_w, log_w + log_f, 2.0 * log_w + log_f,
                                     2.0 * (log_w + log_f)], axis=1)
            return _lse(terms, axis=0)

        return jax.vmap(at)(ts)

    batches = (jnp.arange(n_batches), (keys[:n_batches, 0], keys[:n_batches, 1]))
    sums = _lse(jax.lax.map(one_batch, batches), axis=0)  # (C, 11)
    return _snis(sums[:, :1], sums[:, 1:2], (sums[:, 2:5], sums[:, 5:8], sums[:, 8:11]))


def _divergences(key, model, ts, log_a, log_b, config):
    ts, config = _prepare(model, ts, config)
    k = model.n_components
    log_a, log_b = _check_row("log_a", log_a, k), _check_row("log_b", log_b, k)
    # The proposal evaluates the component densities once per level and once at t.
    n_batches, batch = _batches(config.samples, _cost(model) * (len(LADDER) + 2))
    fn = functools.partial(_divergence_chunk, key, model, log_a=log_a, log_b=log_b,
                           n_batches=n_batches, batch=batch, samples=config.samples)
    return ts, _over_times(fn, ts)


def mc_tv(key, model, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
    """``TV(p_t^A, p_t^B)`` and ``log(1 - TV)`` by (defensive) importance sampling.

    ``TV = E_M[|p - q| / (p + q)] = E_M[|tanh((log p - log q) / 2)|]`` and
    ``1 - TV = E_M[2 min(p, q) / (p + q)]`` with ``M = (P + Q) / 2`` (theory.md §1.1); both
    are estimated from the same draws of the proposal of the module docstring, the overlap
    as a log-sum-exp so that it is right when ``TV`` is within rounding of 1.

    Args:
        key: a ``jax.random`` key, used for every time (common random numbers).
        model: a :class:`~localize.continuous.ContinuousModel` (a pytree).
        ts: ``(n,)`` strictly increasing times.
        log_a: ``(K,)`` normalised log mixing weights of ``A`` (``-inf`` outside it).
        log_b: ``(K,)`` the same for ``B``.
        config: the :class:`~localize.continuous.EstimateConfig` (``samples`` per time).

    Returns:
        An :class:`Estimate` with ``value``, ``se``, ``log_overlap`` and ``log_overlap_se``
        of shape ``(n,)``; ``bias`` and ``error`` are zero.

    Raises:
        LocalizeError: on bad input, or if the estimate would be NaN.
    """
    ts, (log_mu, rel) = _divergences(key, model, ts, log_a, log_b, config)
    tv = np.clip(np.exp(log_mu[:, 0]), 0.0, 1.0)
    se_tv = tv * np.sqrt(rel[:, 0])
    log_ov = np.minimum(log_mu[:, 1], 0.0)
    se_ov = np.sqrt(rel[:, 1])
    _no_nan("mc_tv", tv, se_tv, log_ov, se_ov)
    zeros = np.zeros_like(tv)
    return Estimate(tv, se_tv, MC, zeros, zeros, log_ov, se_ov)


def mc_bc(key, model, ts, log_a, log_b, config: EstimateConfig) -> Estimate:
    """``BC(p_t^A, p_t^B) = E_M[2 sqrt(pq) / (p + q)]`` (Lemma 7's coefficient).

    Same draws and arguments as :func:`mc_tv` (the BC is tiny exactly when the overlap is,
    so it benefits from the same proposal).

    Returns:
        An :class:`Estimate` of shape ``(n,)``.
    """
    ts, (log_mu, rel) = _divergences(key, model, ts, log_a, log_b, config)
    bc = np.clip(np.exp(log_mu[:, 2]), 0.0, 1.0)
    se = bc * np.sqrt(rel[:, 2])
    _no_nan("mc_bc", bc, se)
    zeros = np.zeros_like(bc)
    return Estimate(bc, se, MC, zeros, zeros)


# ------------------------------------------------------------- label posterior means


@functools.partial(jax.jit, static_argnames=("n_batches", "batch", "samples"))
def _label_chunk(key, model, ts, log_a, sets, *, n_batches, batch, samples):
    log_w = model.log_weights

    keys = _batch_keys(key, n_batches, 2)

    def one_batch(args):
        b, (k_lab, k_y) = args
        labels = _categorical(jax.random.uniform(k_lab, (batch,), dtype=jnp.float64), log_a)
        valid = b * batch + jnp.arange(batch) < samples

        def at(t):
            y = _draw_noised(model, k_y, t, labels)
            logits = log_w[None] + model.log_noised(t, y)
            post = jnp.exp(logits - _lse(logits, axis=1)[:, None])
            # pi_t(S | y) for each set: sums of non-negative terms, no cancellation.
            return _moments(post @ sets.T, valid)

        return jax.vmap(at)(ts)

    batches = (jnp.arange(n_batches), (keys[:n_batches, 0], keys[:n_batches, 1]))
    count, mean, m2 = jax.lax.map(one_batch, batches)
    return jax.vmap(_combine, in_axes=(1, 1, 1))(count, mean, m2)


def _set_means(key, model, ts, log_a, sets, config):
    """``E_{Y ~ p_t^A}[pi_t(S | Y)]`` and its se for each row ``S`` of ``sets``.

    ``sets`` is padded with empty rows to ``(K, K)``, so the label law and every label mass
    of a model share one compilation.
    """
    ts, config = _prepare(model, ts, config)
    k = model.n_components
    log_a = _check_row("log_a", log_a, k)
    padded = np.zeros((k, k))
    padded[: sets.shape[0]] = sets
    n_batches, batch = _batches(config.samples, _cost(model) + k)
    fn = functools.partial(_label_chunk, key, model, log_a=log_a, sets=jnp.asarray(padded),
                           n_batches=n_batches, batch=batch, samples=config.samples)
    mean, se = _over_times(fn, ts)
    return mean[:, : sets.shape[0]], se[:, : sets.shape[0]]


def mc_label_law(key, model, ts, log_init, config: EstimateConfig) -> Estimate:
    """``P(label(X^{A,t}) = theta) = E_{Y ~ p_t^A}[pi_t(theta | Y)]`` for every ``theta``.

    The label law of the forward-reverse output (theory.md §1.4), with the exact posterior
    ``pi_t(. | y) = softmax(log w + log p_t^theta(y))``.

    Args:
        key: a ``jax.random`` key (the same draws at every time).
        model: a :class:`~localize.continuous.ContinuousModel` (a pytree).
        ts: ``(n,)`` strictly increasing times.
        log_init: ``(K,)`` normalised log mixing weights of ``A``.
        config: the :class:`~localize.continuous.EstimateConfig`.

    Returns:
        An :class:`Estimate` with ``value`` and ``se`` of shape ``(n, K)``.

    Raises:
        LocalizeError: on bad input, or if the estimate would be NaN.
    """
    k = model.n_components
    mean, se = _set_means(key, model, ts, log_init, np.eye(k), config)
    _no_nan("mc_label_law", mean, se)
    zeros = np.zeros_like(mean)
    return Estimate(mean, se, MC, zeros, zeros)


def mc_label_mass(key, model, ts, log_a, mask_b, config: EstimateConfig) -> Estimate:
    """``E_{Y ~ p_t^A}[pi_t(B | Y)]``: the chance the resample's label falls in ``B``.

    With ``A = S_init`` and ``B = S_target`` this is the report's ``label_mass_target``; with
    ``A = S_target`` and ``B`` its complement, the sharp form (A) of Theorem 2.

    Args:
        key: a ``jax.random`` key (the same draws at every time).
        model: a :class:`~localize.continuous.ContinuousModel` (a pytree).
        ts: ``(n,)`` strictly increasing times.
        log_a: ``(K,)`` normalised log mixing weights of ``A``.
        mask_b: ``(K,)`` boolean mask of ``B``.
        config: the :class:`~localize.continuous.EstimateConfig`.

    Returns:
        An :class:`Estimate` of shape ``(n,)``.

    Raises:
        LocalizeError: on bad input, or if the estimate would be NaN.
    """
    mask_b = np.asarray(_check_mask("mask_b", mask_b, model.n_components))
    mean, se = _set_means(key, model, ts, log_a, mask_b[None].astype(np.float64), config)
    mean, se = np.clip(mean[:, 0], 0.0, 1.0), se[:, 0]
    _no_nan("mc_label_mass", mean, se)
    zeros = np.zeros_like(mean)
    return Estimate(mean, se, MC, zeros, zeros)


# --------------------------------------------------------------- forward-reverse TV


@functools.partial(jax.jit, static_argnames=("n_batches", "batch", "samples", "inner"))
def _fr_chunk(key, model, ts, log_init, log_cmp, *, n_batches, batch, samples, inner):
    log_w = model.log_weights

    keys = _batch_keys(key, n_batches, 3)

    def one_batch(args):
        b, (k_lab, k_x, k_y) = args
        labels = _categorical(jax.random.uniform(k_lab, (batch,), dtype=jnp.float64), log_w)
        x = model.sample_clean(k_x, labels)
        lc = model.log_clean(x)
        # h(x) = p^B(x) / p(x), exact.
        h = jnp.exp(_log_mix(log_cmp, lc) - _log_mix(log_w, lc))
        x_rep = jnp.repeat(x, inner, axis=0)
        valid = b * batch + jnp.arange(batch) < samples

        def at(t):
            y = model.sample_forward(k_y, t, x_rep)
            ln = model.log_noised(t, y)
            # p_t^A(y) / p_t(y) <= 1 / w(A): bounded, so its inner mean is well behaved.
            ratio = jnp.exp(_log_mix(log_init, ln) - _log_mix(log_w, ln)).reshape(batch, inner)
            g_hat = jnp.mean(ratio, axis=1)
            var_inner = jnp.var(ratio, axis=1, ddof=1)
            f = jnp.stack([0.5 * jnp.abs(g_hat - h), var_inner], axis=1)
            return _moments(f, valid)

        return jax.vmap(at)(ts)

    batches = (jnp.arange(n_batches),
               (keys[:n_batches, 0], keys[:n_batches, 1], keys[:n_batches, 2]))
    count, mean, m2 = jax.lax.map(one_batch, batches)
    return jax.vmap(_combine, in_axes=(1, 1, 1))(count, mean, m2)


def mc_fr_tv(key, model, ts, log_init, log_cmp, config: EstimateConfig) -> Estimate:
    """``TV(p^{A,t}, p^B)``: the forward-reverse law of Definition 3 against a clean ``p^B``.

    By theory.md §1.4, ``p^{A,t}(x) = p(x) g(x)`` with
    ``g(x) = E_{Y ~ K_t(. | x)}[p_t^A(Y) / p_t(Y)]``, and ``p^B(x) = p(x) h(x)`` with
    ``h = p^B / p`` exact from the clean log-densities, so
    ``TV = 1/2 E_{X ~ p} |g(X) - h(X)|``. The outer expectation uses ``config.samples``
    draws of ``X ~ p``; ``g(x)`` is replaced by the mean ``g^`` of ``M = config.inner_samples``
    ratios at ``Y ~ K_t(. | x)`` (the model's :meth:`sample_forward`).

    **Bias.** ``g^`` is unbiased for ``g``, but ``|.|`` is convex, so
    ``|g - h| <= E|g^ - h| <= |g - h| + E|g^ - g| <= |g - h| + sqrt(sigma^2(x) / M)``
    (Jensen twice), with ``sigma^2(x)`` the variance of one inner ratio. The estimate is
    therefore biased *upward* (conservative for an upper bound such as Theorem 2) by at most
    ``1/2 E_X sqrt(sigma^2(X) / M) <= 1/2 sqrt(E_X sigma^2(X) / M)``; the field ``bias``
    reports the right side, with ``E_X sigma^2(X)`` estimated by the mean of the unbiased
    inner sample variances (a consistent estimate of this upper bound). The truth lies in
    ``[value - bias, value]`` up to the standard error ``se`` (from the outer samples).

    Args:
        key: a ``jax.random`` key (the same draws at every time).
        model: a :class:`~localize.continuous.ContinuousModel` (a pytree).
        ts: ``(n,)`` strictly increasing times.
        log_init: ``(K,)`` normalised log mixing weights of ``A``.
        log_cmp: ``(K,)`` normalised log mixing weights of ``B``.
        config: the :class:`~localize.continuous.EstimateConfig`.

    Returns:
        An :class:`Estimate` of shape ``(n,)`` with ``bias`` as above.

    Raises:
        LocalizeError: on bad input, or if the estimate would be NaN.
    """
    ts, config = _prepare(model, ts, config)
    k = model.n_components
    log_init = _check_row("log_init", log_init, k)
    log_cmp = _check_row("log_cmp", log_cmp, k)
    m = config.inner_samples
    n_batches, batch = _batches(config.samples, _cost(model) * m)
    fn = functools.partial(_fr_chunk, key, model, log_init=log_init, log_cmp=log_cmp,
                           n_batches=n_batches, batch=batch, samples=config.samples, inner=m)
    mean, se = _over_times(fn, ts)
    value, se_value = np.clip(mean[:, 0], 0.0, 1.0), se[:, 0]
    bias = 0.5 * np.sqrt(np.maximum(mean[:, 1], 0.0) / m)
    _no_nan("mc_fr_tv", value, se_value, bias)
    return Estimate(value, se_value, MC, bias, np.zeros_like(value))
