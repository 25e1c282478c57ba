"""Exact and quadrature curves for Gaussian mixtures ([LKC25] §4.1, Lemma 8, Examples 1-2).

The curve hooks of :class:`synthetic.gaussian_mixture.GaussianMixture` call this module
before they fall back to Monte Carlo. Everything is in the normalised scale of
:mod:`localize.channels`: component ``k`` of the noised mixture at time ``t`` is
``N(m_k, S_k + v(t) I)``.

**Closed forms** (a single component on each side; theory.md §1.1 and §6 item 21):

* equal covariances ``C``: ``TV = 2 Phi(delta / 2) - 1 = erf(delta / (2 sqrt 2))`` with the
  Mahalanobis distance ``delta``, and ``log(1 - TV) = log 2 + log Phi(-delta / 2)``, exact
  far past the underflow of ``1 - TV`` (``delta = 1e3`` gives ``-125000.1``);
* Lemma 8, the Bhattacharyya coefficient of any two Gaussians, from log-determinants
  (eigenvalues or Cholesky factors) and triangular solves, never an explicit inverse;
* ``KL(N_1 || N_2)`` and the squared Hellinger distance ``H^2 = 2 (1 - BC)`` (the paper's
  convention, no factor 1/2).

**Quadrature** for a *reduced* shared-isotropic model (components ``N(c_k, sigma^2 I_r)``,
``sigma^2 = s^2 + v(t)``, ``r = 1`` or ``2``; see ``GaussianMixture.reduced``):

* ``TV`` in one dimension is exact up to rounding. ``p_a - p_b`` is
  ``sum_k delta_k N(c_k, sigma^2)`` with ``delta = a - b``, an exponential sum once the
  common factor ``exp(-y^2 / 2 sigma^2)`` is taken out, so it has at most ``K - 1`` real
  zeros (Laguerre's rule of signs). Every zero lies within ``log(K) sigma^2 / |c_i - c_j|``
  of the weighted midpoint of some pair ``i`` (``delta > 0``), ``j`` (``delta < 0``): at a
  zero the largest positive and largest negative terms are within a factor ``K`` of each
  other. A grid on those windows brackets every zero, bisection takes them to machine
  precision, and between zeros ``min(p_a, p_b)`` is one mixture whose mass is a sum of
  Gaussian interval probabilities, summed in log space from ``log Phi`` differences. The
  log-overlap ``log int min(p_a, p_b)`` is therefore accurate in relative terms at
  ``1e-300`` and far below (``-500007.1`` for two components ``2000`` sd apart).
* In two dimensions the inner integral over ``y_2`` at fixed ``y_1`` is the same 1-D problem
  with weights ``w_k phi(y_1 - c_k1)``, and the outer integral over ``y_1`` is a composite
  Gauss-Kronrod rule (below).
* ``BC`` and label laws (hence label masses, sums of them) are integrals of smooth, positive
  integrands, done in log space by composite Gauss-Kronrod (G7-K15) rules on panels that
  follow the scales of the problem: ``sigma``-scale panels around each mean (and each
  midpoint, for ``BC``), and panels of width ``ell = sigma^2 / |c_i - c_j|`` around the
  weighted midpoints where a posterior or a dominant term switches (the integrand changes
  by a factor ``e`` over ``ell`` there; at ``t = 0`` with means ``2000`` sd apart,
  ``ell = sigma / 2000``). In two dimensions the inner panels are placed per ``y_1`` and
  the outer panels around the means and the switching lines.
* The forward-reverse TV (Definition 3, theory.md §1.4) ``TV(p^{A,t}, p^B) =
  1/2 int p(x) |g(x) - h(x)| dx``, ``g(x) = E[p_t^A / p_t (x + sqrt(v) Z)]`` and
  ``h = p^B / p``. In 1-D ``g`` is a Gauss-Kronrod integral in ``u = (y - x) / sqrt(v)``
  (exactly ``p^A / p`` at ``v = 0``), and the zeros of ``g - h`` are bisected and made panel
  ends, so the outer rule never straddles a kink of ``|g - h|`` (~1e-14). In 2-D it is a
  tensor-grid rule at moderate resolution (:func:`_fr_tv_2d`; ~1e-7, with an error estimate
  that is typically 10-100 times larger than the actual error).

``error`` is an estimate of the absolute error of ``value``: for the exact 1-D TV a
rounding allowance (:data:`EXACT_ERROR`); for Gauss-Kronrod rules QUADPACK's estimate per
panel (as in ``scipy.integrate.quad``) summed over panels, in 2-D plus the inner errors
integrated by the outer rule; for the 2-D forward-reverse grid, grid-halving differences.
``se`` and ``bias`` are 0 (nothing is sampled).

**Cost** (one core, per time point; compile once per model shape, a few seconds): 1-D TV, BC
and label laws about 1 ms; 1-D forward-reverse TV 0.05 s (K = 2) to 0.8 s (K = 4); 2-D (K = 3)
TV 0.05 s, label laws 0.3 s, BC 0.5 s, forward-reverse TV 0.1 s (about 1 s when the kernel
is narrower than the grid, ``v(t) < ~1e-3``). Times of a 1-D model are vmapped in chunks of
:data:`TIME_CHUNK` (padded); 2-D rules hold large intermediates and take one time per call.
A second call with the same model shapes does not compile again.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.nn import logsumexp
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import erf, log_ndtr

from localize.continuous import Estimate
from localize.errors import LocalizeError, bad

LOG2 = math.log(2.0)
LOG_2PI = math.log(2.0 * math.pi)
NEG_INF = -jnp.inf
CLOSED = "closed-form"
QUAD = "quadrature"
# Times per jitted call (padded with the last time): shapes, hence compilations, are fixed.
TIME_CHUNK = 8

# Gauss-Kronrod G7-K15 on [-1, 1] (QUADPACK qk15): the 15 Kronrod nodes contain the 7 Gauss
# nodes, so one set of evaluations gives both rules and their difference.
_XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                 0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                 0.207784955007898467600689403773245, 0.0])
_WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                 0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                 0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.0, 0.129484966168869693270611432679082, 0.0,
                0.279705391489276667901467771423780, 0.0,
                0.381830050505118944950369775488975, 0.0, 0.417959183673469387755102040816327])
GK_NODES = np.concatenate([-_XGK[:-1], _XGK[::-1]])
with np.errstate(divide="ignore"):
    GK_LOG_WK = np.log(np.concatenate([_WGK[:-1], _WGK[::-1]]))
    GK_LOG_WG = np.log(np.concatenate([_WG[:-1], _WG[::-1]]))

# Panel ends around a Gaussian bump, in units of its sd: K15 integrates a Gaussian over a
# panel of 3 sd to ~1e-16 relative, and beyond 13 sd the bump has fallen by e^-84.
GAUSS_OFFSETS = np.array([0.0, 1.5, -1.5, 3, -3, 4.5, -4.5, 6, -6, 9, -9, 13, -13])
# Panel ends around a switch of width ell: near it the integrand is analytic on the scale
# ell (poles ~ pi ell off the axis); away from it it falls at most like exp(-|y - m| / ell),
# and K15 is accurate to ~1e-13 on a panel over which the integrand falls by e^-16.
KINK_OFFSETS = np.array([0.0, 1, -1, 3, -3, 8, -8, 16, -16, 32, -32, 48, -48, 64, -64,
                         96, -96])
# Bracketing grid of one root window (odd: a window's centre is a grid point).
ROOT_GRID = 17
# Bisection steps: a bracket shrinks by 2^-64, below one ulp of its ends.
BISECT_STEPS = 64
# Pairs of means closer than this (in sd) define no switching point (their ratio is flat).
MIN_SEPARATION = 1e-12
# Kink centres are kept within this many sd of the means: beyond, nothing has mass, and
# clipping keeps every coordinate finite when two means nearly coincide.
FAR = 1e8


# ======================================================================== closed forms


def _as_cov(s, d):
    """A covariance as a ``(d, d)`` matrix: a scalar (or 0-d array) means ``s I``."""
    s = jnp.asarray(s, dtype=jnp.float64)
    if s.ndim == 0:
        return s * jnp.eye(d, dtype=jnp.float64)
    return s


def _chol_logdet(chol):
    """``log det S`` from the Cholesky factor ``L`` of ``S``: ``2 sum log L_ii``."""
    return 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


def pair_tv_equal_cov(delta):
    """``TV(N(m_1, C), N(m_2, C)) = 2 Phi(delta / 2) - 1`` ([LKC25] Example 1; theory.md §6.21).

    Computed as ``erf(delta / (2 sqrt 2))``, accurate in relative terms for small ``delta``
    too (where ``2 Phi - 1`` would cancel).

    Args:
        delta: the Mahalanobis distance ``sqrt((m_1 - m_2)^T C^{-1} (m_1 - m_2))`` (any shape).

    Returns:
        The total variation distance, same shape.
    """
    return erf(jnp.asarray(delta, dtype=jnp.float64) / (2.0 * math.sqrt(2.0)))


def pair_log_overlap_equal_cov(delta):
    """``log(1 - TV) = log(2 Phi(-delta / 2))`` for equal covariances, exact past underflow.

    Args:
        delta: the Mahalanobis distance (any shape).

    Returns:
        ``log 2 + log_ndtr(-delta / 2)`` (``-125000.1`` at ``delta = 1000``); below
        ``TV = 1/2`` it is ``log1p(-TV)`` instead, which keeps the relative accuracy of a
        log-overlap near 0 (``-4e-10`` at ``delta = 1e-9``) that the sum would cancel.
    """
    delta = jnp.asarray(delta, dtype=jnp.float64)
    small = delta < 1.3
    return jnp.where(small, jnp.log1p(-pair_tv_equal_cov(jnp.where(small, delta, 0.0))),
                     LOG2 + log_ndtr(-0.5 * delta))


def pair_log_bc(m1, s1, m2, s2):
    """``log BC(N(m_1, S_1), N(m_2, S_2))`` by Lemma 8 of [LKC25] (theory.md §1.1).

    ``BC = |S_1|^{1/4} |S_2|^{1/4} / |S|^{1/2} exp(-1/8 dm^T S^{-1} dm)`` with
    ``S = (S_1 + S_2) / 2``; the determinants come from Cholesky factors and the quadratic
    form from a triangular solve (no inverse).

    Args:
        m1, m2: ``(d,)`` means.
        s1, s2: ``(d, d)`` covariances, or scalars for isotropic ``s I``.

    Returns:
        The log Bhattacharyya coefficient (``<= 0``).
    """
    m1 = jnp.asarray(m1, dtype=jnp.float64)
    m2 = jnp.asarray(m2, dtype=jnp.float64)
    d = m1.shape[-1]
    s1, s2 = _as_cov(s1, d), _as_cov(s2, d)
    l1, l2 = jnp.linalg.cholesky(s1), jnp.linalg.cholesky(s2)
    lm = jnp.linalg.cholesky(0.5 * (s1 + s2))
    z = solve_triangular(lm, m1 - m2, lower=True)
    return (0.25 * (_chol_logdet(l1) + _chol_logdet(l2)) - 0.5 * _chol_logdet(lm)
            - 0.125 * jnp.sum(z * z))


def pair_bc(m1, s1, m2, s2):
    """``BC(N(m_1, S_1), N(m_2, S_2))`` (Lemma 8); see :func:`pair_log_bc`."""
    return jnp.exp(pair_log_bc(m1, s1, m2, s2))


def pair_hellinger_sq(m1, s1, m2, s2):
    """``H^2 = int (sqrt p - sqrt q)^2 = 2 (1 - BC)``, the paper's convention (no 1/2).

    Args:
        m1, m2: ``(d,)`` means.
        s1, s2: ``(d, d)`` covariances, or scalars for isotropic ``s I``.

    Returns:
        The squared Hellinger distance in ``[0, 2]`` (``-2 expm1(log BC)``, no cancellation
        when the two Gaussians are close).
    """
    return -2.0 * jnp.expm1(pair_log_bc(m1, s1, m2, s2))


def pair_kl(m1, s1, m2, s2):
    """``KL(N(m_1, S_1) || N(m_2, S_2))`` from Cholesky factors and triangular solves.

    ``1/2 [tr(S_2^{-1} S_1) + dm^T S_2^{-1} dm - d + log |S_2| - log |S_1|]`` with
    ``tr(S_2^{-1} S_1) = ||L_2^{-1} L_1||_F^2``; for ``N(a, I)``, ``N(b, I)`` it is
    ``||a - b||^2 / 2`` (theory.md §6.21).

    Args:
        m1, m2: ``(d,)`` means.
        s1, s2: ``(d, d)`` covariances, or scalars for isotropic ``s I``.

    Returns:
        The Kullback-Leibler divergence (``>= 0``).
    """
    m1 = jnp.asarray(m1, dtype=jnp.float64)
    m2 = jnp.asarray(m2, dtype=jnp.float64)
    d = m1.shape[-1]
    s1, s2 = _as_cov(s1, d), _as_cov(s2, d)
    l1, l2 = jnp.linalg.cholesky(s1), jnp.linalg.cholesky(s2)
    a = solve_triangular(l2, l1, lower=True)
    z = solve_triangular(l2, m1 - m2, lower=True)
    return 0.5 * (jnp.sum(a * a) + jnp.sum(z * z) - d + _chol_logdet(l2) - _chol_logdet(l1))


def _log_cosh(u):
    """``log cosh u`` without overflow and without cancellation near 0."""
    au = jnp.abs(u)
    small = 2.0 * jnp.sinh(0.5 * jnp.minimum(au, 1.0)) ** 2
    return jnp.where(au < 1.0, jnp.log1p(small), au + jnp.log1p(jnp.exp(-2.0 * au)) - LOG2)


def _iso_log_bc(sq_dist, va, vb, d):
    """Lemma 8 for ``N(m_1, va I_d)``, ``N(m_2, vb I_d)``: stable for large ``d``.

    The determinant part ``d/4 log(va vb) - d/2 log((va + vb)/2)`` is
    ``-d/2 log cosh(log(va / vb) / 2)``, which has no cancellation when ``va ~ vb``.
    """
    u = 0.5 * (jnp.log(va) - jnp.log(vb))
    return -0.5 * d * _log_cosh(u) - sq_dist / (4.0 * (va + vb))


# ------------------------------------------------------------------ model-level closed forms


def single_pair(model, log_a, log_b, equal_cov=True):
    """The components ``(i, j)`` when each mixing row holds a single component, else None.

    Args:
        model: a :class:`~synthetic.gaussian_mixture.GaussianMixture`.
        log_a, log_b: ``(K,)`` log mixing rows (``-inf`` outside each set).
        equal_cov: also require components ``i`` and ``j`` to share their covariance (same
            isotropic variance, or the same full matrix), as :func:`closed_form_tv` needs.

    Returns:
        ``(i, j)`` or None.
    """
    rows = [np.asarray(r, dtype=np.float64) for r in (log_a, log_b)]
    finite = [np.flatnonzero(np.isfinite(r)) for r in rows]
    if any(f.size != 1 for f in finite):
        return None
    i, j = int(finite[0][0]), int(finite[1][0])
    if equal_cov and i != j and not _same_covariance(model, i, j):
        return None
    return i, j


def _same_covariance(model, i, j) -> bool:
    if model.cov_kind == "shared":
        return True
    if model.cov_kind == "isotropic":
        var = np.asarray(model.variances)
        return bool(var[i] == var[j])
    lam, q = np.asarray(model.evals), np.asarray(model.evecs)
    si = (q[i] * lam[i]) @ q[i].T
    sj = (q[j] * lam[j]) @ q[j].T
    return bool(np.max(np.abs(si - sj)) <= 1e-12 * np.max(np.abs(si)))


def _pair_mahalanobis(model, v, i, j):
    """Mahalanobis distance between components ``i`` and ``j`` under ``S_i + v I``."""
    dm = model.means[i] - model.means[j]
    if model.cov_kind == "full":
        coef = model.evecs[i].T @ dm  # coordinates in the eigenbasis of S_i
        return jnp.sqrt(jnp.sum(coef * coef / (model.evals[i] + v)))
    return jnp.sqrt(jnp.sum(dm * dm) / (model.variances[i] + v))


def _pair_log_bc_model(model, v, i, j):
    """Lemma 8 between components ``i`` and ``j`` at noise ``v``."""
    dm = model.means[i] - model.means[j]
    if model.cov_kind == "full":
        # S_k + v I = Q_k diag(lambda_k + v) Q_k^T: log-determinants are sums of log
        # eigenvalues; the average covariance is formed and factorised (no inverse).
        lam_i, lam_j = model.evals[i] + v, model.evals[j] + v
        si = (model.evecs[i] * lam_i) @ model.evecs[i].T
        sj = (model.evecs[j] * lam_j) @ model.evecs[j].T
        lm = jnp.linalg.cholesky(0.5 * (si + sj))
        z = solve_triangular(lm, dm, lower=True)
        return (0.25 * (jnp.sum(jnp.log(lam_i)) + jnp.sum(jnp.log(lam_j)))
                - 0.5 * _chol_logdet(lm) - 0.125 * jnp.sum(z * z))
    return _iso_log_bc(jnp.sum(dm * dm), model.variances[i] + v, model.variances[j] + v,
                       model.dim)


@jax.jit
def _closed_form_tv_curve(model, ts, i, j):
    def at(t):
        delta = _pair_mahalanobis(model, model.proc.ve_var(t), i, j)
        return pair_tv_equal_cov(delta), pair_log_overlap_equal_cov(delta)

    return jax.vmap(at)(ts)


@jax.jit
def _closed_form_bc_curve(model, ts, i, j):
    return jax.vmap(lambda t: jnp.exp(_pair_log_bc_model(model, model.proc.ve_var(t), i, j)))(ts)


def _zeros(n, *shape):
    return np.zeros((n, *shape))


def closed_form_tv(model, ts, i, j) -> Estimate:
    """``TV(p_t^i, p_t^j)`` for two components with equal covariances, in closed form.

    ``C_t = S + v(t) I``; ``TV = 2 Phi(delta_t / 2) - 1`` with ``delta_t`` the Mahalanobis
    distance under ``C_t`` (theory.md §3.1, Example 1: ``2 Phi(||mu|| e^{-t}) - 1`` under OU),
    and ``log_overlap = log 2 + log Phi(-delta_t / 2)``, exact far past underflow.

    Args:
        model: a :class:`~synthetic.gaussian_mixture.GaussianMixture`.
        ts: 1-D array of times.
        i, j: component indices with equal covariances (see :func:`single_pair`).

    Returns:
        An :class:`Estimate` with method ``"closed-form"`` and zero errors.
    """
    ts = model.process.validate_times(ts)
    if not _same_covariance(model, i, j):
        raise bad("components", (i, j), "two components with equal covariances")
    tv, lo = _over_times(lambda c: _closed_form_tv_curve(model, c, i, j), ts)
    _no_nan("closed_form_tv", tv, lo)
    n = ts.size
    return Estimate(tv, _zeros(n), CLOSED, _zeros(n), _zeros(n), lo, _zeros(n))


def closed_form_bc(model, ts, i, j) -> Estimate:
    """``BC(p_t^i, p_t^j)`` by Lemma 8 for any two components (isotropic or full).

    Args:
        model: a :class:`~synthetic.gaussian_mixture.GaussianMixture`.
        ts: 1-D array of times.
        i, j: component indices.

    Returns:
        An :class:`Estimate` with method ``"closed-form"`` and zero errors.
    """
    ts = model.process.validate_times(ts)
    (bc,) = _over_times(lambda c: (_closed_form_bc_curve(model, c, i, j),), ts)
    _no_nan("closed_form_bc", bc)
    n = ts.size
    return Estimate(bc, _zeros(n), CLOSED, _zeros(n), _zeros(n))


# ======================================================================== shared helpers


def _over_times(fn, ts, chunk=TIME_CHUNK):
    """Apply a jitted ``fn(ts_chunk)`` over fixed-size chunks of ``ts``; concatenate.

    ``fn`` returns a tuple of arrays with a leading time axis; the last chunk is padded with
    the last time, so every call has the same shapes and compiles once.
    """
    ts = np.asarray(ts, dtype=np.float64)
    n = ts.size
    n_chunks = -(-n // chunk)
    padded = np.concatenate([ts, np.full(n_chunks * chunk - n, ts[-1])])
    parts = [jax.device_get(fn(jnp.asarray(padded[i * chunk:(i + 1) * chunk])))
             for i in range(n_chunks)]
    return tuple(np.concatenate([np.asarray(p[k]) for p in parts])[:n]
                 for k in range(len(parts[0])))


def _no_nan(name, *arrays):
    for a in arrays:
        if a is not None and np.any(np.isnan(a)):
            raise LocalizeError(f"{name}: the computation produced NaN; please report this "
                                "model")


def _log1mexp(x):
    """``log(1 - e^x)`` for ``x <= 0`` (Maechler's switch at ``-log 2``); ``-inf`` at 0."""
    x = jnp.minimum(x, 0.0)
    return jnp.where(x > -LOG2, jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


def _log_diff(la, lb):
    """``log |e^la - e^lb|`` (``-inf`` when equal or both ``-inf``)."""
    hi = jnp.maximum(la, lb)
    gap = jnp.where(jnp.isfinite(hi), -jnp.abs(la - lb), NEG_INF)
    return jnp.where(jnp.isfinite(hi), hi + _log1mexp(gap), NEG_INF)


def _log_phi_diff(lo, hi):
    """``log(Phi(hi) - Phi(lo))`` for standardised ``lo <= hi``, in either tail.

    Both ends above 0 use the mirror image ``Phi(-lo) - Phi(-hi)``, so the difference is
    always taken between two lower-tail ``log_ndtr`` values, never between numbers near 1.
    """
    upper = lo > 0.0
    ends = log_ndtr(jnp.stack([jnp.where(upper, -hi, lo), jnp.where(upper, -lo, hi)]))
    la, lb = ends[0], ends[1]
    gap = jnp.where(lb > NEG_INF, la - lb, NEG_INF)
    return jnp.where(lb > NEG_INF, lb + _log1mexp(gap), NEG_INF)


def _log_gauss(y, c, var):
    """``log N(y; c, var)`` in one dimension (broadcasting)."""
    return -0.5 * ((y - c) ** 2 / var + LOG_2PI + jnp.log(var))


def _lse0(x):
    """``logsumexp`` over the leading (component) axis; ``-inf``, not NaN, if all are."""
    m = jnp.max(x, axis=0)
    ms = jnp.where(jnp.isfinite(m), m, 0.0)
    return ms + jnp.log(jnp.sum(jnp.exp(x - ms), axis=0))


def _expand(v, ndim):
    """``(K,)`` to ``(K, 1, ..., 1)`` against points with ``ndim`` axes."""
    return jnp.reshape(v, v.shape + (1,) * ndim)


def _terms(y, c, lw, var):
    """``(K, *y.shape)``: ``log w_k + log N(y; c_k, var)`` for 1-D points ``y``.

    Components sit on the leading axis: inside the batched inner rules of the 2-D
    quadratures this layout is about twice as fast as unrolling over the components.
    """
    return _expand(lw, y.ndim) + _log_gauss(y[None], _expand(c, y.ndim), var)


def _log_mix(y, c, lw, var):
    """``log sum_k w_k N(y; c_k, var)`` (``-inf`` where every weight is 0)."""
    return _lse0(_terms(y, c, lw, var))


# ------------------------------------------------------------------------ panel rules


def _breaks(gauss_c, gauss_s, kink_c, kink_s):
    """Sorted panel ends: Gaussian-scale patterns around ``gauss_c``, switch patterns
    around ``kink_c`` (scales broadcast against the centres)."""
    g = (gauss_c[..., None] + jnp.asarray(gauss_s)[..., None] * GAUSS_OFFSETS).ravel()
    k = (kink_c[..., None] + jnp.asarray(kink_s)[..., None] * KINK_OFFSETS).ravel()
    return jnp.sort(jnp.concatenate([g, k]))


def _gk_nodes(breaks):
    """G7-K15 nodes ``(P, 15)`` on the panels between sorted ``breaks`` and the log weights
    of both rules (a zero-width panel gets ``-inf`` weights and contributes nothing)."""
    half = 0.5 * (breaks[1:] - breaks[:-1])
    mid = 0.5 * (breaks[1:] + breaks[:-1])
    nodes = mid[:, None] + half[:, None] * GK_NODES
    lh = jnp.where(half > 0, jnp.log(jnp.where(half > 0, half, 1.0)), NEG_INF)[:, None]
    return nodes, lh + GK_LOG_WK, lh + GK_LOG_WG


def _gk_sum(log_f, lwk, lwg):
    """``(log K15, log error)`` of a non-negative integrand given in log space at the nodes.

    The error of each panel is QUADPACK's estimate (qk15, as in ``scipy.integrate.quad``):
    ``|K15 - G7| min(1, (200 |K15 - G7| / resasc)^1.5)``, with ``resasc`` the integral of
    ``|f - mean f|`` over the panel, floored at ``50 eps K15`` for rounding; the panels'
    errors are added. The sums are taken in linear space after dividing by the largest
    value, which loses only terms ``e^-745`` times smaller than it.

    Args:
        log_f: ``(P, 15, *rest)`` log-integrand.
        lwk, lwg: ``(P, 15)`` log weights of the two rules (``-inf`` on empty panels).

    Returns:
        Two arrays of shape ``rest``.
    """
    extra = (None,) * (log_f.ndim - 2)
    lwk, lwg = lwk[(...,) + extra], lwg[(...,) + extra]
    live = jnp.isfinite(lwk) & (log_f > NEG_INF)
    top = jnp.max(jnp.where(live, log_f, NEG_INF), axis=(0, 1))
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    # Values scaled so that the largest is 1 (empty panels hold no weight).
    wk, wg = jnp.exp(lwk), jnp.exp(lwg)
    f = jnp.where(live, jnp.exp(jnp.where(live, log_f, 0.0) - top), 0.0)
    k = jnp.sum(wk * f, axis=1)  # per panel, times e^-top
    g = jnp.sum(wg * f, axis=1)
    width = jnp.sum(wk, axis=1)
    mean = k / jnp.where(width > 0, width, 1.0)
    res = jnp.sum(wk * jnp.abs(f - mean[:, None]), axis=1)
    e = jnp.abs(k - g)
    ratio = 200.0 * e / jnp.where(res > 0, res, 1.0)
    e = jnp.where(res > 0, e * jnp.minimum(1.0, ratio ** 1.5), e)
    e = jnp.maximum(e, 50.0 * np.finfo(np.float64).eps * k)
    with np.errstate(divide="ignore"):
        return top + jnp.log(jnp.sum(k, axis=0)), top + jnp.log(jnp.sum(e, axis=0))


# ------------------------------------------------------------- switching points of ratios


def _pairs(k):
    iu, ju = np.triu_indices(k, 1)
    return jnp.asarray(iu), jnp.asarray(ju)


def _switch_points(c, lws, var):
    """Weighted midpoints of every pair of 1-D means, for each row of log weights.

    Where ``lw_i + log N(y; c_i, var) = lw_j + log N(y; c_j, var)`` the dominant term of a
    mixture (or of a posterior) switches, over a width ``ell = var / |c_i - c_j|``.

    Args:
        c: ``(K,)`` locations.
        lws: ``(V, K)`` log weights (unnormalised; ``-inf`` allowed).
        var: the common variance.

    Returns:
        ``(centres, scales)``, each ``(V * K (K - 1) / 2,)``; a pair with a zero weight or
        coincident means gets a harmless dummy centre (``c_i``, scale ``sd``).
    """
    iu, ju = _pairs(c.shape[0])
    sd = jnp.sqrt(var)
    dc = c[iu] - c[ju]
    lwi, lwj = lws[:, iu], lws[:, ju]
    ok = (jnp.abs(dc) > MIN_SEPARATION * sd) & jnp.isfinite(lwi) & jnp.isfinite(lwj)
    dcs = jnp.where(jnp.abs(dc) > MIN_SEPARATION * sd, dc, 1.0)
    m = 0.5 * (c[iu] + c[ju]) - var * jnp.where(ok, lwi - lwj, 0.0) / dcs
    m = jnp.clip(m, jnp.min(c) - FAR * sd, jnp.max(c) + FAR * sd)
    ell = jnp.minimum(var / jnp.abs(dcs), sd)
    return (jnp.where(ok, m, c[iu]).ravel(),
            jnp.broadcast_to(jnp.where(ok, ell, sd), ok.shape).ravel())


def _midpoints(c):
    """``(c_i + c_j) / 2`` for every pair (where ``sqrt(p^i p^j)`` peaks)."""
    iu, ju = _pairs(c.shape[0])
    return 0.5 * (c[iu] + c[ju])


# ------------------------------------------------------------------- exact 1-D overlap


def _net_coefficients(same, la, lb):
    """Signed net coefficients of ``p_a - p_b`` per distinct mean.

    Args:
        same: ``(K, K)`` whether two components have the same mean.
        la, lb: ``(K,)`` log weights.

    Returns:
        ``(log |d|, sign d)`` per component: the class representative (first index) holds the
        signed sum of its class, the other members ``-inf`` and 0.
    """
    ld = _log_diff(la, lb)
    sg = jnp.where(ld > NEG_INF, jnp.where(la > lb, 1.0, -1.0), 0.0)
    cls = jnp.where(same, ld[None, :], NEG_INF)
    m = jnp.max(cls, axis=1)
    ms = jnp.where(jnp.isfinite(m), m, 0.0)
    total = jnp.sum(jnp.where(same, sg[None, :] * jnp.exp(cls - ms[:, None]), 0.0), axis=1)
    first = ~jnp.any(jnp.tril(same, -1), axis=1)
    keep = first & jnp.isfinite(m) & (total != 0.0)
    net = jnp.where(keep, ms + jnp.log(jnp.where(keep, jnp.abs(total), 1.0)), NEG_INF)
    return net, jnp.where(keep, jnp.sign(total), 0.0)


def _log_ratio(y, c, la, lb, var):
    """``log p_a(y) - log p_b(y)``; 0 where both mixtures vanish."""
    a, b = _log_mix(y, c, la, var), _log_mix(y, c, lb, var)
    both = (a == NEG_INF) & (b == NEG_INF)
    return jnp.where(both, 0.0, a - jnp.where(both, 0.0, b))


def _log_masses(lo, hi, c, lws, sd):
    """``log sum_k w_k P(lo < N(c_k, sd^2) < hi)`` for intervals ``lo <= hi`` (any shape),
    for each row of log weights ``lws`` (``(V, K)``); result ``(V, *lo.shape)``."""
    ce = _expand(c, lo.ndim)
    z = _log_phi_diff((lo[None] - ce) / sd, (hi[None] - ce) / sd)  # (K, *lo.shape)
    return jnp.stack([_lse0(_expand(lw, lo.ndim) + z) for lw in lws])


def _log_overlap_1d(c, la, lb, var):
    """``log int min(p_a, p_b) dy`` for 1-D mixtures ``p_a = sum_k e^{la_k} N(c_k, var)``.

    Exact up to rounding (module docstring): the zeros of ``p_a - p_b`` are bracketed on the
    windows around the weighted midpoints of opposite-sign pairs and bisected; the masses
    between zeros are Gaussian interval probabilities. Weights need not be normalised.

    Returns:
        ``(log_overlap, n_roots, a_above_left)``: also the number of zeros found and
        whether ``p_a > p_b`` left of all of them (diagnostics).
    """
    k = c.shape[0]
    sd = jnp.sqrt(var)
    net, sg = _net_coefficients(c[:, None] == c[None, :], la, lb)
    i, j = (jnp.asarray(x.ravel()) for x in np.meshgrid(np.arange(k), np.arange(k),
                                                          indexing="ij"))
    dc = c[i] - c[j]
    ok = (sg[i] > 0) & (sg[j] < 0) & (jnp.abs(dc) > MIN_SEPARATION * sd)
    dcs = jnp.where(ok, dc, 1.0)
    mid = 0.5 * (c[i] + c[j]) - var * jnp.where(ok, net[i] - net[j], 0.0) / dcs
    rho = var * (math.log(k) + 2.0) / jnp.abs(dcs)
    lo_lim, hi_lim = jnp.min(c) - FAR * sd, jnp.max(c) + FAR * sd
    w_lo = jnp.where(ok, jnp.clip(mid - rho, lo_lim, hi_lim), c[0])
    w_hi = jnp.where(ok, jnp.clip(mid + rho, lo_lim, hi_lim), c[0])
    frac = jnp.linspace(0.0, 1.0, ROOT_GRID)
    grid = jnp.sort((w_lo[:, None] + (w_hi - w_lo)[:, None] * frac).ravel())
    pos = _log_ratio(grid, c, la, lb, var) > 0.0
    change = pos[1:] != pos[:-1]
    n_max = max(k - 1, 1)  # Laguerre's rule of signs
    (idx,) = jnp.nonzero(change, size=n_max, fill_value=0)
    found = change[idx]
    lo, hi = grid[idx], grid[idx + 1]
    pos_lo = pos[idx]

    def step(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        same_side = (_log_ratio(mid, c, la, lb, var) > 0.0) == pos_lo
        return jnp.where(same_side, mid, lo), jnp.where(same_side, hi, mid)

    lo, hi = lax.fori_loop(0, BISECT_STEPS, step, (lo, hi))
    roots = jnp.sort(jnp.where(found, 0.5 * (lo + hi), jnp.inf))
    ends = jnp.concatenate([jnp.array([NEG_INF]), roots, jnp.array([jnp.inf])])
    s_lo, s_hi = ends[:-1], ends[1:]
    rep = jnp.where(s_lo == NEG_INF, grid[0],
                    jnp.where(s_hi == jnp.inf, grid[-1], 0.5 * (s_lo + s_hi)))
    a_bigger = _log_ratio(rep, c, la, lb, var) > 0.0
    mass_a, mass_b = _log_masses(s_lo, s_hi, c, jnp.stack([la, lb]), sd)
    seg = jnp.where(a_bigger, mass_b, mass_a)
    seg = jnp.where(s_lo < s_hi, seg, NEG_INF)
    return logsumexp(seg), jnp.sum(found), pos[0]


# --------------------------------------------------------------- smooth 1-D integrands


def _log_bc_1d(c, la, lb, var):
    """``(log int sqrt(p_a p_b), log error)`` for 1-D mixtures (unnormalised weights).

    ``sqrt(p_a p_b)`` peaks at the means and midway between them (``sd`` scale) and switches
    where the dominant term of ``p_a`` or of ``p_b`` does (scale ``var / |c_i - c_j|``).
    """
    sd = jnp.sqrt(var)
    kc, ks = _switch_points(c, jnp.stack([la, lb]), var)
    breaks = _breaks(jnp.concatenate([c, _midpoints(c)]), sd, kc, ks)
    nodes, lwk, lwg = _gk_nodes(breaks)
    log_f = 0.5 * (_log_mix(nodes, c, la, var) + _log_mix(nodes, c, lb, var))
    return _gk_sum(log_f, lwk, lwg)


def _log_label_law_1d(c, la, lw, var):
    """``(log int p_a(y) pi(k | y) dy, log error)`` for every ``k``, shape ``(K,)`` each.

    ``pi(k | y)`` is the posterior of the mixture with log weights ``lw`` (unnormalised);
    the integrand is a sum of Gaussian bumps times posteriors, which switch at the weighted
    midpoints of ``lw``.
    """
    sd = jnp.sqrt(var)
    kc, ks = _switch_points(c, lw[None], var)
    breaks = _breaks(c, sd, kc, ks)
    nodes, lwk, lwg = _gk_nodes(breaks)
    terms = _terms(nodes, c, lw, var)
    log_f = _log_mix(nodes, c, la, var)[None] + terms - _lse0(terms)[None]  # (K, P, 15)
    log_f = jnp.moveaxis(log_f, 0, -1)
    return _gk_sum(log_f, lwk, lwg)


# ------------------------------------------------------------------- iterated 2-D rules

# Outer nodes evaluated together in a 2-D rule (bounds the memory of the inner rules).
OUTER_BATCH = 256


def _switch_feet(c, lws, var, opposite=None):
    """Where the outer (``y_1``) rule of a 2-D quadrature needs switch panels.

    The line of pair ``(i, j)`` and weight row ``lw`` is where
    ``lw_i + log N(y; c_i) = lw_j + log N(y; c_j)``: ``n . y = beta`` with
    ``n = (c_i - c_j) / |c_i - c_j|``; an integrand that switches there varies on the scale
    ``ell = var / |c_i - c_j|`` across it. After the inner integral over ``y_2``, the outer
    integrand varies on the scale ``max(ell, sd |n_2|)`` around the line (a line crossing
    the ``y_2`` direction at an angle is smoothed by that integral; a vertical one is not),
    so the panels go around the foot of ``c_i`` (and ``c_j``) on the line with that scale.

    Args:
        c: ``(K, 2)`` means.
        lws: ``(V, K)`` log weights.
        var: the common variance.
        opposite: optional ``(V, K)`` signs; only pairs of opposite sign are used.

    Returns:
        ``(centres, scales)``, each ``(V * K (K - 1) / 2,)``.
    """
    iu, ju = _pairs(c.shape[0])
    sd = jnp.sqrt(var)
    dc = c[iu] - c[ju]  # (P, 2)
    norm = jnp.sqrt(jnp.sum(dc * dc, axis=1))
    far = norm > MIN_SEPARATION * sd
    ns = jnp.where(far, norm, 1.0)
    n = dc / ns[:, None]
    lwi, lwj = lws[:, iu], lws[:, ju]
    ok = far & jnp.isfinite(lwi) & jnp.isfinite(lwj)
    if opposite is not None:
        ok = ok & (opposite[:, iu] * opposite[:, ju] < 0)
    sq = jnp.sum(c * c, axis=1)
    beta = (0.5 * (sq[iu] - sq[ju]) - var * jnp.where(ok, lwi - lwj, 0.0)) / ns  # (V, P)
    foot = c[iu, 0] - (jnp.sum(c[iu] * n, axis=1) - beta) * n[:, 0]
    lo, hi = jnp.min(c[:, 0]) - FAR * sd, jnp.max(c[:, 0]) + FAR * sd
    foot = jnp.where(ok, jnp.clip(foot, lo, hi), c[iu, 0])
    ell = jnp.minimum(jnp.maximum(var / ns, sd * jnp.abs(n[:, 1])), sd)
    return foot.ravel(), jnp.broadcast_to(jnp.where(ok, ell, sd), foot.shape).ravel()


def _iterated(inner, c, rows, var, breaks):
    """``log int dy_1 int dy_2 f`` with an exact or Gauss-Kronrod inner rule in ``y_2``.

    At fixed ``y_1`` an isotropic mixture ``sum_k w_k N(y; c_k, var I_2)`` is the 1-D mixture
    in ``y_2`` with weights ``w_k N(y_1; c_k1, var)``, so ``inner(c_2, rows, var)`` (the 1-D
    rule, on those effective weights) gives the inner integral; the outer one is G7-K15 on
    the panels between ``breaks``.

    Returns:
        ``(log value, log error)``: the outer rule's error estimate (:func:`_gk_sum`) plus
        the inner errors integrated by the outer Kronrod weights.
    """
    nodes, lwk, lwg = _gk_nodes(breaks)

    def at(y1):
        return inner(c[:, 1], rows + _log_gauss(y1, c[:, 0], var), var)

    lv, le = lax.map(at, nodes.ravel(), batch_size=OUTER_BATCH)
    shape = nodes.shape + lv.shape[1:]
    lv, le = lv.reshape(shape), le.reshape(shape)
    log_val, log_err = _gk_sum(lv, lwk, lwg)
    extra = (None,) * (lv.ndim - 2)
    inner_err = logsumexp(lwk[(...,) + extra] + le, axis=(0, 1))
    return log_val, jnp.logaddexp(log_err, inner_err)


def _inner_overlap(c2, rows, var):
    lo, _, _ = _log_overlap_1d(c2, rows[0], rows[1], var)
    return lo, jnp.full_like(lo, NEG_INF)


def _log_overlap_2d(c, la, lb, var):
    """``(log int min(p_a, p_b), log error)`` in 2-D: exact inner rule, G7-K15 outer rule."""
    sd = jnp.sqrt(var)
    same = jnp.all(c[:, None, :] == c[None, :, :], axis=-1)
    net, sg = _net_coefficients(same, la, lb)
    kc, ks = _switch_feet(c, net[None], var, opposite=sg[None])
    breaks = _breaks(c[:, 0], sd, kc, ks)
    return _iterated(_inner_overlap, c, jnp.stack([la, lb]), var, breaks)


def _log_bc_2d(c, la, lb, var):
    sd = jnp.sqrt(var)
    kc, ks = _switch_feet(c, jnp.stack([la, lb]), var)
    breaks = _breaks(jnp.concatenate([c[:, 0], _midpoints(c[:, 0])]), sd, kc, ks)
    return _iterated(lambda c2, r, v: _log_bc_1d(c2, r[0], r[1], v), c,
                     jnp.stack([la, lb]), var, breaks)


def _log_label_law_2d(c, la, lw, var):
    sd = jnp.sqrt(var)
    kc, ks = _switch_feet(c, lw[None], var)
    breaks = _breaks(c[:, 0], sd, kc, ks)
    return _iterated(lambda c2, r, v: _log_label_law_1d(c2, r[0], r[1], v), c,
                     jnp.stack([la, lw]), var, breaks)


# ----------------------------------------------------------------- forward-reverse TV, 1-D

# Zeros of g - h that the 1-D forward-reverse rule locates and makes panel ends (per K).
ZEROS_PER_COMPONENT = 4
# Bisection steps for those zeros: a zero off by ``d`` costs ``O(d^2)`` in the TV.
ZERO_STEPS = 48
# |u| beyond which a centre in the kernel variable u = (y - x) / sqrt(v) is clipped (keeps
# every coordinate finite at v = 0, where u has no meaning and the kernel is a point mass).
U_FAR = 1e100


def _log_r(y, c, la, lw, var_t):
    """``log p_t^A(y) / p_t(y)``: the ratio whose Gaussian average is ``g`` (theory.md §1.4)."""
    return _log_mix(y, c, la, var_t) - _log_mix(y, c, lw, var_t)


def _log_g_1d(x, c, la, lw, var_t, v):
    """``log g(x) = log E[r(x + sqrt(v) Z)]`` and the log of its quadrature error.

    The integral is taken in ``u = (y - x) / sqrt(v)`` against the standard normal density,
    on Gaussian panels around ``u = 0`` and switch panels around the points where ``r``
    switches (its switches are those of the posterior ``pi_t``, at the weighted midpoints of
    the model's weights, of width ``var_t / |c_i - c_j|``). The rule is divided by its own
    integral of the normal density, so constants are exact and at ``v = 0`` it returns
    ``r(x)`` exactly (every node maps to ``x``).
    """
    sv = jnp.sqrt(v)
    svs = jnp.maximum(sv, 1e-300)
    kc, ks = _switch_points(c, lw[None], var_t)
    uc = jnp.clip((kc - x) / svs, -U_FAR, U_FAR)
    us = jnp.clip(ks / svs, 1e-300, 1.0)
    breaks = _breaks(jnp.zeros(1), 1.0, uc, us)
    nodes, lwk, lwg = _gk_nodes(breaks)
    log_phi = -0.5 * (nodes * nodes + LOG_2PI)
    log_f = log_phi + _log_r(x + sv * nodes, c, la, lw, var_t)
    lv, le = _gk_sum(log_f, lwk, lwg)
    ln, _ = _gk_sum(log_phi, lwk, lwg)
    return lv - ln, le - ln


def _fr_tv_1d(c, la, lb, lw, s2, v):
    """``TV(p^{A,t}, p^B)``, its log-overlap and errors, in one dimension (Definition 3).

    ``p^{A,t} = p g`` and ``p^B = p h``: the outer integrand ``p |g - h| / 2`` is smooth
    except where ``g = h``; those zeros are bracketed on the panel ends, bisected and made
    panel ends themselves, so no panel straddles a kink.

    Returns:
        ``(tv, log_overlap, error)``; ``error`` adds the outer Kronrod error of the TV and the
        inner errors of ``g`` integrated against ``p / 2``.
    """
    var_t = s2 + v
    s = jnp.sqrt(s2)
    k = c.shape[0]
    k0c, k0s = _switch_points(c, lw[None], s2)  # switches of h = p^B / p
    ktc, kts = _switch_points(c, lw[None], var_t)  # switches of r, hence of g
    kts = jnp.minimum(jnp.sqrt(kts * kts + v), s)
    base = _breaks(c, s, jnp.concatenate([k0c, ktc]), jnp.concatenate([k0s, kts]))

    def gap(x):
        lg, _ = _log_g_1d(x, c, la, lw, var_t, v)
        return lg - (_log_mix(x, c, lb, s2) - _log_mix(x, c, lw, s2))

    above = jax.vmap(gap)(base) > 0.0
    change = above[1:] != above[:-1]
    (idx,) = jnp.nonzero(change, size=ZEROS_PER_COMPONENT * k, fill_value=0)
    found = change[idx]
    lo, hi, up_lo = base[idx], base[idx + 1], above[idx]

    def step(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        same = (jax.vmap(gap)(mid) > 0.0) == up_lo
        return jnp.where(same, mid, lo), jnp.where(same, hi, mid)

    lo, hi = lax.fori_loop(0, ZERO_STEPS, step, (lo, hi))
    zeros = jnp.where(found, 0.5 * (lo + hi), base[0])
    breaks = jnp.sort(jnp.concatenate([base, zeros]))
    nodes, lwk, lwg = _gk_nodes(breaks)
    lg, lge = lax.map(lambda x: _log_g_1d(x, c, la, lw, var_t, v), nodes.ravel(),
                      batch_size=OUTER_BATCH)
    lg, lge = lg.reshape(nodes.shape), lge.reshape(nodes.shape)
    lp = _log_mix(nodes, c, lw, s2)
    lh = _log_mix(nodes, c, lb, s2) - lp
    l_tv, e_tv = _gk_sum(lp + _log_diff(lg, lh) - LOG2, lwk, lwg)
    l_ov, _ = _gk_sum(lp + jnp.minimum(lg, lh), lwk, lwg)
    l_inner, _ = _gk_sum(lp + lge - LOG2, lwk, lwg)
    return jnp.exp(l_tv), l_ov, jnp.exp(e_tv) + jnp.exp(l_inner)


# ----------------------------------------------------------------- forward-reverse TV, 2-D

# Points per axis of the 2-D forward-reverse grids (odd, so every other point is a grid of
# half the resolution with the same ends): x for the outer integral, y for the convolution.
FR_X_GRID = 257
FR_Y_GRID = 513
# Gauss-Hermite order per axis for g when the kernel is narrower than the y spacing (and
# half of it for the error estimate).
GH_ORDER = 10
# Reach of the grids beyond the means, in sd of the clean components and of the kernel.
REACH = 13.0


def _log_mix_2d(y1, y2, c, lw, var):
    """``log sum_k w_k N((y1, y2); c_k, var I_2)`` for coordinate arrays of one shape.

    Unrolled over the components, which XLA fuses into one loop over the (large, flat)
    grids of the forward-reverse rule. ``lw`` must hold a finite entry (validated rows).
    """
    norm = -(LOG_2PI + jnp.log(var))
    terms = [lw[k] + norm - 0.5 * ((y1 - c[k, 0]) ** 2 + (y2 - c[k, 1]) ** 2) / var
             for k in range(c.shape[0])]
    m = terms[0]
    for t in terms[1:]:
        m = jnp.maximum(m, t)
    return m + jnp.log(sum(jnp.exp(t - m) for t in terms))


def _kernel_matrix(x, y, sv):
    """Row-normalised trapezoid weights of ``E[f(x_i + sqrt(v) Z)]`` on the uniform ``y``.

    The Gaussian tails beyond the grid are put on its end points (``f`` is taken constant
    there; the grid reaches ``REACH`` kernel sd beyond every ``x``), and each row is divided
    by its sum so that constants are exact.
    """
    h = y[1] - y[0]
    z = (y[None, :] - x[:, None]) / sv
    w = jnp.exp(-0.5 * z * z) * (h / (sv * math.sqrt(2.0 * math.pi)))
    w = w.at[:, 0].multiply(0.5).at[:, -1].multiply(0.5)
    w = w.at[:, 0].add(jnp.exp(log_ndtr(z[:, 0]))).at[:, -1].add(jnp.exp(log_ndtr(-z[:, -1])))
    return w / jnp.sum(w, axis=1, keepdims=True)


def _g_grid(xs, ys, r, sv):
    """``g`` on the tensor grid ``xs`` by the separable convolution of ``r`` on ``ys``, at the
    full and at half the ``y`` resolution (the difference estimates the error)."""
    w1, w2 = _kernel_matrix(xs[0], ys[0], sv), _kernel_matrix(xs[1], ys[1], sv)
    fine = w1 @ r @ w2.T
    c1, c2 = _kernel_matrix(xs[0], ys[0][::2], sv), _kernel_matrix(xs[1], ys[1][::2], sv)
    coarse = c1 @ r[::2, ::2] @ c2.T
    return fine, jnp.abs(fine - coarse)


def _g_hermite(xs, c, la, lw, var_t, sv):
    """``g`` on the tensor grid ``xs`` by tensor Gauss-Hermite in ``Z`` (a narrow kernel,
    where ``r`` is smooth on its scale); the half-order rule estimates the error."""

    def rule(order):
        u, w = np.polynomial.hermite_e.hermegauss(order)
        return jnp.asarray(u), jnp.asarray(w / w.sum())

    (u, w), (uh, wh) = rule(GH_ORDER), rule(GH_ORDER // 2)

    def row(x1):
        def g_with(u, w):
            y1 = x1 + sv * u[:, None, None]
            y2 = xs[1][None, None, :] + sv * u[None, :, None]
            y1, y2 = jnp.broadcast_arrays(y1, y2)  # (n, n, nx)
            r = jnp.exp(_log_mix_2d(y1, y2, c, la, var_t) - _log_mix_2d(y1, y2, c, lw, var_t))
            return jnp.einsum("a,b,abx->x", w, w, r)

        g = g_with(u, w)
        return g, jnp.abs(g - g_with(uh, wh))

    return lax.map(row, xs[0], batch_size=16)


def _line_abs_integral(f, h):
    """``int |f|`` along the last axis of samples on a uniform grid of step ``h``.

    The trapezoid rule is spectrally accurate for a smooth decaying integrand but only
    first-order at a kink of ``|f|``. On every cell where ``f`` changes sign the cubic
    through the four nearest samples gives the zero and the exact integral of ``|f|`` over
    the cell, and the two Euler-Maclaurin end terms (``h^2 F' / 12`` and ``h^4 F^(3) / 720``)
    that the trapezoid rules of the two smooth pieces leave at the cell's ends are taken
    off: the error of a kink falls from ``O(h^2)`` to ``O(h^5)``.
    """
    af = jnp.abs(f)
    trap = jnp.sum(af, axis=-1) - 0.5 * (af[..., 0] + af[..., -1])
    n = f.shape[-1]
    j = jnp.arange(n - 1)
    fm, f0 = f[..., jnp.clip(j - 1, 0, n - 1)], f[..., j]
    f1, f2 = f[..., j + 1], f[..., jnp.clip(j + 2, 0, n - 1)]
    flip = (f0 * f1) < 0
    # Lagrange cubic through s = -1, 0, 1, 2 (s = (x - x_j) / h).
    a0 = f0
    a1 = -fm / 3.0 - f0 / 2.0 + f1 - f2 / 6.0
    a2 = fm / 2.0 - f0 + f1 / 2.0
    a3 = (f2 - fm) / 6.0 + (f0 - f1) / 2.0

    def poly(s):
        return a0 + s * (a1 + s * (a2 + s * a3))

    def slope(s):
        return a1 + s * (2.0 * a2 + s * 3.0 * a3)

    def area(s):
        return s * (a0 + s * (a1 / 2.0 + s * (a2 / 3.0 + s * a3 / 4.0)))

    th = jnp.where(flip, f0 / jnp.where(flip, f0 - f1, 1.0), 0.5)
    for _ in range(4):  # Newton from the linear zero
        d = slope(th)
        th = jnp.clip(th - poly(th) / jnp.where(d != 0.0, d, 1.0), 0.0, 1.0)
    cell = jnp.abs(area(th)) + jnp.abs(area(1.0) - area(th))
    s0, s1 = jnp.sign(f0), jnp.sign(f1)
    em = -(s0 * slope(0.0) - s1 * slope(1.0)) / 12.0 + (s0 - s1) * a3 / 120.0
    corr = jnp.where(flip, cell - 0.5 * (jnp.abs(f0) + jnp.abs(f1)) + em, 0.0)
    return h * (trap + jnp.sum(corr, axis=-1))


def _turned(c):
    """``c`` in axes turned so that no difference of means lies near the first axis.

    The lines along ``x_2`` then cross every zero line of ``p g - p^B`` (roughly
    perpendicular to a difference of means) at an angle, where the kink correction of
    :func:`_line_abs_integral` applies; every quantity is invariant under the rotation.
    """
    iu, ju = _pairs(c.shape[0])
    dc = c[iu] - c[ju]
    theta = jnp.arctan2(dc[:, 1], dc[:, 0])
    live = jnp.sum(dc * dc, axis=1) > 0
    phis = jnp.linspace(0.0, math.pi, 64, endpoint=False)
    score = jnp.min(jnp.where(live[None], jnp.abs(jnp.sin(theta[None] - phis[:, None])), 1.0),
                    axis=1)
    phi = phis[jnp.argmax(score)]
    e1 = jnp.stack([jnp.cos(phi), jnp.sin(phi)])
    e2 = jnp.stack([-jnp.sin(phi), jnp.cos(phi)])
    return jnp.stack([c @ e1, c @ e2], axis=1)


def _fr_patch(ck, lwk, c, la, lb, lw, s2, v):
    """One component's share of the 2-D forward-reverse TV (see :func:`_fr_tv_2d`).

    Returns ``(tv, tv_half, tv_quarter, g_err, masses, log_overlap)`` of
    ``int psi_k(x) p(x) |g(x) - h(x)| dx`` on the patch around the mean ``ck``.
    """
    s, sv, var_t = jnp.sqrt(s2), jnp.sqrt(v), s2 + v
    xs = [jnp.linspace(ck[d] - REACH * s, ck[d] + REACH * s, FR_X_GRID) for d in range(2)]
    reach = REACH * (s + sv)
    ys = [jnp.linspace(ck[d] - reach, ck[d] + reach, FR_Y_GRID) for d in range(2)]
    hy = ys[0][1] - ys[0][0]

    def by_grid(_):
        y1, y2 = jnp.meshgrid(ys[0], ys[1], indexing="ij")
        r = jnp.exp(_log_mix_2d(y1, y2, c, la, var_t) - _log_mix_2d(y1, y2, c, lw, var_t))
        return _g_grid(xs, ys, r, sv)

    def by_hermite(_):
        return _g_hermite(xs, c, la, lw, var_t, sv)

    g, g_err = lax.cond(sv >= hy, by_grid, by_hermite, None)
    x1, x2 = jnp.meshgrid(xs[0], xs[1], indexing="ij")
    lp = _log_mix_2d(x1, x2, c, lw, s2)
    lh = _log_mix_2d(x1, x2, c, lb, s2) - lp  # log h = log p^B / p
    # The patch's share psi_k p of p: psi_k is the posterior of k under components of twice
    # the variance, which switches on the scale 2 s^2 / |c_k - c_j| (resolved by the grid
    # where p has mass) and has fallen by e^-42 at a mean 13 s away (outside the patch).
    lpsi = (lwk - 0.25 * ((x1 - ck[0]) ** 2 + (x2 - ck[1]) ** 2) / s2
            - _log_mix_2d(x1, x2, c, lw, 2.0 * s2) - (LOG_2PI + jnp.log(2.0 * s2)))
    phi = jnp.exp(lpsi + lp)
    f = phi * g - jnp.exp(lpsi + lp + lh)
    lphi = lpsi + lp
    h1, h2 = xs[0][1] - xs[0][0], xs[1][1] - xs[1][0]

    def tv_on(f, h1, h2):
        rows = _line_abs_integral(f, h2)
        return 0.5 * h1 * (jnp.sum(rows) - 0.5 * (rows[0] + rows[-1]))

    def trap(a):
        return h1 * h2 * (jnp.sum(a) - 0.5 * (jnp.sum(a[0]) + jnp.sum(a[-1]) + jnp.sum(a[:, 0])
                                              + jnp.sum(a[:, -1])))

    lg = jnp.log(jnp.maximum(g, 0.0))
    l_ov = logsumexp(lphi + jnp.minimum(lg, lh)) + jnp.log(h1 * h2)
    return (tv_on(f, h1, h2), tv_on(f[::2, ::2], 2.0 * h1, 2.0 * h2),
            tv_on(f[::4, ::4], 4.0 * h1, 4.0 * h2),
            0.5 * trap(phi * g_err), 0.5 * trap(phi * g + jnp.exp(lphi + lh)), l_ov)


def _fr_tv_2d(c, la, lb, lw, s2, v):
    """``TV(p^{A,t}, p^B)`` in two dimensions on tensor grids (moderate resolution).

    ``TV = 1/2 sum_k int psi_k p |g - h|``: a smooth partition of unity ``psi_k`` (the
    posterior of ``k`` under components of twice the variance) splits ``p`` into one share
    per component, each integrated on its own square patch of ``+-13 s`` around its mean
    (so far-apart means cost no resolution). On a patch, ``g`` is computed on a uniform
    ``x`` grid, by the separable convolution of ``r`` sampled on a uniform ``y`` grid when
    the kernel is resolved (``sqrt(v)`` at least the ``y`` spacing: the trapezoid rule is
    then spectrally accurate for the smooth ``r``), else by Gauss-Hermite in ``Z``. The
    outer integral is the trapezoid rule along ``x_1`` of line integrals along ``x_2``, each
    corrected on the cells where the integrand changes sign (:func:`_line_abs_integral`), in
    axes turned away from the differences of means (:func:`_turned`). ``error`` adds the
    change of the TV on the grids of half the resolution (and an eighth of the change one
    level coarser) and ``1/2 int p |g - g'|`` with ``g'`` the half-resolution (or
    half-order) ``g``. The log-overlap is ``(mass(p g) + mass(p^B)) / 2 - TV`` while that
    is above ``1e-3`` (its terms are as accurate as the TV), else the log-space trapezoid
    sum of ``min(p g, p^B)`` (first order at its kink, but relative in the far tail).
    """
    c = _turned(c)
    parts = lax.map(lambda kw: _fr_patch(kw[0], kw[1], c, la, lb, lw, s2, v), (c, lw))
    tv, tv_half, tv_quarter, g_err, masses, l_ovs = parts
    total, half = jnp.sum(tv), jnp.sum(tv_half)
    # The kink-corrected rule converges like h^5 or faster (h^2.5 at a fold): the change
    # from half the resolution bounds the error, and the change one level coarser, divided
    # by 8, guards against a chance cancellation of the first difference.
    err = (jnp.abs(total - half) + jnp.abs(half - jnp.sum(tv_quarter)) / 8.0
           + jnp.sum(g_err))
    linear = jnp.sum(masses) - total
    l_ov = jnp.where(linear > 1e-3, jnp.log(jnp.maximum(linear, 1e-300)), logsumexp(l_ovs))
    return total, l_ov, err


# ======================================================================== public curves


def _check_reduced(model, name):
    if getattr(model, "cov_kind", None) != "shared" or model.dim not in (1, 2):
        raise bad("model", f"{type(model).__name__} with covariance "
                  f"{getattr(model, 'cov_kind', '?')!r} in dimension {model.dim}",
                  f"a shared-isotropic GaussianMixture of dimension 1 or 2 for {name} "
                  "(GaussianMixture.reduced())")


def _check_row(name, row, k):
    row = np.asarray(row, dtype=np.float64)
    if row.shape != (k,):
        raise bad(name, f"array of shape {row.shape}", f"a ({k},) array of log weights")
    if np.any(np.isnan(row)) or not np.any(np.isfinite(row)) or np.any(row == np.inf):
        raise bad(name, row.tolist(), "log weights with a finite entry, no NaN or +inf")
    return jnp.asarray(row)


def _np_lse(x):
    """NumPy ``logsumexp`` over the last axis (``-inf`` for an all ``-inf`` row)."""
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(x - m), axis=-1)) + m[..., 0]


def _check_mask(name, mask, k):
    mask = np.asarray(mask)
    if mask.shape != (k,) or mask.dtype != bool:
        raise bad(name, mask.tolist(), f"a ({k},) boolean mask")
    return jnp.asarray(mask)


def _over_model_times(model, fn, ts):
    """Times of a 1-D model are vmapped; a 2-D model maps over them one at a time (its
    rules hold large intermediate arrays)."""
    if model.dim == 1:
        return jax.vmap(fn)(ts)
    return lax.map(fn, ts)


# Rounding allowance of the exact 1-D TV (log_ndtr is accurate to a few ulps).
EXACT_ERROR = 1e-13


@jax.jit
def _tv_chunk(model, ts, la, lb):
    c, s2 = model.means, model.variances[0]

    def at(t):
        var = s2 + model.proc.ve_var(t)
        if model.means.shape[1] == 1:
            lo, _, _ = _log_overlap_1d(c[:, 0], la, lb, var)
            err = jnp.asarray(EXACT_ERROR)
        else:
            lo, le = _log_overlap_2d(c, la, lb, var)
            err = jnp.exp(le) + EXACT_ERROR
        lo = jnp.minimum(lo, 0.0)
        return jnp.clip(-jnp.expm1(lo), 0.0, 1.0), lo, err

    return _over_model_times(model, at, ts)


@jax.jit
def _bc_chunk(model, ts, la, lb):
    c, s2 = model.means, model.variances[0]

    def at(t):
        var = s2 + model.proc.ve_var(t)
        if model.means.shape[1] == 1:
            lv, le = _log_bc_1d(c[:, 0], la, lb, var)
        else:
            lv, le = _log_bc_2d(c, la, lb, var)
        return jnp.clip(jnp.exp(lv), 0.0, 1.0), jnp.exp(le)

    return _over_model_times(model, at, ts)


@jax.jit
def _label_law_chunk(model, ts, la):
    c, s2, lw = model.means, model.variances[0], model.log_w

    def at(t):
        var = s2 + model.proc.ve_var(t)
        if model.means.shape[1] == 1:
            return _log_label_law_1d(c[:, 0], la, lw, var)
        return _log_label_law_2d(c, la, lw, var)

    return _over_model_times(model, at, ts)


@jax.jit
def _fr_tv_chunk(model, ts, la, lb):
    c, s2, lw = model.means, model.variances[0], model.log_w

    def at(t):
        v = model.proc.ve_var(t)
        if model.means.shape[1] == 1:
            tv, lo, err = _fr_tv_1d(c[:, 0], la, lb, lw, s2, v)
        else:
            tv, lo, err = _fr_tv_2d(c, la, lb, lw, s2, v)
        return jnp.clip(tv, 0.0, 1.0), jnp.minimum(lo, 0.0), err

    return lax.map(at, ts)


def _curve(model, fn, ts, vmapped=True):
    """:func:`_over_times` with the chunk of the model's dimension: times of a 1-D model are
    vmapped in chunks of :data:`TIME_CHUNK`; a 2-D model (or a rule that maps over times)
    takes one time per call, so no padded time costs work."""
    return _over_times(fn, ts, TIME_CHUNK if vmapped and model.dim == 1 else 1)


def _estimate(name, value, error, log_overlap=None):
    _no_nan(name, value, error, log_overlap)
    z = np.zeros_like(value)
    lo_se = None if log_overlap is None else np.zeros_like(log_overlap)
    return Estimate(value, z, QUAD, z, error, log_overlap, lo_se)


def quadrature_tv(model, ts, log_a, log_b) -> Estimate:
    """``TV(p_t^A, p_t^B)`` and its log-overlap for a reduced model of dimension 1 or 2.

    One dimension: exact up to rounding (zeros of ``p_a - p_b`` by bracketing and bisection,
    Gaussian interval masses in log space); two dimensions: the exact 1-D rule inside a
    G7-K15 rule over ``y_1`` (module docstring). ``log_overlap = log int min(p_t^A, p_t^B)``
    keeps its relative accuracy far below ``1e-300``.

    Args:
        model: a reduced shared-isotropic :class:`GaussianMixture` (``dim`` 1 or 2).
        ts: 1-D array of times.
        log_a, log_b: ``(K,)`` normalised log mixing rows (``-inf`` outside each set).

    Returns:
        An :class:`Estimate` (method ``"quadrature"``) with ``error`` an estimate of the
        absolute error of ``value``.
    """
    _check_reduced(model, "quadrature_tv")
    ts = model.process.validate_times(ts)
    k = model.n_components
    la, lb = _check_row("log_a", log_a, k), _check_row("log_b", log_b, k)
    tv, lo, err = _curve(model, lambda c: _tv_chunk(model, c, la, lb), ts)
    return _estimate("quadrature_tv", tv, err, lo)


def quadrature_bc(model, ts, log_a, log_b) -> Estimate:
    """``BC(p_t^A, p_t^B) = int sqrt(p_t^A p_t^B)`` by log-space G7-K15 (Lemma 7's BC).

    Args:
        model: a reduced shared-isotropic :class:`GaussianMixture` (``dim`` 1 or 2).
        ts: 1-D array of times.
        log_a, log_b: ``(K,)`` normalised log mixing rows.

    Returns:
        An :class:`Estimate` (method ``"quadrature"``).
    """
    _check_reduced(model, "quadrature_bc")
    ts = model.process.validate_times(ts)
    k = model.n_components
    la, lb = _check_row("log_a", log_a, k), _check_row("log_b", log_b, k)
    bc, err = _curve(model, lambda c: _bc_chunk(model, c, la, lb), ts)
    return _estimate("quadrature_bc", bc, err)


def quadrature_label_mass(model, ts, log_a, mask_b) -> Estimate:
    """``E_{Y ~ p_t^A}[pi_t(B | Y)]`` (theory.md §1.4 and §6 item 7).

    ``pi_t(B | y) = sum_{k in B} w_k p_t^k(y) / p_t(y)`` with ``w = exp(model.log_w)``; with
    ``B = A`` this is the probability that the forward-reverse output keeps its label.

    Args:
        model: a reduced shared-isotropic :class:`GaussianMixture` (``dim`` 1 or 2).
        ts: 1-D array of times.
        log_a: ``(K,)`` normalised log mixing row of ``A``.
        mask_b: ``(K,)`` boolean mask of ``B``.

    Returns:
        An :class:`Estimate` (method ``"quadrature"``).
    """
    _check_reduced(model, "quadrature_label_mass")
    ts = model.process.validate_times(ts)
    k = model.n_components
    la, mb = _check_row("log_a", log_a, k), np.asarray(_check_mask("mask_b", mask_b, k))
    lv, le = _curve(model, lambda c: _label_law_chunk(model, c, la), ts)
    # pi_t(B | y) is the sum of the posteriors of B: so is its average, term by term.
    with np.errstate(divide="ignore"):
        val = np.exp(_np_lse(np.where(mb, lv, -np.inf)))
        err = np.exp(_np_lse(np.where(mb, le, -np.inf)))
    val = np.clip(val, 0.0, 1.0)
    return _estimate("quadrature_label_mass", val, err)


def quadrature_label_law(model, ts, log_a) -> Estimate:
    """``P(label(X^{A,t}) = theta) = E_{Y ~ p_t^A}[pi_t(theta | Y)]`` for every ``theta``.

    Args:
        model: a reduced shared-isotropic :class:`GaussianMixture` (``dim`` 1 or 2).
        ts: 1-D array of times.
        log_a: ``(K,)`` normalised log mixing row of ``A``.

    Returns:
        An :class:`Estimate` whose fields have shape ``(n_times, K)``.
    """
    _check_reduced(model, "quadrature_label_law")
    ts = model.process.validate_times(ts)
    la = _check_row("log_a", log_a, model.n_components)
    lv, le = _curve(model, lambda c: _label_law_chunk(model, c, la), ts)
    return _estimate("quadrature_label_law", np.clip(np.exp(lv), 0.0, 1.0), np.exp(le))


def quadrature_fr_tv(model, ts, log_init, log_cmp) -> Estimate:
    """``TV(p^{A,t}, p^B)``: the forward-reverse law (Definition 3) against a clean mixture.

    ``p^{A,t}(x) = p(x) g(x)`` with ``g(x) = E[p_t^A / p_t (x + sqrt(v(t)) Z)]`` and
    ``p^B = p h``, ``h = p^B / p``; ``TV = 1/2 int p |g - h|`` (theory.md §1.4). One
    dimension: nested G7-K15 rules with the zeros of ``g - h`` made panel ends (accurate to
    ~1e-14); two dimensions: tensor grids with a kink correction (module docstring), whose
    ``error`` is larger and honest. ``log_overlap = log int min(p^{A,t}, p^B)``.

    Args:
        model: a reduced shared-isotropic :class:`GaussianMixture` (``dim`` 1 or 2).
        ts: 1-D array of times.
        log_init: ``(K,)`` normalised log mixing row of ``A``.
        log_cmp: ``(K,)`` normalised log mixing row of ``B``.

    Returns:
        An :class:`Estimate` (method ``"quadrature"``).
    """
    _check_reduced(model, "quadrature_fr_tv")
    ts = model.process.validate_times(ts)
    k = model.n_components
    la, lb = _check_row("log_init", log_init, k), _check_row("log_cmp", log_cmp, k)
    tv, lo, err = _curve(model, lambda c: _fr_tv_chunk(model, c, la, lb), ts, vmapped=False)
    return _estimate("quadrature_fr_tv", tv, err, lo)
