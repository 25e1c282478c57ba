"""Property tests of theory.md §6 on random Gaussian mixtures, on the exact paths.

Every instance is a shared-isotropic mixture whose means span a line (``K = 2..4`` means in
``R^1``) or a plane (``K = 3`` means in a plane of ``R^3``, so the span reduction runs
first), so that every curve hook of :class:`synthetic.gaussian_mixture.GaussianMixture`
answers by closed form or quadrature, exact up to its stated ``error``. The inequalities of
§6 (items 1, 2, 6, 7, 10-16, 21, 23) are therefore held to ``1e-9`` plus the stated errors,
not to Monte Carlo tolerances; one last test takes the Monte Carlo path on a model whose
answers are known.

Independent oracles (NumPy and SciPy, no code shared with the JAX path): the noised
densities from the channel's definition ``Y_t = a(t) X + sigma(t) Z`` (``v = sigma^2 / a^2``)
and a numerical convolution; the pairwise closed forms ``2 Phi(delta / 2) - 1`` through
``scipy.special.erf``; and, in one dimension, composite Gauss-Legendre quadratures on panels
that follow the scales of the mixture: the label masses, ``chi^2``, ``E_P[Q / (P + Q)]``, and
the forward-reverse TVs ``TV(p^{A,t}, p^{B,t})`` (term (I), which no hook computes) and
``TV(p^{A,t}, p^B)`` from ``p^{A,t}(x) = p(x) E_{Y ~ N(x, v)}[p_t^A(Y) / p_t(Y)]``
(theory.md §1.4).

Compilation dominates the cost: the quadratures are jitted per model *shape*, so the
instances come from a few shape classes and a fixed number of times (see :data:`CLASSES`).
The planar class runs in the ``thorough`` profile or with ``LOCALIZE_TEST_PLANE=1``.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import erf
from scipy.special import logsumexp as sp_logsumexp
from scipy.stats import multivariate_normal as mvn
from scipy.stats import norm

import localize  # noqa: F401  (float64)
from localize.continuous import EstimateConfig
from synthetic import gaussian_exact as gx
from synthetic.gaussian_mixture import gaussian_mixture

KEY = jax.random.key(0)
CONFIG = EstimateConfig()  # never used on the exact paths (asserted)
EXACT_METHODS = ("exact", "closed-form", "quadrature")
TOL = 1e-9
# The exact routines pad the times to chunks of 8 (gaussian_exact.TIME_CHUNK): 8 times cost
# the same as 1.
N_TIMES = 8
T_MAX = 4.0
EPSILONS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)

# Shape classes ``(K, span dimension)``. Compilation dominates the cost of the file: each
# quadrature compiles once per class (on two cores, ~3 s for a 1-D TV, ~7 s for a 1-D
# forward-reverse TV, 10-17 s for each 2-D routine), and one forward-reverse TV costs
# ~0.5 s (K = 2), ~2.5 s (K = 3), ~10 s (K = 4) on a line. So the default profiles run the
# line classes, the forward-reverse tests mostly at K = 2; the "thorough" profile (or
# LOCALIZE_TEST_PLANE=1) adds the planar class (K = 3 means spanning a plane) everywhere.
#
# The properties run on the OU channel only: the exact routines see a channel only through
# ``v(t)``, and OU on ``[0, 4]`` covers ``v in [0, e^8 - 1]``, which contains VE's and the SL
# channel's ``[0, 4]`` (the three channels' ``v`` are checked against their definitions in
# the item-1 test).
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
PLANE = THOROUGH or os.environ.get("LOCALIZE_TEST_PLANE") == "1"
ONE_D2, ONE_D3, ONE_D4, TWO_D = (2, 1), (3, 1), (4, 1), (3, 2)
_PLANE = (TWO_D,) if PLANE else ()
# Tests that use only TV, BC, label masses and label laws.
CLASSES = (ONE_D2, ONE_D3, ONE_D4) + _PLANE
# Tests that call the forward-reverse TV once per example.
FR_CLASSES = (ONE_D2,) + ((ONE_D3,) if THOROUGH else ()) + _PLANE
# Theorem 2 needs K = 3 for a strict chain S_init < S_target < Theta.
NESTED_CLASSES = (ONE_D2, ONE_D3) + ((ONE_D4,) if THOROUGH else ()) + _PLANE
# Term (I) against the NumPy oracle (line only).
ORACLE_CLASSES = (ONE_D2,) + ((ONE_D3,) if THOROUGH else ())
# Examples of each test that calls the forward-reverse TV: at most 15, except in "thorough".
FR_EXAMPLES = settings().max_examples if THOROUGH else min(15, settings().max_examples)
# Planar instances are embedded in R^3 through a fixed orthonormal frame, so the hooks must
# find the span (GaussianMixture.reduced) before their quadrature.
FRAME = np.linalg.qr(np.array([[1.0, 0.3], [-0.4, 1.0], [0.7, -0.2]]))[0]  # (3, 2)
OFFSET = np.array([0.3, -1.1, 2.0])
PROCESS = "ou"


# ======================================================================== the channel


def ve_variance(process, t):
    """``v(t) = sigma(t)^2 / a(t)^2`` from the definition of each channel (channels.py doc).

    OU: ``a = e^{-t}``, ``sigma^2 = 1 - e^{-2t}``; VE: ``a = 1``, ``sigma^2 = t``; Montanari's
    channel with ``theta = 1 / t``: ``a = 1 / t``, ``sigma^2 = 1 / t``.
    """
    t = float(t)
    if process == "ou":
        a, s2 = math.exp(-t), -math.expm1(-2.0 * t)
        return s2 / (a * a)
    if process == "ve":
        return t
    if t == 0.0:
        return 0.0
    log_a, log_s2 = -math.log(t), -math.log(t)  # in logs: 1 / t overflows for subnormal t
    return math.exp(log_s2 - 2.0 * log_a)


# ======================================================================== instances


class Instance(NamedTuple):
    k: int
    r: int
    process: str
    means: np.ndarray  # (K, r)
    weights: np.ndarray  # (K,)
    s2: float
    ts: np.ndarray  # (N_TIMES,) strictly increasing
    model: object

    def __repr__(self):
        return (f"Instance(K={self.k}, r={self.r}, process={self.process!r}, "
                f"means={self.means.tolist()} (model: {np.asarray(self.model.means).tolist()}), "
                f"weights={self.weights.tolist()}, s2={self.s2!r}, ts={self.ts.tolist()})")

    @property
    def full(self):
        return (1 << self.k) - 1

    def mask(self, bits):
        return np.array([(bits >> i) & 1 == 1 for i in range(self.k)])

    def members(self, bits):
        return [i for i in range(self.k) if (bits >> i) & 1]

    def row(self, bits):
        """``log(w_theta / w(S))`` on ``S``, ``-inf`` elsewhere (``log_set_weights``, in NumPy)."""
        m = self.mask(bits)
        with np.errstate(divide="ignore"):
            return np.where(m, np.log(self.weights) - math.log(self.w(bits)), -np.inf)

    def w(self, bits):
        return float(self.weights[self.members(bits)].sum())

    def var(self, t):
        """Variance of each noised component, ``s^2 + v(t)``."""
        return self.s2 + ve_variance(self.process, t)

    def variances(self):
        return np.array([self.var(t) for t in self.ts])

    # -- the hooks, with the exactness of their path asserted -----------------------

    def _check(self, est, name):
        assert est.method in EXACT_METHODS, f"{name} took the {est.method} path: {self!r}"
        assert np.all(np.asarray(est.se) == 0), name
        for f in (est.value, est.error):
            assert not np.any(np.isnan(f)), f"{name}: NaN"
        assert np.all(np.asarray(est.error) >= 0), f"{name}: negative error"
        return est

    def tv(self, a, b):
        return self._check(self.model.tv_curve(KEY, self.ts, self.row(a), self.row(b), CONFIG),
                           "tv_curve")

    def bc(self, a, b):
        return self._check(self.model.bc_curve(KEY, self.ts, self.row(a), self.row(b), CONFIG),
                           "bc_curve")

    def mass(self, a, b):
        """``E_{Y ~ p_t^A}[pi_t(B | Y)]``."""
        return self._check(self.model.label_mass_curve(KEY, self.ts, self.row(a), self.mask(b),
                                                       CONFIG), "label_mass_curve")

    def fr_tv(self, a, b):
        """``TV(p^{A,t}, p^B)``."""
        return self._check(self.model.fr_tv_curve(KEY, self.ts, self.row(a), self.row(b),
                                                  CONFIG), "fr_tv_curve")

    def fr_law(self, a):
        return self._check(self.model.fr_label_law(KEY, self.ts, self.row(a), CONFIG),
                           "fr_label_law")


def _build(k, r, process, means, weights, s2, ts, embed=False):
    """An instance; ``means`` are kept in span coordinates, the model may see them in R^3."""
    means = np.asarray(means, dtype=np.float64)
    ambient = means @ FRAME.T + OFFSET if embed else means
    model = gaussian_mixture(ambient, weights, variance=s2, process=process)
    return Instance(k, r, process, means, np.asarray(weights, dtype=np.float64), s2,
                    np.asarray(ts, dtype=np.float64), model)


def coords(lo=-8.0, hi=8.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def weight_vectors(draw, k):
    raw = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    w = raw / raw.sum()
    return w / w.sum()


@st.composite
def time_grids(draw, n=N_TIMES, hi=T_MAX):
    ts = draw(st.lists(st.floats(0.0, hi), min_size=n, max_size=n, unique=True))
    return np.array(sorted(ts))


@st.composite
def instances(draw, classes=CLASSES):
    k, r = draw(st.sampled_from(classes))
    means = np.array(draw(st.lists(st.lists(coords(), min_size=r, max_size=r),
                                   min_size=k, max_size=k)))
    weights = draw(weight_vectors(k))
    s2 = draw(st.floats(0.2, 3.0))
    ts = draw(time_grids())
    return _build(k, r, PROCESS, means, weights, s2, ts, embed=r == 2)


def proper_subsets(k):
    return st.integers(1, (1 << k) - 2)


def subsets_of(bits):
    return st.sampled_from([b for b in range(1, bits + 1) if b & ~bits == 0])


# ======================================================================== assertions


def _err(*ests):
    return sum(np.asarray(e.error, dtype=np.float64) for e in ests)


def assert_leq(a, b, slack=0.0, what="", inst=None):
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    slack = np.broadcast_to(np.asarray(slack, dtype=np.float64) + TOL, a.shape)
    ok = a <= b + slack
    assert np.all(ok), (f"{what}: {a[~ok][:4]} > {b[~ok][:4]} (slack {slack[~ok][:4]}) "
                        f"{inst!r}")


def assert_close(a, b, slack=0.0, what="", inst=None):
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    slack = np.broadcast_to(np.asarray(slack, dtype=np.float64) + TOL, a.shape)
    ok = np.abs(a - b) <= slack
    assert np.all(ok), (f"{what}: {a[~ok][:4]} != {b[~ok][:4]} (|diff| "
                        f"{np.abs(a - b)[~ok][:4]}, slack {slack[~ok][:4]}) {inst!r}")


def sqrt_one_minus_tv2(est):
    """``sqrt(1 - TV^2) = sqrt(ov (2 - ov))`` from the reported log-overlap ``ov = 1 - TV``."""
    if est.log_overlap is None:
        tv = np.asarray(est.value)
        return np.sqrt(np.maximum(1.0 - tv * tv, 0.0))
    ov = np.exp(np.asarray(est.log_overlap))
    return np.sqrt(ov * (2.0 - ov))


def pair_tv(delta):
    """``TV(N(a, C), N(b, C)) = 2 Phi(delta / 2) - 1 = erf(delta / (2 sqrt 2))`` (SciPy)."""
    return erf(np.asarray(delta) / (2.0 * math.sqrt(2.0)))


def pairwise_tv(inst, i, j):
    """``TV(p_t^i, p_t^j)`` at every time, in closed form from the noised variances."""
    delta = np.linalg.norm(inst.means[i] - inst.means[j]) / np.sqrt(inst.variances())
    return pair_tv(delta)


# ======================================================================== 1-D oracles
#
# Composite Gauss-Legendre (12 nodes) on panels: sd-wide panels over +-10 sd around every
# mean, and around every point where the dominant term of a mixture (or of a ratio of two)
# changes, over a width ell = var / |c_i - c_j|, panels of width ell, 2 ell, 4 ell, ...
# outwards. The forward-reverse TVs split the panels at the zeros of the integrand's
# absolute value, so no panel straddles a kink.

GL_X, GL_W = np.polynomial.legendre.leggauss(12)
GAUSS_STEPS = np.arange(-10.0, 10.5, 1.0)
KINK_STEPS = np.array([0.0, 1, -1, 2, -2, 4, -4, 8, -8, 16, -16, 32, -32, 64, -64])
U_MAX = 12.0  # |u| beyond which the standard normal weight is below e^-72
U_BREAKS = np.arange(-U_MAX, U_MAX + 0.5, 1.0)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
ZERO_TOL = 1e-13  # |g_A - g_B| below this counts as zero when locating sign changes


def _lse(a, axis=-1):
    """``log sum exp`` along ``axis`` (``-inf`` when every term is ``-inf``)."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(a - m), axis=axis)) + np.squeeze(m, axis=axis)


def _log_norm(y, c, var):
    return -0.5 * ((y - c) ** 2 / var + math.log(2.0 * math.pi * var))


def _log_mix(y, c, row, var):
    """``log sum_k e^{row_k} N(y; c_k, var)`` for 1-D ``y`` of any shape."""
    return _lse(row + _log_norm(np.asarray(y)[..., None], c, var))


def _switches(c, la, lb, var, symmetric=False):
    """Points where ``e^{la_i} N(c_i, var)`` and ``e^{lb_j} N(c_j, var)`` cross, and widths."""
    sd = math.sqrt(var)
    cs, ws = [], []
    for i in range(len(c)):
        for j in range(i + 1 if symmetric else 0, len(c)):
            dc = c[i] - c[j]
            if i == j or abs(dc) <= 1e-9 * sd or not (np.isfinite(la[i]) and np.isfinite(lb[j])):
                continue
            cs.append(0.5 * (c[i] + c[j]) + var * (lb[j] - la[i]) / dc)
            ws.append(var / abs(dc))
    return np.array(cs), np.array(ws)


def _breaks(c, sd, kinks=(), lo=None, hi=None):
    """Panel ends: Gaussian panels around ``c`` (scale ``sd``), kink panels around each
    ``(centres, widths)`` of ``kinks`` narrower than ``sd``, clipped to ``[lo, hi]``."""
    lo = c.min() - 10.0 * sd if lo is None else lo
    hi = c.max() + 10.0 * sd if hi is None else hi
    parts = [(c[:, None] + sd * GAUSS_STEPS).ravel(), [lo, hi]]
    for kc, kw in kinks:
        sharp = np.asarray(kw) < sd  # smoother crossings are resolved by the sd panels
        if np.any(sharp):
            parts.append((kc[sharp, None] + kw[sharp, None] * KINK_STEPS).ravel())
    b = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
    return np.unique(np.clip(b, lo, hi))


def _nodes(breaks):
    half = 0.5 * np.diff(breaks)
    mid = 0.5 * (breaks[1:] + breaks[:-1])
    return (mid[:, None] + half[:, None] * GL_X).ravel(), (half[:, None] * GL_W).ravel()


def _integrate(log_f, c, var, rows):
    """``int exp(log_f(y)) dy`` with panels following the crossings of the ``rows``."""
    sd = math.sqrt(var)
    kinks = [_switches(c, ra, rb, var) for ra in rows for rb in rows]
    y, w = _nodes(_breaks(c, sd, kinks))
    return float(np.sum(w * np.exp(log_f(y))))


def oracle_label_mass(inst, t, a, b):
    """``E_{Y ~ p_t^A}[pi_t(B | Y)]`` (1-D)."""
    c, lw, var = inst.means[:, 0], np.log(inst.weights), inst.var(t)
    ra, lb = inst.row(a), np.where(inst.mask(b), lw, -np.inf)

    def log_f(y):
        return _log_mix(y, c, ra, var) + _log_mix(y, c, lb, var) - _log_mix(y, c, lw, var)

    return _integrate(log_f, c, var, [lw])


def oracle_chi2(inst, t, s):
    """``chi^2(p_t^S || p_t) = int (p_t^S)^2 / p_t - 1`` (1-D)."""
    c, lw, var = inst.means[:, 0], np.log(inst.weights), inst.var(t)
    rs = inst.row(s)

    def log_f(y):
        return 2.0 * _log_mix(y, c, rs, var) - _log_mix(y, c, lw, var)

    return _integrate(log_f, c, var, [lw]) - 1.0


def oracle_posterior_overlap(inst, t, a, b):
    """``E_P[Q / (P + Q)] = int P Q / (P + Q)`` for ``P = p_t^A``, ``Q = p_t^B`` (1-D)."""
    c, var = inst.means[:, 0], inst.var(t)
    ra, rb = inst.row(a), inst.row(b)
    rab = np.logaddexp(ra, rb)

    def log_f(y):
        lp, lq = _log_mix(y, c, ra, var), _log_mix(y, c, rb, var)
        return lp + lq - np.logaddexp(lp, lq)

    return _integrate(log_f, c, var, [ra, rb, rab])


class _FR(NamedTuple):
    """A 1-D mixture ``sum_k w_k N(c_k, s2)`` seen through ``N(0, v)`` noise.

    Sets are boolean masks; every density ratio is computed in linear space after removing
    the largest exponent at each point (a ratio of two mixtures of the same components).
    """

    c: np.ndarray
    w: np.ndarray
    s2: float
    v: float

    def _ratios(self, y, masks, var):
        """``p^R(y) / p(y)`` of the mixtures with variance ``var``, one per mask: ``(R, *y)``."""
        e = np.log(self.w) - (y[..., None] - self.c) ** 2 / (2.0 * var)
        big = np.exp(e - e.max(axis=-1, keepdims=True))
        den = big.sum(axis=-1)
        return np.stack([(big @ m.astype(np.float64)) / (den * self.w[m].sum()) for m in masks])

    def clean_ratio(self, x, mask):
        """``h(x) = p^R(x) / p(x)``."""
        return self._ratios(np.asarray(x, dtype=np.float64), [mask], self.s2)[0]

    def g(self, x, masks):
        """``g_R(x) = E_{Y ~ N(x, v)}[p_t^R(Y) / p_t(Y)]`` for every mask: ``(len(masks), n)``.

        At ``v = 0`` it is ``p^R / p``. Otherwise Gauss-Legendre in ``u = (y - x)/sqrt(v)``
        on unit panels over ``|u| <= 12``, plus kink panels (per ``x``) around the crossings
        of ``p_t`` where they are sharper than the Gaussian (a sub-mixture is the full weights
        restricted and renormalised, so its crossings are among those of ``p_t``).
        """
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        if self.v == 0.0:
            return self._ratios(x, masks, self.s2)
        var, sv = self.s2 + self.v, math.sqrt(self.v)
        kc, kw = _switches(self.c, np.log(self.w), np.log(self.w), var, symmetric=True)
        sharp = kw / sv < 0.5
        kc, scale = kc[sharp], kw[sharp] / sv
        parts = [np.broadcast_to(U_BREAKS, (x.size, U_BREAKS.size))]
        if kc.size:
            kin = ((kc[None, :, None] - x[:, None, None]) / sv
                   + scale[None, :, None] * KINK_STEPS[None, None, :])
            parts.append(kin.reshape(x.size, -1))
        br = np.sort(np.clip(np.concatenate(parts, axis=1), -U_MAX, U_MAX), axis=1)
        half = 0.5 * np.diff(br, axis=1)
        mid = 0.5 * (br[:, 1:] + br[:, :-1])
        ix, jp = np.nonzero(half > 0)  # only the panels of positive width
        h = half[ix, jp][:, None]
        u = mid[ix, jp][:, None] + h * GL_X
        wu = h * GL_W * np.exp(-0.5 * u * u - LOG_SQRT_2PI)
        ratio = self._ratios(x[ix][:, None] + sv * u, masks, var)  # (R, M, 12)
        return np.stack([np.bincount(ix, np.sum(wu * r, axis=1), minlength=x.size)
                         for r in ratio])


def _bisect(f, lo, hi, pos_lo):
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        same = (f(mid) > 0) == pos_lo
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def _abs_integral(breaks, x, wx, px, dx, d_fun, p_fun):
    """``int p |D|`` on the panels between ``breaks`` (nodes ``x``, weights ``wx``, values
    ``px``, ``dx``), splitting each panel at the zeros of ``D`` bracketed by its nodes."""
    n = GL_X.size
    contrib = (wx * px * np.abs(dx)).reshape(-1, n).sum(axis=1)
    # Sign changes between consecutive nodes where |D| is above rounding (a zero inside a
    # stretch where D vanishes to rounding costs nothing: |D| is negligible there).
    big = np.flatnonzero(np.abs(dx) > ZERO_TOL)
    pos = dx[big] > 0
    change = np.flatnonzero(pos[:-1] != pos[1:])
    if change.size == 0:
        return float(contrib.sum())
    lo, hi = big[change], big[change + 1]
    zeros = _bisect(d_fun, x[lo], x[hi], pos[change])
    panels = np.searchsorted(breaks, zeros, side="right") - 1
    split = np.unique(panels)
    keep = np.ones(contrib.size, dtype=bool)
    keep[split] = False
    sub = np.unique(np.concatenate([breaks[split], breaks[split + 1], zeros]))
    # Only the sub-panels inside the split panels (between consecutive ends of one panel).
    xs, ws = _nodes(sub)
    inside = np.zeros(xs.size, dtype=bool)
    for j in split:
        inside |= (xs > breaks[j]) & (xs < breaks[j + 1])
    xs, ws = xs[inside], ws[inside]
    return float(contrib[keep].sum() + np.sum(ws * p_fun(xs) * np.abs(d_fun(xs))))


def oracle_fr_tvs(inst, t, a, b):
    """``(TV(p^{A,t}, p^{B,t}), TV(p^{A,t}, p^B))`` in one dimension (theory.md §1.4).

    ``p^{R,t}(x) = p(x) g_R(x)`` and ``p^B(x) = p(x) h_B(x)``, ``h_B = p^B / p``, so each TV is
    ``1/2 int p |g_A - g_B|`` or ``1/2 int p |g_A - h_B|``.
    """
    fr = _FR(inst.means[:, 0], inst.weights, inst.s2, ve_variance(inst.process, t))
    c, lw, s2, v = fr.c, np.log(fr.w), fr.s2, fr.v
    sd = math.sqrt(s2)
    ma, mb = inst.mask(a), inst.mask(b)
    kt, kwt = _switches(c, lw, lw, s2 + v, symmetric=True)
    k0, kw0 = _switches(c, lw, lw, s2, symmetric=True)
    breaks = _breaks(c, sd, [(kt, np.sqrt(kwt**2 + v)), (k0, kw0)])
    x, wx = _nodes(breaks)

    def p_fun(z):
        return np.exp(_log_mix(z, c, lw, s2))

    def d_fr(z):
        g = fr.g(z, [ma, mb])
        return g[0] - g[1]

    def d_clean(z):
        return fr.g(z, [ma])[0] - fr.clean_ratio(z, mb)

    px = p_fun(x)
    g = fr.g(x, [ma, mb])
    h = fr.clean_ratio(x, mb)
    return (0.5 * _abs_integral(breaks, x, wx, px, g[0] - g[1], d_fr, p_fun),
            0.5 * _abs_integral(breaks, x, wx, px, g[0] - h, d_clean, p_fun))


# ======================================================================== item 1


@jax.jit
def _package_log_noised(model, ts, ys, row):
    """``log p_t^S(y)`` for the points ``ys[i]`` at time ``ts[i]``: ``(n_times, n)``."""
    return jax.vmap(lambda t, y: jax.nn.logsumexp(row + model.log_noised(t, y), axis=1))(ts, ys)


# (K, d): one compilation of _package_log_noised per pair and process.
LINEARITY_SHAPES = ((2, 1), (4, 1), (3, 2), (3, 5))


@given(st.data())
def test_linearity_of_noised_marginals(data):
    """Item 1: ``log p_t^S(y)`` is the mixture of the noised components (any process, any d).

    Against the density of ``N(m, (s^2 + v(t)) I)`` from the channel's definition (SciPy), and
    in one dimension against the convolution ``int p^S(x) N(y; x, v) dx`` computed by
    quadrature (the law of ``X + sqrt(v) Z`` with ``X ~ p^S``).
    """
    k, d = data.draw(st.sampled_from(LINEARITY_SHAPES))
    process = data.draw(st.sampled_from(("ou", "ve", "channel")))
    means = np.array(data.draw(st.lists(st.lists(coords(), min_size=d, max_size=d),
                                        min_size=k, max_size=k)))
    weights = data.draw(weight_vectors(k))
    s2 = data.draw(st.floats(0.2, 3.0))
    inst = _build(k, d, process, means, weights, s2, data.draw(time_grids()))
    bits = data.draw(st.integers(1, inst.full))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    members = inst.members(bits)
    # Points where p_t^S has mass, and a few farther out.
    spread = np.array([1.0, 1.0, 2.0, 3.0, 6.0, 0.5])[:, None]
    ys = np.stack([means[rng.choice(members, size=6)]
                   + math.sqrt(inst.var(t)) * spread * rng.normal(size=(6, d)) for t in inst.ts])
    got = np.asarray(_package_log_noised(inst.model, jnp.asarray(inst.ts), jnp.asarray(ys),
                                         jnp.asarray(inst.row(bits))))
    log_ws = np.log(weights[members] / weights[members].sum())
    for i, t in enumerate(inst.ts):
        var, y = inst.var(t), ys[i]
        comps = np.stack([mvn(means[j], var * np.eye(d)).logpdf(y).reshape(-1)
                          for j in members], axis=1)
        expected = sp_logsumexp(comps + log_ws, axis=1)
        assert_close(got[i], expected, 1e-12 * np.abs(expected), f"t={t}", inst)
        v = ve_variance(process, t)
        if d > 1 or v < 1e-6:
            continue
        # The convolution of the clean sub-mixture with N(0, v), by quadrature in x.
        c, sd, sv = means[:, 0], math.sqrt(s2), math.sqrt(v)
        for yi, gi in zip(y[:, 0], got[i], strict=True):
            lo = min(c.min() - 10 * sd, yi - 10 * sv)
            hi = max(c.max() + 10 * sd, yi + 10 * sv)
            # The integrand of component k peaks at its posterior mean given y.
            peaks = (c * v + yi * s2) / (s2 + v)
            sd_post = math.sqrt(s2 * v / (s2 + v))
            xb = np.unique(np.concatenate([_breaks(c, sd, lo=lo, hi=hi),
                                           np.clip(yi + sv * GAUSS_STEPS, lo, hi),
                                           np.clip((peaks[:, None] + sd_post * GAUSS_STEPS)
                                                   .ravel(), lo, hi)]))
            x, wx = _nodes(xb)
            lf = _log_mix(x, c, inst.row(bits), s2) + _log_norm(yi, x, v)
            conv = float(_lse(lf + np.log(wx), axis=0))
            assert abs(conv - gi) <= 1e-10 * max(1.0, abs(gi)), (t, yi, conv, gi, inst)


# ======================================================================== item 2


@given(st.data())
def test_dpi_along_the_forward_process(data):
    """Item 2: for ``t <= t'``, TV and ``H^2 = 2 (1 - BC)`` do not increase; BC does not
    decrease."""
    inst = data.draw(instances())
    a = data.draw(st.integers(1, inst.full))
    b = data.draw(st.integers(1, inst.full).filter(lambda x: x != a))
    tv, bc = inst.tv(a, b), inst.bc(a, b)
    e_tv, e_bc = _err(tv), _err(bc)
    slack_tv = e_tv[1:] + e_tv[:-1]
    slack_bc = e_bc[1:] + e_bc[:-1]
    assert_leq(tv.value[1:], tv.value[:-1], slack_tv, "TV increased", inst)
    assert_leq(bc.value[:-1], bc.value[1:], slack_bc, "BC decreased", inst)
    h2 = 2.0 * (1.0 - bc.value)
    assert_leq(h2[1:], h2[:-1], 2.0 * slack_bc, "H^2 increased", inst)
    # The log-overlap is log(1 - TV), and it is non-decreasing too. On a line it is exact in
    # relative terms far below 1e-300 (so its monotonicity is checked in log space); in the
    # plane its error is the TV's absolute error.
    assert_close(np.exp(tv.log_overlap), 1.0 - tv.value, e_tv, "log_overlap", inst)
    lo = np.asarray(tv.log_overlap)
    if inst.r == 1:
        slack_lo = 1e-9 * np.maximum(1.0, np.abs(lo[1:]))
    else:
        slack_lo = slack_tv / np.maximum(np.exp(lo[1:]), 1e-300)
    assert_leq(lo[:-1], lo[1:], slack_lo, "log-overlap decreased", inst)
    # Bounds that make the curves meaningful.
    assert np.all((tv.value >= 0) & (tv.value <= 1) & (bc.value >= 0) & (bc.value <= 1 + TOL))


# ======================================================================== item 6


@given(instances())
def test_posterior_martingale(inst):
    """Item 6: ``E_{Y ~ p_t}[pi_t(theta | Y)] = w_theta`` (the label law from the whole ``p``)."""
    law = inst.fr_law(inst.full)
    assert law.value.shape == (N_TIMES, inst.k)
    assert_close(law.value, np.broadcast_to(inst.weights, law.value.shape), law.error,
                 "martingale", inst)


# ======================================================================== item 7


@given(st.data())
def test_label_law_from_a_subset(data):
    """Item 7: ``E_{Y ~ p_t^S}[pi_t(S | Y)] = w(S) (1 + chi^2(p_t^S || p_t)) >= w(S)``,
    non-increasing in ``t``; the label law from ``S`` sums to it over ``S``."""
    inst = data.draw(instances())
    s = data.draw(st.integers(1, inst.full))
    mass = inst.mass(s, s)
    law = inst.fr_law(s)
    members = inst.members(s)
    assert_close(law.value.sum(axis=1), 1.0, law.error.sum(axis=1), "law sums to 1", inst)
    assert_close(law.value[:, members].sum(axis=1), mass.value,
                 law.error[:, members].sum(axis=1) + mass.error, "law vs mass", inst)
    w_s = inst.w(s)
    assert_leq(w_s, mass.value, mass.error, "stay-in-S mass below w(S)", inst)
    assert_leq(mass.value[1:], mass.value[:-1], mass.error[1:] + mass.error[:-1],
               "stay-in-S mass increased", inst)
    if inst.r == 1:
        chi2 = np.array([oracle_chi2(inst, t, s) for t in inst.ts])
        assert_close(mass.value, w_s * (1.0 + chi2), mass.error + 1e-9 * w_s * (1.0 + chi2),
                     "w(S)(1 + chi^2)", inst)
        oracle = np.array([oracle_label_mass(inst, t, s, s) for t in inst.ts])
        assert_close(mass.value, oracle, mass.error, "label mass vs oracle", inst)


# ======================================================================== item 10


def _reweighted(inst, a, b):
    """A model with the same components whose posterior of ``B`` is ``Q / (P + Q)``.

    Weights ``w_theta / (2 w(A))`` on ``A`` and ``w_theta / (2 w(B))`` on ``B`` (disjoint), 0
    elsewhere: then ``pi(B | y) = Q(y) / (P(y) + Q(y))`` with ``P = p_t^A``, ``Q = p_t^B``.
    """
    w = np.zeros(inst.k)
    ma, mb = inst.mask(a), inst.mask(b)
    w[ma] = inst.weights[ma] / (2.0 * inst.w(a))
    w[mb] = inst.weights[mb] / (2.0 * inst.w(b))
    return _build(inst.k, inst.r, inst.process, inst.means, w / w.sum(), inst.s2, inst.ts,
                  embed=inst.r == 2)


@given(st.data())
def test_lemmas_1_and_7(data):
    """Item 10: ``E_P[Q/(P+Q)] <= BC/2 <= sqrt(1 - TV^2)/2`` and
    ``1 - BC <= TV <= sqrt(1 - BC^2)`` for noised sub-mixtures ``P = p_t^A``, ``Q = p_t^B``."""
    inst = data.draw(instances())
    a = data.draw(proper_subsets(inst.k))
    b = data.draw(subsets_of(inst.full ^ a))
    tv, bc = inst.tv(a, b), inst.bc(a, b)
    e = _err(tv, bc)
    assert_leq(1.0 - bc.value, tv.value, e, "1 - BC <= TV", inst)
    assert_leq(tv.value, np.sqrt(np.maximum(1.0 - bc.value**2, 0.0)),
               e + np.sqrt(2.0 * _err(bc)), "TV <= sqrt(1 - BC^2)", inst)
    # In squared form near TV = 1, through the log-overlap: BC^2 <= ov (2 - ov).
    assert_leq(bc.value**2, sqrt_one_minus_tv2(tv) ** 2, 2.0 * e, "BC^2 <= 1 - TV^2", inst)
    rew = _reweighted(inst, a, b)
    po = rew.mass(a, b)
    assert_leq(po.value, 0.5 * bc.value, po.error + 0.5 * bc.error, "Lemma 7", inst)
    assert_leq(po.value, 0.5 * sqrt_one_minus_tv2(tv), po.error + np.sqrt(2.0 * tv.error),
               "Lemma 1", inst)
    if inst.r == 1:
        oracle = np.array([oracle_posterior_overlap(inst, t, a, b) for t in inst.ts])
        assert_close(po.value, oracle, po.error, "E_P[Q/(P+Q)] vs oracle", inst)


# ======================================================================== item 11


@settings(max_examples=FR_EXAMPLES)
@given(st.data())
def test_term_one_contraction_against_oracle(data):
    """Item 11 (1-D): ``TV(p^{A,t}, p^{B,t}) <= TV(p_t^A, p_t^B)``, the left side from the
    NumPy oracle; the same oracle's ``TV(p^{A,t}, p^B)`` matches ``fr_tv_curve`` to 1e-6."""
    inst = data.draw(instances(ORACLE_CLASSES))
    a = data.draw(st.integers(1, inst.full))
    b = data.draw(st.integers(1, inst.full).filter(lambda x: x != a))
    tv, fr = inst.tv(a, b), inst.fr_tv(a, b)
    # The oracle costs ~0.1-0.5 s a time: three of the eight (the first, one drawn, the last).
    mid = data.draw(st.integers(1, N_TIMES - 2))
    for i in (0, mid, N_TIMES - 1):
        t = inst.ts[i]
        fr_fr, fr_clean = oracle_fr_tvs(inst, t, a, b)
        assert_leq(fr_fr, tv.value[i], tv.error[i], f"term (I) at t={t}", inst)
        assert_close(fr.value[i], fr_clean, 1e-6 + fr.error[i], f"fr_tv vs oracle t={t}", inst)


# ======================================================================== item 12


@settings(max_examples=FR_EXAMPLES)
@given(st.data())
def test_term_two(data):
    """Item 12: ``TV(p^{S,t}, p^S) <= E_{p_t^S}[pi_t(C | Y)] <= max(1,W) BC(p_t^S, p_t^C)/2
    <= max(1,W) sqrt(1 - TV^2(p_t^S, p_t^C))/2`` with ``C`` the complement of ``S``."""
    inst = data.draw(instances(FR_CLASSES))
    s = data.draw(proper_subsets(inst.k))
    c = inst.full ^ s
    scale = 0.5 * max(1.0, inst.w(c) / inst.w(s))
    fr, exit_mass = inst.fr_tv(s, s), inst.mass(s, c)
    bc, tv = inst.bc(s, c), inst.tv(s, c)
    assert_leq(fr.value, exit_mass.value, _err(fr, exit_mass), "(II) <= E pi(C)", inst)
    assert_leq(exit_mass.value, scale * bc.value, exit_mass.error + scale * bc.error,
               "E pi(C) <= max(1,W) BC/2", inst)
    assert_leq(scale * bc.value, scale * sqrt_one_minus_tv2(tv),
               scale * (bc.error + np.sqrt(2.0 * tv.error)), "BC form <= TV form", inst)
    # The exit mass and the stay mass add up to one.
    stay = inst.mass(s, s)
    assert_close(exit_mass.value + stay.value, 1.0, _err(exit_mass, stay), "exit + stay", inst)


# ======================================================================== items 13, 23


@st.composite
def nested_sets(draw, inst):
    target = draw(proper_subsets(inst.k))
    init = draw(subsets_of(target))
    return init, target


@settings(max_examples=FR_EXAMPLES)
@given(st.data())
def test_theorem2_sharp_forms_and_as_stated(data):
    """Items 13 and 23: for every ``t``,
    ``TV(p^{I,t}, p^T) <= TV(p_t^I, p_t^T) + max(1,W)/2 BC(p_t^T, p_t^C)``  (Hellinger form)
    ``<= TV(p_t^I, p_t^T) + max(1,W)/2 sqrt(1 - TV^2(p_t^T, p_t^C))``  (sharp form (C));
    and for each ``epsilon`` of a list, at the times where both hypotheses hold, the bound
    ``epsilon (1 + max(1,W)/sqrt 2)`` of Theorem 2 as stated."""
    inst = data.draw(instances(NESTED_CLASSES))
    init, target = data.draw(nested_sets(inst))
    comp = inst.full ^ target
    big_w = max(1.0, inst.w(comp) / inst.w(target))
    lhs = inst.fr_tv(init, target)
    end = inst.tv(init, target)
    sep_tv, sep_bc = inst.tv(target, comp), inst.bc(target, comp)
    hell = end.value + 0.5 * big_w * sep_bc.value
    form_c = end.value + 0.5 * big_w * sqrt_one_minus_tv2(sep_tv)
    slack = _err(lhs, end)
    assert_leq(lhs.value, hell, slack + 0.5 * big_w * sep_bc.error, "Hellinger form", inst)
    assert_leq(lhs.value, form_c, slack + 0.5 * big_w * np.sqrt(2.0 * sep_tv.error),
               "sharp form (C)", inst)
    # Theorem 2 as stated; the hypotheses are evaluated conservatively (errors against them).
    for eps in EPSILONS:
        ok = ((end.value + end.error <= eps)
              & (sep_tv.value - sep_tv.error >= 1.0 - eps**2))
        assert_leq(lhs.value[ok], eps * (1.0 + big_w / math.sqrt(2.0)), lhs.error[ok],
                   f"Theorem 2 at eps={eps}", inst)


# ======================================================================== item 14


@settings(max_examples=FR_EXAMPLES)
@given(st.data())
def test_target_is_everything(data):
    """Item 14: ``TV(p^{S,t}, p) <= TV(p_t^S, p_t) <= max_{theta in S, phi} TV(p_t^theta,
    p_t^phi)`` (the last in closed form)."""
    inst = data.draw(instances(FR_CLASSES))
    s = data.draw(st.integers(1, inst.full))
    fr, tv = inst.fr_tv(s, inst.full), inst.tv(s, inst.full)
    pairwise = np.max([pairwise_tv(inst, i, j) for i in inst.members(s)
                       for j in range(inst.k)], axis=0)
    assert_leq(fr.value, tv.value, _err(fr, tv), "TV(p^{S,t}, p) <= TV(p_t^S, p_t)", inst)
    assert_leq(tv.value, pairwise, tv.error + 1e-12, "<= max pairwise TV", inst)


# ======================================================================== item 15


@given(st.data())
def test_lemma15_convexity(data):
    """Item 15: ``TV(p_t^theta, p_t^S) <= max_{phi in S} TV(p_t^theta, p_t^phi)``."""
    inst = data.draw(instances())
    theta = data.draw(st.integers(0, inst.k - 1))
    s = data.draw(st.integers(1, inst.full))
    tv = inst.tv(1 << theta, s)
    pairwise = np.max([pairwise_tv(inst, theta, j) for j in inst.members(s)], axis=0)
    assert_leq(tv.value, pairwise, tv.error + 1e-12, "Lemma 15", inst)


# ======================================================================== item 16


@given(st.data())
def test_corollary2_robustness(data):
    """Item 16: with the same weights, ``TV(p^S, q^S) <= max_theta TV(p^theta, q^theta)``,
    at ``t = 0`` and at every noised time (``p_t``, ``q_t`` are again such a pair).

    ``p`` and ``q`` are the halves of one model with ``2K`` components (weights ``w / 2``).
    """
    k, r = 2, 1  # the combined model is the (4, 1) class
    p_means = np.array(data.draw(st.lists(st.lists(coords(), min_size=r, max_size=r),
                                          min_size=k, max_size=k)))
    shift = np.array(data.draw(st.lists(st.lists(coords(-3.0, 3.0), min_size=r, max_size=r),
                                        min_size=k, max_size=k)))
    q_means = p_means + shift
    weights = data.draw(weight_vectors(k))
    s2 = data.draw(st.floats(0.2, 3.0))
    ts = data.draw(time_grids())
    ts[0] = 0.0
    inst = _build(2 * k, r, PROCESS, np.concatenate([p_means, q_means]),
                  np.concatenate([weights, weights]) / 2.0, s2, ts)
    s = data.draw(st.integers(1, (1 << k) - 1))
    tv = inst.tv(s, s << k)
    bound = np.max([pairwise_tv(inst, i, i + k) for i in range(k)], axis=0)
    assert_leq(tv.value, bound, tv.error + 1e-12, "Corollary 2", inst)


# ======================================================================== item 21


def _phi(z):
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@jax.jit
def _pair_kl_h2(a, b, ts):
    """``KL`` and ``H^2`` between ``N(e^{-t} a, I)`` and ``N(e^{-t} b, I)`` (Lemma 8's module)."""

    def at(t):
        ea, eb = jnp.exp(-t) * a, jnp.exp(-t) * b
        return gx.pair_kl(ea, 1.0, eb, 1.0), gx.pair_hellinger_sq(ea, 1.0, eb, 1.0)

    return jax.vmap(at)(ts)


@given(st.data())
def test_gaussian_ou_closed_forms(data):
    """Item 21: ``TV(N(a, I), N(b, I)) = 2 Phi(|a - b|/2) - 1``, ``BC = exp(-|a - b|^2/8)``,
    ``KL = |a - b|^2 / 2`` under OU (``N(mu, I)`` becomes ``N(e^{-t} mu, I)``): the closed
    forms of a two-component model in ``R^3``, and the quadrature path on the same pair as
    the line model ``{0}`` against ``{D, D'}`` (two copies at distance ``D = |a - b|``)."""
    d = 3
    a = np.array(data.draw(st.lists(coords(-5, 5), min_size=d, max_size=d)))
    b = np.array(data.draw(st.lists(coords(-5, 5), min_size=d, max_size=d)))
    ts = data.draw(time_grids())
    pair = _build(2, d, PROCESS, np.stack([a, b]), np.array([0.5, 0.5]), 1.0, ts)
    dist = np.linalg.norm(a - b) * np.exp(-ts)  # |e^{-t} a - e^{-t} b|
    tv_exact = 2.0 * norm.cdf(dist / 2.0) - 1.0
    bc_exact = np.exp(-dist**2 / 8.0)
    closed_tv, closed_bc = pair.tv(1, 2), pair.bc(1, 2)
    assert closed_tv.method == "closed-form" and closed_bc.method == "closed-form"
    assert_close(closed_tv.value, tv_exact, 1e-12, "closed-form TV", pair)
    assert_close(closed_bc.value, bc_exact, 1e-12, "closed-form BC", pair)
    w = data.draw(weight_vectors(3))
    line = _build(3, 1, PROCESS, np.array([[0.0], [1.0], [1.0]]) * np.linalg.norm(a - b), w,
                  1.0, ts)
    quad_tv, quad_bc = line.tv(1, 6), line.bc(1, 6)
    assert quad_tv.method == "quadrature" and quad_bc.method == "quadrature"
    assert_close(quad_tv.value, tv_exact, quad_tv.error, "quadrature TV", line)
    assert_close(quad_bc.value, bc_exact, quad_bc.error, "quadrature BC", line)
    kls, h2s = (np.asarray(x) for x in _pair_kl_h2(jnp.asarray(a), jnp.asarray(b),
                                                    jnp.asarray(ts)))
    for kl, hs, dt in zip(kls, h2s, dist, strict=True):
        assert abs(kl - dt**2 / 2.0) <= 1e-12 * max(1.0, dt**2), (kl, dt)
        # KL by SciPy quadrature along a - b (the orthogonal part cancels).
        kl_quad = integrate.quad(lambda y, dt=dt: _phi(y - dt) * 0.5 * (y * y - (y - dt) ** 2),
                                 dt - 40.0, dt + 40.0, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        assert abs(kl - kl_quad) <= 1e-9 * max(1.0, kl), (kl, kl_quad)
        assert abs(hs - 2.0 * (1.0 - np.exp(-dt**2 / 8.0))) <= 1e-12, (hs, dt)


@settings(max_examples=FR_EXAMPLES)
@given(st.data())
def test_example1_thresholds_and_label_law(data):
    """Item 21, Example 1 (``N(+-mu, I)``, OU): at the paper's ``T^C_after``,
    ``(sqrt 2 / 2) BC <= eps`` and ``TV(p^{+1,t}, p^{+1}) <= eps``; at ``T^C_before``,
    ``TV(p_t^{+1}, p_t) <= eps`` and ``TV(p^{+1,t}, p) <= eps``. The label law
    ``P(label(X^{+1,t}) = +1) = E_{y ~ N(a, 1)}[sigma(2 a y)]``, ``a = |mu| e^{-t}``, decreases.

    ``+1`` is the set ``{0}``, ``-1`` is ``{1}`` (the K = 2 line class).
    """
    mu_norm = data.draw(st.floats(2.0, 200.0))
    eps = data.draw(st.floats(0.01, 0.4))
    ts = data.draw(time_grids(hi=8.0))
    inst = _build(2, 1, PROCESS, np.array([[mu_norm], [-mu_norm]]), np.array([0.5, 0.5]), 1.0,
                  ts)
    plus, minus, full = 0b01, 0b10, 0b11
    t_before = math.log(mu_norm) + math.log(2.0) + math.log(1.0 / eps)
    t_after = math.log(mu_norm) - math.log(math.log(1.0 / (2.0 * eps**2)))
    assume(t_after > 0.0)
    ex = inst._replace(ts=np.array([t_after, t_before]))
    bc = ex.bc(plus, minus)
    assert math.sqrt(2.0) / 2.0 * bc.value[0] <= eps + bc.error[0] + TOL, (bc.value, eps)
    # The exact one-dimensional reduction of the Bhattacharyya coefficient.
    assert_close(bc.value, np.exp(-0.5 * mu_norm**2 * np.exp(-2.0 * ex.ts)), bc.error,
                 "BC", ex)
    fr_after = ex.fr_tv(plus, plus)
    assert fr_after.value[0] <= eps + fr_after.error[0] + TOL, (fr_after, eps)
    tv_before = ex.tv(plus, full)
    assert tv_before.value[1] <= eps + tv_before.error[1] + TOL, (tv_before, eps)
    fr_before = ex.fr_tv(plus, full)
    assert fr_before.value[1] <= eps + fr_before.error[1] + TOL, (fr_before, eps)
    # The forward-reverse label law, against SciPy quadrature of E[sigma(2 a y)].
    law = inst.fr_law(plus)
    for i, t in enumerate(ts):
        amp = mu_norm * math.exp(-t)
        exact = integrate.quad(lambda y, amp=amp: _phi(y - amp) * _sigmoid(2.0 * amp * y),
                               amp - 40.0, amp + 40.0, points=[0.0], limit=200,
                               epsabs=1e-13, epsrel=1e-12)[0]
        assert abs(law.value[i, 0] - exact) <= law.error[i, 0] + 1e-9, (t, law.value[i], exact)
    assert_leq(law.value[1:, 0], law.value[:-1, 0], law.error[1:, 0] + law.error[:-1, 0],
               "label law increased", inst)
    assert_leq(0.5, law.value[:, 0], law.error[:, 0], "label law below 1/2", inst)


# ======================================================================== the Monte Carlo path


def test_monte_carlo_on_a_model_with_known_answers():
    """The Monte Carlo path (means spanning 3 dimensions) on a model whose answers are known.

    Components 0 and 1 are identical with equal weights, so ``p^{0,2} = p^{1,2}`` (TV 0) and
    ``p^{0,1} = N(m_0, s^2 I)``: ``TV(p_t^{0,1}, p_t^{2,4})`` is not known, but
    ``TV(p_t^{0,1}, p_t^{2,2'})`` is, through a second copy ``2'`` of component 2 (index 5):
    ``2 Phi(delta_t / 2) - 1`` and ``BC = exp(-delta_t^2 / 8)``. The martingale gives the label
    law from ``p``. All within 4 standard errors (fixed key). (The Monte Carlo forward-reverse
    TV is held to nested quadrature in ``test_continuous.py``; it is not repeated here.)
    """
    m = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.5, 0.0], [-1.0, 2.0, 0.5],
                  [0.5, -1.0, 2.5], [2.0, 0.5, 0.0]])
    w = np.array([0.2, 0.2, 0.15, 0.2, 0.15, 0.1])
    ts = np.array([0.0, 0.3, 1.0])
    inst = _build(6, 3, "ou", m, w, 0.7, ts)
    assert inst.model.reduced().dim == 3
    cfg = EstimateConfig(samples=20_000, inner_samples=16, seed=0)
    key = jax.random.key(11)

    def call(name, *args):
        est = getattr(inst.model, name)(key, ts, *args, cfg)
        assert est.method == "monte-carlo", (name, est.method)
        return est

    zero = call("tv_curve", inst.row(0b000101), inst.row(0b000110))
    assert np.all(np.abs(zero.value) <= 1e-12), zero.value
    delta = np.linalg.norm(m[0] - m[2]) / np.sqrt(inst.variances())
    tv = call("tv_curve", inst.row(0b000011), inst.row(0b100100))
    assert np.all(tv.se > 0)
    assert np.all(np.abs(tv.value - pair_tv(delta)) <= 4.0 * tv.se), (tv, pair_tv(delta))
    bc = call("bc_curve", inst.row(0b000011), inst.row(0b100100))
    assert np.all(np.abs(bc.value - np.exp(-delta**2 / 8.0)) <= 4.0 * bc.se), bc
    law = call("fr_label_law", np.log(w))
    assert np.all(np.abs(law.value - w) <= 4.0 * law.se), (law.value, law.se)
    # From {0}: the posterior odds of 0 against 1 are w_0 / w_1 = 1 at every y.
    law0 = call("fr_label_law", inst.row(0b000001))
    np.testing.assert_allclose(law0.value[:, 0], law0.value[:, 1], rtol=1e-12)
