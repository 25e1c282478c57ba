"""Hierarchy depth against length, number of choices and dimension ([LKC25] §5 end).

The depth of a component ``theta`` is the length ``D`` of the longest chain of candidate
sub-populations ``Theta = S_0 ⊋ S_1 ⊋ ... ⊋ S_D = {theta}`` in which every link has a
non-empty critical window of Definition 4 (``S_before = S_i``, ``S_after = S_{i+1}``):
:mod:`proofs_check.depth` defines it and computes it exactly. Three panels share the depth
axis:

* (a) Example 7: every point of ``{0,1}^L`` with equal weights, masked in a fixed order; the
  candidates agree with ``theta`` on the first ``i`` coordinates of the order. Depth ``= L``
  at ``eps = 0.01``; at ``eps = 0.1`` it stops at 8, because Definition 4 declares a set of
  weight ``2^-i`` "separated" from its complement once ``2^-i`` is below about ``eps^2``
  (it has no ``max(1, W)`` factor), which inverts the deepest windows.
* (b) The structured toy: ``c`` binary blanks rendered into a sentence template (five of
  them are [LKC25] Fig. 4's), character-level truncation, unequal choice probabilities; the
  candidates agree with the answer on the first ``i`` blanks. Every one of the ``2^c``
  answers has depth ``c``; the string grows by about 36 characters per blank.
* (c) Gaussian mixtures ``N(mu_i, I_d)``, ``mu_i ~ N(0, I_d)``, under OU: ``K = 3``
  exactly (the family's 2-D quadrature; certified bounds in the fast preview) and ``K = 8``
  by certified bounds from pairwise closed forms, every subset a candidate. The depth is
  never above 1: all components separate from one another at about the same time.
"""

from __future__ import annotations

import numpy as np

from figures import _common

NAME = "hierarchy_depth"
SOURCES = (*_common.GAUSSIAN_SOURCES, "proofs_check/depth.py", "proofs_check/result.py")


def params(fast: bool) -> dict:
    """Instance lists (smaller in the fast preview) and the two eps of panel (a)."""
    from proofs_check import depth as dp

    return {
        "fast": bool(fast),
        # The Gaussian means are drawn from jax.random.key(seed) for each seed below.
        "seed": None,
        "eps": dp.EPS,
        "eps_coarse": dp.EPS_COARSE,
        "lengths": list(range(1, 7)) if fast else list(dp.EX7_LENGTHS),
        "choices": list(range(1, 5)) if fast else list(dp.TOY_CHOICES),
        "dims": [2, 32, 512, 8192] if fast else list(dp.GAUSS_DIMS),
        "gauss_seeds": [0] if fast else list(dp.GAUSS_SEEDS),
        "k_exact": dp.GAUSS_K_EXACT,
        "k_bounds": dp.GAUSS_K_BOUNDS,
        # The fast preview skips the 2-D quadrature (its compilation alone is several seconds).
        "k_exact_method": "bounds" if fast else "quadrature",
    }


def compute(fast: bool) -> dict:
    """Depths of every instance (exact, or certified bounds where stated)."""
    from proofs_check import depth as dp

    p = params(fast)
    lengths, choices, dims, seeds = (tuple(p[n]) for n in ("lengths", "choices", "dims",
                                                            "gauss_seeds"))
    ex7, reps7 = dp.example7_series(lengths, p["eps"])
    ex7_coarse, _ = dp.example7_series(lengths, p["eps_coarse"])
    toys, reps_toy = dp.toy_series(choices, p["eps"])
    toy_depth = [[r.depth for r in reps] for reps in reps_toy]
    out = {
        "params": p,
        "ex7_depth": np.asarray(ex7),
        "ex7_depth_coarse": np.asarray(ex7_coarse),
        # Windows of the longest L's chain, link by link (for the caption numbers).
        "ex7_windows_last": np.asarray(reps7[-1].windows, dtype=np.float64),
        "toy_length": np.asarray([t.length for t in toys]),
        "toy_min": np.asarray([min(d) for d in toy_depth]),
        "toy_max": np.asarray([max(d) for d in toy_depth]),
        "toy_answers": np.asarray([len(d) for d in toy_depth]),
    }
    for key, k, method in (("g_exact", p["k_exact"], p["k_exact_method"]),
                           ("g_bounds", p["k_bounds"], "bounds")):
        lo, hi, _ = dp.gaussian_series(dims, seeds, k, p["eps"], method)
        out[f"{key}_lo"], out[f"{key}_hi"] = lo, hi
    return out


def _counts(lo, hi):
    """Per dimension: {(lo, hi): number of (seed, component)}."""
    out = []
    for a in range(lo.shape[0]):
        pairs = list(zip(lo[a].ravel().tolist(), hi[a].ravel().tolist(), strict=True))
        out.append({pr: pairs.count(pr) for pr in sorted(set(pairs))})
    return out


def plot(data: dict, out_dir=None):
    """Three panels sharing the depth axis."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    eps = p["eps"]
    lengths, choices, dims = (np.asarray(p[n]) for n in ("lengths", "choices", "dims"))
    top = max(int(lengths.max()), int(choices.max())) + 0.8
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 6.2), sharey=True)
    fig.subplots_adjust(wspace=0.07)

    ax = axes[0]
    ax.plot([0.5, lengths.max() + 0.5], [0.5, lengths.max() + 0.5], color="0.6", ls="--",
            lw=1, zorder=1, label="depth = L")
    ax.plot(lengths, data["ex7_depth"], "o", color=colors[0], ms=9, zorder=3,
            label=rf"$\varepsilon$ = {eps:g} (exact)")
    ax.plot(lengths, data["ex7_depth_coarse"], "s", mfc="none", mec=colors[1], mew=1.6, ms=12,
            zorder=2, label=rf"$\varepsilon$ = {p['eps_coarse']:g} (exact)")
    sat = np.flatnonzero(data["ex7_depth_coarse"] < lengths)
    if sat.size:
        i = int(sat[0])
        # Below the diagonal's points and above the legend, pointing at the first plateau.
        ax.annotate(rf"at $\varepsilon$ = {p['eps_coarse']:g} the depth stops at "
                    f"{int(data['ex7_depth_coarse'].max())}:" "\n"
                    r"a level of weight $2^{-i}$ below" "\n"
                    r"about $\varepsilon^2$ counts as separated" "\n"
                    "from its complement too early\n"
                    r"(Def. 4 has no $\max(1, W)$ factor):" "\n"
                    "its window inverts, the chain skips it",
                    (lengths[i], data["ex7_depth_coarse"][i]),
                    xytext=(lengths.max() + 0.4, 0.3 * lengths.max()),
                    textcoords="data", ha="right", va="center", fontsize=8.5,
                    color=colors[1], bbox={"boxstyle": "round", "fc": "white", "ec": "none",
                                           "alpha": 0.9},
                    arrowprops={"arrowstyle": "->", "color": colors[1], "lw": 0.9})
    ax.set_xticks(lengths)
    ax.set_xlabel("sequence length L (coordinates)")
    ax.set_ylabel("hierarchy depth D (longest chain of nested windows)")
    ax.set_title("(a) Example 7: all $2^L$ points of $\\{0,1\\}^L$, equal weights,\n"
                 "masked in a fixed order; $S_i$ = agree with $\\theta$ on the first "
                 "$i$ coordinates", fontsize=10.5)
    win = data["ex7_windows_last"]
    ax.text(0.03, 0.97, f"L = {int(lengths.max())}: link $i$ has the window "
            f"[L$-i-$1, L$-i$]\n(one masking step each: "
            + ", ".join(f"[{int(a)},{int(b)}]" for a, b in win[:3]) + ", ...)",
            transform=ax.transAxes, va="top", fontsize=8.5,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"})
    ax.legend(loc="lower right", fontsize=9)

    ax = axes[1]
    ax.plot([0.5, choices.max() + 0.5], [0.5, choices.max() + 0.5], color="0.6", ls="--",
            lw=1, zorder=1, label="depth = c")
    ax.plot(choices, data["toy_max"], "o", color=colors[2], ms=9, zorder=3,
            label=rf"largest depth over the $2^c$ answers ($\varepsilon$ = {eps:g})")
    ax.plot(choices, data["toy_min"], "x", color="k", ms=9, mew=1.8, zorder=4,
            label="smallest depth over the answers")
    ax.set_xticks(choices)
    ax.set_xlabel("number of binary choices c")
    sec = ax.secondary_xaxis("top")
    sec.set_xticks(choices)
    sec.set_xticklabels([str(int(n)) for n in data["toy_length"]], fontsize=8)
    sec.set_xlabel("string length (characters)", fontsize=9)
    ax.set_title("(b) Structured toy (cf. Fig. 4): c binary blanks in a sentence\n"
                 "template, character truncation; $S_i$ = same first $i$ answers",
                 fontsize=10.5, pad=34)
    ax.text(0.03, 0.97, "every answer: depth = c, and blank $i$'s window is\n"
            "[prefix with the chosen word's first letter,\n prefix ending just before it]",
            transform=ax.transAxes, va="top", fontsize=8.5,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"})
    ax.legend(loc="lower right", fontsize=9)

    ax = axes[2]
    exact_label = ("exact, 2-D quadrature" if p["k_exact_method"] == "quadrature"
                   else "certified bounds (fast preview)")
    series = [("g_exact", p["k_exact"], 0.84, colors[0], "o", exact_label),
              ("g_bounds", p["k_bounds"], 1.19, colors[3], "D",
               "certified bounds, pairwise closed forms")]
    n_per = {}
    for key, k, shift, c, marker, how in series:
        counts = _counts(data[f"{key}_lo"], data[f"{key}_hi"])
        n_per[k] = data[f"{key}_lo"].shape[1] * k
        labelled = interval_labelled = False
        for d, cnt in zip(dims, counts, strict=True):
            x = d * shift
            for (lo, hi), n in cnt.items():
                size = 25 + 260 * n / n_per[k]
                if lo == hi:
                    ax.scatter([x], [lo], s=size, color=c, marker=marker, zorder=3,
                               edgecolor="white", lw=0.6,
                               label=None if labelled else f"K = {k}: {how}")
                    labelled = True
                    continue
                # A certified interval: hollow ends joined by a bar, a little to the right of
                # the exact values at the same dimension.
                xi = x * 1.32
                ax.plot([xi, xi], [lo, hi], color=c, lw=2.2, alpha=0.8, zorder=2)
                ax.scatter([xi, xi], [lo, hi], s=size, facecolor="white", edgecolor=c,
                           marker=marker, lw=1.6, zorder=3,
                           label=None if interval_labelled else
                           f"K = {k}: depth only bracketed (interval)")
                interval_labelled = True
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims)
    ax.set_xticklabels([str(int(d)) for d in dims])
    ax.set_xlim(dims.min() * 0.6, dims.max() * 1.7)
    ax.set_xlabel("dimension d")
    ax.set_title("(c) Gaussians $N(\\mu_i, I_d)$, $\\mu_i \\sim N(0, I_d)$, OU;\n"
                 "every subset containing $\\theta$ is a candidate", fontsize=10.5)
    ax.text(0.03, 0.97, "depth \u2264 1 for every component: all K components\n"
            "separate from one another at about the same time\n"
            r"(pairwise distances all $\approx\sqrt{2d}$). Depth 0 at small d:" "\n"
            r"components overlap already at t = 0 (never $\varepsilon$-separated)." "\n"
            "Marker area = share of the (seed, component) pairs.",
            transform=ax.transAxes, va="top", fontsize=8.5,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"})
    ax.legend(loc="center right", fontsize=8.5, markerscale=0.7)
    for a in axes:
        a.set_ylim(-0.4, top)
        a.set_yticks(range(0, int(top) + 1))
    fig.suptitle(
        "Hierarchy depth ([LKC25] §5): the longest chain $\\Theta = S_0 \\supsetneq S_1 "
        "\\supsetneq \\dots \\supsetneq S_D = \\{\\theta\\}$ whose every link has a non-empty "
        "Definition 4 window\n$[T^C_{after}(S_{i+1}),\\ T^C_{before}(S_{i+1}, S_i)]$"
        rf" ($\varepsilon$ = {eps:g}): it grows linearly with the length for sequences, "
        "but stays at 1 for Gaussian mixtures with random means", fontsize=12, y=1.12)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.03)
