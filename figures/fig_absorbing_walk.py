"""Example 5 with absorbing boundaries: the random walk's window against visible tokens.

Two modes, weights 1/2: a ``+-1`` walk from 0 that steps up with probability ``1/2 + D``
(strong, ``+``) or ``1/2 - D`` (weak, ``-``), absorbed at ``+A`` (solved) or ``-A`` (wrong),
then ``halt``; truncation shows the first ``n = T - t`` tokens ([LKC25] Example 5, theory.md
§3.3; family :mod:`synthetic.absorbing_walk`). For ``S_after = {+}`` and
``S_before = Theta`` the figure draws, for several boundaries ``A``, the exact curves of
Definition 4 against ``n``:

* the after side, ``1 - TV(p_t^+, p_t^-)`` against ``eps^2``, with the gambler's-ruin
  ceiling ``2 / (1 + (p/q)^A)`` that no prefix can go below (so no separation when
  ``A <= A* = ln(2/eps^2 - 1) / ln(p/q)``);
* the before side, ``TV(p_t^+, p_t)`` against ``eps`` (the same for every ``A`` here: no
  prefix of fewer than ``A`` tokens is absorbed);
* the probability that the strong mode's walk is absorbed within the first ``n`` tokens;
* the exact windows ``[n_before, n_after]`` against the paper's
  ``[eps^2/D^2 - 2, ln(2/eps^2)/(2 D^2)]``, which assumes ``ln(2/eps^2)/(2 D^2) < A``.

Every number is exact (Definition 4 on every integer time, noised laws of the walk).
"""

from __future__ import annotations

import math

import numpy as np

from figures import _common

NAME = "absorbing_walk_window"
SOURCES = ("synthetic/absorbing_walk.py", "proofs_check/absorbing_walk.py")


def params(fast: bool) -> dict:
    """Drift, eps, length and boundaries: from the paper's assumption (A = 1100 > 1060) down
    to below the ceiling A* = 26.4."""
    return {
        "fast": bool(fast),
        "seed": None,
        "delta": 0.05,
        "eps": 0.1,
        "length": 1200 if fast else 1500,
        "boundaries": [25, 30, 1100] if fast else [20, 25, 30, 40, 1100],
    }


def compute(fast: bool) -> dict:
    """Exact curves on every integer time, exact windows and absorption probabilities."""
    from synthetic.absorbing_walk import absorbing_walk, exact_window

    p = params(fast)
    delta, eps, length = p["delta"], p["eps"], p["length"]
    out: dict = {"params": p}
    n_after, n_before = [], []
    for boundary in _common.progress(p["boundaries"], "absorbing walk"):
        model = absorbing_walk([0.5, 0.5], [delta, -delta], length, boundary, clean_laws=False)
        ex = exact_window(model, [0], eps)
        c = ex["curves"]
        key = f"A{boundary}"
        # Curves come in time order t = 0..T; store them by visible tokens n = T - t.
        out[f"{key}_overlap_pm"] = np.exp(c.log_overlap_after_rest)[::-1]
        out[f"{key}_tv_pfull"] = c.tv_after_full[::-1]
        out[f"{key}_stay"] = c.stay[::-1]
        # P_+(absorbed within n tokens), at +A and at -A: cumulative over tau = A + 2h <= n.
        absorbed = np.exp(np.asarray(model.log_absorbed[0]))
        tau = boundary + 2 * np.arange(absorbed.shape[1])
        for side, row in (("up", 0), ("down", 1)):
            mass = np.zeros(length + 1)
            if model.absorbing:
                np.add.at(mass, tau[tau <= length], absorbed[row, tau <= length])
            out[f"{key}_absorbed_{side}"] = np.cumsum(mass)
        n_after.append(-1 if ex["n_after"] is None else ex["n_after"])
        n_before.append(-1 if ex["n_before"] is None else ex["n_before"])
    out["n"] = np.arange(length + 1)
    out["boundaries"] = np.asarray(p["boundaries"])
    out["n_after"] = np.asarray(n_after, dtype=np.int64)
    out["n_before"] = np.asarray(n_before, dtype=np.int64)
    return out


def plot(data: dict, out_dir=None):
    """Four panels: after side, before side, absorption, and the windows against A."""
    import matplotlib.pyplot as plt

    from proofs_check.absorbing_walk import ceiling_boundary, example5_paper, separation_ceiling

    colors = _common.style()
    p = data["params"]
    delta, eps, length = p["delta"], p["eps"], p["length"]
    boundaries = [int(a) for a in data["boundaries"]]
    paper = example5_paper(delta, eps)
    a_star = ceiling_boundary(delta, eps)
    n = data["n"].astype(np.float64)
    palette = {a: colors[i % len(colors)] for i, a in enumerate(boundaries)}

    def label(a):
        if a > paper["n_after"]:
            return f"A = {a} (paper's assumption A > {paper['n_after']:.0f})"
        if a <= a_star:
            return f"A = {a} (below the ceiling A* = {a_star:.1f})"
        return f"A = {a}"

    fig, axes = plt.subplots(2, 2, figsize=(15.5, 10.5), gridspec_kw={"hspace": 0.32,
                                                                        "wspace": 0.22})
    ax_after, ax_before = axes[0]
    ax_abs, ax_win = axes[1]

    # After side: separation of the two modes.
    for i, a in enumerate(boundaries):
        col = palette[a]
        ax_after.plot(n[1:], data[f"A{a}_overlap_pm"][1:], color=col, lw=2, label=label(a))
        ceil = separation_ceiling(delta, a)
        if ceil > 1e-7:
            ax_after.axhline(ceil, color=col, lw=1, ls=":")
        na = int(data["n_after"][i])
        if na >= 0:
            ax_after.plot([na], [data[f"A{a}_overlap_pm"][na]], "o", color=col, mec="k", ms=8,
                          zorder=5)
    ax_after.axhline(eps**2, color="k", lw=1.2, ls="-.", label=rf"$\varepsilon^2 = {eps**2:g}$")
    ax_after.axvline(paper["n_after"], color="k", ls="--", lw=1.4,
                     label=r"paper: $n = \ln(2/\varepsilon^2)/(2\Delta^2)$ "
                           f"= {paper['n_after']:.0f}")
    ax_after.plot([], [], "o", color="0.6", mec="k", ms=8,
                  label=r"exact $T^C_{after}$: first $n$ with $1-\mathrm{TV} \leq \varepsilon^2$")
    ax_after.plot([], [], ":", color="0.4", lw=1,
                  label=r"ceiling $2/(1+(p/q)^A)$ (whole walk)")
    ax_after.set_yscale("log")
    ax_after.set_ylim(1e-5, 1.2)
    ax_after.set_xlim(0, length)
    ax_after.set_xlabel(r"visible tokens $n = T - t$")
    ax_after.set_ylabel(r"$1 - \mathrm{TV}(p^+_t, p^-_t)$ (log scale)")
    ax_after.set_title("after side: when does the prefix separate the two modes?")
    ax_after.legend(fontsize=8.3, loc="lower left")
    at = int(math.ceil(paper["n_after"]))
    if at <= length:
        rows = [f"at the paper's n = {at}:"]
        for a in boundaries:
            v = data[f"A{a}_overlap_pm"][at]
            rows.append(f"  A = {a}: 1 - TV = {v:.2g} " + ("<=" if v <= eps**2 else ">")
                        + " eps^2")
        ax_after.text(0.98, 0.97, "\n".join(rows), transform=ax_after.transAxes, ha="right",
                      va="top", fontsize=8.3, family="monospace",
                      bbox={"boxstyle": "round", "fc": "white", "ec": "0.75", "alpha": 0.95})

    # Before side: closeness of the strong mode to the whole mixture.
    top = max(40, int(3 * paper["n_before"]) + 20)
    for a in boundaries:
        ax_before.plot(n[: top + 1], data[f"A{a}_tv_pfull"][: top + 1], color=palette[a], lw=2,
                       label=label(a))
    nb = int(data["n_before"][0])
    ax_before.axhline(eps, color="k", lw=1.2, ls="-.", label=rf"$\varepsilon = {eps:g}$")
    ax_before.axvline(paper["n_before"], color="k", ls=":", lw=1.8,
                      label=r"paper: $n = \varepsilon^2/\Delta^2 - 2$ "
                            f"= {paper['n_before']:.0f}")
    ax_before.axvline(nb, color="0.35", lw=1.6,
                      label=rf"exact $T^C_{{before}}$: last $n$ with TV $\leq \varepsilon$ "
                            f"(n = {nb})")
    ax_before.set_xlim(0, top)
    ax_before.set_ylim(0, 0.5)
    ax_before.set_xlabel(r"visible tokens $n = T - t$")
    ax_before.set_ylabel(r"$\mathrm{TV}(p^+_t, p_t)$")
    ax_before.set_title("before side: the curves of every $A$ coincide "
                        "(no prefix shorter than $A$ is absorbed)", fontsize=11)
    ax_before.legend(fontsize=8.3, loc="upper left")
    at_b = int(math.floor(paper["n_before"]))
    if at_b >= 0:
        # TV(p^+, p) is half TV(p^+, p^-) for equal weights: the Roos bound 3 eps on the
        # latter reads 1.5 eps here.
        v = 2 * data[f"A{boundaries[-1]}_tv_pfull"][at_b]
        ax_before.text(0.98, 0.04, f"at the paper's n = {at_b}:\nTV(p+, p-) = {v:.3f} <= "
                       f"3 eps = {3 * eps:g} (Roos)", transform=ax_before.transAxes, ha="right",
                       va="bottom", fontsize=8.5, family="monospace",
                       bbox={"boxstyle": "round", "fc": "white", "ec": "0.75", "alpha": 0.95})

    # Absorption of the strong mode's walk.
    for a in boundaries:
        up, down = data[f"A{a}_absorbed_up"], data[f"A{a}_absorbed_down"]
        if up[-1] <= 0:
            continue
        ax_abs.plot(n, up, color=palette[a], lw=2, label=f"A = {a}: at +A (solved)")
        ax_abs.plot(n, down, color=palette[a], lw=1.5, ls="--", label=f"A = {a}: at -A (wrong)")
    ax_abs.axvline(paper["n_after"], color="k", ls="--", lw=1.2,
                   label=f"paper's n_after = {paper['n_after']:.0f}")
    ax_abs.set_xlim(0, length)
    ax_abs.set_ylim(-0.02, 1.02)
    ax_abs.set_xlabel(r"visible tokens $n$")
    ax_abs.set_ylabel(r"$P_+(\mathrm{absorbed\ within\ the\ first}\ n\ \mathrm{tokens})$")
    ax_abs.set_title("strong mode: absorption within the visible prefix (impossible before n = A)",
                     fontsize=11)
    ax_abs.legend(fontsize=8, loc="center right", ncol=1)

    # The windows against A.
    ys = np.arange(len(boundaries))
    ax_win.axvspan(paper["n_before"], paper["n_after"], color="0.85", zorder=0,
                   label=rf"paper's window $[{paper['n_before']:.0f}, "
                         rf"{paper['n_after']:.0f}]$")
    for y, a, na, nb_ in zip(ys, boundaries, data["n_after"], data["n_before"], strict=True):
        col = palette[a]
        if na >= 0:
            ax_win.plot([nb_, na], [y, y], color=col, lw=7, solid_capstyle="butt")
            ax_win.annotate(f"[{nb_}, {na}]", (na, y), xytext=(8, 0), textcoords="offset points",
                            va="center", fontsize=9.5)
        else:
            ax_win.annotate("", (length, y), (nb_, y),
                            arrowprops={"arrowstyle": "->", "color": col, "lw": 2.5, "ls": "--"})
            ax_win.text(0.5 * (nb_ + length), y + 0.22, "never separated: no $T^C_{after}$",
                        ha="center", fontsize=9.5, color=col)
    ax_win.set_yticks(ys)
    ax_win.set_yticklabels([f"A = {a}" for a in boundaries])
    ax_win.set_ylim(-0.7, len(boundaries) - 0.3)
    ax_win.set_xlim(0, length)
    ax_win.set_xlabel(r"visible tokens $n$: exact window $[n_{before}, n_{after}]$ "
                      r"$= [T - T^C_{before},\ T - T^C_{after}]$")
    ax_win.set_title(rf"exact windows (Definition 4); ceiling $A^* = \ln(2/\varepsilon^2 - 1)"
                     rf"/\ln(p/q) = {a_star:.1f}$", fontsize=11)
    ax_win.legend(fontsize=9, loc="lower right")

    fig.suptitle(
        rf"Example 5 with absorbing boundaries: two walks, up w.p. $1/2 \pm \Delta$ "
        rf"($\Delta = {delta:g}$), weights 1/2, absorbed at $\pm A$, "
        rf"truncation of $T = {length}$ tokens, $\varepsilon = {eps:g}$"
        "\nAbsorption only loses information: the window's after end moves to more visible "
        "tokens as A shrinks, and vanishes below the ceiling A*",
        fontsize=13, y=0.985)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=0.005)
