"""A structured-output generator and the paper's Figure-4 estimator ([LKC25] §6.1, Fig. 4).

The toy is a small *generative* model of the paper's fill-in-the-blank experiment
(theory.md §5.1). A template holds blanks ``{}`` and surface variants ``[a|b|...]``::

    1. The {} jumped across the ship. 2[.|)] She adopted a {} from the shelter. ...

A word-level Markov chain picks the answers: the first blank from ``initial``, blank ``i + 1``
given blank ``i`` from ``transitions[i]``, so that earlier answers change the odds of later
ones. Each surface group is drawn independently of everything else from ``variant_probs``
("2." against "2)", an optional adjective, ...). The filled template is then written out
character by character. A component ``theta`` is one tuple of answers, the paper's
sub-population, and ``p^theta`` is the law of the strings it renders to (one string per
combination of variants), so a component is a small distribution over strings rather than
a point mass; ``w_theta`` is the chain's probability of the tuple. Components are ordered
lexicographically by answer index, first blank most significant.

Exactness. The support is enumerated at construction: a few hundred to a few thousand
strings, padded with a pad character to one length ``L``. Character-level truncation is the
forward process ([LKC25] Example 10): at integer ``t`` the observation is the prefix of
length ``L - t``. The strings are sorted, so the strings sharing a prefix of length ``n``
form a contiguous run; ``groups[n, u]`` is the first string of the run of string ``u``. The
observation space at every time is the set of support strings (slot ``z`` stands for the
prefix class that string ``z`` heads, the other slots carry no mass), so shapes do not depend
on ``t`` and ``p_t^theta(z) = sum_{u : groups[n, u] = z} p^theta(u)`` is a segment sum in
log space. The kernel is ``K_t(z | u) = 1[z = groups[n, u]]``, so its adjoint is a gather.
Nothing is reduced: the prefix itself is the observation, and :func:`localize.window_report`
is exact on this model.

Two "probability of the same answer" curves for one original string ``s`` of tuple
``theta_s`` (theory.md §1.4, §5.1):

* **same answers**: truncate ``s`` to its prefix ``y = s[:n]`` and resample the rest from the
  model; the answers are reproduced with probability ``pi_t(theta_s | y)``, the label
  posterior *at that one prefix*. The report's ``label_mass_target`` with
  ``S_init = S_target = {theta_s}`` is instead ``E_{Y ~ p_t^{theta_s}}[pi_t(theta_s | Y)]``,
  an average over random prefixes of strings of ``theta_s``. The two agree when the
  posterior is the same at every prefix of ``theta_s``'s strings, which holds when no
  variant moves a blank (the default template: "." and ")" have one length); an optional
  adjective before a blank moves it, and then they differ (:func:`staircase` computes the
  former).
* **same string**: ``p(s | y) = p(s) / p(y)``, what the paper's code estimates
  (:func:`percent_to_freq`). It is smaller, since a resample may reproduce the answers with
  other surface variants, and it has extra steps where a variant of ``s`` is written.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

from localize.errors import bad
from localize.model import Model, View
from localize.processes import Process, Truncation
from synthetic.registry import Family, register

# The paper's five sentences (theory.md §5.1), prefilled with "1."; the list markers of items
# 2-5 and the final full stop are surface variants of one character each, so no variant
# moves a blank.
DEFAULT_TEMPLATE = (
    "1. The {} jumped across the ship. 2[.|)] She adopted a {} from the shelter. "
    "3[.|)] The {} sparkled under the sun. 4[.|)] A {} guarded the castle gates. "
    "5[.|)] He ordered {} for dinner[.|!]"
)
DEFAULT_CHOICES = (("Pirate", "Ninja"), ("Dog", "Cat"), ("River", "Bridge"),
                   ("Dragon", "Knight"), ("Pizza", "Sushi"))
# P(Pirate), P(Ninja).
DEFAULT_INITIAL = (0.4, 0.6)
# transitions[i][a][b] = P(answer b at blank i + 2 | answer a at blank i + 1). Every entry
# lies in [0.2, 0.8], so each written answer changes the odds (a window at eps < 0.2).
DEFAULT_TRANSITIONS = (
    ((0.7, 0.3), (0.45, 0.55)),    # Pirate -> Dog 0.7; Ninja -> Dog 0.45
    ((0.6, 0.4), (0.3, 0.7)),      # Dog -> River 0.6;  Cat -> River 0.3
    ((0.65, 0.35), (0.25, 0.75)),  # River -> Dragon 0.65; Bridge -> Dragon 0.25
    ((0.2, 0.8), (0.8, 0.2)),      # Dragon -> Pizza 0.2; Knight -> Pizza 0.8
)
# "2." vs "2)" ... "5." vs "5)", then "dinner." vs "dinner!".
DEFAULT_VARIANT_PROBS = ((0.8, 0.2),) * 4 + ((0.7, 0.3),)
DEFAULT_PAD = "_"
# The paper's original answer (N, D, B, K, P), written with "." everywhere.
DEFAULT_ORIGINAL = (1, 0, 1, 1, 0)
DEFAULT_ORIGINAL_VARIANTS = (0, 0, 0, 0, 0)

# Sizes the enumeration accepts: combinations of answers and variants, support strings,
# entries of the (K, N) table of component laws and of the (L + 1, N) prefix table.
MAX_COMBOS = 2**20
MAX_STRINGS = 2**14
MAX_TABLE = 2**22
# Reserved characters of the template language.
SPECIAL = set("{}[]|")
# Rows of probabilities must sum to 1 within this.
SUM_TOL = 1e-9

NEG_INF = -jnp.inf


# --------------------------------------------------------------------------------------
# The template language


def parse_template(template: str):
    """Split a template into literal text, blanks ``{}`` and variant groups ``[a|b|...]``.

    Args:
        template: the template string; ``{`` ``}`` ``[`` ``]`` ``|`` are reserved.

    Returns:
        A list of parts: ``("text", str)``, ``("blank", i)`` (``i``-th blank) or
        ``("variant", j, (alt_0, alt_1, ...))`` (``j``-th group; alternatives may be empty).

    Raises:
        LocalizeError: naming ``model.template`` on unbalanced or misplaced brackets.
    """
    if not isinstance(template, str) or not template:
        raise bad("model.template", template, "a non-empty string")
    parts, text, i, blanks, groups = [], [], 0, 0, 0
    while i < len(template):
        ch = template[i]
        if ch == "{":
            if template[i : i + 2] != "{}":
                raise bad("model.template", template, "'{}' for a blank ('{' alone is reserved)")
            if text:
                parts.append(("text", "".join(text)))
                text = []
            parts.append(("blank", blanks))
            blanks += 1
            i += 2
        elif ch == "[":
            end = template.find("]", i)
            if end < 0:
                raise bad("model.template", template, "every '[' closed by a ']'")
            body = template[i + 1 : end]
            if set(body) & {"{", "}", "["}:
                raise bad("model.template", template, "no '{', '}' or '[' inside [...]")
            alts = tuple(body.split("|"))
            if len(alts) < 2:
                raise bad("model.template", template,
                          "at least two alternatives 'a|b' in every [...] group")
            if text:
                parts.append(("text", "".join(text)))
                text = []
            parts.append(("variant", groups, alts))
            groups += 1
            i = end + 1
        elif ch in SPECIAL:
            raise bad("model.template", template,
                      f"{ch!r} only inside '{{}}' or '[a|b]' (it is reserved)")
        else:
            text.append(ch)
            i += 1
    if text:
        parts.append(("text", "".join(text)))
    return parts


def _count(parts, kind):
    return sum(1 for p in parts if p[0] == kind)


def _render(parts, choices, answers, variants):
    """The filled template and the character index where each blank's word starts."""
    out, starts, n = [], [], 0
    for part in parts:
        if part[0] == "text":
            piece = part[1]
        elif part[0] == "blank":
            starts.append(n)
            piece = choices[part[1]][answers[part[1]]]
        else:
            piece = part[2][variants[part[1]]]
        out.append(piece)
        n += len(piece)
    return "".join(out), starts


# --------------------------------------------------------------------------------------
# Validation of the parameters


def _check_choices(choices):
    expected = "a non-empty list of blanks, each a list of >= 2 distinct non-empty words"
    if isinstance(choices, (str, bytes)) or not hasattr(choices, "__iter__"):
        raise bad("model.choices", choices, expected)
    out = []
    for c in choices:
        if isinstance(c, (str, bytes)) or not hasattr(c, "__iter__"):
            raise bad("model.choices", choices, expected)
        words = tuple(c)
        if len(words) < 2 or len(set(words)) != len(words):
            raise bad("model.choices", choices, expected)
        for w in words:
            if not isinstance(w, str) or not w:
                raise bad("model.choices", choices, expected)
            if set(w) & SPECIAL:
                raise bad("model.choices", choices, "words without the reserved '{}[]|'")
        out.append(words)
    if not out:
        raise bad("model.choices", choices, expected)
    return tuple(out)


def _prob_row(name, row, size):
    expected = f"{size} non-negative probabilities summing to 1"
    try:
        p = np.asarray(row, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(name, row, expected) from None
    if p.shape != (size,) or not np.all(np.isfinite(p)) or np.any(p < 0):
        raise bad(name, row, expected)
    if abs(p.sum() - 1.0) > SUM_TOL:
        raise bad(name, row, f"{expected} (they sum to {p.sum():.12g})")
    return p


def _check_chain(initial, transitions, sizes):
    init = _prob_row("model.initial", initial, sizes[0])
    expected = f"{len(sizes) - 1} matrices (one per pair of consecutive blanks)"
    if isinstance(transitions, (str, bytes)) or not hasattr(transitions, "__iter__"):
        raise bad("model.transitions", transitions, expected)
    mats = list(transitions)
    if len(mats) != len(sizes) - 1:
        raise bad("model.transitions", transitions, expected)
    trans = []
    for i, mat in enumerate(mats):
        if isinstance(mat, (str, bytes)) or not hasattr(mat, "__iter__"):
            raise bad(f"model.transitions[{i}]", mat,
                      f"a {sizes[i]} x {sizes[i + 1]} matrix of probabilities")
        rows = list(mat)
        if len(rows) != sizes[i]:
            raise bad(f"model.transitions[{i}]", mat,
                      f"a {sizes[i]} x {sizes[i + 1]} matrix (one row per answer of blank "
                      f"{i + 1})")
        trans.append(np.stack([_prob_row(f"model.transitions[{i}][{a}]", r, sizes[i + 1])
                               for a, r in enumerate(rows)]))
    return init, trans


def _check_variants(variant_probs, groups):
    expected = f"{len(groups)} rows of probabilities (one per [...] group of the template)"
    if isinstance(variant_probs, (str, bytes)) or not hasattr(variant_probs, "__iter__"):
        raise bad("model.variant_probs", variant_probs, expected)
    rows = list(variant_probs)
    if len(rows) != len(groups):
        raise bad("model.variant_probs", variant_probs, expected)
    return [_prob_row(f"model.variant_probs[{j}]", r, len(groups[j])) for j, r in enumerate(rows)]


# --------------------------------------------------------------------------------------
# The model


@dataclasses.dataclass(frozen=True)
class StructuredOutput(Model):
    """The structured-output toy as an exact finite model under character truncation.

    Clean space: the ``N`` support strings, sorted. Observation space at time ``t``: the same
    ``N`` slots, slot ``z`` holding the prefix class (length ``L - t``) that string ``z`` heads.

    Attributes:
        log_w: ``(K,)`` log weights, the chain's log-probability of each answer tuple.
        log_clean: ``(K, N)``, ``log p^theta(u)``.
        groups: ``(L + 1, N)`` int32, ``groups[n, u]`` = first string sharing ``u``'s prefix
            of length ``n``.
        component_of: ``(N,)`` the answer tuple (component) of each string.
        string_of: ``(C,)`` the string of each combination of answers and variants (mixed
            radix over ``radices``, answers first), for the generative sampler.
        log_initial: ``(A,)`` log-probabilities of the first blank (``-inf`` padding).
        log_trans: ``(m - 1, A, A)`` log transition matrices (``-inf`` padding).
        log_variants: ``(G, V)`` log-probabilities of each variant group (``-inf`` padding).
        first_letter: ``(N, m)`` character index of each blank's word in each string.
        proc: the truncation process of length ``L``.
        strings: the ``N`` support strings, unpadded, in clean-space order.
        radices: options per blank, then alternatives per variant group.
        spec: the parameters as given (template, choices, initial, transitions,
            variant_probs, pad), for :meth:`describe`.
    """

    log_w: jax.Array
    log_clean: jax.Array
    groups: jax.Array
    component_of: jax.Array
    string_of: jax.Array
    log_initial: jax.Array
    log_trans: jax.Array
    log_variants: jax.Array
    first_letter: jax.Array
    proc: Process
    strings: tuple
    radices: tuple
    spec: tuple

    family = "structured_output"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def length(self) -> int:
        """``L``, the padded length of every string."""
        return int(self.proc.length)

    @property
    def n_strings(self) -> int:
        """``N``, the size of the support."""
        return len(self.strings)

    @property
    def n_blanks(self) -> int:
        """``m``, the number of blanks (binary choices in the paper)."""
        return int(self.first_letter.shape[1])

    @property
    def choices(self) -> tuple:
        """The answer words of each blank."""
        return dict(self.spec)["choices"]

    @property
    def answers(self) -> list:
        """The answer tuple of every component, in component order."""
        return list(itertools.product(*(range(r) for r in self.radices[: self.n_blanks])))

    def _prefix_len(self, t):
        t = jnp.round(jnp.asarray(t, dtype=jnp.float64)).astype(jnp.int32)
        return self.length - jnp.clip(t, 0, self.length)

    def _segments(self, t):
        return self.groups[self._prefix_len(t)]

    def view(self, t) -> View:
        return View(self.log_clean, _segment_logsumexp(self.log_clean, self._segments(t)))

    def log_adjoint(self, t, log_r):
        # K_t(z | u) = 1[z = groups[n, u]]: the adjoint reads r at the class of each string.
        return log_r[self._segments(t)]

    def log_clean_mixtures(self, t, log_rows):
        return logsumexp(log_rows[:, :, None] + self.log_clean[None], axis=1)

    def log_noised_mixtures(self, t, log_rows):
        # Mix on the strings, then group by prefix once per row: M segment sums, not K.
        return _segment_logsumexp(self.log_clean_mixtures(t, log_rows), self._segments(t))

    def table_size(self) -> int:
        return 2 * self.n_components * self.n_strings

    def describe(self) -> dict:
        spec = dict(self.spec)
        return {
            **super().describe(),
            "template": spec["template"],
            "choices": [list(c) for c in spec["choices"]],
            "initial": list(spec["initial"]),
            "transitions": [[list(r) for r in m] for m in spec["transitions"]],
            "variant_probs": [list(r) for r in spec["variant_probs"]],
            "pad": spec["pad"],
            "length": self.length,
            "n_strings": self.n_strings,
        }

    # ---- strings and answers ------------------------------------------------------------

    def index_of(self, s) -> int:
        """Index of a support string (unpadded) in the clean space.

        Raises:
            LocalizeError: naming ``s`` when it is not a string of the support.
        """
        if not isinstance(s, str):
            raise bad("s", s, "a string of the model's support")
        i = _lookup(self.strings, s)
        if i is None:
            raise bad("s", s, "a string of the model's support (see model.strings)")
        return i

    def positive_index_of(self, s) -> int:
        """:meth:`index_of` for a string of positive probability (its tuple has weight > 0).

        Raises:
            LocalizeError: naming ``s`` otherwise (its prefix posteriors are undefined).
        """
        i = self.index_of(s)
        if not np.isfinite(float(self.log_w[int(self.component_of[i])])):
            raise bad("s", s, "a string of positive probability (its answers have weight 0)")
        return i

    def render(self, answers, variants=None) -> str:
        """The string of an answer tuple with the given variants (default: the first ones)."""
        parts = parse_template(dict(self.spec)["template"])
        m, groups = self.n_blanks, len(self.radices) - self.n_blanks
        answers = _digits("answers", answers, self.radices[:m])
        variants = (0,) * groups if variants is None else variants
        variants = _digits("variants", variants, self.radices[m:])
        return _render(parts, self.choices, answers, variants)[0]

    def component_index(self, answers) -> int:
        """The component (index in ``0..K-1``) of an answer tuple."""
        digits = _digits("answers", answers, self.radices[: self.n_blanks])
        return int(np.ravel_multi_index(digits, self.radices[: self.n_blanks]))


jax.tree_util.register_dataclass(
    StructuredOutput,
    data_fields=["log_w", "log_clean", "groups", "component_of", "string_of", "log_initial",
                 "log_trans", "log_variants", "first_letter"],
    meta_fields=["proc", "strings", "radices", "spec"],
)


def _digits(name, values, radices):
    expected = f"{len(radices)} indices, the j-th in 0..r_j - 1 for r = {list(radices)}"
    try:
        d = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise bad(name, values, expected) from None
    if len(d) != len(radices) or any(not 0 <= v < r for v, r in zip(d, radices, strict=True)):
        raise bad(name, values, expected)
    return d


def _lookup(strings, s):
    lo, hi = 0, len(strings)
    while lo < hi:  # binary search: the strings are sorted
        mid = (lo + hi) // 2
        if strings[mid] < s:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(strings) and strings[lo] == s else None


def _segment_logsumexp(x, seg):
    """``out[:, z] = log sum_{u : seg[u] = z} exp(x[:, u])`` for ``x`` of shape ``(M, N)``.

    Shifted by each segment's maximum, so nothing underflows; empty segments give ``-inf``.
    """
    n = seg.shape[0]
    xt = x.T
    top = jax.ops.segment_max(xt, seg, num_segments=n)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    mass = jax.ops.segment_sum(jnp.exp(xt - top[seg]), seg, num_segments=n)
    return (jnp.log(mass) + top).T


def _prefix_groups(codes: np.ndarray) -> np.ndarray:
    """``groups[n, u]`` for sorted rows ``codes`` (``(N, L)`` padded character codes).

    A run of strings sharing a prefix of length ``n`` starts at row ``u`` iff ``u = 0`` or
    the longest common prefix of rows ``u - 1`` and ``u`` is shorter than ``n``.
    """
    n_strings, length = codes.shape
    differ = codes[1:] != codes[:-1]
    lcp = np.where(differ.any(axis=1), differ.argmax(axis=1), length)
    lcp = np.concatenate([[-1], lcp])  # row 0 always starts a run
    n = np.arange(length + 1)[:, None]
    starts = np.where(lcp[None, :] < n, np.arange(n_strings)[None, :], 0)
    return np.maximum.accumulate(starts, axis=1).astype(np.int32)


def _log(p):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p, dtype=np.float64))


def structured_output(template: str = DEFAULT_TEMPLATE, choices=DEFAULT_CHOICES,
                      initial=DEFAULT_INITIAL, transitions=DEFAULT_TRANSITIONS,
                      variant_probs=DEFAULT_VARIANT_PROBS, pad: str = DEFAULT_PAD,
                      process="truncation", order=None) -> StructuredOutput:
    """Build the structured-output toy of [LKC25] §6.1 (Figure 4) as an exact finite model.

    With no arguments: the paper's five sentences, its answer words, a Markov chain over the
    answers (:data:`DEFAULT_TRANSITIONS`) and one-character variants of the list markers and
    the final stop: 32 answer tuples, 1024 strings.

    Args:
        template: text with ``{}`` for each blank and ``[a|b|...]`` for each surface variant
            (alternatives may be empty, e.g. ``"[|little ]"``); ``{}[]|`` are reserved.
        choices: one list of answer words per blank (at least two distinct words each).
        initial: probabilities of the answers of the first blank.
        transitions: ``m - 1`` matrices; ``transitions[i][a][b]`` is the probability of
            answer ``b`` at blank ``i + 2`` given answer ``a`` at blank ``i + 1``.
        variant_probs: one row of probabilities per ``[...]`` group, drawn independently of
            the answers.
        pad: one character, absent from every string, that pads the strings to one length.
        process: ``"truncation"`` (or a :class:`localize.Truncation` of the padded length).
        order: must be ``None`` (only truncation is supported).

    Returns:
        A :class:`StructuredOutput`.

    Raises:
        LocalizeError: naming the parameter, on bad values, on two answer tuples rendering
            to one string (the answers must be readable off the string, as in the paper), or
            beyond the size limits (:data:`MAX_STRINGS`, :data:`MAX_TABLE`).
    """
    parts = parse_template(template)
    choices = _check_choices(choices)
    if _count(parts, "blank") != len(choices):
        raise bad("model.choices", [list(c) for c in choices],
                  f"one list of words per blank of the template ({_count(parts, 'blank')})")
    sizes = tuple(len(c) for c in choices)
    init, trans = _check_chain(initial, transitions, sizes)
    groups = [p[2] for p in parts if p[0] == "variant"]
    var = _check_variants(variant_probs, groups)
    if not isinstance(pad, str) or len(pad) != 1 or pad in SPECIAL:
        raise bad("model.pad", pad, "one character (not one of '{}[]|')")
    if order is not None:
        raise bad("process.order", order, "no order (structured_output uses truncation)")
    radices = sizes + tuple(len(g) for g in groups)
    n_combos = math.prod(radices)
    if n_combos > MAX_COMBOS:
        raise bad("model.choices", f"{n_combos} combinations of answers and variants",
                  f"at most {MAX_COMBOS}")

    n_answers, n_variants = math.prod(sizes), math.prod(radices[len(sizes):])
    texts, starts = [], []
    for combo in itertools.product(*(range(r) for r in radices)):
        text, pos = _render(parts, choices, combo[: len(sizes)], combo[len(sizes):])
        texts.append(text)
        starts.append(pos)
    if any(pad in s for s in texts):
        raise bad("model.pad", pad, "a character that no rendered string contains")
    strings = sorted(set(texts))
    n_strings = len(strings)
    if n_strings > MAX_STRINGS or n_answers * n_strings > MAX_TABLE:
        raise bad("model.choices", f"{n_answers} answer tuples and {n_strings} strings",
                  f"at most {MAX_STRINGS} strings and {MAX_TABLE} table entries")
    index = {s: i for i, s in enumerate(strings)}
    string_of = np.array([index[s] for s in texts], dtype=np.int32)
    comp = np.repeat(np.arange(n_answers), n_variants)
    component_of = np.full(n_strings, -1, dtype=np.int64)
    for c, u in zip(comp, string_of, strict=True):
        if component_of[u] not in (-1, c):
            raise bad("model.choices", [list(x) for x in choices],
                      f"answer tuples that render to distinct strings ({strings[u]!r} comes "
                      f"from two of them)")
        component_of[u] = c
    length = max(len(s) for s in strings)
    if (length + 1) * n_strings > MAX_TABLE:
        raise bad("model.template", template, f"(L + 1) * strings at most {MAX_TABLE}")
    proc = process if isinstance(process, Process) else None
    if process != "truncation" and not isinstance(proc, Truncation):
        raise bad("process.kind", process, "truncation (character-level, [LKC25] Example 10)")
    proc = Truncation(length) if proc is None else proc
    if proc.length != length:
        raise bad("process.length", proc.length, f"the padded length of the strings, {length}")

    # p^theta(u): the variants are independent of the answers, so one row of variant
    # log-probabilities serves every component; combinations rendering to one string add up.
    log_var_prob = np.zeros(1)
    for row in var:
        log_var_prob = (log_var_prob[:, None] + _log(row)[None, :]).reshape(-1)
    log_clean = np.full((n_answers, n_strings), -np.inf)
    np.logaddexp.at(log_clean, (comp, string_of), np.tile(log_var_prob, n_answers))
    # w_theta: the chain's log-probability of the tuple, a sum of logs.
    tuples = np.array(list(itertools.product(*(range(r) for r in sizes))),
                      dtype=np.int64).reshape(n_answers, len(sizes))
    log_w = _log(init)[tuples[:, 0]]
    for i, mat in enumerate(trans):
        log_w = log_w + _log(mat)[tuples[:, i], tuples[:, i + 1]]

    first = np.zeros((n_strings, len(sizes)), dtype=np.int32)
    first[string_of] = np.asarray(starts, dtype=np.int32).reshape(n_combos, len(sizes))
    codes = np.array([[ord(ch) for ch in s.ljust(length, pad)] for s in strings],
                     dtype=np.int64)
    a_max = max(sizes)
    log_init = np.full(a_max, -np.inf)
    log_init[: sizes[0]] = _log(init)
    log_trans = np.full((len(sizes) - 1, a_max, a_max), -np.inf)
    for i, mat in enumerate(trans):
        log_trans[i, : mat.shape[0], : mat.shape[1]] = _log(mat)
    v_max = max((len(g) for g in groups), default=1)
    log_var = np.full((len(groups), v_max), -np.inf)
    for j, row in enumerate(var):
        log_var[j, : row.size] = _log(row)
    spec = (
        ("template", template),
        ("choices", choices),
        ("initial", tuple(float(x) for x in init)),
        ("transitions", tuple(tuple(tuple(float(x) for x in r) for r in m) for m in trans)),
        ("variant_probs", tuple(tuple(float(x) for x in r) for r in var)),
        ("pad", pad),
    )
    return StructuredOutput(
        log_w=jnp.asarray(log_w),
        log_clean=jnp.asarray(log_clean),
        groups=jnp.asarray(_prefix_groups(codes)),
        component_of=jnp.asarray(component_of.astype(np.int32)),
        string_of=jnp.asarray(string_of),
        log_initial=jnp.asarray(log_init),
        log_trans=jnp.asarray(log_trans),
        log_variants=jnp.asarray(log_var),
        first_letter=jnp.asarray(first),
        proc=proc,
        strings=tuple(strings),
        radices=radices,
        spec=spec,
    )


# --------------------------------------------------------------------------------------
# Exact curves at the prefixes of one string


class Staircase(NamedTuple):
    """The two exact "probability of the same answer" curves of one string ``s``.

    Attributes:
        prefix_len: ``(len(s) + 1,)`` kept prefix lengths ``n = 0..len(s)``.
        kept: ``n / len(s)``, the fraction of ``s`` kept (the paper's x-axis).
        same_answers: ``pi(theta_s | s[:n])``: truncate ``s`` to ``s[:n]``, resample the rest
            from the model, and get the answers of ``s`` back.
        same_string: ``p(s | s[:n]) = p(s) / p(s[:n])``: get ``s`` itself back, the quantity
            the paper's code estimates.
        log_same_answers: ``log`` of ``same_answers``.
        log_same_string: ``log`` of ``same_string``.
    """

    prefix_len: np.ndarray
    kept: np.ndarray
    same_answers: np.ndarray
    same_string: np.ndarray
    log_same_answers: np.ndarray
    log_same_string: np.ndarray


@jax.jit
def _at_prefixes(model, s_idx, lengths):
    """``(log pi(theta | s[:n]) for all theta, log p(s | s[:n]))`` for every ``n``."""
    lw, log_clean = model.log_w, model.log_clean
    log_p = logsumexp(lw[:, None] + log_clean, axis=0)  # log p(u) for every string

    def one(n):
        seg = model.groups[n]
        share = seg == seg[s_idx]  # the strings that start with s[:n]
        log_pt = logsumexp(jnp.where(share[None, :], log_clean, NEG_INF), axis=1)
        joint = lw + log_pt
        log_prefix = logsumexp(joint)
        return joint - log_prefix, log_p[s_idx] - log_prefix

    return jax.vmap(one)(lengths)


def label_posterior_at_prefix(model: StructuredOutput, s, prefix_lengths):
    """``log pi_t(theta | s[:n])`` for every component, at the prefixes of one string.

    This is the label posterior of [LKC25] §1.3 evaluated at the one observation
    ``Y_t = s[:n]`` (``t = L - n``), which is what truncating ``s`` and resampling conditions
    on (theory.md §1.4, §5.1).

    Args:
        model: a :class:`StructuredOutput`.
        s: a support string.
        prefix_lengths: kept lengths ``n`` in ``0..len(s)``.

    Returns:
        ``(len(prefix_lengths), K)`` log-probabilities, each row normalised.
    """
    idx = model.positive_index_of(s)
    n = _check_lengths(prefix_lengths, len(s))
    return np.asarray(_at_prefixes(model, idx, jnp.asarray(n))[0])


def _check_lengths(lengths, max_len):
    try:
        n = np.asarray(lengths)
    except (TypeError, ValueError):
        raise bad("prefix_lengths", lengths, f"integers in 0..{max_len}") from None
    if (n.ndim != 1 or n.size == 0 or not np.issubdtype(n.dtype, np.number)
            or n.dtype == bool or np.any(n != np.round(n)) or n.min() < 0 or n.max() > max_len):
        raise bad("prefix_lengths", lengths, f"a non-empty list of integers in 0..{max_len}")
    return n.astype(np.int32)


def staircase(model: StructuredOutput, s) -> Staircase:
    """The exact same-answers and same-string curves of ``s`` at every kept length.

    [LKC25] §6.1, Figure 4: "probability of the same answers" against the fraction of ``s``
    kept. ``same_answers`` is the label posterior at the prefix (not the report's average
    over random prefixes of ``theta_s``, see the module docstring); ``same_string`` is what
    the paper's code estimates (:func:`percent_to_freq`).

    Args:
        model: a :class:`StructuredOutput`.
        s: a support string (unpadded).

    Returns:
        A :class:`Staircase`, exact (log-space sums over the enumerated support).
    """
    idx = model.positive_index_of(s)
    # Every length 0..L, then cut to 0..len(s): one compilation for all strings of a model.
    n = np.arange(len(s) + 1, dtype=np.int32)
    every = jnp.arange(model.length + 1, dtype=jnp.int32)
    log_post, log_string = (np.asarray(a)[: n.size] for a in _at_prefixes(model, idx, every))
    theta = int(model.component_of[idx])
    la = log_post[:, theta]
    return Staircase(prefix_len=n, kept=n / len(s), same_answers=np.exp(la),
                     same_string=np.exp(log_string), log_same_answers=la,
                     log_same_string=log_string)


def first_letter_positions(model: StructuredOutput, s) -> np.ndarray:
    """Character index, in ``s``, of the first letter of each chosen word (from the template).

    Returns:
        ``(m,)`` ints; the paper predicts the jumps of the staircase right after each.
    """
    return np.asarray(model.first_letter[model.index_of(s)])


def answers_of(model: StructuredOutput, s) -> tuple:
    """The answer tuple (one index per blank) that ``s`` writes."""
    return tuple(model.answers[int(model.component_of[model.index_of(s)])])


def choice_sets(model: StructuredOutput, answers) -> list:
    """The nested sub-populations of Definition 4 for each blank of an answer tuple.

    For blank ``i`` (1-based), ``S_after`` holds the tuples agreeing with ``answers`` on
    blanks ``1..i`` and ``S_before`` those agreeing on ``1..i-1`` (``Theta`` for ``i = 1``).

    Returns:
        A list of ``m`` pairs ``(S_after, S_before)`` of component index lists.
    """
    digits = _digits("answers", answers, model.radices[: model.n_blanks])
    tuples = np.asarray(model.answers)
    out = []
    for i in range(model.n_blanks):
        after = np.all(tuples[:, : i + 1] == np.asarray(digits[: i + 1]), axis=1)
        before = np.all(tuples[:, :i] == np.asarray(digits[:i]), axis=1)
        out.append((np.flatnonzero(after).tolist(), np.flatnonzero(before).tolist()))
    return out


def paper_markers(model: StructuredOutput, s, step_size: float = 0.01):
    """The paper's predicted window markers for ``s`` (theory.md §5.1).

    Replicates ``find_normalized_positions`` of the experiment code: ``pos`` is the first
    case-insensitive occurrence of each chosen word in ``s``; "Tbefore" (its "Tlower") is
    ``floor(pos / len(s) / step) * step`` and "Tafter" (its "Tupper")
    ``ceil((pos + 1) / len(s) / step) * step``, as fractions of ``s`` kept. The positions
    can differ from :func:`first_letter_positions` when a word also occurs earlier in ``s``
    (e.g. inside another word); the claims check that they agree on the default.

    Args:
        model: a :class:`StructuredOutput`.
        s: a support string.
        step_size: the grid of kept fractions (0.01 in the paper).

    Returns:
        ``(before, after, pos)``: two ``(m,)`` float arrays and the ``(m,)`` positions found.
    """
    if isinstance(step_size, bool) or not isinstance(step_size, (int, float)) or not (
            0 < step_size <= 1):
        raise bad("step_size", step_size, "a number in (0, 1]")
    words = [model.choices[i][a] for i, a in enumerate(answers_of(model, s))]
    low = s.lower()
    pos = np.array([low.find(w.lower()) for w in words])
    scale = 1.0 / step_size
    before = np.array([math.floor(p / len(s) * scale) / scale for p in pos])
    after = np.array([math.ceil((p + 1) / len(s) * scale) / scale for p in pos])
    return before, after, pos


# --------------------------------------------------------------------------------------
# Sampling and the paper's estimator


# Draws per batch of the sampler: every sample size N runs batches of this size, so one
# compilation serves every N.
SAMPLE_BATCH = 4096


def _pick(cum, u, size):
    """Inverse-CDF draw: the number of cumulative probabilities ``<= u``, kept in range.

    ``cum`` is ``(..., A)`` (rows padded with the total, so padding is never picked unless
    rounding leaves ``u`` above the last true entry, which the clip to ``size - 1`` absorbs).
    """
    return jnp.minimum(jnp.sum(cum <= u[..., None], axis=-1), size - 1)


def _draw_batch(key, model):
    """:data:`SAMPLE_BATCH` strings from the generative story, as support indices."""
    m = model.n_blanks
    sizes = np.asarray(model.radices, dtype=np.int64)
    u = jax.random.uniform(key, (sizes.size, SAMPLE_BATCH), dtype=jnp.float64)
    first = _pick(jnp.cumsum(jnp.exp(model.log_initial)), u[0], sizes[0])
    cum_trans = jnp.cumsum(jnp.exp(model.log_trans), axis=-1)

    def step(prev, xs):
        cum, uu, size = xs
        nxt = _pick(cum[prev], uu, size)  # the transition row of each draw's previous answer
        return nxt, nxt

    _, rest = jax.lax.scan(step, first, (cum_trans, u[1:m], jnp.asarray(sizes[1:m])))
    cum_var = jnp.cumsum(jnp.exp(model.log_variants), axis=-1)
    var = _pick(cum_var[:, None, :], u[m:], jnp.asarray(sizes[m:])[:, None])
    digits = jnp.concatenate([first[None, :], rest, var], axis=0)  # (m + G, B)
    strides = np.cumprod((1,) + model.radices[::-1])[::-1][1:]
    combo = jnp.sum(digits * jnp.asarray(strides, dtype=jnp.int64)[:, None], axis=0)
    return model.string_of[combo]


@jax.jit
def _batch(key, model, i, n):
    """Batch ``i`` of a run of ``n`` draws: the draws (from ``fold_in(key, i)``) and how many
    of those inside the run land on each string."""
    draws = _draw_batch(jax.random.fold_in(key, i), model)
    live = i * SAMPLE_BATCH + jnp.arange(SAMPLE_BATCH) < n
    counts = jnp.zeros(model.n_strings, dtype=jnp.int64).at[draws].add(live.astype(jnp.int64))
    return draws, counts


def _batches(n):
    return -(-n // SAMPLE_BATCH)


def _sample_counts(key, model, n: int):
    """How many of ``n`` draws land on each string (the draws of :func:`sample`).

    Batches run one jitted call each, like the report's chunks of times: one compilation
    serves every ``n``, and memory stays at one batch.
    """
    counts = jnp.zeros(model.n_strings, dtype=jnp.int64)
    for i in range(_batches(n)):
        counts = counts + _batch(key, model, i, n)[1]
    return counts


def sample(key, model: StructuredOutput, n_samples: int):
    """Draw strings from the model by running its generative story.

    The chain draws the answers blank by blank and each variant group is drawn on its own
    (inverse CDF on uniforms); the combination is looked up in the rendered table. This path
    never reads the enumerated probabilities, so comparing its frequencies with them checks
    both. Batch ``i`` of :data:`SAMPLE_BATCH` draws uses ``fold_in(key, i)``; these are the
    draws :func:`percent_to_freq` counts.

    Args:
        key: a ``jax.random`` key.
        model: a :class:`StructuredOutput`.
        n_samples: the number of draws (>= 1).

    Returns:
        ``(n_samples,)`` int array of support indices (``model.strings[i]``).
    """
    n = _check_count("n_samples", n_samples)
    parts = [_batch(key, model, i, n)[0] for i in range(_batches(n))]
    return jnp.concatenate(parts)[:n]


def _check_count(name, n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise bad(name, n, "a positive integer")
    return int(n)


class FreqInfo(NamedTuple):
    """What :func:`percent_to_freq` saw at each kept fraction.

    Attributes:
        se: binomial standard error ``sqrt(v (1 - v) / n_prefix)``; ``inf`` where undefined.
        n_prefix: samples starting with the prefix.
        n_equal: samples equal to ``s`` (the same at every fraction: a sample equal to ``s``
            starts with every prefix of ``s``).
        prefix_len: ``int(len(s) * f)``, the kept length.
        fractions: the kept fractions ``f``.
        defined: ``n_prefix > 0``.
        n_samples: ``N``.
    """

    se: np.ndarray
    n_prefix: np.ndarray
    n_equal: np.ndarray
    prefix_len: np.ndarray
    fractions: np.ndarray
    defined: np.ndarray
    n_samples: int


def paper_fractions(step_size: float = 0.01) -> np.ndarray:
    """The paper's kept fractions, ``np.arange(0, 1, step_size)`` (0, 0.01, ..., 0.99)."""
    return np.arange(0, 1, step_size)


def _check_fractions(fractions):
    try:
        f = np.asarray(paper_fractions() if fractions is None else fractions, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("fractions", fractions, "a list of numbers in [0, 1]") from None
    if f.ndim != 1 or f.size == 0 or not np.all(np.isfinite(f)) or f.min() < 0 or f.max() > 1:
        raise bad("fractions", fractions, "a non-empty 1-D list of numbers in [0, 1]")
    return f


def kept_lengths(s: str, fractions) -> np.ndarray:
    """``int(len(s) * f)`` for each kept fraction, as the paper's code truncates."""
    f = _check_fractions(fractions)
    return np.array([int(len(s) * float(x)) for x in f], dtype=np.int32)


@jax.jit
def _prefix_counts(model, counts, s_idx, lengths):
    seg = model.groups[lengths]  # (F, N)
    share = seg == seg[:, s_idx][:, None]
    return jnp.sum(jnp.where(share, counts[None, :], 0), axis=1), counts[s_idx]


def percent_to_freq(key, model: StructuredOutput, s, n_samples: int, fractions=None, *,
                    include_original: bool = False):
    """The estimator behind [LKC25] Figure 4 (``utils.percent_to_freq`` of the paper's code).

    Draw ``N`` strings from the model. For each kept fraction ``f``, keep the prefix
    ``s[:int(len(s) * f)]``; the value is the fraction of the samples starting with that
    prefix that are exactly equal to ``s``. Given ``n_prefix = m > 0`` such samples, the
    number equal to ``s`` is ``Binomial(m, p(s | prefix))`` (theory.md §6 item 19), so the
    value estimates the exact :func:`staircase` ``same_string`` without bias and its
    standard error is binomial in ``m``.

    When no sample starts with the prefix the paper's ``pandas`` ``.mean()`` of an empty
    selection is NaN; here ``value`` is 0, ``se`` is ``inf`` and ``info.defined`` is False,
    so nothing NaN escapes and no such point can pass for a measurement. In the paper ``s`` is
    itself one of the generations; ``include_original=True`` reproduces that with ``N - 1``
    draws and ``s`` (then every prefix is shared at least once, and the value is biased up
    by about ``1 / m``).

    Args:
        key: a ``jax.random`` key.
        model: a :class:`StructuredOutput`.
        s: the original string (a support string, unpadded).
        n_samples: ``N >= 1``.
        fractions: kept fractions in [0, 1] (default :func:`paper_fractions`).
        include_original: count ``s`` as one of the ``N`` samples, as the paper does.

    Returns:
        ``(value, info)``: ``(F,)`` estimates and a :class:`FreqInfo`.
    """
    idx = model.positive_index_of(s)
    n = _check_count("n_samples", n_samples)
    f = _check_fractions(fractions)
    lengths = kept_lengths(s, f)
    if include_original:
        counts = _sample_counts(key, model, n - 1).at[idx].add(1)
    else:
        counts = _sample_counts(key, model, n)
    m, h = (np.asarray(a) for a in _prefix_counts(model, counts, idx, jnp.asarray(lengths)))
    h = np.full(m.shape, int(h))
    defined = m > 0
    safe = np.where(defined, m, 1)
    value = np.where(defined, h / safe, 0.0)
    se = np.where(defined, np.sqrt(value * (1.0 - value) / safe), np.inf)
    return value, FreqInfo(se=se, n_prefix=m, n_equal=h, prefix_len=lengths, fractions=f,
                           defined=defined, n_samples=n)


def exact_percent_to_freq(model: StructuredOutput, s, fractions=None) -> np.ndarray:
    """The exact value :func:`percent_to_freq` estimates: ``p(s | s[:int(len(s) f)])``.

    Returns:
        ``(F,)`` probabilities, exact.
    """
    lengths = kept_lengths(s, fractions)
    return staircase(model, s).same_string[lengths]


register(Family(
    name="structured_output",
    builder=lambda process, order, **kw: structured_output(process=process, order=order, **kw),
    params={
        "template": "text with {} per blank and [a|b] per surface variant (default: the "
                    "paper's five sentences, 2.|2) ... list markers, final .|!)",
        "choices": "answer words per blank (default Pirate/Ninja, Dog/Cat, River/Bridge, "
                   "Dragon/Knight, Pizza/Sushi)",
        "initial": "probabilities of the first blank's answers (default [0.4, 0.6])",
        "transitions": "m - 1 row-stochastic matrices: P(answer at blank i + 1 | answer at "
                       "blank i), the word-level Markov chain",
        "variant_probs": "one row of probabilities per [a|b] group, independent of the answers",
        "pad": "one padding character absent from the strings (default '_')",
    },
    processes=("truncation",),
    summary="structured output of [LKC25] Sec. 6.1 / Fig. 4: a Markov chain over the answers "
            "of a template, rendered character by character; exact by enumerating the "
            "strings and grouping them by prefix",
    required=(),
))
