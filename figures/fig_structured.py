"""A structured-output staircase in the spirit of [LKC25] Figure 4 (theory.md §5.1).

The five fill-in-the-blank sentences of the paper's experiment are written into a character
template; each blank is an independent binary choice with its own probability, so the model is
a mixture of ``K = 32`` point masses (one per answer tuple) on strings padded to one length.
Truncating the original answer at every character and resampling the rest from the model, the
probability of reproducing *all five* original answers is, exactly,
``E_{Y ~ p_t^theta}[pi_t(theta | Y)]`` (the report's ``label_mass_target`` with
``S_init = S_target = {theta}``). It is a staircase: it jumps when the kept prefix first
contains the first letter of a chosen word, and on each plateau it equals the product of the
probabilities of the choices not yet written.

For each blank ``i`` the exact critical window of Definition 4 is also computed, with
``S_after`` = answers agreeing with the original on blanks ``1..i`` and ``S_before`` = answers
agreeing on blanks ``1..i-1``; the paper predicts ``T^C_before`` = the prefix ending just
before the first letter of the chosen word and ``T^C_after`` = the prefix including it.
"""

from __future__ import annotations

import itertools

import numpy as np

from figures import _common

NAME = "structured_staircase"
SOURCES = ("synthetic/point_masses.py",)

TEMPLATE = (
    "1. The {} jumped across the ship. 2. She adopted a {} from the shelter. "
    "3. The {} sparkled under the sun. 4. A {} guarded the castle gates. "
    "5. He ordered {} for dinner."
)
CHOICES = (("Pirate", "Ninja"), ("Dog", "Cat"), ("River", "Bridge"), ("Dragon", "Knight"),
           ("Pizza", "Sushi"))
PAD = "_"


def params(fast: bool) -> dict:
    """Choice probabilities, the original answer (the paper's (N, D, B, K, P)) and eps."""
    return {
        "fast": bool(fast),
        "seed": None,
        "template": TEMPLATE,
        "choices": [list(c) for c in CHOICES],
        # Probability of the FIRST option of each blank; different, so plateaus differ.
        "p_first": [0.3, 0.9, 0.35, 0.4, 0.8],
        # Index of the chosen option per blank: Ninja, Dog, Bridge, Knight, Pizza.
        "original": [1, 0, 1, 1, 0],
        # Below 1 - p of every chosen word: with eps >= 0.1, P(Dog) = 0.9 would make answers
        # with "Dog" eps-close to all answers (TV 0.1), and Definition 4 gives no window.
        "eps": 0.05,
        "pad": PAD,
    }


def _strings(p):
    tuples = list(itertools.product(*[range(len(c)) for c in p["choices"]]))
    texts = [p["template"].format(*(p["choices"][i][c] for i, c in enumerate(tup)))
             for tup in tuples]
    probs = [float(np.prod([p["p_first"][i] if c == 0 else 1 - p["p_first"][i]
                            for i, c in enumerate(tup)])) for tup in tuples]
    return tuples, texts, probs


def _first_letters(p, choice_tuple):
    """Character index of the first letter of each chosen word in the filled template."""
    pos, offset = [], 0
    pieces = p["template"].split("{}")
    for i, c in enumerate(choice_tuple):
        offset += len(pieces[i])
        pos.append(offset)
        offset += len(p["choices"][i][c])
    return pos


def compute(fast: bool) -> dict:
    """The staircase of the original answer and the exact window of every blank."""
    import localize
    from synthetic.point_masses import point_masses

    p = params(fast)
    tuples, texts, probs = _strings(p)
    length = max(len(s) for s in texts)
    symbols = sorted(set("".join(texts)) | {p["pad"]})
    code = {ch: i for i, ch in enumerate(symbols)}
    points = np.array([[code[ch] for ch in s.ljust(length, p["pad"])] for s in texts])
    model = point_masses(probs, points, len(symbols), "truncation")
    theta = tuples.index(tuple(p["original"]))
    times = np.arange(length + 1, dtype=np.float64)
    stair = localize.window_report(model, [theta], [theta], p["eps"], times, progress=False)
    keep = np.asarray(stair.label_mass_target)

    pos = _first_letters(p, p["original"])
    chosen_p = np.array([p["p_first"][i] if c == 0 else 1 - p["p_first"][i]
                         for i, c in enumerate(p["original"])])
    kept = length - times  # prefix length n = L - t
    predicted = np.array([np.prod(chosen_p[[i for i in range(5) if pos[i] >= n]])
                          for n in kept])
    t_before, t_after = [], []
    for i in _common.progress(range(5), "blanks"):
        agree = lambda tup, m: all(tup[j] == p["original"][j] for j in range(m))  # noqa: E731
        s_after = [k for k, tup in enumerate(tuples) if agree(tup, i + 1)]
        s_before = [k for k, tup in enumerate(tuples) if agree(tup, i)]
        rep = localize.window_report(model, s_after, s_before, p["eps"], times, progress=False)
        t_before.append(rep.T_before_C)
        t_after.append(rep.T_after_C)
    return {
        "params": p,
        "length": np.asarray(length),
        "text": np.asarray(texts[theta]),
        "times": times,
        "keep_prob": keep,
        "product_prediction": predicted,
        "max_dev_product": np.asarray(np.abs(keep - predicted).max()),
        "first_letter_pos": np.asarray(pos),
        "chosen_prob": chosen_p,
        "T_before_C": np.asarray(t_before, dtype=np.float64),
        "T_after_C": np.asarray(t_after, dtype=np.float64),
        "answer_prob": np.asarray(probs[theta]),
        "n_components": np.asarray(len(tuples)),
        "alphabet": np.asarray(len(symbols)),
    }


def plot(data: dict, out_dir=None):
    """The staircase, its plateau prediction, the predicted jumps and the exact windows."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    length = int(data["length"])
    frac = (length - data["times"]) / length
    order = np.argsort(frac)
    pos = data["first_letter_pos"]
    words = [p["choices"][i][c] for i, c in enumerate(p["original"])]
    fig, ax = plt.subplots(figsize=(13, 6.6))
    for i in range(5):
        tb, ta = data["T_before_C"][i], data["T_after_C"][i]
        if np.isfinite(tb) and np.isfinite(ta) and ta <= tb:
            ax.axvspan((length - tb) / length, (length - ta) / length, color=colors[2],
                       alpha=0.5, lw=0, label=r"exact window $[T^C_{after}, T^C_{before}]$ of "
                       "Def. 4 (one character wide)" if i == 0 else None)
        ax.axvline((pos[i] + 0.5) / length, color=colors[3], ls=":", lw=1.6,
                   label="predicted jump: first letter of the chosen word" if i == 0 else None)
        other = p["choices"][i][1 - p["original"][i]]
        ax.annotate(f"{words[i]}\n(vs {other})\np = {data['chosen_prob'][i]:.2f}",
                    ((pos[i] + 0.5) / length, 1.01), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=9, color=colors[3])
    ax.step(frac[order], data["product_prediction"][order], where="post", color="0.2", lw=6,
            alpha=0.22, label="prediction: product of the probabilities of the choices not yet "
                              "written")
    ax.plot(frac[order], data["keep_prob"][order], "o", color=colors[0], ms=2.2,
            label="exact P(resample keeps all 5 original answers), one dot per truncation")
    # Label each plateau with its product formula.
    edges = np.concatenate([[0.0], (pos + 0.5) / length, [1.0]])
    probs = data["chosen_prob"]
    for j in range(6):
        rest = probs[j:]
        height = float(np.prod(rest))
        label = f"{height:.3f}"
        if rest.size > 1:
            terms = [f"{q:.2f}" for q in rest]
            label += "\n= " + " \u00d7 ".join(terms[:3])
            if len(terms) > 3:
                label += "\n\u00d7 " + " \u00d7 ".join(terms[3:])
        mid = 0.5 * (edges[j] + edges[j + 1])
        if edges[j + 1] - edges[j] > 0.08:
            ax.annotate(label, (mid, height), xytext=(0, 5), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8.5, color="0.25")
        else:  # a narrow plateau: label it below, to the right, with an arrow
            ax.annotate(label, (mid, height), xytext=(30, -30), textcoords="offset points",
                        ha="left", va="top", fontsize=8.5, color="0.25",
                        arrowprops={"arrowstyle": "->", "color": "0.4", "lw": 0.8})
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(r"fraction of the answer kept, $(L - t)/L$  (the rest is resampled)")
    ax.set_ylabel("probability of the same (original) answer")
    ax.legend(loc="upper left", fontsize=9, bbox_to_anchor=(0.0, 0.9))
    dev = float(data["max_dev_product"])
    w_exact = all((length - data["T_before_C"][i] == pos[i])
                  and (length - data["T_after_C"][i] == pos[i] + 1) for i in range(5))
    ax.text(0.99, 0.03,
            f"K = {int(data['n_components'])} answers (point masses), L = {length} characters, "
            f"{int(data['alphabet'])} symbols, $\\varepsilon$ = {p['eps']}\n"
            f"max |exact - product formula| = {dev:.1e}\n"
            f"exact windows = [prefix with the letter, prefix before it] for all 5 blanks: "
            f"{'yes' if w_exact else 'NO'}",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    text = str(data["text"])
    for w in words:
        text = text.replace(w, w.upper(), 1)
    cut = text.index(" 3.")
    fig.suptitle(
        "Structured output (cf. [LKC25] Fig. 4): five independent binary blanks, truncate the "
        "original answer and resample\nOriginal answer: \u201c" + text[:cut] + "\n"
        + text[cut + 1:] + "\u201d", fontsize=11.5, y=1.13)
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.01)
