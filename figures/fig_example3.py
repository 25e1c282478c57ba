"""Example 3 of [LKC25]: the critical window of two point masses under random masking.

Two point masses ``l_{+1}``, ``l_{-1}`` in ``{0,1}^L`` at Hamming distance ``d_H``, weights
1/2, each coordinate masked independently with probability ``t`` (theory.md §3.2). Starting from
``S_after = {+1}`` with ``S_before = Theta`` (one window report, ``s_init = [0]``,
``s_target = [0, 1]``), the figure plots the exact forward-reverse distances
``TV(p^{+1,t}, p^{+1})`` and ``TV(p^{+1,t}, p)`` against ``t``, shades the exact critical window
``[T^C_after, T^C_before]`` that Definition 4 gives on the grid, and marks the paper's closed
forms ``eps^{2/d_H}`` and ``(1 - eps)^{1/d_H}``. A last panel shows ``d_H`` times the width
staying bounded: the window shrinks like ``1/d_H``.

The exact ``T^C_before`` is ``(1 - 2 eps)^{1/d_H}``, because ``TV(p_t^{+1}, p_t) =
(1 - t^{d_H}) / 2``; the paper's ``(1 - eps)^{1/d_H}`` uses the pairwise distance
``TV(p_t^{+1}, p_t^{-1}) = 1 - t^{d_H}`` and is a little later, i.e. conservative.
"""

from __future__ import annotations

import math

import numpy as np

from figures import _common

NAME = "example3_window"
SOURCES = ("synthetic/point_masses.py",)


def params(fast: bool) -> dict:
    """The figure's parameters (no randomness: the points are fixed)."""
    return {
        "fast": bool(fast),
        "seed": None,
        "length": 1000,
        "eps": 0.1,
        "d_panels": [5, 20, 50, 200],
        "d_widths": [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000],
        # Grid: t = exp(-s / d_H) for s uniform in [0, s_max], which resolves the window (at
        # t^{d_H} between 1 - 2 eps and eps^2) equally well for every d_H, below it a uniform
        # grid down to t = 0.
        "n_uniform": 201 if fast else 1001,
        "n_log": 401 if fast else 4001,
        "s_max": 12.0,
    }


def _points(length: int, d: int) -> np.ndarray:
    x = np.zeros((2, length), dtype=np.int64)
    x[0, : length // 2] = 1
    x[1] = x[0]
    x[1, :d] = 1 - x[1, :d]
    return x


def _grid(p: dict, d: int) -> np.ndarray:
    # The same number of times for every d_H, so that one compilation serves them all.
    s = np.linspace(p["s_max"], 0.0, p["n_log"])
    t_min = math.exp(-p["s_max"] / d)
    return np.concatenate([np.linspace(0.0, t_min, p["n_uniform"], endpoint=False),
                           np.exp(-s / d)])


def compute(fast: bool) -> dict:
    """Window reports for every ``d_H`` of the panels and of the width plot."""
    import localize
    from synthetic.point_masses import point_masses

    p = params(fast)
    out: dict = {"params": p}
    ds = sorted(set(p["d_panels"]) | set(p["d_widths"]))
    t_after, t_before, dev = [], [], []
    for d in _common.progress(ds, "example 3"):
        x = _points(p["length"], d)
        assert int(np.sum(x[0] != x[1])) == d
        model = point_masses([0.5, 0.5], x, 2, "random_masking")
        times = _grid(p, d)
        rep = localize.window_report(model, [0], [0, 1], p["eps"], times)
        t_after.append(rep.T_after_C)
        t_before.append(rep.T_before_C)
        fr_init, fr_full = np.asarray(rep.fr_tv_init), np.asarray(rep.fr_tv_full)
        # theory.md §6 item 17: p^{+1,t} = (1 - t^d/2) delta_{+1} + (t^d/2) delta_{-1}.
        dev.append(max(np.abs(fr_init - times**d / 2).max(),
                       np.abs(fr_full - (1 - times**d) / 2).max()))
        if d in p["d_panels"]:
            out[f"d{d}_times"] = times
            out[f"d{d}_fr_tv_init"] = fr_init
            out[f"d{d}_fr_tv_full"] = fr_full
            out[f"d{d}_tv_init_rest"] = np.asarray(rep.tv_init_rest)
            out[f"d{d}_tv_init_target"] = np.asarray(rep.tv_init_target)
            out[f"d{d}_grid_step"] = np.max(np.diff(times[(times >= rep.T_after_C)
                                                          & (times <= rep.T_before_C)]))
    out["d"] = np.asarray(ds)
    out["T_after_C"] = np.asarray(t_after, dtype=np.float64)
    out["T_before_C"] = np.asarray(t_before, dtype=np.float64)
    out["max_dev_closed_form"] = np.asarray(dev)
    return out


def plot(data: dict, out_dir=None):
    """Four window panels (one per ``d_H``) and the ``d_H * width`` panel."""
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    colors = _common.style()
    p = data["params"]
    eps, length = p["eps"], p["length"]
    ds = list(data["d"])
    fig = plt.figure(figsize=(15, 8.2))
    gs = GridSpec(2, 3, figure=fig, width_ratios=[1, 1, 1.05], wspace=0.28, hspace=0.42)
    c_init, c_full, c_win, c_paper = colors[0], colors[1], colors[2], colors[3]
    for i, d in enumerate(p["d_panels"]):
        ax = fig.add_subplot(gs[i // 2, i % 2])
        t = data[f"d{d}_times"]
        j = ds.index(d)
        ta, tb = float(data["T_after_C"][j]), float(data["T_before_C"][j])
        pa, pb = eps ** (2 / d), (1 - eps) ** (1 / d)
        lo = max(0.0, ta - 1.3 * (pb - ta))
        keep = t >= lo
        ax.axvspan(ta, tb, color=c_win, alpha=0.18,
                   label=r"exact window $[T^C_{after}, T^C_{before}]$ (Def. 4)")
        ax.plot(t[keep], data[f"d{d}_fr_tv_init"][keep], color=c_init, lw=2,
                label=r"$\mathrm{TV}(p^{+1,t}, p^{+1})$  (stays in $\ell_{+1}$?)")
        ax.plot(t[keep], data[f"d{d}_fr_tv_full"][keep], color=c_full, lw=2,
                label=r"$\mathrm{TV}(p^{+1,t}, p)$  (forgot $\ell_{+1}$?)")
        # Theorem 2's guarantees on each side of the window.
        ax.hlines(eps / math.sqrt(2), lo, ta, color=c_init, ls="--", lw=1.2,
                  label=r"Thm 2 bound $\varepsilon/\sqrt{2}$ for $t \leq T^C_{after}$")
        ax.hlines(eps, tb, 1.0, color=c_full, ls="--", lw=1.2,
                  label=r"Thm 2 bound $\varepsilon$ for $t \geq T^C_{before}$")
        ax.axvline(pa, color=c_paper, ls=":", lw=1.8,
                   label=r"paper: $T^C_{after} = \varepsilon^{2/d_H}$")
        ax.axvline(pb, color="k", ls=":", lw=1.8,
                   label=r"paper: $T^C_{before} = (1-\varepsilon)^{1/d_H}$")
        ax.set_xlim(lo, 1.0)
        ax.set_ylim(-0.01, 0.52)
        ax.set_title(rf"$d_H = {d}$:  window $[{ta:.4g},\ {tb:.4g}]$, width {tb - ta:.3g}",
                     fontsize=11)
        ax.set_xlabel(r"masking probability $t$ (more noise $\rightarrow$)")
        ax.set_ylabel("total variation")
        # Where each bound is reached: TV(p^{+1,t}, p^{+1}) = t^d/2 = eps^2/2 at T^C_after and
        # TV(p^{+1,t}, p) = (1 - t^d)/2 = eps at the exact T^C_before.
        ka, kb = np.searchsorted(t, ta), np.searchsorted(t, tb)
        ya, yb = data[f"d{d}_fr_tv_init"][ka], data[f"d{d}_fr_tv_full"][kb]
        ax.plot([ta], [ya], "o", color=c_init, mec="k", ms=6, zorder=5)
        ax.plot([tb], [yb], "o", color=c_full, mec="k", ms=6, zorder=5)
        box = {"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.8", "alpha": 0.9}
        ax.annotate(rf"{ya:.4f} at $T^C_{{after}}$ ($\leq \varepsilon^2/2$)", (ta, ya),
                    xytext=(0.03, 0.24), textcoords="axes fraction", fontsize=8.5,
                    color=c_init, bbox=box,
                    arrowprops={"arrowstyle": "->", "color": c_init, "lw": 0.9})
        ax.annotate(rf"{yb:.4f} at $T^C_{{before}}$ = {tb:.4g} ($\leq \varepsilon$)"
                    + f"\npaper's $T^C_{{before}}$ = {pb:.4g}", (tb, yb),
                    xytext=(0.28, 0.42), textcoords="axes fraction", fontsize=8.5,
                    color=c_full, bbox=box,
                    arrowprops={"arrowstyle": "->", "color": c_full, "lw": 0.9})
        if i == 0:
            handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.055),
               fontsize=9.5, frameon=True)

    ax = fig.add_subplot(gs[:, 2])
    d_arr = np.asarray(ds, dtype=np.float64)
    width = data["T_before_C"] - data["T_after_C"]
    dd = np.geomspace(1, max(ds), 200)
    ax.plot(dd, dd * ((1 - eps) ** (1 / dd) - eps ** (2 / dd)), color="k", ls=":", lw=1.8,
            label=r"paper: $d_H[(1-\varepsilon)^{1/d_H} - \varepsilon^{2/d_H}]$")
    ax.plot(dd, dd * ((1 - 2 * eps) ** (1 / dd) - eps ** (2 / dd)), color=c_win, lw=1.2,
            label=r"closed form of the exact window, $(1-2\varepsilon)^{1/d_H}$ end")
    ax.plot(d_arr, d_arr * width, "o", color=c_win, ms=7, mec="k",
            label=r"exact $d_H \cdot (T^C_{before} - T^C_{after})$ (grid)")
    lim_p, lim_e = math.log(1 - eps) - 2 * math.log(eps), math.log(1 - 2 * eps) - 2 * math.log(eps)
    ax.axhline(lim_p, color="k", lw=0.8, ls="--")
    ax.axhline(lim_e, color=c_win, lw=0.8, ls="--")
    ax.annotate(rf"$\ln(1-\varepsilon) - 2\ln\varepsilon = {lim_p:.3f}$", (1.1, lim_p),
                xytext=(0, 5), textcoords="offset points", fontsize=9)
    ax.annotate(rf"$\ln(1-2\varepsilon) - 2\ln\varepsilon = {lim_e:.3f}$", (1.1, lim_e),
                xytext=(0, -13), textcoords="offset points", fontsize=9, color=c_win)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.25 * lim_p)
    ax.set_xlabel(r"Hamming distance $d_H$")
    ax.set_ylabel(r"$d_H \times$ window width")
    ax.set_title(r"width $= O(1/d_H)$: $d_H \times$ width stays bounded", fontsize=11)
    ax.legend(loc="lower right", fontsize=8.5)
    dev = float(np.max(data["max_dev_closed_form"]))
    ax.text(0.03, 0.97, f"L = {length}, $\\varepsilon$ = {eps}\n"
            f"max |exact - closed form| of both\nforward-reverse TVs: {dev:.1e}",
            transform=ax.transAxes, va="top", fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    fig.suptitle(
        "Example 3: two point masses at Hamming distance $d_H$ in $\\{0,1\\}^{"
        f"{length}" "}$, random masking with probability $t$, $\\varepsilon = "
        f"{eps}$\nForward-reverse from $\\ell_{{+1}}$: the output stays in $\\ell_{{+1}}$ "
        "left of the window and is a fresh draw from $p$ right of it",
        fontsize=13, y=0.995)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.075)
