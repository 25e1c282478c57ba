"""Structured output ([LKC25] §6.1, Figure 4) as executable claims.

The instance is the default :func:`synthetic.structured_output.structured_output`: the
paper's five sentences, a word-level Markov chain over the answers and one-character
surface variants, truncated character by character; the original string is the paper's
answer (Ninja, Dog, Bridge, Knight, Pizza). Both claims build it here and ignore the finite
catalog they are given.

* :func:`structured_output`: the paper's prediction (theory.md §5.1) that the "probability
  of the same answers" jumps exactly when the kept prefix first contains the first letter
  of a chosen word, and that each choice's critical window sits there. Checked exactly: the
  staircase ``pi(theta_s | s[:n])`` equals the product of the chain probabilities of the
  answers whose first letter is not yet kept (so it changes exactly at those letters), and
  the Definition 4 windows of :func:`localize.window_report` for ``S_after`` = tuples
  agreeing on blanks ``1..i`` and ``S_before`` = agreeing on ``1..i-1`` are
  ``[T^C_after, T^C_before] = [L - pos_i - 1, L - pos_i]``, which the paper's markers
  (rounded to its 0.01 grid of kept fractions) bracket.
* :func:`structured_estimator`: the paper's estimator (``percent_to_freq``, theory.md §6
  item 19) at ``N = 10^4`` for a fixed key lies within 4 binomial standard errors of the
  exact ``p(s | prefix)`` at every kept fraction ``0, 0.01, ..., 0.99``.
"""

from __future__ import annotations

import functools
import math

import jax
import numpy as np

import localize
from proofs_check.result import ClaimResult, Tally
from synthetic import structured_output as so

EPS = 0.05
# The estimator claim: sample size, seed and the width of the band in standard errors.
ESTIMATOR_N = 10**4
ESTIMATOR_SEED = 0
ESTIMATOR_Z = 4.0


@functools.lru_cache(maxsize=1)
def _instance():
    model = so.structured_output()
    return model, model.render(so.DEFAULT_ORIGINAL, so.DEFAULT_ORIGINAL_VARIANTS)


def _chain_prob(answers, i):
    if i == 0:
        return so.DEFAULT_INITIAL[answers[0]]
    return so.DEFAULT_TRANSITIONS[i - 1][answers[i - 1]][answers[i]]


@functools.lru_cache(maxsize=1)
def _windows():
    """The exact Definition-4 window of every blank of the original answer (one report each)."""
    model, _ = _instance()
    times = np.arange(model.length + 1.0)
    reports = []
    for s_after, s_before in so.choice_sets(model, so.DEFAULT_ORIGINAL):
        reports.append(localize.window_report(model, s_after, s_before, EPS, times,
                                              progress=False))
    stay = localize.window_report(model, [model.component_index(so.DEFAULT_ORIGINAL)],
                                  [model.component_index(so.DEFAULT_ORIGINAL)], EPS, times,
                                  progress=False)
    return reports, stay


def structured_output(catalog=None) -> ClaimResult:
    """[LKC25] §6.1: the same-answers staircase jumps at the first letters; windows sit there.

    Main identity, at every kept length ``n = 0..len(s)``: ``pi(theta_s | s[:n])`` equals the
    product of the chain probabilities of the blanks whose chosen word starts at or after
    ``n`` (so the curve changes exactly between ``n = pos_i`` and ``pos_i + 1``). Side checks:
    the lengths where the exact curve changes are exactly the predicted ones; each blank's
    exact window from the window report is ``[L - pos_i - 1, L - pos_i]``; the paper's
    markers (``find_normalized_positions``) find the same ``pos_i`` and bracket the window
    within one 0.01 step on each side; the same-string curve equals its product form (answers
    and surface variants not yet written); the report's ``label_mass_target`` for
    ``{theta_s}`` equals the posterior at the prefix of ``s`` (no variant moves a blank); and
    Theorem 2 holds in every window.

    Args:
        catalog: ignored (the instance is built here).

    Returns:
        The :class:`ClaimResult`.
    """
    model, s = _instance()
    tally = Tally()
    stair = so.staircase(model, s)
    pos = so.first_letter_positions(model, s)
    ans = so.DEFAULT_ORIGINAL
    n = stair.prefix_len
    axes = [("kept_length", n.tolist())]
    answers_left = np.array([math.prod(_chain_prob(ans, i) for i in range(len(pos))
                                       if pos[i] >= k) for k in n])
    tally.add(np.abs(stair.same_answers - answers_left), 0.0, where={"curve": "same answers"},
              axes=axes)

    changed = np.abs(np.diff(stair.same_answers)) > 1e-12
    predicted = np.isin(np.arange(len(s)), pos)
    tally.add((changed != predicted).astype(float), 0.0, axes=[("from_length", None)],
              side="jumps_exactly_at_first_letters")

    var_pos = [s.index(f"{k}.") + 1 for k in range(2, 6)] + [len(s) - 1]
    variants_left = np.array([math.prod(so.DEFAULT_VARIANT_PROBS[j][0]
                                        for j in range(len(var_pos)) if var_pos[j] >= k)
                              for k in n])
    tally.add(np.abs(stair.same_string - answers_left * variants_left), 0.0, axes=axes,
              side="same_string_product_form")

    reports, stay = _windows()
    length = model.length
    before_m, after_m, found = so.paper_markers(model, s)
    tally.add(np.abs(found - pos).astype(float), 0.0, side="paper_finds_the_first_letters")
    windows = []
    for i, rep in enumerate(reports):
        where = {"blank": i + 1, "word": model.choices[i][ans[i]]}
        tb = np.inf if rep.T_before_C is None else rep.T_before_C
        ta = -np.inf if rep.T_after_C is None else rep.T_after_C
        tally.add(abs((length - tb) - pos[i]), 0.0, where=where, side="T_before_C_at_first_letter")
        tally.add(abs((length - ta) - (pos[i] + 1)), 0.0, where=where,
                  side="T_after_C_after_first_letter")
        kept_b, kept_a = (length - tb) / len(s), (length - ta) / len(s)
        tally.add(before_m[i], kept_b, where=where, side="paper_marker_before_brackets")
        tally.add(kept_b - before_m[i], 0.01, where=where, side="paper_marker_before_brackets")
        tally.add(kept_a, after_m[i], where=where, side="paper_marker_after_brackets")
        tally.add(after_m[i] - kept_a, 0.01, where=where, side="paper_marker_after_brackets")
        if rep.theorem2_margin is not None:
            tally.add(-rep.theorem2_margin, 0.0, where=where, side="theorem2_in_window")
        windows.append({"word": where["word"], "first_letter": int(pos[i]),
                        "T_after_C": ta, "T_before_C": tb,
                        "paper_markers": [float(before_m[i]), float(after_m[i])]})

    times = np.asarray(stay.times)
    kept = (length - times).astype(int)
    ok = kept <= len(s)
    tally.add(np.abs(np.asarray(stay.label_mass_target)[ok] - stair.same_answers[kept[ok]]), 0.0,
              side="report_label_mass_equals_posterior_at_prefix")
    tally.note(string=s, length_padded=length, eps=EPS, windows=windows,
               plateaus=sorted({round(float(v), 12) for v in stair.same_answers}))
    return tally.result(
        "structured_output",
        "[LKC25] Sec. 6.1 / Fig. 4: P(same answers | prefix of s) jumps exactly at the first "
        "letter of each chosen word (product of the unwritten choices); each choice's exact "
        "window [T^C_after, T^C_before] is the one character of that letter, bracketed by "
        "the paper's markers")


def structured_estimator(catalog=None, *, n_samples: int = ESTIMATOR_N,
                         seed: int = ESTIMATOR_SEED) -> ClaimResult:
    """The paper's Figure-4 estimator against the exact value it estimates.

    At every kept fraction ``f`` in ``0, 0.01, ..., 0.99``, with ``m`` of the ``N`` samples
    starting with ``s[:int(len(s) f)]``, the estimate is ``Binomial(m, p) / m`` with
    ``p = p(s | prefix)`` exact; the check is ``|estimate - p| <= 4 sqrt(p (1 - p) / m)``
    (a fixed key, so the result is reproducible). Side check: every prefix is shared by at
    least one sample.

    Args:
        catalog: ignored.
        n_samples: ``N`` (default ``10^4``).
        seed: the ``jax.random`` seed.

    Returns:
        The :class:`ClaimResult`.
    """
    model, s = _instance()
    exact = so.exact_percent_to_freq(model, s)
    value, info = so.percent_to_freq(jax.random.key(seed), model, s, n_samples)
    tally = Tally()
    m = np.where(info.defined, info.n_prefix, 1)
    se = np.sqrt(exact * (1.0 - exact) / m)
    axes = [("fraction", [round(float(f), 2) for f in info.fractions])]
    tally.add(np.abs(value - exact), ESTIMATOR_Z * se, axes=axes, valid=info.defined)
    tally.add((~info.defined).astype(float), 0.0, axes=axes, side="every_prefix_sampled")
    z = np.abs(value - exact) / np.where(se > 0, se, np.inf)
    tally.note(n_samples=n_samples, seed=seed, z_band=ESTIMATOR_Z,
               max_abs_z=float(np.max(z[info.defined])),
               rms_error=float(np.sqrt(np.mean((value - exact)[info.defined] ** 2))),
               samples_equal_to_s=int(info.n_equal[0]), string=s)
    return tally.result(
        "structured_estimator",
        f"[LKC25] Fig. 4 estimator (percent_to_freq) at N = {n_samples}: within "
        f"{ESTIMATOR_Z:g} binomial standard errors of the exact p(s | prefix) at every kept "
        "fraction 0, 0.01, ..., 0.99")


CLAIMS = {
    "structured_output": structured_output,
    "structured_estimator": structured_estimator,
}
