"""Closed forms and quadratures of :mod:`synthetic.gaussian_exact` against SciPy oracles.

The oracles share no code with the JAX path: closed forms come from ``scipy.stats`` /
``scipy.special``, integrals from ``scipy.integrate.quad`` / ``dblquad`` (split at the
crossings that ``scipy.optimize.brentq`` finds) or from composite Gauss-Legendre rules in
plain NumPy. Models are small (``K = 2..4``, unequal weights) so that every oracle is
accurate to ~1e-12; the package must agree to 1e-9 (1-D, 2-D) or within its own reported
error (the 2-D forward-reverse grid).
"""

import functools
import math

import numpy as np
import pytest
from scipy import integrate, special
from scipy.optimize import brentq
from scipy.stats import norm

import localize  # noqa: F401  (float64)
from localize.continuous import EstimateConfig
from localize.errors import LocalizeError
from synthetic import gaussian_exact as gx
from synthetic.gaussian_mixture import gaussian_mixture, two_symmetric_means

NEG = -np.inf
OU_TIMES = np.array([0.0, 0.25, 1.0])


def ve(t):
    """``v(t)`` of the OU channel (normalised scale)."""
    return np.expm1(2.0 * np.asarray(t))


def logw(*w):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(w, dtype=np.float64))


# ------------------------------------------------------------------------ NumPy oracles


def npdf(x, m, var):
    return np.exp(-((x - m) ** 2) / (2.0 * var)) / np.sqrt(2.0 * np.pi * var)


def mix1(y, c, w, var):
    y = np.asarray(y, dtype=np.float64)
    return sum(w[k] * npdf(y, c[k], var) for k in range(len(c)))


def gl_rule(a, b, panels, order=20):
    x, w = np.polynomial.legendre.leggauss(order)
    e = np.linspace(a, b, panels + 1)
    h, m = 0.5 * (e[1:] - e[:-1]), 0.5 * (e[1:] + e[:-1])
    return (m[:, None] + h[:, None] * x).ravel(), (h[:, None] * w).ravel()


def crossings(f, lo, hi, n=4001):
    """Zeros of ``f`` on ``[lo, hi]``: sign changes on a grid, refined by brentq."""
    grid = np.linspace(lo, hi, n)
    v = f(grid)
    return [brentq(lambda x: float(f(np.array([x]))[0]), grid[i], grid[i + 1], xtol=1e-15)
            for i in range(n - 1) if v[i] * v[i + 1] < 0]


def quad_split(f, points, **kw):
    opts = dict(epsabs=1e-15, epsrel=1e-13, limit=400)
    opts.update(kw)
    pairs = zip(points[:-1], points[1:], strict=True)
    return sum(integrate.quad(f, a, b, **opts)[0] for a, b in pairs)


def overlap_1d(c, wa, wb, var):
    """``int min(p_a, p_b)`` by quad, split at the crossings and on a fine grid."""
    sd = math.sqrt(var)
    lo, hi = min(c) - 14 * sd, max(c) + 14 * sd
    zs = crossings(lambda y: mix1(y, c, wa, var) - mix1(y, c, wb, var), lo, hi)
    pts = np.unique(np.concatenate([np.linspace(lo, hi, 60), zs]))
    return quad_split(lambda y: min(mix1(y, c, wa, var), mix1(y, c, wb, var)), pts)


def smooth_1d(f, c, var):
    sd = math.sqrt(var)
    pts = np.linspace(min(c) - 14 * sd, max(c) + 14 * sd, 120)
    return quad_split(f, pts)


def fr_tv_1d(c, w, wa, wb, s2, v):
    """``TV(p^{A,t}, p^B)`` in 1-D: ``g`` by composite Gauss-Legendre in the kernel variable,
    the outer integral by Gauss-Legendre between the zeros of ``p g - p^B``."""
    vt = s2 + v
    u, wu = gl_rule(-14.0, 14.0, 120)
    wu = wu * npdf(u, 0.0, 1.0)
    wu /= wu.sum()

    def r(y):
        return mix1(y, c, wa, vt) / mix1(y, c, w, vt)

    def f(x):
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        g = r(x) if v == 0 else (r(x[:, None] + np.sqrt(v) * u[None, :]) * wu).sum(1)
        return mix1(x, c, w, s2) * g - mix1(x, c, wb, s2)

    s = math.sqrt(s2)
    lo, hi = min(c) - 14 * s, max(c) + 14 * s
    ends = np.concatenate([[lo], crossings(f, lo, hi, 401), [hi]])
    total = 0.0
    for a, b in zip(ends[:-1], ends[1:], strict=True):
        x, wx = gl_rule(a, b, max(4, int(60 * (b - a) / (hi - lo))))
        total += abs(np.sum(f(x) * wx))
    return 0.5 * total


def mix2(y1, y2, c, w, var):
    return sum(w[k] * np.exp(-((y1 - c[k][0]) ** 2 + (y2 - c[k][1]) ** 2) / (2 * var))
               for k in range(len(c))) / (2 * np.pi * var)


def overlap_2d(c, wa, wb, var):
    """``int min(p_a, p_b)`` in 2-D: outer quad over ``y_1``; inner exact in ``y_2`` from
    normal interval masses (scipy.special.ndtr) between brentq crossings."""
    sd = math.sqrt(var)
    c = np.asarray(c)
    lo2, hi2 = c[:, 1].min() - 14 * sd, c[:, 1].max() + 14 * sd

    def inner(y1):
        ea = wa * npdf(y1, c[:, 0], var)
        eb = wb * npdf(y1, c[:, 0], var)

        def diff(y2):
            return mix1(y2, c[:, 1], ea, var) - mix1(y2, c[:, 1], eb, var)

        ends = np.concatenate([[-np.inf], crossings(diff, lo2, hi2, 801), [np.inf]])
        total = 0.0
        for a, b in zip(ends[:-1], ends[1:], strict=True):
            mid = lo2 if a == -np.inf else hi2 if b == np.inf else 0.5 * (a + b)
            wts = eb if diff(np.array([mid]))[0] > 0 else ea
            total += np.sum(wts * (special.ndtr((b - c[:, 1]) / sd)
                                   - special.ndtr((a - c[:, 1]) / sd)))
        return total

    pts = np.linspace(c[:, 0].min() - 14 * sd, c[:, 0].max() + 14 * sd, 40)
    return quad_split(inner, pts, epsabs=1e-14, epsrel=1e-12, limit=200)


def smooth_2d(f, c, var):
    """``int int f(y1, y2)``: outer quad, inner composite Gauss-Legendre (vectorised)."""
    sd = math.sqrt(var)
    c = np.asarray(c)
    y2, w2 = gl_rule(c[:, 1].min() - 14 * sd, c[:, 1].max() + 14 * sd, 300)
    pts = np.linspace(c[:, 0].min() - 14 * sd, c[:, 0].max() + 14 * sd, 40)
    return quad_split(lambda y1: np.sum(f(y1, y2) * w2), pts, epsabs=1e-14, epsrel=1e-12,
                      limit=200)


# ------------------------------------------------------------------------ closed forms


def test_pair_tv_and_log_overlap_match_scipy():
    delta = np.array([0.0, 1e-9, 0.3, 2.0, 10.0, 80.0, 1000.0])
    tv = np.asarray(gx.pair_tv_equal_cov(delta))
    ref = special.erf(delta / (2 * np.sqrt(2)))  # = 2 Phi(delta / 2) - 1
    np.testing.assert_allclose(tv, ref, rtol=1e-14, atol=0)
    np.testing.assert_allclose(tv[2:4], 2 * norm.cdf(delta[2:4] / 2) - 1, rtol=1e-13)
    lo = np.asarray(gx.pair_log_overlap_equal_cov(delta))
    np.testing.assert_allclose(lo[4:], np.log(2) + norm.logcdf(-delta[4:] / 2), rtol=1e-13)
    np.testing.assert_allclose(lo[:4], np.log1p(-ref[:4]), rtol=1e-14)
    assert np.all(np.isfinite(lo)) and lo[-1] < -1.2e5


def _np_cov_pdf(m, s):
    inv, det = np.linalg.inv(s), np.linalg.det(s)

    def pdf(x1, x2):
        d = np.array([x1, x2]) - m
        return math.exp(-0.5 * d @ inv @ d) / (2 * math.pi * math.sqrt(det))

    return pdf


def test_pair_bc_kl_hellinger_of_full_covariances_match_dblquad():
    m1, m2 = np.array([0.2, -0.3]), np.array([1.0, 0.6])
    s1 = np.array([[1.3, 0.4], [0.4, 0.8]])
    s2 = np.array([[0.7, -0.2], [-0.2, 1.1]])
    p, q = _np_cov_pdf(m1, s1), _np_cov_pdf(m2, s2)
    box = dict(a=-9, b=10, gfun=-9, hfun=10, epsabs=1e-12, epsrel=1e-10)

    def dbl(f):
        return integrate.dblquad(lambda y, x: f(x, y), **box)[0]

    bc = dbl(lambda x, y: math.sqrt(p(x, y) * q(x, y)))
    kl = dbl(lambda x, y: p(x, y) * (math.log(p(x, y)) - math.log(q(x, y)))
             if p(x, y) > 0 else 0.0)
    assert abs(float(gx.pair_bc(m1, s1, m2, s2)) - bc) < 1e-9
    assert abs(float(gx.pair_hellinger_sq(m1, s1, m2, s2)) - 2 * (1 - bc)) < 1e-9
    assert abs(float(gx.pair_kl(m1, s1, m2, s2)) - kl) < 1e-8
    # theory.md §6 item 21 for N(a, I), N(b, I), with scalar (isotropic) covariances
    a, b = np.array([1.0, -2.0, 0.5]), np.array([-0.5, 0.3, 2.0])
    d2 = float(np.sum((a - b) ** 2))
    assert abs(float(gx.pair_log_bc(a, 1.0, b, 1.0)) + d2 / 8) < 1e-13
    assert abs(float(gx.pair_kl(a, 1.0, b, 1.0)) - d2 / 2) < 1e-12
    assert abs(float(gx.pair_kl(a, 1.0, a, 1.0))) < 1e-14


def test_closed_form_bc_for_full_and_isotropic_components():
    covs = [[[2.0, 0.3], [0.3, 1.0]], [[1.0, -0.2], [-0.2, 0.5]]]
    model = gaussian_mixture([[0.0, 0.0], [1.0, 2.0]], covariances=covs, process="ve")
    ts = np.array([0.0, 0.5, 3.0])
    est = gx.closed_form_bc(model, ts, 0, 1)
    assert est.method == "closed-form" and np.all(est.error == 0)
    for t, got in zip(ts, est.value, strict=True):
        s1, s2 = np.array(covs[0]) + t * np.eye(2), np.array(covs[1]) + t * np.eye(2)
        sm = (s1 + s2) / 2
        dm = np.array([-1.0, -2.0])
        ref = (np.linalg.det(s1) ** 0.25 * np.linalg.det(s2) ** 0.25 / np.sqrt(np.linalg.det(sm))
               * np.exp(-dm @ np.linalg.solve(sm, dm) / 8))
        assert abs(got - ref) < 1e-14
    # isotropic with unequal variances in d = 40: the determinant part must not cancel
    iso = gaussian_mixture(np.zeros((2, 40)) + [[0.1], [0.0]], variances=[1.0, 1.0 + 1e-7],
                           process="ou")
    est = gx.closed_form_bc(iso, [0.0], 0, 1)
    a, b = 1.0, 1.0 + 1e-7
    ref = np.exp(-40 / 2 * np.log((a + b) / (2 * np.sqrt(a * b))) - 40 * 0.01 / (4 * (a + b)))
    assert abs(est.value[0] - ref) < 1e-14


def test_closed_form_tv_for_equal_full_covariances():
    cov = [[1.5, 0.6], [0.6, 0.9]]
    model = gaussian_mixture([[0.0, 0.0], [1.0, -2.0]], covariances=[cov, cov], process="ou")
    ts = np.array([0.0, 0.7])
    est = gx.closed_form_tv(model, ts, 0, 1)
    dm = np.array([1.0, -2.0])
    for t, tv, lo in zip(ts, est.value, est.log_overlap, strict=True):
        c_t = np.exp(-2 * t) * np.array(cov) + (1 - np.exp(-2 * t)) * np.eye(2)  # OU scale
        delta = math.sqrt(np.exp(-2 * t) * dm @ np.linalg.solve(c_t, dm))
        assert abs(tv - (2 * norm.cdf(delta / 2) - 1)) < 1e-14
        assert abs(lo - np.log(2 * norm.cdf(-delta / 2))) < 1e-13
    assert gx.single_pair(model, logw(1, 0), logw(0, 1)) == (0, 1)


def test_single_pair():
    m = gaussian_mixture([[0.0], [1.0], [2.0]], variances=[1.0, 1.0, 2.0], process="ou")
    assert gx.single_pair(m, logw(1, 0, 0), logw(0, 1, 0)) == (0, 1)
    assert gx.single_pair(m, logw(1, 0, 0), logw(0, 0, 1)) is None  # unequal variances
    assert gx.single_pair(m, logw(1, 0, 0), logw(0, 0, 1), equal_cov=False) == (0, 2)
    assert gx.single_pair(m, logw(0.5, 0.5, 0), logw(0, 0, 1), equal_cov=False) is None


def test_example1_identity_closed_form_and_quadrature():
    """TV(p_t^{+1}, p_t^{-1}) = 2 Phi(||mu|| e^{-t}) - 1 (theory.md §3.1), any d."""
    model = gaussian_mixture(two_symmetric_means(10.0, 7), variance=1.0, process="ou")
    ts = np.array([0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 6.0])
    a, b = logw(1, 0), logw(0, 1)
    ref = 2 * norm.cdf(10 * np.exp(-ts)) - 1
    closed = gx.closed_form_tv(model, ts, 0, 1)
    quad = gx.quadrature_tv(model.reduced(), ts, a, b)
    hook = model.tv_curve(None, ts, a, b, EstimateConfig())
    assert closed.method == "closed-form" and quad.method == "quadrature"
    assert hook.method == "closed-form"
    for est in (closed, quad, hook):
        np.testing.assert_allclose(est.value, ref, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(est.log_overlap, np.log(2) + norm.logcdf(-10 * np.exp(-ts)),
                                   rtol=1e-12)
    np.testing.assert_allclose(gx.closed_form_bc(model, ts, 0, 1).value,
                               np.exp(-0.5 * 100 * np.exp(-2 * ts)), rtol=1e-13)


def test_extreme_separation_keeps_the_log_overlap():
    """||mu|| = 1000 at t = 0: 1 - TV = 2 Phi(-1000) ~ e^-500007, far below underflow."""
    model = gaussian_mixture(two_symmetric_means(1000.0, 3), variance=1.0, process="ou")
    ref = np.log(2) + norm.logcdf(-1000.0)
    a, b = logw(1, 0), logw(0, 1)
    closed = gx.closed_form_tv(model, [0.0], 0, 1)
    quad = gx.quadrature_tv(model.reduced(), [0.0], a, b)
    for est in (closed, quad):
        assert est.value[0] == 1.0 and np.isfinite(est.log_overlap[0])
        assert abs(est.log_overlap[0] - ref) < 1e-8 * abs(ref)
    # a mixture against a far component in 2-D: the tiny overlap keeps its digits there too
    m2 = gaussian_mixture([[-1000.0, 0.0], [1000.0, 0.0], [0.0, 800.0]],
                          weights=[0.3, 0.3, 0.4], variance=1.0, process="ou")
    est = gx.quadrature_tv(m2, [0.0], logw(1, 0, 0), logw(0, 0, 1))
    d = math.hypot(1000.0, 800.0)
    ref2 = np.log(2) + norm.logcdf(-d / 2)
    assert abs(est.log_overlap[0] - ref2) < 1e-8 * abs(ref2)


# ------------------------------------------------------------------------ 1-D quadrature

C1 = [-3.0, 0.5, 3.0, 4.2]
W1 = np.array([0.2, 0.3, 0.4, 0.1])
S2_1 = 0.6


@functools.cache
def model_1d():
    return gaussian_mixture([[x] for x in C1], weights=W1, variance=S2_1, process="ou")


A1 = np.array([0.5, 0.0, 0.5, 0.0])
B1 = np.array([0.0, 0.3, 0.1, 0.6])


def test_quadrature_1d_tv_bc_label_law_match_quad():
    model = model_1d()
    la, lb = logw(*A1), logw(*B1)
    tv = gx.quadrature_tv(model, OU_TIMES, la, lb)
    tv_swapped = gx.quadrature_tv(model, OU_TIMES, lb, la)
    bc = gx.quadrature_bc(model, OU_TIMES, la, lb)
    law = gx.quadrature_label_law(model, OU_TIMES, la)
    mass = gx.quadrature_label_mass(model, OU_TIMES, la, np.array([True, False, True, False]))
    c = np.array(C1)
    for i, t in enumerate(OU_TIMES):
        var = S2_1 + ve(t)
        ov = overlap_1d(c, A1, B1, var)
        assert abs(tv.value[i] - (1 - ov)) < 1e-10
        assert abs(tv.log_overlap[i] - np.log(ov)) < 1e-10
        ref_bc = smooth_1d(lambda y, v=var: np.sqrt(mix1(y, c, A1, v) * mix1(y, c, B1, v)), c, var)
        assert abs(bc.value[i] - ref_bc) < 1e-10
        for k in range(4):
            wk = np.eye(4)[k] * W1
            ref = smooth_1d(lambda y, v=var, wk=wk: mix1(y, c, A1, v) * mix1(y, c, wk, v)
                            / mix1(y, c, W1, v), c, var)
            assert abs(law.value[i, k] - ref) < 1e-10
    np.testing.assert_allclose(tv.value, tv_swapped.value, rtol=0, atol=1e-15)
    np.testing.assert_allclose(mass.value, law.value[:, 0] + law.value[:, 2], atol=1e-15)
    np.testing.assert_allclose(law.value.sum(axis=1), 1.0, atol=1e-13)
    for est in (tv, bc, law, mass):
        assert est.method == "quadrature" and np.all(est.error < 1e-12)
        assert np.all(est.se == 0)


def test_label_law_of_the_whole_mixture_is_the_weights():
    """Posterior martingale (theory.md §6 item 6): E_{Y ~ p_t}[pi_t(theta | Y)] = w_theta."""
    law = gx.quadrature_label_law(model_1d(), OU_TIMES, logw(*W1))
    np.testing.assert_allclose(law.value, np.tile(W1, (3, 1)), atol=1e-13)


def test_quadrature_fr_tv_1d_matches_oracle():
    model = model_1d()
    ts = np.array([0.0, 0.15, 0.8])
    est = gx.quadrature_fr_tv(model, ts, logw(*A1), logw(*B1))
    for i, t in enumerate(ts):
        ref = fr_tv_1d(np.array(C1), W1, A1, B1, S2_1, ve(t))
        assert abs(est.value[i] - ref) < 1e-9
        assert est.error[i] < 1e-10
        assert abs(est.log_overlap[i] - np.log1p(-ref)) < 1e-9
    # at t = 0 the forward-reverse law is p^A itself
    clean = 1 - overlap_1d(np.array(C1), A1, B1, S2_1)
    assert abs(est.value[0] - clean) < 1e-12


def test_section_3_1_label_table():
    """theory.md §3.1: E_{y ~ N(a, 1)}[sigma(2 a y)], a = ||mu|| e^{-t}, ||mu|| = 10."""
    model = gaussian_mixture(two_symmetric_means(10.0, 4), variance=1.0, process="ou")
    ts = np.array([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0])
    printed = [(0.9998, 4), (0.981, 3), (0.871, 3), (0.715, 3), (0.601, 3), (0.516, 3),
               (0.502, 3)]
    law = model.fr_label_law(None, ts, logw(1, 0), EstimateConfig())
    assert law.method == "quadrature"
    for t, got, (value, digits) in zip(ts, law.value[:, 0], printed, strict=True):
        assert round(got, digits) == value
        a = 10 * math.exp(-t)
        ref = integrate.quad(lambda y, a=a: norm.pdf(y, a) * special.expit(2 * a * y),
                             -40, 40, points=[0.0, a], epsabs=1e-14, limit=200)[0]
        assert abs(got - ref) < 1e-10


# ------------------------------------------------------------------------ 2-D quadrature

C2 = [[-1.5, 0.0], [1.0, 1.2], [0.5, -1.8]]
W2 = np.array([0.3, 0.25, 0.45])
A2 = np.array([0.6, 0.4, 0.0])
B2 = np.array([0.1, 0.3, 0.6])


@functools.cache
def model_2d():
    return gaussian_mixture(C2, weights=W2, variance=0.8, process="ou")


def test_quadrature_2d_tv_bc_label_law_match_nested_oracles():
    model = model_2d()
    assert model.reduced().dim == 2
    ts = np.array([0.0, 0.4])
    la, lb = logw(*A2), logw(*B2)
    tv = gx.quadrature_tv(model, ts, la, lb)
    tv_swapped = gx.quadrature_tv(model, ts, lb, la)
    bc = gx.quadrature_bc(model, ts, la, lb)
    law = gx.quadrature_label_law(model, ts, la)
    mass = gx.quadrature_label_mass(model, ts, la, np.array([False, True, True]))
    c = np.array(C2)
    for i, t in enumerate(ts):
        var = 0.8 + ve(t)
        ov = overlap_2d(c, A2, B2, var)
        assert abs(tv.value[i] - (1 - ov)) < 1e-9
        assert abs(tv.log_overlap[i] - np.log(ov)) < 1e-9
        ref_bc = smooth_2d(lambda y1, y2, v=var: np.sqrt(mix2(y1, y2, c, A2, v)
                                                         * mix2(y1, y2, c, B2, v)), c, var)
        assert abs(bc.value[i] - ref_bc) < 1e-9
        k = 1
        wk = np.eye(3)[k] * W2
        ref = smooth_2d(lambda y1, y2, v=var, wk=wk: mix2(y1, y2, c, A2, v)
                        * mix2(y1, y2, c, wk, v) / mix2(y1, y2, c, W2, v), c, var)
        assert abs(law.value[i, k] - ref) < 1e-9
    np.testing.assert_allclose(tv.value, tv_swapped.value, atol=1e-14)
    np.testing.assert_allclose(law.value.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(mass.value, 1.0 - law.value[:, 0], atol=1e-12)
    for est in (tv, bc, law, mass):
        assert np.all(est.error < 1e-10)


def test_quadrature_fr_tv_2d_within_its_error():
    """Collinear means kept in 2-D (not reduced) against the 1-D oracle on their line; the
    limits t = 0 (p^{A,0} = p^A) and large t (p^{A,t} -> p) against the 2-D overlap."""
    u = np.array([0.6, 0.8])
    line = np.array([-1.0, 0.4, 1.6])
    collinear = gaussian_mixture(line[:, None] * u + [0.3, -0.2], weights=W2, variance=0.8,
                                 process="ou")
    ts = np.array([0.05, 0.5])
    est = gx.quadrature_fr_tv(collinear, ts, logw(*A2), logw(*B2))
    for i, t in enumerate(ts):
        ref = fr_tv_1d(line, W2, A2, B2, 0.8, ve(t))
        assert abs(est.value[i] - ref) <= est.error[i] + 1e-9
        assert est.error[i] < 1e-5
    model = model_2d()
    c = np.array(C2)
    ends = gx.quadrature_fr_tv(model, [0.0, 8.0], logw(*A2), logw(*B2))
    clean = 1 - overlap_2d(c, A2, B2, 0.8)
    mixed = 1 - overlap_2d(c, W2, B2, 0.8)
    assert abs(ends.value[0] - clean) <= ends.error[0] + 1e-9
    assert abs(ends.value[1] - mixed) <= ends.error[1] + 1e-7
    assert np.all(ends.error < 1e-4)


# ------------------------------------------------------------------------ plumbing


def test_second_call_does_not_compile():
    model = model_1d()
    gx.quadrature_tv(model, [0.0, 1.0], logw(*A1), logw(*B1))
    size = gx._tv_chunk._cache_size()
    gx.quadrature_tv(model, [0.3, 0.6, 0.9, 1.2, 1.5, 2.0, 3.0, 4.0, 5.0], logw(*B1),
                     logw(*W1))
    other = gaussian_mixture([[x + 1.0] for x in C1], weights=W1[::-1], variance=2.0,
                             process="ou")
    gx.quadrature_tv(other, [0.1], logw(*A1), logw(*B1))
    assert gx._tv_chunk._cache_size() == size
    law_size = gx._label_law_chunk._cache_size()
    gx.quadrature_label_mass(model, [0.2], logw(*B1), np.array([False, True, True, False]))
    assert gx._label_law_chunk._cache_size() == law_size


def test_bad_input_raises():
    three = gaussian_mixture([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], process="ou")
    with pytest.raises(LocalizeError, match="model"):
        gx.quadrature_tv(three, [0.0], logw(1, 0, 0, 0), logw(0, 1, 0, 0))
    iso = gaussian_mixture([[0.0], [1.0]], variances=[1.0, 2.0], process="ou")
    with pytest.raises(LocalizeError, match="model"):
        gx.quadrature_bc(iso, [0.0], logw(1, 0), logw(0, 1))
    with pytest.raises(LocalizeError, match="log_a"):
        gx.quadrature_tv(model_1d(), [0.0], logw(1, 0), logw(0, 1, 0, 0))
    with pytest.raises(LocalizeError, match="log_b"):
        gx.quadrature_bc(model_1d(), [0.0], logw(1, 0, 0, 0), [np.nan, 0, 0, 0])
    with pytest.raises(LocalizeError, match="mask_b"):
        gx.quadrature_label_mass(model_1d(), [0.0], logw(1, 0, 0, 0), [1, 0, 0, 0])
    with pytest.raises(LocalizeError, match="times"):
        gx.quadrature_fr_tv(model_1d(), [1.0, 0.5], logw(1, 0, 0, 0), logw(0, 1, 0, 0))
