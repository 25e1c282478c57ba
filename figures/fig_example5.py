"""Example 5 of [LKC25]: math problem solving as biased coins, windows against visible tokens.

Two modes ``Bern(1/2 + D)^{⊗L}`` (strong, ``+``) and ``Bern(1/2 - D)^{⊗L}`` (weak, ``-``) with
weights 1/2, observed through truncation: at time ``t`` the first ``n = L - t`` tokens are
visible (theory.md §3.3). For the strong mode, ``S_after = {+}`` and ``S_before = Theta``:

* ``T^C_after`` (largest ``t``, i.e. fewest visible tokens, with
  ``TV(p_t^+, p_t^-) >= 1 - eps^2``); the paper's formula is ``T - ln(2/eps^2) / (2 D^2)``,
  i.e. ``n = ln(2/eps^2) / (2 D^2)`` visible tokens (Hoeffding);
* ``T^C_before`` (smallest ``t`` with ``TV(p_t^+, p_t) <= eps``); the paper's formula is
  ``T - eps^2/D^2 + 2``, i.e. ``n = eps^2/D^2 - 2`` (Roos), which is positive only when
  ``eps^2 / D^2 > 2`` (theory.md §7).

The curves are exact (binomial sufficient statistics). The exact integer thresholds are found by
bisection on the monotone curves and then confirmed by Definition 4 on a grid that contains
them (:func:`localize.t_after_c`, :func:`localize.t_before_c`).
"""

from __future__ import annotations

import math

import numpy as np

from figures import _common

NAME = "example5_windows"
SOURCES = ("synthetic/biased_coins.py", "localize/binomial.py")


def params(fast: bool) -> dict:
    """Biases, eps (inside the paper's assumption for every bias), length and grid."""
    return {
        "fast": bool(fast),
        "seed": None,
        # Each bias has its own table shapes, hence its own compilation: fast runs use two.
        "deltas": [0.01, 0.05] if fast else [0.004, 0.01, 0.02, 0.05],
        # The paper assumes eps^2 < 1e-3 (1/4 - D^2); 0.015^2 = 2.25e-4 < 2.475e-4 for D <= 0.05.
        "eps": 0.015,
        "length": 100_000 if fast else 300_000,
        "n_grid": 60 if fast else 300,
    }


def paper_visible(eps: float, delta: float) -> tuple[float, float]:
    """The paper's window in visible tokens: ``(n_after, n_before)``."""
    return math.log(2 / eps**2) / (2 * delta**2), eps**2 / delta**2 - 2


def _curve_fn():
    import jax
    import jax.numpy as jnp

    from localize import divergences as dv
    from localize.posterior import label_law, log_submixture

    plus = jnp.array([True, False])
    full = jnp.array([True, True])

    @jax.jit
    def curves(model, ts):
        def one(t):
            lw, noised = model.log_weights, model.view(t).log_noised
            lp = log_submixture(lw, noised, plus)
            lm = log_submixture(lw, noised, ~plus)
            lf = log_submixture(lw, noised, full)
            return (dv.tv(lp, lm), dv.log_overlap(lp, lm), dv.tv(lp, lf),
                    label_law(lw, noised, plus)[0])

        return jax.vmap(one)(ts)

    return curves


def _evaluate(curves, model, length, visible, chunk=1):
    """Exact curves at the given visible counts (any order), in chunks of fixed size.

    One time per call: a call costs milliseconds, while every new chunk shape would cost a
    compilation of seconds.
    """
    import jax.numpy as jnp

    n = np.asarray(visible, dtype=np.float64)
    pad = (-n.size) % chunk
    t = np.concatenate([length - n, np.full(pad, float(length))])
    parts = [curves(model, jnp.asarray(t[i : i + chunk])) for i in range(0, t.size, chunk)]
    return [np.concatenate([np.asarray(p[j]) for p in parts])[: n.size] for j in range(4)]


def _bisect(pred, lo, hi):
    """Smallest integer n in (lo, hi] with pred(n), given pred(hi) and not pred(lo)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def compute(fast: bool) -> dict:
    """Exact curves and windows for every bias."""
    import localize
    from synthetic.biased_coins import biased_coins

    p = params(fast)
    eps, length = p["eps"], p["length"]
    curves = _curve_fn()
    out: dict = {"params": p}
    rows = {k: [] for k in ("n_after", "n_before", "grid_n_after", "grid_n_before",
                            "overlap_at_paper_after", "tv_pm_at_paper_before", "error_bound")}
    for delta in _common.progress(p["deltas"], "example 5"):
        model = biased_coins([0.5, 0.5], [delta, -delta], length, "truncation")

        def value(n, j, model=model):
            return float(_evaluate(curves, model, length, [n])[j][0])

        # After side: fewest visible tokens with 1 - TV(p^+, p^-) <= eps^2 (monotone in n).
        separated = lambda n: value(n, 1) <= 2 * math.log(eps)  # noqa: E731
        n_after = _bisect(separated, 0, length) if separated(length) else None
        # Before side: most visible tokens with TV(p^+, p) <= eps.
        far = lambda n: value(n, 2) > eps  # noqa: E731
        n_before = _bisect(far, 0, length) - 1 if far(length) else length
        pa, pb = paper_visible(eps, delta)
        special = [n_before, n_before + 1, max(0, math.floor(pb)), math.ceil(pa)]
        if n_after is not None:
            special += [n_after, n_after - 1]
        grid = np.unique(np.concatenate([
            [0], np.round(np.geomspace(1, length, p["n_grid"])),
            [n for n in special if 0 <= n <= length]])).astype(np.int64)
        tv_pm, log_ov, tv_pf, stay = _evaluate(curves, model, length, grid)
        # Definition 4 on the grid (times increasing = visible counts decreasing).
        times = (length - grid)[::-1].astype(np.float64)
        ta = localize.t_after_c(times, tv_pm[::-1], eps, log_overlap=log_ov[::-1])
        tb = localize.t_before_c(times, tv_pf[::-1], None, eps)
        rows["error_bound"].append(model.error_bound)
        rows["n_after"].append(-1 if n_after is None else n_after)
        rows["n_before"].append(n_before)
        rows["grid_n_after"].append(-1 if ta is None else length - ta)
        rows["grid_n_before"].append(-1 if tb is None else length - tb)
        idx = {int(n): i for i, n in enumerate(grid)}
        na = math.ceil(pa)
        rows["overlap_at_paper_after"].append(
            math.exp(log_ov[idx[na]]) if na <= length else float("nan"))
        rows["tv_pm_at_paper_before"].append(
            tv_pm[idx[math.floor(pb)]] if pb >= 0 else float("nan"))
        key = f"D{delta:g}"
        out[f"{key}_n"] = grid
        out[f"{key}_tv_pm"] = tv_pm
        out[f"{key}_overlap_pm"] = np.exp(log_ov)
        out[f"{key}_tv_pfull"] = tv_pf
        out[f"{key}_stay"] = stay
    out["deltas"] = np.asarray(p["deltas"])
    for k, v in rows.items():
        out[k] = np.asarray(v, dtype=np.float64)
    return out


def plot(data: dict, out_dir=None):
    """Per bias: the two window criteria (log scale) and the probability of keeping the mode."""
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    colors = _common.style()
    p = data["params"]
    eps, length = p["eps"], p["length"]
    deltas = list(data["deltas"])
    nd = len(deltas)
    fig = plt.figure(figsize=(4.3 * nd + 4.8, 9.0))
    gs = GridSpec(2, nd + 1, figure=fig, width_ratios=[1] * nd + [1.15], hspace=0.12,
                  wspace=0.3)
    c_sep, c_close, c_stay, c_win, c_paper = colors[1], colors[2], colors[0], colors[4], "k"
    handles = {}
    for i, delta in enumerate(deltas):
        key = f"D{delta:g}"
        n = data[f"{key}_n"].astype(np.float64)
        pos = n >= 1
        na, nb = data["n_after"][i], data["n_before"][i]
        pa, pb = paper_visible(eps, delta)
        top = fig.add_subplot(gs[0, i])
        bot = fig.add_subplot(gs[1, i], sharex=top)
        for ax in (top, bot):
            if na >= 0:
                lo = max(nb, 0.5)
                h = ax.axvspan(lo, na, color=c_win, alpha=0.13, lw=0)
                handles[r"exact window (Def. 4), $n$ from $T^C_{before}$ to $T^C_{after}$"] = h
                h = ax.axvline(na, color=c_win, lw=1.6)
                if nb >= 1:
                    ax.axvline(nb, color=c_win, lw=1.6)
                handles["exact window ends"] = h
            if pa <= length:
                h = ax.axvline(pa, color=c_paper, ls="--", lw=1.4)
                handles[r"paper: $T^C_{after} = T - \ln(2/\varepsilon^2)/(2\Delta^2)$"] = h
            if pb >= 1:
                h = ax.axvline(pb, color=c_paper, ls=":", lw=1.8)
                handles[r"paper: $T^C_{before} = T - \varepsilon^2/\Delta^2 + 2$"] = h
        h1, = top.plot(n[pos], data[f"{key}_overlap_pm"][pos], color=c_sep, lw=2)
        h2, = top.plot(n[pos], np.maximum(data[f"{key}_tv_pfull"][pos], 1e-300), color=c_close,
                       lw=2)
        handles[r"$1 - \mathrm{TV}(p^+_t, p^-_t)$ (after side: $\leq \varepsilon^2$)"] = h1
        handles[r"$\mathrm{TV}(p^+_t, p_t)$ (before side: $\leq \varepsilon$)"] = h2
        h3 = top.axhline(eps**2, color=c_sep, lw=0.9, ls="-.")
        h4 = top.axhline(eps, color=c_close, lw=0.9, ls="-.")
        handles[r"levels $\varepsilon^2$ and $\varepsilon$"] = h3
        del h4
        top.set_xscale("log")
        top.set_yscale("log")
        top.set_ylim(1e-7, 1.5)
        top.set_xlim(1, length)
        top.tick_params(labelbottom=False)
        top.set_title(rf"$\Delta = {delta:g}$", fontsize=13)
        lines = [f"exact window: n in [{int(nb)}, {int(na):,}]" if na >= 0
                 else f"no separation by n = {length:,}",
                 f"paper: n_after = {pa:,.0f}" + ("" if pa <= length else " (> L, off chart)")]
        if pb >= 1:
            lines.append(f"paper: n_before = {pb:.2f}")
        else:
            lines.append(f"paper: n_before = {pb:.2f} <= 0\n  (needs eps^2/D^2 > 2)")
        oa, tb_ = data["overlap_at_paper_after"][i], data["tv_pm_at_paper_before"][i]
        if np.isfinite(oa):
            lines.append(f"at paper's n_after: 1 - TV(+,-)\n  = {oa:.1e} <= eps^2 = {eps**2:.1e}")
        if np.isfinite(tb_):
            lines.append(f"at n = {math.floor(pb)}: TV(+,-) = {tb_:.3f}\n"
                         f"  <= 3 eps = {3 * eps:g} (Roos)")
        top.text(0.03, 0.03, "\n".join(lines), transform=top.transAxes, fontsize=8.3,
                 va="bottom", bbox={"boxstyle": "round", "fc": "white", "ec": "0.75",
                                    "alpha": 0.9})
        h5, = bot.plot(n[pos], data[f"{key}_stay"][pos], color=c_stay, lw=2)
        handles["P(resample stays in the strong mode +)"] = h5
        bot.set_ylim(0.48, 1.02)
        bot.set_xlabel(r"visible tokens $n = T - t$ (log scale)")
        if i == 0:
            top.set_ylabel("criterion (log scale)")
            bot.set_ylabel("P(resample stays in +)\n"
                           r"$= \mathbb{E}_{Y \sim p^+_t}[\pi_t(+ \mid Y)]$")

    ax = fig.add_subplot(gs[:, nd])
    d = np.asarray(deltas, dtype=np.float64)
    ok = data["n_after"] >= 0
    const = math.log(2 / eps**2) / 2
    ax.plot(d[ok], data["n_after"][ok] * d[ok] ** 2, "o-", color=c_sep, ms=8, mec="k",
            label=r"exact: $\Delta^2 \times n$ at $T^C_{after}$")
    ax.axhline(const, color=c_paper, ls="--",
               label=rf"paper: $\ln(2/\varepsilon^2)/2 = {const:.2f}$")
    ax.plot(d, np.maximum(data["n_before"], 0) * d**2, "s-", color=c_close, ms=8, mec="k",
            label=r"exact: $\Delta^2 \times n$ at $T^C_{before}$")
    ax.axhline(eps**2, color=c_paper, ls=":", lw=1.8,
               label=rf"paper: $\varepsilon^2 - 2\Delta^2 \leq \varepsilon^2 = {eps**2:.1e}$")
    for j, (di, na, nb) in enumerate(zip(d, data["n_after"], data["n_before"], strict=True)):
        if na >= 0:
            ax.annotate(f"n = {int(na):,}", (di, na * di**2), xytext=(0, -18 if j % 2 else 10),
                        textcoords="offset points", ha="center", fontsize=8.5, color=c_sep)
        ax.annotate(f"n = {int(nb)}", (di, max(nb, 0) * di**2), xytext=(0, 8),
                    textcoords="offset points", ha="center", fontsize=8.5, color=c_close)
    ax.set_xscale("log")
    ax.set_xticks(d)
    ax.set_xticklabels([f"{x:g}" for x in d])
    ax.minorticks_off()
    ax.set_xlim(d.min() / 1.5, d.max() * 1.5)
    ax.set_ylim(-0.2, const * 1.25)
    ax.set_xlabel(r"bias $\Delta$ (log scale)")
    ax.set_ylabel(r"$\Delta^2 \times$ visible tokens $n$ at the window's ends")
    ax.set_title(r"both ends scale like $1/\Delta^2$:" "\n" r"$\Delta^2 n$ is flat in $\Delta$",
                 fontsize=12)
    ax.legend(fontsize=8.5, loc="center left", bbox_to_anchor=(0.0, 0.3))
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=4,
               bbox_to_anchor=(0.45, -0.06), fontsize=9.5)
    fig.suptitle(
        "Example 5: two modes Bern(1/2 + $\\Delta$) (strong, +) and Bern(1/2 - $\\Delta$) "
        "(weak, -), "
        f"weights 1/2, truncation of a length-{length:,} sequence, $\\varepsilon$ = {eps} "
        r"($\varepsilon^2 < 10^{-3}(1/4 - \Delta^2)$ for every $\Delta$ shown)"
        "\nThe resample from a truncated strong-mode sequence keeps the mode once the visible "
        "prefix separates the modes; exact windows against the paper's formulas "
        f"(exact binomial laws, every TV within {float(np.max(data['error_bound'])):.0e})",
        fontsize=12.5, y=1.0)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.085)
