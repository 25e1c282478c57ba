"""A three-level hierarchy of Gaussians under OU: one critical window per level ([LKC25] §5).

Eight components ``N(m_theta, I_d)`` with equal weights on the leaves of a binary tree of
depth 3 (Definition 8): a leaf's mean is ``sum_l s_l b_l u`` with signs ``b_l = +-1`` along its
root-to-leaf path and scales ``s_1 > s_2 > s_3``, all on one line ``u`` in ``R^d``. The means
are *collinear* so that the span is one-dimensional and every curve is an exact quadrature
(the brief's alternative, :func:`synthetic.gaussian_mixture.hierarchy_means` in general
directions, needs Monte Carlo once the span exceeds two dimensions). The separation
between siblings is ``2 s_l``, so level ``l`` is decided around ``ln s_l`` (Example 1); scales a
factor 20 apart keep the windows of the levels disjoint at ``eps = 0.1``.

Start the forward-reverse experiment at leaf ``{0}`` (path ``u_0 = {0}``, ``u_1``, ``u_2``,
root) and plot ``P(label(X^{{0},t}) in Subset(u_l))`` for ``l = 0, 1, 2``. Curve ``l``
leaves 1 in window ``l`` (its subtree merges with its sibling) and ends at
``w(Subset(u_l)) = 2^{l-3}`` after the last window: a staircase, one step per level. The
windows are the exact ones of Definition 4 with ``S_after = Subset(u_l)``,
``S_before = Subset(u_{l+1})``, from the exact TV hooks by root finding
(:func:`figures.fig_gaussian_example2.definition4`: the meaning of
:func:`localize.window_report`, whose forward-reverse TV curves are too costly for eight
components). The lower panel shows the whole label law ``P(label(X^{{0},t}) = theta)``
stacked over the eight leaves: the mass spreads from the leaf to its sibling, then to its
cousins, then to the other half of the tree, one level per window (the "smudged"
decomposition of Remark 2 seen from one leaf).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from figures import _common

NAME = "gaussian_hierarchy"
SOURCES = (*_common.GAUSSIAN_SOURCES, "figures/fig_gaussian_example2.py")


def params(fast: bool) -> dict:
    """Scales of the three levels, eps, the ambient dimension and the time grid."""
    return {
        "fast": bool(fast),
        "seed": None,
        "scales": [4000.0, 200.0, 10.0],
        "eps": 0.1,
        "dim": 50,
        "t_max": 11.5,
        "n_times": 47 if fast else 231,
    }


def collinear_means(scales, dim: int) -> np.ndarray:
    """``(2^L, d)`` leaf means ``sum_l s_l b_l u``, leaves in lexicographic order of paths.

    ``u = (1, ..., 1) / sqrt(d)``; leaf 0 has every ``b_l = -1``.
    """
    u = np.full(dim, 1.0 / math.sqrt(dim))
    pos = np.array([sum(s * b for s, b in zip(scales, signs, strict=True))
                    for signs in itertools.product((-1.0, 1.0), repeat=len(scales))])
    return pos[:, None] * u[None, :]


def subsets(levels: int) -> list[list[int]]:
    """``Subset(u_l)`` on the path of leaf 0: ``[0, ..., 2^l - 1]`` for ``l = 0..levels``."""
    return [list(range(2**level)) for level in range(levels + 1)]


def compute(fast: bool) -> dict:
    """The label law from leaf 0 and the Definition 4 window of every level."""
    import jax

    from figures.fig_gaussian_example2 import definition4
    from localize.continuous import EstimateConfig
    from localize.posterior import log_set_weights
    from synthetic.gaussian_mixture import gaussian_mixture

    p = params(fast)
    levels = len(p["scales"])
    model = gaussian_mixture(collinear_means(p["scales"], p["dim"]), process="ou").reduced()
    k = model.n_components
    times = np.linspace(0.0, p["t_max"], p["n_times"])
    subs = subsets(levels)
    leaf = np.asarray(log_set_weights(model.log_weights, np.arange(k) == 0))
    law = model.fr_label_law(jax.random.key(0), times, leaf, EstimateConfig())
    law_v = np.asarray(law.value)
    out: dict = {"params": p, "times": times, "positions": np.asarray(model.means)[:, 0],
                 "label_law": law_v, "label_law_error": np.asarray(np.max(law.error))}
    for level in range(levels + 1):
        out[f"stay_{level}"] = law_v[:, subs[level]].sum(axis=1)
    rows = {n: [] for n in ("T_after_C", "T_before_C", "T_end", "T_start")}
    span = (0.0, p["t_max"])
    for level in _common.progress(range(levels), "hierarchy windows"):
        win = definition4(model, subs[level], subs[level + 1], p["eps"],
                          {"after": span, "end": span, "start": span}, rounds=3)
        for n in rows:
            rows[n].append(win[n])
    for n, v in rows.items():
        out[n] = np.asarray(v, dtype=np.float64)
    out["weights"] = np.asarray([len(sub) / k for sub in subs])
    return out


def plot(data: dict, out_dir=None):
    """Top: the staircase of label probabilities; bottom: Corollary 1's distances."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    eps, scales = p["eps"], p["scales"]
    levels = len(scales)
    t = data["times"]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(13, 9.2), height_ratios=[1.5, 1], sharex=True)
    fig.subplots_adjust(hspace=0.16)
    sub_txt = [r"\{0\}", r"\{0,1\}", r"\{0,\dots,3\}", r"\Theta"]
    for level in range(levels):
        c = colors[level]
        ta, tb = float(data["T_after_C"][level]), float(data["T_before_C"][level])
        ax.axvspan(ta, tb, color=c, alpha=0.13, lw=0)
        for edge in (ta, tb):
            bx.axvline(edge, color="0.25", lw=0.9, ls="--", zorder=5)
        ax.annotate(f"window {level}\n" rf"$S_{{after}} = {sub_txt[level]}$" "\n"
                    rf"$S_{{before}} = {sub_txt[level + 1]}$" "\n"
                    f"[{ta:.2f}, {tb:.2f}]\n" rf"$\ln s_{{{levels - level}}} = "
                    rf"{math.log(scales[levels - 1 - level]):.2f}$",
                    ((ta + tb) / 2, 1.02), ha="center", va="bottom", fontsize=9, color=c)
    for level in range(levels):
        c = colors[level]
        w = float(data["weights"][level])
        ax.plot(t, data[f"stay_{level}"], color=c, lw=2.4,
                label=rf"$\ell = {level}$: $P(\mathrm{{label}}(X^{{\{{0\}},t}}) \in "
                      rf"\mathrm{{Subset}}(u_{level}) = {sub_txt[level]})$, "
                      rf"ends at $w = {w:g}$")
        ax.axhline(w, color=c, lw=0.9, ls=":")
    ax.set_ylim(0.0, 1.42)
    ax.set_yticks([0, 0.125, 0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0", "1/8", "1/4", "1/2", "3/4", "1"])
    ax.set_ylabel("probability the resample from leaf 0\nstays in the subtree")
    ax.legend(loc="lower left", fontsize=9.5)
    law = np.clip(data["label_law"], 0.0, None)
    k = law.shape[1]
    # Leaves grouped by the level at which they join leaf 0's subtree (0 is leaf 0 itself).
    join = [0] + [int(math.log2(j)) + 1 for j in range(1, k)]
    shades = {0: [colors[0]], 1: [colors[0]], 2: [colors[1]] * 2, 3: [colors[2]] * 4}
    seen = dict.fromkeys(range(levels + 1), 0)
    fills = []
    for j in range(k):
        g = join[j]
        fills.append((shades[g][seen[g]], 1.0 - 0.45 * (seen[g] + (g == 1))
                      / max(1, len(shades[g]))))
        seen[g] += 1
    bottom = np.zeros_like(t)
    for j in range(k):
        c, a = fills[j]
        bx.fill_between(t, bottom, bottom + law[:, j], color=c, alpha=0.35 + 0.5 * a,
                        lw=0.6, edgecolor="white")
        bottom = bottom + law[:, j]
    bx.set_ylim(0, 1)
    bx.set_xlim(0, t[-1])
    bx.set_yticks([0, 0.125, 0.25, 0.5, 1.0])
    bx.set_yticklabels(["0", "1/8", "1/4", "1/2", "1"])
    bx.set_ylabel(r"$P(\mathrm{label}(X^{\{0\},t}) = \theta)$" "\n(stacked over leaves)")
    bx.set_xlabel(r"OU time $t$ of the forward-reverse experiment (more noise $\rightarrow$)")
    ix = np.searchsorted(t, [0.5, 0.5 * (data["T_before_C"][0] + data["T_after_C"][1]),
                             0.5 * (data["T_before_C"][1] + data["T_after_C"][2]),
                             t[-1] - 0.6])
    labels = [r"leaf $\{0\}$", r"$\mathrm{Subset}(u_1) = \{0, 1\}$",
              r"$\mathrm{Subset}(u_2) = \{0,\dots,3\}$", r"all 8: $\Theta$"]
    for i, lab in zip(ix, labels, strict=True):
        bx.text(t[min(i, t.size - 1)], 0.05, lab, ha="center", fontsize=8.5, zorder=7,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.95})
    bx.set_title(r"The whole label law from leaf 0: bands are leaves $\theta = 0, \dots, 7$ "
                 "(bottom to top); its mass spreads one level per window (dashed: window "
                 "ends)", fontsize=11)
    pos = np.sort(np.asarray(data["positions"]))
    fig.suptitle(
        "Hierarchy of 8 Gaussians $N(m_\\theta, I_d)$, $d$ = " f"{p['dim']}, equal weights, "
        "OU process, $\\varepsilon$ = " f"{eps}: one critical window per level of the tree\n"
        r"$m_\theta = (\pm s_1 \pm s_2 \pm s_3)\,u$ on one line ($s$ = "
        f"{', '.join(f'{s:g}' for s in scales)}; collinear, so the span is 1-D and every "
        f"curve is exact quadrature); leaf 0 at {pos[0]:g}",
        fontsize=12, y=1.0)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.01)
