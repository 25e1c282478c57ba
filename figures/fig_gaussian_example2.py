"""Example 2 of [LKC25]: random-mean Gaussians ``N(mu_i, I_d)``, ``mu_i ~ N(0, I_d)``, under OU.

``K = 3`` components with equal weights, ``S_after = {0}``, ``S_before = Theta``,
``eps = 0.1``. For each dimension ``d`` and each of several seeds the means are drawn afresh
(:func:`synthetic.gaussian_mixture.random_means`); their affine span is a plane, so every TV
is an exact two-dimensional quadrature after the span reduction, whatever ``d``. The exact
window ``[T^C_after, T^C_before]`` of Definition 4 comes from the model's exact TV hooks by
root finding (:func:`definition4`: the meaning of :func:`localize.window_report`, without
the forward-reverse curves the report also computes, which this figure does not use and
which cost most of its time).

Left: the exact width ``T^C_before - T^C_after`` against ``d`` (points per seed, median line)
with the paper's width per instance,
``T^C_before - T^C_after = max_j ln||mu_0 - mu_j|| + ln(1/eps)
- min_{j != 0} ln||mu_0 - mu_j|| + 1/2 ln(8 ln(K/eps))`` (theory.md §3.1; the paper prints
"1/2 ln 8 ln(K/eps)" for ``1/2 ln(8 ln(K/eps))``). Both stay bounded as ``d`` grows, the
exact one tending to its value for an equilateral triangle of means (``||mu_i - mu_j|| ->
sqrt(2d)``), the paper's to ``ln(1/eps) + 1/2 ln(8 ln(K/eps))``. Right: the endpoints against
``1/2 ln(2d)``: both sit at ``1/2 ln(2d)`` plus an ``O(1)`` offset (theory.md §3.1).
"""

from __future__ import annotations

import math

import numpy as np

from figures import _common

NAME = "gaussian_example2"
SOURCES = _common.GAUSSIAN_SOURCES


def params(fast: bool) -> dict:
    """K, eps, the dimensions, the seeds and the time grid around ``1/2 ln(2d)``."""
    return {
        "fast": bool(fast),
        "seed": 7,  # base seed: instance (d, s) uses fold_in(fold_in(key(seed), s), d)
        "components": 3,
        "eps": 0.1,
        "dims": [4, 10_000] if fast else [2, 4, 10, 30, 100, 1000, 10_000, 100_000],
        "n_seeds": 1 if fast else 5,
        # k-section rounds after the 8-point bracket, then cubic interpolation: with 0 the
        # endpoints agree with 5 rounds to < 1e-5 (checked on d = 4 ... 1e5)
        "rounds": 0,
        "equilateral_side": 1000.0,
    }


def paper_window(means: np.ndarray, eps: float, i: int = 0) -> tuple[float, float]:
    """The paper's ``(T^C_after, T^C_before)`` for component ``i`` (theory.md §3.1)."""
    k = means.shape[0]
    dist = np.linalg.norm(means[i][None] - np.delete(means, i, axis=0), axis=1)
    after = math.log(dist.min()) - 0.5 * math.log(8.0 * math.log(k / eps))
    before = math.log(dist.max()) + math.log(1.0 / eps)
    return after, before


# Points per evaluation of a curve: one chunk of the quadrature's jitted time batch.
POINTS = 8


def crossing(f, level, lo, hi, *, rounds=1, floor=0.0, ceiling=60.0):
    """Where a continuous non-decreasing curve first reaches ``level``.

    ``f(ts)`` evaluates the curve at :data:`POINTS` times. The bracket ``[lo, hi]`` (a guess)
    is scanned with :data:`POINTS` times and moved until it contains the crossing; then
    ``rounds`` rounds of k-section (``POINTS`` interior times each, a ``POINTS + 1``-fold
    shrink) and a final cubic interpolation through the four evaluations nearest the
    crossing (the curves are smooth in ``t``).

    Returns:
        ``(t, (a, b))`` with the final bracket ``a <= t <= b``; ``(floor, (floor, floor))``
        when ``f(floor) >= level``; ``None`` when ``f(ceiling) < level``.
    """
    for _ in range(16):
        ts = np.linspace(lo, hi, POINTS)
        v = np.asarray(f(ts), dtype=np.float64)
        w = hi - lo
        if v[0] >= level:
            if lo <= floor:
                return floor, (floor, floor)
            lo, hi = max(floor, lo - 2.0 * w), lo
        elif v[-1] < level:
            if hi >= ceiling:
                return None
            lo, hi = hi, min(ceiling, hi + 2.0 * w)
        else:
            break
    else:
        raise RuntimeError(f"crossing: no bracket found near [{lo}, {hi}]")
    all_t, all_v = ts, v
    j = int(np.flatnonzero(v >= level)[0])
    for _ in range(rounds):
        a, b = all_t[j - 1], all_t[j]
        pts = np.linspace(a, b, POINTS + 2)[1:-1]
        pv = np.asarray(f(pts), dtype=np.float64)
        all_t = np.concatenate([[a], pts, [b]])
        all_v = np.concatenate([[all_v[j - 1]], pv, [all_v[j]]])
        j = int(np.flatnonzero(all_v >= level)[0])
    return _interpolate(all_t, all_v, j, level), (float(all_t[j - 1]), float(all_t[j]))


def _interpolate(ts, v, j, level):
    """The crossing of ``level`` in ``[ts[j-1], ts[j]]`` from the cubic through the four
    nearest evaluations (a uniform grid; linear when fewer are finite)."""
    from scipy.optimize import brentq

    a, b = float(ts[j - 1]), float(ts[j])
    lo = max(0, min(j - 2, ts.size - 4))
    tt, vv = ts[lo : lo + 4], v[lo : lo + 4]
    if tt.size == 4 and np.all(np.isfinite(vv)):
        coef = np.polyfit((tt - a) / (b - a), vv - level, 3)
        g = lambda x: np.polyval(coef, x)  # noqa: E731
        if g(0.0) <= 0.0 <= g(1.0):
            return a + (b - a) * brentq(g, 0.0, 1.0, xtol=1e-14)
    fa, fb = v[j - 1], v[j]
    return a + (level - fa) * (b - a) / (fb - fa) if fb > fa else b


def definition4(model, s_after, s_before, eps, guesses, *, rounds=1):
    """Exact Definition 4 thresholds from the model's exact TV hooks, by root finding.

    The same meaning as :func:`localize.window_report` (theory.md §2.3), without the
    forward-reverse curves it also computes (costly in two dimensions, and for many
    components): ``T^C_after`` is the last time with ``log(1 - TV(p_t^{S_after},
    p_t^{Theta - S_after})) <= 2 log eps``; ``T_end`` the first time with
    ``TV(p_t^{S_after}, p_t^{S_before}) <= eps``; ``T_start`` the last time ``S_before`` is
    separated from its complement (``inf`` when ``S_before = Theta``); ``T^C_before = T_end``
    when ``T_end <= T_start``. The curves are continuous and monotone (DPI), so each threshold
    is where its curve crosses its level, found by :func:`crossing`.

    Args:
        model: a continuous model with exact hooks (e.g. a span-reduced Gaussian mixture).
        s_after, s_before: component indices, ``S_after`` inside ``S_before``.
        eps: the error parameter.
        guesses: ``{"after": (lo, hi), "end": (lo, hi), "start": (lo, hi)}`` initial brackets
            (any bracket works; a good one saves evaluations).
        rounds: k-section rounds per threshold.

    Returns:
        ``{"T_after_C", "T_before_C", "T_end", "T_start"}`` (NaN where a threshold does not
        exist: never separated, or ``T_end > T_start``), and ``"brackets"``.
    """
    import jax

    from localize.continuous import EstimateConfig
    from localize.posterior import log_set_weights

    k = model.n_components
    lw = model.log_weights
    after = np.isin(np.arange(k), s_after)
    before = np.isin(np.arange(k), s_before)
    row = lambda m: np.asarray(log_set_weights(lw, m))  # noqa: E731
    key, config = jax.random.key(0), EstimateConfig()
    level = 2.0 * math.log(eps)

    def log_overlap(a, b):
        return lambda ts: model.tv_curve(key, ts, row(a), row(b), config).log_overlap

    nan = float("nan")
    out = {"brackets": {}}
    res = crossing(log_overlap(after, ~after), level, *guesses["after"], rounds=rounds)
    # crossing at the floor: not separated even at t = 0, so no T^C_after.
    out["T_after_C"] = nan if res is None or res[1] == (0.0, 0.0) else res[0]
    out["brackets"]["after"] = None if res is None else res[1]
    res = crossing(lambda ts: -model.tv_curve(key, ts, row(after), row(before), config).value,
                   -eps, *guesses["end"], rounds=rounds)
    out["T_end"] = nan if res is None else res[0]
    out["brackets"]["end"] = None if res is None else res[1]
    if before.all():
        out["T_start"] = math.inf
    else:
        res = crossing(log_overlap(before, ~before), level, *guesses["start"], rounds=rounds)
        out["T_start"] = nan if res is None or res[1] == (0.0, 0.0) else res[0]
    ok = out["T_end"] <= out["T_start"]
    out["T_before_C"] = out["T_end"] if ok else nan
    return out


def _guesses(coords, eps):
    """Brackets for ``S_after = {0}``, ``S_before = Theta`` from pairwise closed forms.

    With ``D_j = ||c_0 - c_j||`` and ``a_j = D_j e^{-t} / 2``: the overlap of ``p^0`` with the
    rest lies between ``S / 2`` and ``S``, ``S = sum_j 2 Phi(-a_j)`` (the rest being the
    uniform mixture of the others), and ``TV(p_t^0, p_t) <= (1/K) sum_j erf(a_j / sqrt 2)``.
    """
    from scipy.optimize import brentq
    from scipy.special import erf, log_ndtr

    k = coords.shape[0]
    dist = np.linalg.norm(coords[0][None] - coords[1:], axis=1)

    def solve(fn, x):
        # fn increasing in t from fn(0); the t >= 0 with fn(t) = x (0 if already above).
        if fn(0.0) >= x:
            return 0.0
        hi = 1.0
        while fn(hi) < x:
            hi *= 2.0
        return brentq(lambda t: fn(t) - x, 0.0, hi, xtol=1e-6)

    def log_s(t):
        return float(np.logaddexp.reduce(math.log(2.0) + log_ndtr(-dist * math.exp(-t) / 2)))

    lo_a = solve(log_s, 2 * math.log(eps))
    hi_a = solve(log_s, 2 * math.log(eps) + math.log(2.0))
    t_b = solve(lambda t: -float(np.sum(erf(dist * math.exp(-t) / (2 * math.sqrt(2))))) / k,
                -eps)
    return {"after": (max(0.0, lo_a - 0.1), hi_a + 0.1), "end": (max(0.0, t_b - 0.8), t_b + 0.05)}


def compute(fast: bool) -> dict:
    """Exact and paper windows for every ``(d, seed)``, and the equilateral limit."""
    import jax

    from synthetic.gaussian_mixture import gaussian_mixture, random_means

    p = params(fast)
    eps, k = p["eps"], p["components"]
    dims, n_seeds = p["dims"], p["n_seeds"]
    shape = (len(dims), n_seeds)
    res = {n: np.full(shape, np.nan) for n in ("T_after_C", "T_before_C", "paper_T_after_C",
                                               "paper_T_before_C", "d_min", "d_max")}
    root = jax.random.key(p["seed"])
    items = [(i, d, s) for i, d in enumerate(dims) for s in range(n_seeds)]
    for i, d, s in _common.progress(items, "example 2"):
        means = random_means(jax.random.fold_in(jax.random.fold_in(root, s), d), k, d)
        model = gaussian_mixture(means, process="ou").reduced()
        win = definition4(model, [0], list(range(k)), eps,
                          _guesses(np.asarray(model.means), eps), rounds=p["rounds"])
        res["T_after_C"][i, s], res["T_before_C"][i, s] = win["T_after_C"], win["T_before_C"]
        pa, pb = paper_window(means, eps)
        res["paper_T_after_C"][i, s], res["paper_T_before_C"][i, s] = pa, pb
        dist = np.linalg.norm(means[0][None] - means[1:], axis=1)
        res["d_min"][i, s], res["d_max"][i, s] = dist.min(), dist.max()
    # The d -> infinity limit: pairwise distances all sqrt(2d), an equilateral triangle.
    side = p["equilateral_side"]
    tri = side * np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    model = gaussian_mixture(tri, process="ou").reduced()
    win = definition4(model, [0], list(range(k)), eps, _guesses(np.asarray(model.means), eps),
                      rounds=2)
    centre = math.log(side)
    out: dict = {"params": p, "dims": np.asarray(dims), **res,
                 "equilateral_offsets": np.asarray([win["T_after_C"] - centre,
                                                    win["T_before_C"] - centre])}
    return out


def _median(a):
    """Row medians over the finite entries (NaN for a row without any), without warnings."""
    return np.array([np.median(r[np.isfinite(r)]) if np.isfinite(r).any() else np.nan
                     for r in a])


def plot(data: dict, out_dir=None):
    """Left: window widths against ``d``; right: endpoints against ``1/2 ln(2d)``."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    eps, k = p["eps"], p["components"]
    d = data["dims"].astype(np.float64)
    n_seeds = p["n_seeds"]
    width = data["T_before_C"] - data["T_after_C"]
    pwidth = data["paper_T_before_C"] - data["paper_T_after_C"]
    off_a, off_b = (float(x) for x in data["equilateral_offsets"])
    paper_lim = math.log(1 / eps) + 0.5 * math.log(8 * math.log(k / eps))
    c_ex, c_pa, c_a, c_b = colors[0], colors[3], colors[2], colors[1]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 6.5), width_ratios=[1.1, 1])
    fig.subplots_adjust(wspace=0.22)
    rng = np.random.default_rng(0)  # horizontal jitter of the seed points only
    jitter = np.exp(rng.uniform(-0.08, 0.08, size=(len(d), n_seeds)))
    dd = d[:, None] * jitter
    ax.plot(dd.ravel(), width.ravel(), "o", color=c_ex, ms=5, alpha=0.6, mec="none")
    ax.plot(dd.ravel(), pwidth.ravel(), "D", color=c_pa, ms=4.5, alpha=0.6, mec="none")
    ax.plot(d, _median(width), "-", color=c_ex, lw=2.4,
            label=r"exact $T^C_{before} - T^C_{after}$ (Def. 4; points: seeds, line: median)")
    ax.plot(d, _median(pwidth), "-", color=c_pa, lw=2.4,
            label=r"paper: $\max_j \ln\|\mu_0-\mu_j\| + \ln\frac{1}{\varepsilon}"
                  r" - \min_j \ln\|\mu_0-\mu_j\| + \frac{1}{2}\ln(8\ln\frac{K}{\varepsilon})$")
    ax.axhline(off_b - off_a, color=c_ex, ls="--", lw=1.2,
               label=f"exact, equilateral limit ($d \\to \\infty$): {off_b - off_a:.3f}")
    ax.axhline(paper_lim, color=c_pa, ls="--", lw=1.2,
               label=r"paper, $d \to \infty$: $\ln\frac{1}{\varepsilon} + \frac{1}{2}\ln(8\ln"
                     rf"\frac{{K}}{{\varepsilon}}) = {paper_lim:.3f}$")
    ax.set_xscale("log")
    ax.set_xlabel(r"dimension $d$ (log scale)")
    ax.set_ylabel(r"window width $T^C_{before} - T^C_{after}$")
    ax.set_title("The width stays bounded as $d$ grows", fontsize=12)
    ax.set_ylim(0, max(np.nanmax(pwidth), paper_lim) * 1.3)
    ax.legend(loc="upper right", fontsize=8.8)
    none = ~np.isfinite(data["T_after_C"])
    if none.any():
        where = ", ".join(f"{int(di):,}: {int(c)}/{n_seeds}" for di, c in zip(d, none.sum(1),
                                                                         strict=True) if c)
        ax.text(0.02, 0.03, "no exact window (means too close: never "
                r"$1 - \mathrm{TV}(p^{0}_t, p^{\Theta - 0}_t) \leq \varepsilon^2$, "
                "even at $t = 0$)\n" f"for d: {where}", transform=ax.transAxes, fontsize=8.5)

    x = 0.5 * np.log(2 * d)
    xx = x[:, None] + np.log(jitter) * 0.6
    bx.plot(xx.ravel(), data["T_before_C"].ravel(), "o", color=c_b, ms=5, alpha=0.65,
            mec="none", label=r"exact $T^C_{before}$")
    bx.plot(xx.ravel(), data["T_after_C"].ravel(), "o", color=c_a, ms=5, alpha=0.65,
            mec="none", label=r"exact $T^C_{after}$")
    bx.plot(xx.ravel(), data["paper_T_before_C"].ravel(), "^", color=c_b, ms=5, mfc="none",
            alpha=0.8, label=r"paper $T^C_{before}$")
    bx.plot(xx.ravel(), data["paper_T_after_C"].ravel(), "v", color=c_a, ms=5, mfc="none",
            alpha=0.8, label=r"paper $T^C_{after}$ (from $K \max_j \mathrm{BC} \leq "
                             r"\varepsilon$, not Def. 4)")
    xl = np.array([x.min() - 0.2, x.max() + 0.2])
    bx.plot(xl, xl, color="0.3", lw=1.2, label=r"$t = \frac{1}{2}\ln(2d)$")
    bx.plot(xl, xl + off_b, color=c_b, lw=1.0, ls="--",
            label=rf"equilateral limit: $\frac{{1}}{{2}}\ln(2d) {off_b:+.2f}$, "
                  rf"$\frac{{1}}{{2}}\ln(2d) {off_a:+.2f}$")
    bx.plot(xl, xl + off_a, color=c_a, lw=1.0, ls="--")
    bx.set_xlim(*xl)
    ends = np.concatenate([data[n].ravel() for n in ("T_before_C", "T_after_C",
                                                      "paper_T_before_C", "paper_T_after_C")])
    ends = ends[np.isfinite(ends)]
    bx.set_ylim(ends.min() - 0.4, ends.max() + 3.6)  # room for the legend above the points
    bx.set_xticks(x)
    bx.set_xticklabels([f"{int(v):,}" for v in d], fontsize=9)
    bx.set_xlabel(r"dimension $d$, placed at $\frac{1}{2}\ln(2d) = \ln\sqrt{2d}$ "
                  r"($\sqrt{2d}$: the typical $\|\mu_i - \mu_j\|$)")
    bx.set_ylabel(r"window endpoint (OU time $t$)")
    bx.set_title(r"Both ends move with $\frac{1}{2}\ln(2d)$, a constant apart", fontsize=12)
    bx.legend(loc="upper left", fontsize=8.6)
    big = np.isfinite(data["T_after_C"][-1])
    gap = float(np.median(data["paper_T_after_C"][-1][big] - data["T_after_C"][-1][big]))
    bx.text(0.98, 0.03, f"at d = {int(d[-1]):,}: paper $T^C_{{after}}$ - exact = "
            f"{gap:+.3f} (median):\nthe paper's after end is a different criterion, "
            "slightly later", transform=bx.transAxes, ha="right", fontsize=8.5,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9})
    fig.suptitle(
        rf"Example 2: $K = {k}$ random means $\mu_i \sim N(0, I_d)$, components "
        rf"$N(\mu_i, I_d)$, OU, $S_{{after}} = \{{0\}}$, $S_{{before}} = \Theta$, "
        rf"$\varepsilon = {eps}$, {n_seeds} seed{'s' if n_seeds > 1 else ''} per $d$"
        "\nExact windows by 2-D quadrature in the span of the means (any $d$), against the "
        "paper's bounds",
        fontsize=12.5, y=1.02)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.02)
