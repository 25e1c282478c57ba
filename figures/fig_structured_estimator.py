"""[LKC25] Figure 4 rebuilt on a generative toy: the exact staircase and the paper's estimator.

The model is :mod:`synthetic.structured_output` with its defaults: the paper's five
sentences, answers drawn by a word-level Markov chain (so earlier answers change the odds of
later ones), one-character surface variants ("2." or "2)", a final "." or "!"), truncated
character by character. For the paper's answer (Ninja, Dog, Bridge, Knight, Pizza):

* left: the exact probability that truncating the string to a kept fraction and resampling
  reproduces the same *answers* (the label posterior at that prefix) and the same *string*
  (``p(s | prefix)``, which is what the paper's code measures), with the paper's estimator
  (``percent_to_freq``) at ``N = 10^2, 10^3, 10^4`` overlaid, the paper's markers and the
  exact Definition-4 window of each choice;
* right: the estimator's root-mean-square error over the kept fractions against ``N``, with
  the large-``N`` prediction ``sqrt(mean_f p_f (1 - p_f) / (N P(prefix_f)))``, a
  ``1/sqrt(N)`` line.
"""

from __future__ import annotations

import numpy as np

from figures import _common

NAME = "structured_estimator"
SOURCES = ("synthetic/structured_output.py",)


def params(fast: bool) -> dict:
    """Sample sizes, repetitions, seed and eps (the model is the family's default)."""
    if fast:
        error_n, reps = [10, 100, 1000, 10_000], 4
    else:
        error_n, reps = [10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000], 24
    return {
        "fast": bool(fast),
        "seed": 0,
        "eps": 0.05,
        "overlay_n": [100, 1000, 10_000],
        "error_n": error_n,
        "reps": reps,
        # Paper's answer (N, D, B, K, P), written with "." everywhere.
        "original": [1, 0, 1, 1, 0],
        "original_variants": [0, 0, 0, 0, 0],
    }


def compute(fast: bool) -> dict:
    """Exact curves, windows and markers; the estimator at every sample size."""
    import jax

    import localize
    from synthetic import structured_output as so

    p = params(fast)
    model = so.structured_output()
    s = model.render(p["original"], p["original_variants"])
    stair = so.staircase(model, s)
    fractions = so.paper_fractions()
    exact = so.exact_percent_to_freq(model, s, fractions)
    lengths = so.kept_lengths(s, fractions)
    before_m, after_m, pos = so.paper_markers(model, s)
    times = np.arange(model.length + 1.0)
    t_before, t_after = [], []
    for s_after, s_before in _common.progress(so.choice_sets(model, p["original"]), "blanks"):
        rep = localize.window_report(model, s_after, s_before, p["eps"], times, progress=False)
        t_before.append(np.nan if rep.T_before_C is None else rep.T_before_C)
        t_after.append(np.nan if rep.T_after_C is None else rep.T_after_C)

    key = jax.random.key(p["seed"])
    over_v, over_se, over_def, over_m, max_z = [], [], [], [], []
    for j, n in enumerate(p["overlay_n"]):
        value, info = so.percent_to_freq(jax.random.fold_in(key, j), model, s, n, fractions)
        over_v.append(value)
        over_se.append(info.se)
        over_def.append(info.defined)
        over_m.append(info.n_prefix)
        # Standard errors at the exact p: the estimate is Binomial(m, p) / m given m.
        ok = info.defined
        se_exact = np.sqrt(exact[ok] * (1 - exact[ok]) / info.n_prefix[ok])
        z = np.abs(value[ok] - exact[ok]) / se_exact
        max_z.append(float(z.max()) if z.size else np.nan)

    # The large-N error: m ~ N P(prefix) = N p(s) / p(s | prefix) samples share the prefix.
    p_s = float(stair.same_string[0])
    rms, rms_lo, rms_hi, undefined = [], [], [], []
    for i, n in enumerate(_common.progress(p["error_n"], "sample sizes")):
        sq, und = [], []
        for r in range(p["reps"]):
            k = jax.random.fold_in(jax.random.fold_in(key, 1000 + i), r)
            value, info = so.percent_to_freq(k, model, s, n, fractions)
            ok = info.defined
            und.append(1.0 - ok.mean())
            sq.append(np.mean((value[ok] - exact[ok]) ** 2) if ok.any() else np.nan)
        sq = np.asarray(sq)
        sq = sq[np.isfinite(sq)]
        rms.append(np.sqrt(sq.mean()))
        # The spread of the per-run RMS (one run's fractions share their samples).
        rms_lo.append(np.sqrt(np.quantile(sq, 0.1)))
        rms_hi.append(np.sqrt(np.quantile(sq, 0.9)))
        undefined.append(np.mean(und))
    error_n = np.asarray(p["error_n"], dtype=np.float64)
    theory = np.sqrt(np.mean(exact * (1 - exact) * exact / p_s) / error_n)
    return {
        "params": p,
        "text": np.asarray(s),
        "length_padded": np.asarray(model.length),
        "n_strings": np.asarray(model.n_strings),
        "n_components": np.asarray(model.n_components),
        "kept": stair.kept,
        "same_answers": stair.same_answers,
        "same_string": stair.same_string,
        "fractions": fractions,
        "kept_lengths": lengths,
        "exact_at_fractions": exact,
        "overlay_value": np.asarray(over_v),
        "overlay_se": np.asarray(over_se),
        "overlay_defined": np.asarray(over_def),
        "first_letter_pos": np.asarray(pos),
        "marker_before": before_m,
        "marker_after": after_m,
        "T_before_C": np.asarray(t_before),
        "T_after_C": np.asarray(t_after),
        "error_n": error_n,
        "rms_error": np.asarray(rms),
        "rms_error_q10": np.asarray(rms_lo),
        "rms_error_q90": np.asarray(rms_hi),
        "rms_theory": theory,
        "undefined_fraction": np.asarray(undefined),
        "overlay_n_prefix": np.asarray(over_m),
        "overlay_max_abs_z": np.asarray(max_z),
    }


def plot(data: dict, out_dir=None):
    """Left: exact staircases with the estimator overlaid; right: its error against N."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    text = str(data["text"])
    n_chars = len(text)
    pos = data["first_letter_pos"]
    words = [w for w in _words(text, pos)]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(16, 6.4),
                                  gridspec_kw={"width_ratios": [2.3, 1]})

    length = int(data["length_padded"])
    for i in range(len(pos)):
        tb, ta = data["T_before_C"][i], data["T_after_C"][i]
        if np.isfinite(tb) and np.isfinite(ta):
            ax.axvspan((length - tb) / n_chars, (length - ta) / n_chars, color=colors[2],
                       alpha=0.6, lw=0, zorder=0,
                       label=r"exact window $[T^C_{after}, T^C_{before}]$ (Def. 4), "
                             "one character" if i == 0 else None)
        ax.annotate(words[i], ((pos[i] + 0.5) / n_chars, 1.01),
                    xycoords=("data", "axes fraction"), ha="center", va="bottom",
                    fontsize=9, color="0.3")
    kept = data["kept"]
    ax.step(kept, data["same_answers"], where="post", color="0.15", lw=2.2,
            label="exact P(same answers | kept prefix) = posterior of the answer tuple")
    ax.step(kept, data["same_string"], where="post", color=colors[0], lw=1.6,
            label="exact P(same string | kept prefix) = p(s)/p(prefix): what the paper's "
                  "code estimates")
    markers = ("s", "^", "o")
    shift = (-0.0025, 0.0, 0.0025)
    palette = (colors[7], colors[4], colors[3])
    bar_alpha = (0.35, 0.55, 0.8)
    exact = data["exact_at_fractions"]
    for j, n in enumerate(p["overlay_n"]):
        ok = data["overlay_defined"][j]
        f = data["fractions"][ok] + shift[j]
        # Bars from Binomial(m, p) / m at the exact p: the plug-in s.e. is 0 at 0 and 1.
        se = np.sqrt(exact[ok] * (1 - exact[ok]) / data["overlay_n_prefix"][j][ok])
        bars = ax.errorbar(f, data["overlay_value"][j][ok], yerr=2 * se, fmt=markers[j],
                           ms=3.0, elinewidth=0.8, capsize=0, color=palette[j],
                    label=f"estimator (percent_to_freq), N = {n:,}; max |z| = "
                          f"{data['overlay_max_abs_z'][j]:.1f}")
        for line in bars[2]:
            line.set_alpha(bar_alpha[j])
    # The paper's markers, drawn on the exact same-answers curve as its code draws them.
    def on_curve(x):
        idx = np.searchsorted(kept, x, side="right") - 1
        return data["same_answers"][np.clip(idx, 0, kept.size - 1)]

    ax.scatter(data["marker_before"], on_curve(data["marker_before"]), marker="o", s=50,
               facecolor="none", edgecolor="black", lw=1.5, zorder=5,
               label="paper's marker Tbefore = floor(pos/len(s), 0.01), pos = first letter")
    ax.scatter(data["marker_after"], on_curve(data["marker_after"]), marker="x", s=50,
               color="black", lw=1.5, zorder=5,
               label="paper's marker Tafter = ceil((pos+1)/len(s), 0.01)")
    # One step of the string curve that the answers curve does not take: a surface variant.
    var_at = text.index("3.") + 1
    y_var = data["same_string"][var_at + 1]
    ax.annotate("surface variant written ('3.' rather than '3)'):\nthe same-string curve steps, "
                "the same-answers curve does not", ((var_at + 1) / n_chars, y_var),
                xytext=(0.06, 0.42), textcoords="data", fontsize=8, color=colors[0],
                bbox={"boxstyle": "round", "fc": "white", "ec": colors[0], "alpha": 0.9},
                arrowprops={"arrowstyle": "->", "color": colors[0], "lw": 0.9})
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("fraction of the original string kept, n / len(s)  "
                  "(the paper's axis label says 'remaining')")
    ax.set_ylabel("P(keep the prefix, resample the rest: same ...)")
    ax.legend(loc="upper center", fontsize=8.2, bbox_to_anchor=(0.5, -0.12), ncol=2,
              title="bars: 2 s.e. of Binomial(m, p)/m at the exact p, m = samples on the "
                    "prefix; z = (estimate - p)/s.e.", title_fontsize=8.2)
    ax.set_title("Exact staircases and the paper's estimator", pad=18)

    n = data["error_n"]
    ax2.loglog(n, data["rms_error"], "o-", color=colors[3], label="estimator RMS error over "
               "the 100 kept fractions\n(mean over runs; band: 10-90% of runs)")
    ax2.fill_between(n, data["rms_error_q10"], data["rms_error_q90"], color=colors[3],
                     alpha=0.2, lw=0)
    ax2.loglog(n, data["rms_theory"], "--", color="0.3",
               label=r"large-N theory $\sqrt{\mathrm{mean}_f\, p_f(1-p_f)/"
                     r"(N\,P(\mathrm{prefix}_f))}$" "\n" r"$\propto 1/\sqrt{N}$")
    gaps = [f"N = {x:g}: {100 * u:.1f}%" for x, u in zip(n, data["undefined_fraction"],
                                                        strict=True) if u > 0]
    if gaps:
        ax2.text(0.03, 0.03, "kept fractions with no sample on the prefix\n(left out of the "
                 "RMS; the estimator is undefined there):\n" + "\n".join(gaps),
                 transform=ax2.transAxes, ha="left", va="bottom", fontsize=7.8, color="0.3",
                 bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    ax2.set_xlabel("number of samples N")
    ax2.set_ylabel("RMS |estimate - exact p(s | prefix)|")
    ax2.set_title(f"Error against N ({p['reps']} runs per N)")
    ax2.legend(loc="upper center", fontsize=8.2, bbox_to_anchor=(0.5, -0.12))

    shown = text
    for w in words:
        shown = shown.replace(w, w.upper(), 1)
    cut = shown.index(" 3.")
    fig.suptitle(
        "Structured output ([LKC25] Sec. 6.1, Fig. 4) on a generative toy: answers from a Markov "
        f"chain, '2.'/'2)' and '.'/'!' variants; K = {int(data['n_components'])} answer tuples,"
        f" {int(data['n_strings'])} strings\nOriginal string: \u201c" + shown[:cut] + "\n"
        + shown[cut + 1:] + "\u201d", fontsize=11, y=1.08)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.2, estimated=True)


def _words(text, pos):
    out = []
    for k in pos:
        end = k
        while end < len(text) and text[end].isalpha():
            end += 1
        out.append(text[k:end])
    return out
