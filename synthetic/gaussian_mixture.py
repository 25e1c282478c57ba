"""Gaussian mixtures on ``R^d`` under a Gaussian channel ([LKC25] §4.1, Examples 1 and 2).

Component ``theta`` is ``N(m_theta, S_theta)`` with one of three covariance structures:

* ``shared``: ``S_theta = s^2 I`` for every component (one ``variance``);
* ``isotropic``: ``S_theta = s_theta^2 I`` (``variances``, one per component);
* ``full``: arbitrary symmetric positive definite ``S_theta`` (``covariances``), validated
  by a Cholesky factorisation and then diagonalised once, ``S = Q diag(lambda) Q^T``, so
  that every noised covariance ``S + v I = Q diag(lambda + v) Q^T`` is handled without an
  inverse.

Under the channel the normalised observation is ``Y~_t = X + sqrt(v(t)) Z``
(:mod:`localize.channels`), so component ``theta`` becomes ``N(m_theta, S_theta + v(t) I)``.

**Span reduction.** With a shared isotropic covariance, write ``x = m_bar + U c + z`` with
``U`` an orthonormal basis of the span of ``m_theta - m_bar`` (dimension ``r <= K - 1``) and
``z`` orthogonal to it. Under every component and every time, ``z`` has the same law and is
independent of ``c``; it cancels from every likelihood ratio. Every posterior, TV, BC and
forward-reverse law of the model is therefore the one of the ``r``-dimensional mixture of
``N(c_theta, s^2 I_r)``: :meth:`GaussianMixture.reduced` returns it, and the curve hooks
compute there, so a model in ``d = 10^6`` costs one projection more than one in ``d = 10``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import log_softmax

from localize.channels import GaussianChannel, make_channel
from localize.continuous import ContinuousModel, Estimate
from localize.errors import bad
from localize.model import check_weights
from synthetic.registry import Family, register

COV_KINDS = ("shared", "isotropic", "full")
# Below this dimension, squared distances are taken from differences (no cancellation);
# above it, from ||y||^2 - 2 y.m + ||m||^2 through one matrix product.
DIRECT_DISTANCE_DIM = 32
# Relative singular value below which a direction of the mean span counts as absent.
RANK_TOL = 1e-12


@dataclasses.dataclass(frozen=True)
class GaussianMixture(ContinuousModel):
    """A mixture of Gaussians observed through a Gaussian channel.

    Attributes:
        means: ``(K, d)`` component means.
        log_w: ``(K,)`` log weights.
        variances: ``(K,)`` isotropic variances (``shared``/``isotropic``); for ``full`` the
            smallest eigenvalue of each covariance (informational).
        evals: ``(K, d)`` eigenvalues of each covariance (``full`` only, else ``(K, 0)``).
        evecs: ``(K, d, d)`` eigenvectors (``full`` only, else ``(K, 0, 0)``).
        proc: the channel.
        cov_kind: ``"shared"``, ``"isotropic"`` or ``"full"``.
        ambient_dim: the dimension of the model this one was reduced from (or its own).
    """

    means: jax.Array
    log_w: jax.Array
    variances: jax.Array
    evals: jax.Array
    evecs: jax.Array
    proc: GaussianChannel
    cov_kind: str = "shared"
    ambient_dim: int = 0

    family = "gaussian_mixture"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    # -- primitives ---------------------------------------------------------------------

    def _sq_dist(self, y):
        """``(n, K)`` squared distances ``||y_i - m_k||^2``."""
        if self.dim <= DIRECT_DISTANCE_DIM:
            return jnp.sum((y[:, None, :] - self.means[None]) ** 2, axis=-1)
        # Centre first: the expansion cancels catastrophically when y and the means sit far
        # from the origin compared with their spread.
        centre = jnp.mean(self.means, axis=0)
        yc, mc = y - centre[None], self.means - centre[None]
        yy = jnp.sum(yc * yc, axis=1)[:, None]
        mm = jnp.sum(mc * mc, axis=1)[None]
        return jnp.maximum(yy - 2.0 * yc @ mc.T + mm, 0.0)

    def _log_density(self, y, v):
        """``(n, K)`` log-densities of ``N(m_k, S_k + v I)`` at ``y``."""
        d = self.dim
        if self.cov_kind == "full":
            diff = y[:, None, :] - self.means[None]  # (n, K, d)
            proj = jnp.einsum("nkd,kde->nke", diff, self.evecs)
            lam = self.evals + v  # (K, d)
            maha = jnp.sum(proj**2 / lam[None], axis=-1)
            logdet = jnp.sum(jnp.log(lam), axis=-1)[None]
            return -0.5 * (maha + logdet + d * math.log(2.0 * math.pi))
        var = self.variances + v  # (K,)
        return -0.5 * (self._sq_dist(y) / var[None] + d * jnp.log(2.0 * math.pi * var)[None])

    def log_clean(self, x):
        return self._log_density(jnp.asarray(x, dtype=jnp.float64), 0.0)

    def log_noised(self, t, y):
        return self._log_density(jnp.asarray(y, dtype=jnp.float64), self.proc.ve_var(t))

    def _sample_component(self, key, labels, extra_var):
        """Draws from ``N(m_label, S_label + extra_var I)``."""
        n, d = labels.shape[0], self.dim
        z = jax.random.normal(key, (n, d), dtype=jnp.float64)
        if self.cov_kind == "full":
            scale = jnp.sqrt(self.evals[labels] + extra_var)  # (n, d)
            return self.means[labels] + jnp.einsum("nde,ne->nd", self.evecs[labels], scale * z)
        return self.means[labels] + jnp.sqrt(self.variances[labels] + extra_var)[:, None] * z

    def sample_clean(self, key, labels):
        return self._sample_component(key, jnp.asarray(labels), 0.0)

    def sample_noised(self, key, t, labels):
        """``(n, d)`` draws of ``Y~_t`` from the components ``labels`` in one Gaussian step."""
        return self._sample_component(key, jnp.asarray(labels), self.proc.ve_var(t))

    def sample_forward(self, key, t, x):
        x = jnp.asarray(x, dtype=jnp.float64)
        v = self.proc.ve_var(t)
        return x + jnp.sqrt(v) * jax.random.normal(key, x.shape, dtype=jnp.float64)

    def log_posterior_weights(self, t, y):
        """``(n, K)`` the label posterior ``log pi_t(theta | y)`` (a log-softmax)."""
        return log_softmax(self.log_w[None] + self.log_noised(t, y), axis=1)

    def sample_posterior(self, key, t, y):
        """Exact draws of ``X | Y~_t = y``: a Gaussian mixture (conjugacy, component-wise).

        Given ``theta``, ``X | y ~ N(m + S (S + vI)^{-1} (y - m), S - S (S + vI)^{-1} S)``;
        the label is drawn from ``pi_t(theta | y)`` first.
        """
        y = jnp.asarray(y, dtype=jnp.float64)
        k_lab, k_z = jax.random.split(key)
        v = self.proc.ve_var(t)
        labels = jax.random.categorical(k_lab, self.log_posterior_weights(t, y), axis=1)
        m = self.means[labels]
        z = jax.random.normal(k_z, y.shape, dtype=jnp.float64)
        if self.cov_kind == "full":
            q = self.evecs[labels]  # (n, d, d)
            lam = self.evals[labels]  # (n, d)
            coef = jnp.einsum("nde,nd->ne", q, y - m)  # coordinates in the eigenbasis
            shrink = lam / (lam + v)
            post_sd = jnp.sqrt(lam * v / (lam + v))
            return m + jnp.einsum("nde,ne->nd", q, shrink * coef + post_sd * z)
        s2 = self.variances[labels][:, None]
        return m + s2 / (s2 + v) * (y - m) + jnp.sqrt(s2 * v / (s2 + v)) * z

    # -- structure ----------------------------------------------------------------------

    @property
    def reducible(self) -> bool:
        """Whether the span reduction applies (shared isotropic covariance)."""
        return self.cov_kind == "shared"

    def reduced(self) -> GaussianMixture:
        """The equivalent mixture on the affine span of the means (module docstring).

        Returns ``self`` when the reduction does not apply or would not lower the dimension.
        """
        if not self.reducible:
            return self
        # Every curve hook asks for the reduction; in d = 10^6 its SVD and the copy of the
        # means to the host cost about a second, so it is made once per model object (the
        # cache is not a dataclass field: it is neither compared nor traced).
        cached = self.__dict__.get("_reduced")
        if cached is not None:
            return cached
        means = np.asarray(self.means)
        coords = span_coordinates(means)
        red = self
        if coords.shape[1] < self.dim:
            red = dataclasses.replace(self, means=jnp.asarray(coords),
                                      ambient_dim=self.ambient_dim or self.dim)
        object.__setattr__(self, "_reduced", red)
        return red

    def describe(self) -> dict:
        out = {**super().describe(), "dim": int(self.ambient_dim or self.dim),
               "components": self.n_components, "covariance": self.cov_kind}
        if self.cov_kind != "full":
            out["variances"] = np.asarray(self.variances).tolist()
        return out

    # -- curve hooks: exact where the structure allows, else Monte Carlo ----------------

    def _exact_path(self):
        """The reduced model and whether quadrature applies to it."""
        red = self.reduced()
        return red, red.reducible and red.dim <= 2

    def tv_curve(self, key, ts, log_a, log_b, config) -> Estimate:
        from synthetic import gaussian_exact as gx

        pair = gx.single_pair(self, log_a, log_b)
        if pair is not None:
            return gx.closed_form_tv(self, ts, *pair)
        red, quad = self._exact_path()
        if quad:
            return gx.quadrature_tv(red, ts, log_a, log_b)
        return ContinuousModel.tv_curve(red, key, ts, log_a, log_b, config)

    def bc_curve(self, key, ts, log_a, log_b, config) -> Estimate:
        from synthetic import gaussian_exact as gx

        pair = gx.single_pair(self, log_a, log_b, equal_cov=False)
        if pair is not None:
            return gx.closed_form_bc(self, ts, *pair)
        red, quad = self._exact_path()
        if quad:
            return gx.quadrature_bc(red, ts, log_a, log_b)
        return ContinuousModel.bc_curve(red, key, ts, log_a, log_b, config)

    def label_mass_curve(self, key, ts, log_a, mask_b, config) -> Estimate:
        from synthetic import gaussian_exact as gx

        red, quad = self._exact_path()
        if quad:
            return gx.quadrature_label_mass(red, ts, log_a, mask_b)
        return ContinuousModel.label_mass_curve(red, key, ts, log_a, mask_b, config)

    def fr_tv_curve(self, key, ts, log_init, log_cmp, config) -> Estimate:
        from synthetic import gaussian_exact as gx

        red, quad = self._exact_path()
        if quad:
            return gx.quadrature_fr_tv(red, ts, log_init, log_cmp)
        return ContinuousModel.fr_tv_curve(red, key, ts, log_init, log_cmp, config)

    def fr_label_law(self, key, ts, log_init, config) -> Estimate:
        from synthetic import gaussian_exact as gx

        red, quad = self._exact_path()
        if quad:
            return gx.quadrature_label_law(red, ts, log_init)
        return ContinuousModel.fr_label_law(red, key, ts, log_init, config)


jax.tree_util.register_dataclass(
    GaussianMixture,
    # ambient_dim is only reported, never computed with: as data, models reduced from
    # different dimensions share every compilation.
    data_fields=["means", "log_w", "variances", "evals", "evecs", "ambient_dim"],
    meta_fields=["proc", "cov_kind"],
)


def span_coordinates(means) -> np.ndarray:
    """Coordinates ``(K, r)`` of the means in an orthonormal basis of their affine span.

    ``r`` is the numerical rank of the centred means (at least 1). Distances between the
    means are preserved exactly up to rounding, which is all the span reduction needs.

    Args:
        means: ``(K, d)`` means.

    Returns:
        ``(K, r)`` float64 coordinates, centred at the weighted-free mean of the means.
    """
    m = np.asarray(means, dtype=np.float64)
    centred = m - m.mean(axis=0, keepdims=True)
    if not np.any(centred):
        return np.zeros((m.shape[0], 1))
    # The SVD of the small (K, d) matrix: U S gives coordinates in the right singular basis.
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    r = max(1, int(np.sum(s > RANK_TOL * s[0])))
    return u[:, :r] * s[:r]


def _check_means(means) -> np.ndarray:
    try:
        m = np.asarray(means, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("model.means", "...", "a (K, d) list of lists of numbers of one length d") \
            from None
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise bad("model.means", f"array of shape {m.shape}",
                  "a (K, d) list of K means, each a list of d numbers (all of one length d)")
    if not np.all(np.isfinite(m)):
        raise bad("model.means", "...", "finite numbers (no NaN or inf)")
    return m


def _positive(name, value, shape):
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(name, value, "positive numbers") from None
    if a.shape != shape:
        raise bad(name, value, f"{'a number' if shape == () else f'{shape[0]} numbers'}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise bad(name, value, "positive finite numbers")
    return a


def _check_covariances(covariances, k, d):
    try:
        c = np.asarray(covariances, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("model.covariances", "...", f"{k} matrices of shape ({d}, {d})") from None
    if c.shape != (k, d, d):
        raise bad("model.covariances", f"array of shape {c.shape}",
                  f"{k} matrices of shape ({d}, {d}), one per mean")
    if not np.all(np.isfinite(c)):
        raise bad("model.covariances", "...", "finite numbers (no NaN or inf)")
    for i in range(k):
        sym_err = np.max(np.abs(c[i] - c[i].T))
        if sym_err > 1e-12 * max(1.0, np.max(np.abs(c[i]))):
            raise bad(f"model.covariances[{i}]", f"a matrix with asymmetry {sym_err:.3g}",
                      "a symmetric matrix")
        try:
            np.linalg.cholesky(c[i])
        except np.linalg.LinAlgError:
            raise bad(f"model.covariances[{i}]", "a matrix that is not positive definite",
                      "a symmetric positive definite matrix (its Cholesky factorisation "
                      "failed)") from None
    sym = 0.5 * (c + np.swapaxes(c, 1, 2))
    evals, evecs = np.linalg.eigh(sym)
    if np.any(evals <= 0):
        i = int(np.argmin(evals.min(axis=1)))
        raise bad(f"model.covariances[{i}]", f"smallest eigenvalue {evals[i].min():.3g}",
                  "a positive definite matrix")
    return evals, evecs


def gaussian_mixture(means, weights=None, variance=None, variances=None, covariances=None,
                     process="ou") -> GaussianMixture:
    """Build a Gaussian mixture from explicit means and one covariance structure.

    Exactly one of ``variance`` (shared ``s^2 I``), ``variances`` (one ``s_theta^2`` per
    component) or ``covariances`` (full SPD matrices) may be given; none means ``variance=1``.

    Args:
        means: ``(K, d)`` means.
        weights: ``K`` weights summing to 1 (default uniform).
        variance: the shared isotropic variance, positive.
        variances: ``K`` positive isotropic variances.
        covariances: ``(K, d, d)`` symmetric positive definite covariances.
        process: ``"ou"``, ``"ve"``, ``"channel"`` or a :class:`GaussianChannel`.

    Returns:
        A :class:`GaussianMixture`.

    Raises:
        LocalizeError: naming the parameter, for mismatched shapes, non-positive scales,
            asymmetric or indefinite covariances, NaN, or more than one covariance structure.
    """
    m = _check_means(means)
    k, d = m.shape
    w = np.full(k, 1.0 / k) if weights is None else check_weights(weights, "model.weights")
    if w.size != k:
        raise bad("model.weights", list(w), f"{k} weights, one per mean")
    given = [n for n, v in (("variance", variance), ("variances", variances),
                            ("covariances", covariances)) if v is not None]
    if len(given) > 1:
        raise bad(f"model.{given[1]}", "...",
                  f"only one of variance, variances, covariances (got {', '.join(given)})")
    proc = process if isinstance(process, GaussianChannel) else make_channel(process)
    evals, evecs = np.zeros((k, 0)), np.zeros((k, 0, 0))
    if covariances is not None:
        evals, evecs = _check_covariances(covariances, k, d)
        var, kind = evals.min(axis=1), "full"
    elif variances is not None:
        var, kind = _positive("model.variances", variances, (k,)), "isotropic"
        if np.all(var == var[0]):
            kind = "shared"
    else:
        s2 = _positive("model.variance", 1.0 if variance is None else variance, ())
        var, kind = np.full(k, float(s2)), "shared"
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    return GaussianMixture(jnp.asarray(m), jnp.asarray(log_w), jnp.asarray(var),
                           jnp.asarray(evals), jnp.asarray(evecs), proc, kind, d)


def _is_real(v) -> bool:
    return not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer,
                                                                   np.floating))


def _positive_int(name, v, lo=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise bad(name, v, f"an integer >= {lo}")
    return int(v)


def two_symmetric_means(norm: float, dim: int) -> np.ndarray:
    """Example 1's means ``+mu`` and ``-mu`` with ``||mu|| = norm``, spread over every axis.

    ``mu = norm / sqrt(d) * (1, ..., 1)``, so the full ``d``-dimensional computation really
    touches every coordinate (the span reduction must find the one direction).
    """
    dim = _positive_int("model.dim", dim)
    if not _is_real(norm) or not math.isfinite(norm) or norm <= 0:
        raise bad("model.norm", norm, "a positive finite number")
    mu = np.full(dim, float(norm) / math.sqrt(dim))
    return np.stack([mu, -mu])


def random_means(key, components: int, dim: int) -> np.ndarray:
    """Example 2's means ``mu_i ~ N(0, I_d)``, i.i.d. from ``key``."""
    components = _positive_int("model.components", components)
    dim = _positive_int("model.dim", dim)
    return np.asarray(jax.random.normal(key, (components, dim), dtype=jnp.float64))


def hierarchy_means(key, dim: int, branching=(2, 2, 2), scales=(100.0, 10.0, 1.0)):
    """Means on the leaves of a tree whose levels are separated at different scales.

    Level ``l`` (1 = children of the root) gives each node an offset of norm ``scales[l-1]``
    in an independent uniformly random direction; a leaf's mean is the sum of the offsets on
    its path. With decreasing scales the leaves under one node are much closer to each other
    than to any other leaf, which is the setting of Definition 8 and Corollary 1 ([LKC25] §5):
    each level has its own window, around ``log scales[l-1]`` under OU.

    Args:
        key: a ``jax.random`` key.
        dim: the dimension ``d``.
        branching: the number of children per node at each level.
        scales: the offset norm at each level (same length as ``branching``).

    Returns:
        ``(prod(branching), d)`` means, leaves in lexicographic order of their paths.
    """
    dim = _positive_int("model.dim", dim)
    if isinstance(branching, (str, bytes)) or not hasattr(branching, "__len__") \
            or len(branching) == 0:
        raise bad("model.branching", branching, "a non-empty list of integers >= 2")
    branching = [_positive_int("model.branching", b, 2) for b in branching]
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__len__") \
            or not all(_is_real(s) for s in scales):
        raise bad("model.scales", scales, "a list of positive numbers, one per level")
    scales = [float(s) for s in scales]
    if len(scales) != len(branching):
        raise bad("model.scales", scales, f"{len(branching)} numbers, one per level")
    if not all(math.isfinite(s) and s > 0 for s in scales):
        raise bad("model.scales", scales, "positive finite numbers")
    means = np.zeros((1, dim))
    keys = jax.random.split(key, len(branching))
    for b, s, k in zip(branching, scales, keys, strict=True):
        g = np.array(jax.random.normal(k, (means.shape[0], b, dim), dtype=jnp.float64))
        g *= s / np.linalg.norm(g, axis=-1, keepdims=True)
        means = (means[:, None, :] + g).reshape(-1, dim)
    return means


MEANS_FROM = ("two_symmetric", "random", "hierarchy")


def _build(process="ou", order=None, means=None, means_from=None, weights=None,
           variance=None, variances=None, covariances=None, norm=None, dim=None,
           components=None, seed=None, branching=None, scales=None):
    if order is not None:
        raise bad("process.order", order, "no order (Gaussian channels have none)")
    if (means is None) == (means_from is None):
        raise bad("model.means", means, "either explicit means or means_from (not both)")
    if means_from is not None:
        if means_from not in MEANS_FROM:
            raise bad("model.means_from", means_from, f"one of {list(MEANS_FROM)}")
        needs = {"two_symmetric": ("norm", "dim"), "random": ("components", "dim", "seed"),
                 "hierarchy": ("dim", "seed")}[means_from]
        local = {"norm": norm, "dim": dim, "components": components, "seed": seed}
        for name in needs:
            if local[name] is None:
                raise bad(f"model.{name}", None, f"a value (required by means_from = "
                          f"{means_from!r})")
        if means_from == "two_symmetric":
            means = two_symmetric_means(norm, dim)
        else:
            seed = _positive_int("model.seed", seed, 0)
            key = jax.random.key(seed)
            if means_from == "random":
                means = random_means(key, components, dim)
            else:
                means = hierarchy_means(key, dim, branching or (2, 2, 2),
                                        scales or (100.0, 10.0, 1.0))
    return gaussian_mixture(means, weights, variance, variances, covariances, process)


register(Family(
    name="gaussian_mixture",
    builder=_build,
    params={
        "means": "(K, d) explicit means, or instead:",
        "means_from": '"two_symmetric" (Example 1: norm, dim), "random" (Example 2: '
                      'components, dim, seed), "hierarchy" (Definition 8: dim, seed, '
                      'branching, scales)',
        "weights": "K weights summing to 1 (default uniform)",
        "variance": "shared isotropic variance s^2 > 0 (default 1)",
        "variances": "K isotropic variances, one per component",
        "covariances": "K symmetric positive definite (d, d) matrices",
        "norm": "||mu|| for two_symmetric",
        "dim": "dimension d for a generator",
        "components": "K for random means",
        "seed": "seed of the random or hierarchy means",
        "branching": "children per node at each level (hierarchy; default [2, 2, 2])",
        "scales": "offset norm at each level (hierarchy; default [100, 10, 1])",
    },
    processes=("ou", "ve", "channel"),
    summary="Gaussian mixtures under OU / VE / stochastic-localization channels "
            "(Examples 1, 2); exact by span reduction and quadrature, else Monte Carlo",
    required=(),
))
