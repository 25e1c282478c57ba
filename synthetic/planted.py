"""Planted sparse regression and its null ([LKC25] Theorem 5, after Reeves, Xu, Zadik (2019)).

The signal ``theta`` is uniform over the ``k``-sparse vectors of ``{0,1}^s``. One observation is
``z = (x, y)`` with ``x ~ N(0, I_s)`` and ``y = <theta, x> + xi``, ``xi ~ N(0, sigma2)``; the
null draws ``y ~ N(0, k + sigma2)`` independently of ``x`` (same marginals). Reeves, Xu and
Zadik (2019) show an all-or-nothing transition at

    ``N* = 2 k log(s / k) / log(1 + k / sigma2)``   (:func:`n_star`)

when ``sigma2 << k <= s^0.499``: below ``N*`` no test tells planted from null, above it one
tells them apart with probability going to 1. [LKC25] Theorem 6 turns this into a critical
window for the in-context-learning mixture of Definition 7 (built later on top of this
module).

**Exact likelihood ratio.** ``x`` has the same law under both models, so
``LR = mean_S N(y; X 1_S, sigma2 I) / N(y; 0, (k + sigma2) I)`` over the ``C(s, k)``
supports ``S``. With the sufficient statistics ``a = X^T y``, ``G = X^T X`` and ``y^T y``,
``||y - X 1_S||^2 = y^T y + E(S)`` with the *energy*
``E(S) = sum_{i in S} (G_ii - 2 a_i) + 2 sum_{i < j in S} G_ij``, so one support costs
``k (k - 1) / 2`` look-ups of pair terms whatever ``n`` is (:func:`_energy_terms`).
Supports are enumerated in chunks by unranking their index in the combinatorial number
system inside the jitted loop, and the log-sum-exp is carried across chunks; memory is set
by the chunk, never by ``C(s, k)``.

**Estimated (Monte Carlo, with standard errors).** ``TV(planted^(n), null^(n))`` by
``E_{(P + Q)/2} |LR - 1| / (LR + 1) = E_{(P + Q)/2} |tanh(log LR / 2)|``, a bounded integrand,
with half the datasets from each model; and the posterior overlap
``E_planted <theta, theta_hat> / k`` with ``theta_hat`` the exact posterior mean. Both are
reported for every prefix ``n = 0 .. N`` of the same datasets (common random numbers): the
sufficient statistics are accumulated one observation at a time in a ``lax.scan``.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import localize  # noqa: F401  (float64 before any array is made)
from localize.errors import bad

#: Default cap on the number of supports ``C(s, k)`` one likelihood ratio enumerates.
MAX_SUPPORTS = 10**6
#: Ranks are carried in float64, exact below 2^53; a cap far below keeps the unranking exact.
_RANK_LIMIT = 2**50


def _check_int(name: str, value, lo: int, expected: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise bad(name, value, expected)
    if value < lo:
        raise bad(name, value, expected)
    return int(value)


@dataclasses.dataclass(frozen=True)
class PlantedRegression:
    """Planted sparse linear regression against its null ([LKC25] Theorem 5).

    Every field is static (a pytree with no leaves): jitted routines specialise on the sizes,
    which fix the shapes and the number of chunks.

    Attributes:
        s: dimension of ``theta`` and of each ``x``.
        k: sparsity, ``1 <= k <= s``.
        sigma2: noise variance of ``y``, positive.
        N: number of observations per dataset (the detection curve runs ``n = 0 .. N``).
        chunk: supports per step of the enumeration (sets the peak memory).
        max_supports: the largest ``C(s, k)`` accepted; raise it to enumerate more.
    """

    s: int
    k: int
    sigma2: float
    N: int
    chunk: int = 1024
    max_supports: int = MAX_SUPPORTS

    def __post_init__(self):
        s = _check_int("s", self.s, 1, "an integer s >= 1")
        k = _check_int("k", self.k, 1, f"an integer 1 <= k <= s = {s}")
        if k > s:
            raise bad("k", self.k, f"an integer 1 <= k <= s = {s}")
        if isinstance(self.sigma2, bool) or not isinstance(self.sigma2, (int, float, np.floating,
                                                                          np.integer)):
            raise bad("sigma2", self.sigma2, "a finite number > 0")
        sigma2 = float(self.sigma2)
        if not (math.isfinite(sigma2) and sigma2 > 0.0):
            raise bad("sigma2", self.sigma2, "a finite number > 0")
        n = _check_int("N", self.N, 0, "an integer N >= 0")
        chunk = _check_int("chunk", self.chunk, 1, "an integer chunk >= 1")
        limit = _check_int("max_supports", self.max_supports, 1,
                           f"an integer 1 <= max_supports <= {_RANK_LIMIT}")
        if limit > _RANK_LIMIT:
            raise bad("max_supports", self.max_supports,
                      f"an integer 1 <= max_supports <= {_RANK_LIMIT}")
        count = math.comb(s, k)
        if count > limit:
            raise bad("(s, k)", (s, k),
                      f"at most max_supports = {limit} supports, but C({s}, {k}) = {count}; "
                      f"time grows linearly in C(s, k): pass max_supports >= {count} to "
                      "enumerate them anyway")
        # A chunk beyond C(s, k) would only pad every enumeration step with empty supports.
        chunk = min(chunk, count)
        # Normalised values, so equal models hash equal (they are static jit arguments).
        for name, value in (("s", s), ("k", k), ("sigma2", sigma2), ("N", n), ("chunk", chunk),
                            ("max_supports", limit)):
            object.__setattr__(self, name, value)

    @property
    def n_supports(self) -> int:
        """``C(s, k)``, the number of supports the likelihood ratio averages over."""
        return math.comb(self.s, self.k)

    @property
    def n_chunks(self) -> int:
        """Steps of the enumeration: ``ceil(C(s, k) / chunk)``."""
        return -(-self.n_supports // self.chunk)


jax.tree_util.register_dataclass(
    PlantedRegression, data_fields=[],
    meta_fields=["s", "k", "sigma2", "N", "chunk", "max_supports"],
)


def n_star(s: int, k: int, sigma2: float) -> float:
    """The all-or-nothing threshold ``N* = 2 k log(s/k) / log(1 + k/sigma2)``.

    [LKC25] Theorem 5 (Reeves, Xu, Zadik (2019)); [LKC25] Theorem 6 places the critical
    window where the number of visible observations crosses it.

    Args:
        s: dimension, ``s >= k``.
        k: sparsity, ``k >= 1``.
        sigma2: noise variance, positive.

    Returns:
        ``N*`` as a float.
    """
    model = PlantedRegression(s, k, sigma2, 0, max_supports=_RANK_LIMIT)
    # log1p: at high noise k/sigma2 is small and log(1 + k/sigma2) would lose digits.
    return 2.0 * model.k * math.log(model.s / model.k) / math.log1p(model.k / model.sigma2)


# --------------------------------------------------------------------------------------
# enumeration of supports


def _binomial_table(s: int, k: int) -> np.ndarray:
    """``table[c, i] = C(c, i)`` for ``c < s``, ``i <= k``, capped so float64 holds it."""
    cap = float(2 * _RANK_LIMIT)
    return np.array([[min(math.comb(c, i), cap) for i in range(k + 1)] for c in range(s)],
                    dtype=np.float64)


def _unrank(table: jax.Array, ranks: jax.Array, k: int) -> jax.Array:
    """The supports of ``ranks`` (combinatorial number system), as ``(B, k)`` indices.

    Rank ``r`` is ``sum_i C(c_i, i)`` with ``c_k > ... > c_1 >= 0``; the largest ``c`` with
    ``C(c, i) <= r`` is a count because ``C(., i)`` is nondecreasing, so the whole chunk
    unranks with ``k`` comparisons against a column of the table and no data-dependent loop.
    """
    out = []
    r = ranks
    for i in range(k, 0, -1):
        c = jnp.sum(table[None, :, i] <= r[:, None], axis=1) - 1
        r = r - table[c, i]
        out.append(c)
    return jnp.stack(out[::-1], axis=1)


def _enumerate(model: PlantedRegression, terms: jax.Array, theta_rows=None):
    """Log-sum-exp over every support of ``-E(S) / (2 sigma2)``, one chunk at a time.

    Args:
        model: the family (sizes and chunk).
        terms: energy terms of ``M`` datasets from :func:`_energy_terms`.
        theta_rows: optional ``(s, M)`` true signals; then also the log of
            ``sum_S exp(-E(S) / (2 sigma2)) |S cap supp(theta)|``.

    Returns:
        ``(M,)`` log-sum-exp, and the overlap one (``-inf`` where the overlap is 0) or None.
    """
    s, k, chunk, count = model.s, model.k, model.chunk, model.n_supports
    table = jnp.asarray(_binomial_table(s, k))
    m = terms.shape[1]
    scale = -0.5 / model.sigma2
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]

    def step(carry, start):
        ranks = start + jnp.arange(chunk, dtype=jnp.float64)
        valid = ranks < count
        # Padding ranks of the last chunk unrank as rank 0 and are masked out below.
        supports = _unrank(table, jnp.where(valid, ranks, 0.0), k)
        # One 1-d gather of whole rows per pair: XLA fuses these with the sum, where a single
        # gather with a (chunk, pairs) index and a reduction ran about ten times slower.
        if k == 1:
            energy = terms.at[supports[:, 0]].get(mode="promise_in_bounds")
        else:
            energy = sum(terms.at[supports[:, a] * s + supports[:, b]].get(
                mode="promise_in_bounds") for a, b in pairs)
        logits = scale * energy
        logits = jnp.where(valid[:, None], logits, -jnp.inf)
        total = jnp.logaddexp(carry[0], jax.nn.logsumexp(logits, axis=0))
        if theta_rows is None:
            return (total, carry[1]), None
        hits = sum(theta_rows.at[supports[:, a]].get(mode="promise_in_bounds")
                   for a in range(k))
        # log(0) = -inf drops the supports that miss the signal entirely.
        with_hits = jax.nn.logsumexp(logits + jnp.log(hits), axis=0)
        return (total, jnp.logaddexp(carry[1], with_hits)), None

    # A scan, not lax.map: it carries one (M,) running log-sum-exp, where lax.map would stack
    # an output per chunk and memory would grow with C(s, k).
    starts = jnp.arange(model.n_chunks, dtype=jnp.float64) * chunk
    init = (jnp.full((m,), -jnp.inf), jnp.full((m,), -jnp.inf))
    (total, overlap), _ = lax.scan(step, init, starts)
    return total, (None if theta_rows is None else overlap)


def _energy_terms(xty: jax.Array, gram: jax.Array, k: int) -> jax.Array:
    """The energy as a sum of look-ups: ``(s^2, M)`` pair terms, or ``(s, M)`` when ``k = 1``.

    Each element of a support lies in ``k - 1`` of its pairs, so splitting the unary term
    ``u_i = G_ii - 2 a_i`` evenly gives ``E(S) = sum_{i < j in S} Q_ij`` with
    ``Q_ij = 2 G_ij + (u_i + u_j) / (k - 1)``: ``k (k - 1) / 2`` look-ups instead of
    ``k (k + 1) / 2``. Rows are terms and columns datasets, so a look-up reads a whole row.
    """
    unary = jnp.diagonal(gram, axis1=-2, axis2=-1) - 2.0 * xty
    if k == 1:
        return unary.T
    pair = 2.0 * gram + (unary[:, :, None] + unary[:, None, :]) / (k - 1)
    return pair.reshape(pair.shape[0], -1).T


def _log_lr_from_stats(model, xty, gram, yty, n, theta=None):
    """``log LR`` (and the log posterior overlap) from sufficient statistics of ``M`` datasets.

    ``log LR = logsumexp_S(-E(S)/(2 sigma2)) - log C(s, k) - y^T y / (2 sigma2)
    + y^T y / (2 (k + sigma2)) + (n/2) log(1 + k / sigma2)``.
    """
    terms = _energy_terms(xty, gram, model.k)
    theta_rows = None if theta is None else theta.T
    lse, lse_hits = _enumerate(model, terms, theta_rows)
    k, sigma2 = model.k, model.sigma2
    log_lr = (lse - math.log(model.n_supports) - 0.5 * yty / sigma2
              + 0.5 * yty / (k + sigma2) + 0.5 * n * math.log1p(k / sigma2))
    if theta is None:
        return log_lr, None
    # Posterior mean overlap: sum_S pi(S | data) |S cap S*| / k.
    return log_lr, jnp.exp(lse_hits - lse) / k


@partial(jax.jit, static_argnums=0)
def _log_lr_batch(model, X, y):
    xty = jnp.einsum("dns,dn->ds", X, y)
    gram = jnp.einsum("dns,dnt->dst", X, X)
    yty = jnp.sum(y * y, axis=1)
    return _log_lr_from_stats(model, xty, gram, yty, X.shape[1])[0]


def log_likelihood_ratio(model: PlantedRegression, X, y) -> jax.Array:
    """Exact ``log d planted^(n) / d null^(n)`` of one or a batch of datasets.

    [LKC25] Theorem 5 (Reeves, Xu, Zadik (2019)): an average over all ``C(s, k)`` supports,
    enumerated in jitted chunks of ``model.chunk`` and combined in log space. ``n`` is read
    from the data and need not equal ``model.N``.

    Args:
        model: the family.
        X: ``(n, s)`` design, or ``(D, n, s)`` for ``D`` datasets.
        y: ``(n,)`` responses, or ``(D, n)``.

    Returns:
        A scalar, or ``(D,)``.

    Raises:
        LocalizeError: shapes that do not match ``model.s`` or each other, or non-finite data.
    """
    X = jnp.asarray(X, dtype=jnp.float64)
    y = jnp.asarray(y, dtype=jnp.float64)
    single = X.ndim == 2
    if X.ndim not in (2, 3) or X.shape[-1] != model.s:
        raise bad("X", X.shape, f"shape (n, {model.s}) or (D, n, {model.s})")
    if y.shape != X.shape[:-1]:
        raise bad("y", y.shape, f"shape {X.shape[:-1]} to match X of shape {X.shape}")
    if not (bool(jnp.all(jnp.isfinite(X))) and bool(jnp.all(jnp.isfinite(y)))):
        raise bad("X, y", "non-finite entries", "finite data")
    if single:
        X, y = X[None], y[None]
    out = _log_lr_batch(model, X, y)
    return out[0] if single else out


# --------------------------------------------------------------------------------------
# sampling


def _check_datasets(n_datasets, lo: int = 1) -> int:
    return _check_int("n_datasets", n_datasets, lo, f"an integer n_datasets >= {lo}")


@partial(jax.jit, static_argnums=(1, 2))
def _sample_planted(key, model, n_datasets):
    k_support, k_x, k_noise = jax.random.split(key, 3)
    # The k smallest of s i.i.d. uniforms index a uniform k-subset.
    order = jnp.argsort(jax.random.uniform(k_support, (n_datasets, model.s)), axis=1)
    theta = jnp.zeros((n_datasets, model.s)).at[
        jnp.arange(n_datasets)[:, None], order[:, :model.k]].set(1.0)
    X = jax.random.normal(k_x, (n_datasets, model.N, model.s))
    noise = jax.random.normal(k_noise, (n_datasets, model.N))
    y = jnp.einsum("dns,ds->dn", X, theta) + math.sqrt(model.sigma2) * noise
    return X, y, theta


@partial(jax.jit, static_argnums=(1, 2))
def _sample_null(key, model, n_datasets):
    k_x, k_y = jax.random.split(key)
    X = jax.random.normal(k_x, (n_datasets, model.N, model.s))
    y = math.sqrt(model.k + model.sigma2) * jax.random.normal(k_y, (n_datasets, model.N))
    return X, y


def sample_planted(key, model: PlantedRegression, n_datasets: int):
    """Datasets of ``N`` observations from the planted model ([LKC25] Theorem 5).

    Args:
        key: a ``jax.random.key``.
        model: the family.
        n_datasets: number of datasets ``D``.

    Returns:
        ``(X, y, theta)`` of shapes ``(D, N, s)``, ``(D, N)`` and ``(D, s)`` (0/1 signals).
    """
    return _sample_planted(key, model, _check_datasets(n_datasets))


def sample_null(key, model: PlantedRegression, n_datasets: int):
    """Datasets of ``N`` observations from the null: ``y ~ N(0, k + sigma2)`` independent of ``x``.

    Args:
        key: a ``jax.random.key``.
        model: the family.
        n_datasets: number of datasets ``D``.

    Returns:
        ``(X, y)`` of shapes ``(D, N, s)`` and ``(D, N)``.
    """
    return _sample_null(key, model, _check_datasets(n_datasets))


# --------------------------------------------------------------------------------------
# curves over n = 0 .. N


def _prefix_scan(model, X, y, theta=None):
    """``log LR`` (and overlap) of every prefix ``n = 0 .. N``: ``(N + 1, D)`` each.

    The statistics of prefix ``n + 1`` are those of prefix ``n`` plus one observation, so a
    scan holds one ``(D, s, s)`` Gram matrix at a time instead of ``N + 1`` of them.
    """
    d, s = X.shape[0], model.s

    def step(stats, obs):
        x_j, y_j, n = obs
        xty, gram, yty = stats
        stats = (xty + x_j * y_j[:, None], gram + x_j[:, :, None] * x_j[:, None, :],
                 yty + y_j * y_j)
        return stats, _log_lr_from_stats(model, *stats, n, theta)

    # A leading zero observation adds nothing to the statistics and makes step 0 the empty
    # prefix, so the enumeration is traced (and compiled) once, inside the scan.
    X = jnp.concatenate([jnp.zeros((d, 1, s)), X], axis=1)
    y = jnp.concatenate([jnp.zeros((d, 1)), y], axis=1)
    obs = (jnp.swapaxes(X, 0, 1), y.T, jnp.arange(model.N + 1, dtype=jnp.float64))
    zero = (jnp.zeros((d, s)), jnp.zeros((d, s, s)), jnp.zeros((d,)))
    return lax.scan(step, zero, obs)[1]


@partial(jax.jit, static_argnums=(1, 2))
def log_lr_paths(key, model, half):
    """``log LR`` of every prefix of ``half`` planted and ``half`` null datasets.

    The one draw every Monte Carlo curve of the planted family reads (the detection curve,
    :mod:`synthetic.planted_icl`, the claims of :mod:`proofs_check.planted`): the same key
    gives the same datasets everywhere.

    Args:
        key: a ``jax.random.key``.
        model: the :class:`PlantedRegression` (static).
        half: datasets drawn from each model (static).

    Returns:
        ``(planted, null)``, each ``(N + 1, half)``: ``log LR`` of the first ``n`` observations.
    """
    k_planted, k_null = jax.random.split(key)
    Xp, yp, _ = _sample_planted(k_planted, model, half)
    Xq, yq = _sample_null(k_null, model, half)
    log_lr, _ = _prefix_scan(model, jnp.concatenate([Xp, Xq]), jnp.concatenate([yp, yq]))
    return log_lr[:, :half], log_lr[:, half:]


@partial(jax.jit, static_argnums=(1, 2))
def _detection_curve(key, model, n_datasets):
    half = n_datasets // 2
    lp, lq = log_lr_paths(key, model, half)
    # |LR - 1| / (LR + 1) = |tanh(log LR / 2)|: bounded, and exact at any log LR.
    hp, hq = jnp.abs(jnp.tanh(0.5 * lp)), jnp.abs(jnp.tanh(0.5 * lq))
    tv = 0.5 * (hp.mean(axis=1) + hq.mean(axis=1))
    se = 0.5 * jnp.sqrt(hp.var(axis=1, ddof=1) / half + hq.var(axis=1, ddof=1) / half)
    return tv, se


def detection_curve(key, model: PlantedRegression, n_datasets: int):
    """``TV(planted^(n), null^(n))`` for ``n = 0 .. N`` by Monte Carlo, exact integrand.

    [LKC25] Theorem 5 and Theorem 6: the curve rises from 0 to 1 around ``n_star``; its half
    is ``TV(p_t^signal, p_t^Theta)`` of Definition 7's mixture. Uses
    ``TV = E_{(P+Q)/2} |tanh(log LR / 2)|`` with the exact likelihood ratio and
    ``n_datasets / 2`` datasets from each model (a stratified mean), each a prefix of the same
    ``N`` observations for every ``n``.

    Args:
        key: a ``jax.random.key``.
        model: the family.
        n_datasets: an even number ``>= 4`` of datasets.

    Returns:
        ``(n, tv, se)``, each ``(N + 1,)``: sample sizes, estimates and standard errors
        (``tv`` and ``se`` are 0, to rounding, at ``n = 0``).
    """
    d = _check_datasets(n_datasets, 4)
    if d % 2:
        raise bad("n_datasets", n_datasets, "an even integer >= 4 (half from each model)")
    tv, se = _detection_curve(key, model, d)
    return np.arange(model.N + 1), np.asarray(tv), np.asarray(se)


@partial(jax.jit, static_argnums=(1, 2))
def _posterior_overlap(key, model, n_datasets):
    X, y, theta = _sample_planted(key, model, n_datasets)
    _, overlap = _prefix_scan(model, X, y, theta)
    return overlap.mean(axis=1), overlap.std(axis=1, ddof=1) / math.sqrt(n_datasets)


def posterior_overlap(key, model: PlantedRegression, n_datasets: int):
    """``E_planted <theta, theta_hat> / k`` for ``n = 0 .. N``, ``theta_hat`` the posterior mean.

    [LKC25] Theorem 5 (Reeves, Xu, Zadik (2019)): in the all-or-nothing regime the overlap
    jumps from about ``k/s`` (the prior's) to about 1 near ``n_star``. The posterior over
    supports is exact (the same enumeration as :func:`log_likelihood_ratio`); the expectation
    over data is Monte Carlo on prefixes of the same datasets.

    Args:
        key: a ``jax.random.key``.
        model: the family.
        n_datasets: datasets from the planted model, ``>= 2``.

    Returns:
        ``(n, overlap, se)``, each ``(N + 1,)``; ``overlap[0] = k / s`` to rounding.
    """
    d = _check_datasets(n_datasets, 2)
    value, se = _posterior_overlap(key, model, d)
    return np.arange(model.N + 1), np.asarray(value), np.asarray(se)
