"""Example 4 of [LKC25]: the jailbreak window, before and after fine-tuning on corrections.

A harmful and a safe mode (weights 1/2) of a ``T``-token answer under truncation
(:mod:`synthetic.critical_tokens`, theory.md §3.3). With ``T' = 0`` shared tokens the safe
mode refuses from the first token, and the harmful mode starts complying within the first
``k`` critical tokens except with probability ``rho <= eps^2``. Against the number of kept
(prefilled) answer tokens ``l = T - T' - t``, the figure plots, for the harmful mode
(``S_after = {harmful}``, ``S_before = Theta``):

* the two criteria of Definition 4: ``1 - TV(p_t^harmful, p_t^safe)`` (separated when
  ``<= eps^2``) and ``TV(p_t^harmful, p_t)`` (a fresh draw when ``<= eps``);
* the forward-reverse experiment: the probability that resampling the rest of a harmful
  answer after its first ``l`` tokens comes from the harmful mode again,
  ``E_{Y ~ p_t^harmful}[pi_t(harmful | Y)]`` (what a prefilling attack measures, Fig. 7 left
  of the paper), with ``TV(p^{h,t}, p^h)`` and ``TV(p^{h,t}, p)``.

The exact window of Definition 4 is shaded; the paper's ends ``T^C_before = T - T'``
(``l = 0``) and ``T^C_after = T - T' - k`` (``l = k``) are marked. Fine-tuning on corrections
(the safe mode may start like the harmful one and return to a refusal at rate ``h`` per
token) keeps the overlap above ``eps^2`` far beyond the critical tokens: with late corrections
there is no window at all, with fast ones the window moves hundreds of tokens deep.
Every number is exact (the report of the reduced model on every time of ``I``).
"""

from __future__ import annotations

import numpy as np

from figures import _common

NAME = "jailbreak_window"
SOURCES = ("synthetic/critical_tokens.py",)
VARIANTS = ("before", "late", "fast")


def params(fast: bool) -> dict:
    """The model before fine-tuning and two fine-tuned variants (no randomness)."""
    return {
        "fast": bool(fast),
        "seed": None,
        "length": 300 if fast else 1000,
        "shared": 0,
        "critical": 5,
        "overlap": 1e-3,
        "weights": [0.5, 0.5],
        "eps": 0.05,
        # (corrections, recovery) of each variant; "before" is the model before fine-tuning.
        "finetune": {"before": [0.0, 0.0], "late": [0.5, 0.001], "fast": [0.5, 0.05]},
    }


def compute(fast: bool) -> dict:
    """Exact curves on every time of ``I = {0..T}`` for the three variants."""
    import localize
    from synthetic.critical_tokens import critical_tokens

    p = params(fast)
    length, shared, k, eps = p["length"], p["shared"], p["critical"], p["eps"]
    times = np.arange(length + 1, dtype=np.float64)
    out: dict = {"params": p, "kept": np.clip(length - shared - times, 0, None)}
    for v in _common.progress(VARIANTS, "jailbreak"):
        sigma, h = p["finetune"][v]
        model = critical_tokens(length, shared, k, p["overlap"], p["weights"],
                                corrections=sigma, recovery=h)
        full = localize.window_report(model, [0], [0, 1], eps, times)
        own = localize.window_report(model, [0], [0], eps, times)
        out[f"{v}_overlap"] = np.exp(np.asarray(full.log_overlap_init_rest))
        out[f"{v}_tv_mixture"] = np.asarray(full.tv_init_target)
        out[f"{v}_fr_own"] = np.asarray(full.fr_tv_init)
        out[f"{v}_fr_full"] = np.asarray(full.fr_tv_full)
        out[f"{v}_stay"] = np.asarray(own.label_mass_target)
        # -1 stands for "no time qualifies" (no window).
        out[f"{v}_T_after_C"] = -1.0 if full.T_after_C is None else full.T_after_C
        out[f"{v}_T_before_C"] = -1.0 if full.T_before_C is None else full.T_before_C
        out[f"{v}_theorem2"] = float(bool(full.theorem2_holds))
    return out


def _kept(data, t):
    p = data["params"]
    return p["length"] - p["shared"] - float(t)


def plot(data: dict, out_dir=None):
    """Two rows (Definition 4's criteria; the resample) by three variants."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    eps, k, rho = p["eps"], p["critical"], p["overlap"]
    l = data["kept"]  # noqa: E741
    c_sep, c_mix, c_stay, c_own, c_full, c_win = (colors[1], colors[2], colors[0], colors[3],
                                                  colors[7], colors[4])
    titles = {
        "before": "before fine-tuning",
        "late": "fine-tuned on corrections,\nlate recoveries "
                f"($h$ = {p['finetune']['late'][1]:g} per token)",
        "fast": "fine-tuned on corrections,\nfast recoveries "
                f"($h$ = {p['finetune']['fast'][1]:g} per token)",
    }
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.6), sharex=True)
    handles = {}
    xmax = float(l.max())
    for col, v in enumerate(VARIANTS):
        top, bot = axes[0, col], axes[1, col]
        ta, tb = float(data[f"{v}_T_after_C"]), float(data[f"{v}_T_before_C"])
        for ax in (top, bot):
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
            if ta >= 0 and tb >= 0:
                h = ax.axvspan(_kept(data, tb), _kept(data, ta), color=c_win, alpha=0.18, lw=0)
                handles["exact window of Definition 4"] = h
            h = ax.axvline(0.0, color="k", ls=":", lw=1.6)
            handles[r"paper: $T^C_{before} = T - T'$ ($l = 0$)"] = h
            h = ax.axvline(k, color="k", ls="--", lw=1.4)
            handles[rf"paper: $T^C_{{after}} = T - T' - k$ ($l = k = {k}$)"] = h
        h1, = top.plot(l, np.maximum(data[f"{v}_overlap"], 1e-300), color=c_sep, lw=2.2)
        h2, = top.plot(l, np.maximum(data[f"{v}_tv_mixture"], 1e-300), color=c_mix, lw=2.2)
        handles[r"$1 - \mathrm{TV}(p^{harm}_t, p^{safe}_t)$ (separated: $\leq \varepsilon^2$)"] = h1
        handles[r"$\mathrm{TV}(p^{harm}_t, p_t)$ (fresh draw: $\leq \varepsilon$;" "\n"
                "= 0 at l = 0: identical prefix laws)"] = h2
        top.axhline(eps**2, color=c_sep, lw=0.9, ls="-.")
        top.axhline(eps, color=c_mix, lw=0.9, ls="-.")
        top.text(xmax, eps**2, r"$\varepsilon^2$", color=c_sep, ha="right", va="bottom")
        top.text(xmax, eps, r"$\varepsilon$", color=c_mix, ha="right", va="bottom")
        top.set_yscale("log")
        top.set_ylim(2e-4, 2.0)
        if v == "before":
            top.annotate(r"floor $\rho$ (never complies)", (xmax, rho),
                         xytext=(-4, -5), textcoords="offset points", ha="right", va="top",
                         fontsize=9, color=c_sep)
        top.set_title(titles[v], fontsize=12)
        if ta >= 0:
            msg = (f"exact window: keep {_kept(data, tb):.0f} to {_kept(data, ta):.0f} tokens\n"
                   f"(t from {ta:.0f} to {tb:.0f}; paper: {p['length'] - k} to {p['length']})")
        else:
            msg = (r"no window: $1 - \mathrm{TV} > \varepsilon^2$ at every $t$" "\n"
                   f"(min {data[f'{v}_overlap'].min():.3f} with the whole answer kept)")
        top.text(0.03, 0.04, msg, transform=top.transAxes, fontsize=9, va="bottom",
                 bbox={"boxstyle": "round", "fc": "white", "ec": "0.75", "alpha": 0.9})
        h3, = bot.plot(l, data[f"{v}_stay"], color=c_stay, lw=2.4)
        h4, = bot.plot(l, data[f"{v}_fr_own"], color=c_own, lw=1.6, ls="--")
        h5, = bot.plot(l, data[f"{v}_fr_full"], color=c_full, lw=1.6, ls="-.")
        handles["P(the resample's mode is harmful), l harmful tokens kept\n"
                r"$= \mathbb{E}_{Y \sim p^{harm}_t}[\pi_t(harm \mid Y)]$ (prefilling attack)"] = h3
        handles[r"$\mathrm{TV}(p^{harm,t}, p^{harm})$"] = h4
        handles[r"$\mathrm{TV}(p^{harm,t}, p)$"] = h5
        stay_k = float(data[f"{v}_stay"][l == k][0])
        bot.plot([k], [stay_k], "o", color=c_stay, mec="k", ms=7, zorder=5)
        bot.annotate(f"{stay_k:.3f} at l = k", (k, stay_k), xytext=(8, -16),
                     textcoords="offset points", fontsize=9.5, color=c_stay)
        bot.set_ylim(-0.02, 1.02)
        bot.set_xlabel(r"kept (prefilled) answer tokens $l = T - T' - t$ (symlog)")
        # A little room left of l = 0 so that the paper's T^C_before line shows.
        bot.set_xlim(-0.15, xmax * 1.05)
        ticks = [t for t in (0, 1, 2, 5, 10, 20, 50, 100, 300, 1000) if t <= xmax]
        bot.set_xticks(ticks)
        bot.set_xticklabels([str(t) for t in ticks])
    axes[0, 0].set_ylabel("criterion (log scale)")
    axes[1, 0].set_ylabel("forward-reverse from harmful")
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=3,
               bbox_to_anchor=(0.5, -0.135), fontsize=9.5)
    w = p["weights"]
    fig.suptitle(
        f"Example 4 (jailbreaks): harmful and safe modes (weights {w[0]:g}, {w[1]:g}) of a "
        f"{p['length']}-token answer under truncation, $T' = {p['shared']}$, "
        rf"$k = {k}$ critical tokens, $\rho = {rho:g} \leq \varepsilon^2$, "
        rf"$\varepsilon = {eps}$" "\n"
        "Before fine-tuning, keeping k harmful tokens locks in the harmful mode; fine-tuning "
        f"on corrections (the safe mode slips with probability "
        f"{p['finetune']['late'][0]:g} and recovers) removes the window",
        fontsize=12.5, y=1.01)
    fig.tight_layout()
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.155)
