"""The structured-output family ([LKC25] §6.1, Fig. 4) against a brute-force oracle.

The oracle below parses the template with a regular expression, enumerates every answer
tuple and variant combination in plain Python, keeps each component's law as a dict from
string to probability and gets every prefix probability by summing the strings that start
with the prefix (``str.startswith``). It shares no code with the JAX path (no ``localize``,
no ``synthetic``).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import localize
import synthetic.structured_output as so
from localize.config import load_config
from localize.errors import LocalizeError
from synthetic.registry import build, families_info

TOL = 1e-12
ROOT = Path(__file__).resolve().parents[1]

# Tiny instances: (template, choices, initial, transitions, variant_probs).
TINY = {
    # Three answers at blank 2, a one-character variant between the blanks.
    "ternary": ("x{}y[.|!]{}z", [["ab", "c"], ["d", "ef", "g"]], [0.3, 0.7],
                [[[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]], [[0.4, 0.6]]),
    # An optional adjective moves blank 1; the two answers of blank 1 share a first letter.
    "moving": ("[|big ]{} and {}[|!]", [["cat", "cow"], ["dog", "eel"]], [0.5, 0.5],
               [[[0.9, 0.1], [0.25, 0.75]]], [[0.7, 0.3], [0.5, 0.5]]),
    # A zero-weight tuple, two identical alternatives (strings merge within a component).
    "degenerate": ("{}[x|x]{}", [["a", "b"], ["c", "d"]], [1.0, 0.0],
                   [[[0.5, 0.5], [0.5, 0.5]]], [[0.3, 0.7]]),
}
PAD = "_"


# --------------------------------------------------------------------------------------
# the oracle


def oracle_laws(template, choices, initial, transitions, variant_probs):
    """``(weights, laws)``: answer tuple -> chain probability, and -> {string: p^theta}."""
    pieces = [p for p in re.split(r"(\{\}|\[[^\]]*\])", template) if p != ""]
    weights, laws = {}, {}
    groups = [p[1:-1].split("|") for p in pieces if p.startswith("[")]
    for answers in itertools.product(*[range(len(c)) for c in choices]):
        w = initial[answers[0]]
        for i in range(1, len(answers)):
            w *= transitions[i - 1][answers[i - 1]][answers[i]]
        weights[answers] = w
        law = {}
        for var in itertools.product(*[range(len(g)) for g in groups]):
            text, b, g, prob = "", 0, 0, 1.0
            for p in pieces:
                if p == "{}":
                    text += choices[b][answers[b]]
                    b += 1
                elif p.startswith("["):
                    text += groups[g][var[g]]
                    prob *= variant_probs[g][var[g]]
                    g += 1
                else:
                    text += p
            law[text] = law.get(text, 0.0) + prob
        laws[answers] = law
    return weights, laws


def padded(laws):
    length = max(len(s) for law in laws.values() for s in law)
    return length, {a: {s.ljust(length, PAD): p for s, p in law.items()} for a, law in laws.items()}


def prefix_prob(law, prefix):
    return sum(p for s, p in law.items() if s.startswith(prefix))


def mixture(weights, laws, answers_set):
    total = sum(weights[a] for a in answers_set)
    out = {}
    for a in answers_set:
        for s, p in laws[a].items():
            out[s] = out.get(s, 0.0) + weights[a] / total * p
    return out


def prefix_law(law, n):
    out = {}
    for s, p in law.items():
        out[s[:n]] = out.get(s[:n], 0.0) + p
    return out


def tv(p, q):
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def bc(p, q):
    return sum(math.sqrt(p.get(k, 0.0) * q.get(k, 0.0)) for k in set(p) | set(q))


def oracle_curves(weights, laws, s_init, s_target, n):
    """The report's curves at prefix length ``n`` (theory.md §1.4, §2.2)."""
    everything = list(weights)
    rest_t = [a for a in everything if a not in s_target and weights[a] > 0]
    rest_i = [a for a in everything if a not in s_init and weights[a] > 0]
    p_all, p_i, p_t = (mixture(weights, laws, x) for x in (everything, s_init, s_target))
    y_all, y_i, y_t = (prefix_law(x, n) for x in (p_all, p_i, p_t))
    w_t = sum(weights[a] for a in s_target)
    # p^{S_init, t}(x) = p(x) p_t^{S_init}(x[:n]) / p_t(x[:n]).
    fr = {x: p * y_i.get(x[:n], 0.0) / y_all[x[:n]] for x, p in p_all.items() if p > 0}
    out = {
        "tv_init_target": tv(y_i, y_t),
        "fr_tv_target": tv(fr, p_t),
        "fr_tv_init": tv(fr, p_i),
        "fr_tv_full": tv(fr, p_all),
        "label_mass_target": sum(q * w_t * y_t.get(y, 0.0) / y_all[y] for y, q in y_i.items()),
    }
    if rest_t:
        y_r = prefix_law(mixture(weights, laws, rest_t), n)
        w_r = sum(weights[a] for a in rest_t)
        out["tv_target_rest"] = tv(y_t, y_r)
        out["bc_target_rest"] = bc(y_t, y_r)
        out["exit_mass_target"] = sum(q * w_r * y_r.get(y, 0.0) / y_all[y]
                                      for y, q in y_t.items())
    if rest_i:
        out["tv_init_rest"] = tv(y_i, prefix_law(mixture(weights, laws, rest_i), n))
    return out


# --------------------------------------------------------------------------------------
# helpers


@functools.cache
def tiny(name):
    template, choices, initial, transitions, variants = TINY[name]
    model = so.structured_output(template, choices, initial, transitions, variants, pad=PAD)
    weights, laws = oracle_laws(template, choices, initial, transitions, variants)
    return model, weights, laws


@functools.cache
def default():
    return so.structured_output()


def original(model=None):
    model = default() if model is None else model
    return model.render(so.DEFAULT_ORIGINAL, so.DEFAULT_ORIGINAL_VARIANTS)


@jax.jit
def _noised(model, ts):
    return jax.vmap(lambda t: model.view(t).log_noised)(ts)


# --------------------------------------------------------------------------------------
# enumeration against the oracle


@pytest.mark.parametrize("name", sorted(TINY))
def test_support_and_component_laws_match_the_oracle(name):
    model, weights, laws = tiny(name)
    want = sorted({s for law in laws.values() for s in law})
    assert list(model.strings) == want
    answers = model.answers
    assert sorted(answers) == sorted(weights)
    np.testing.assert_allclose(np.exp(np.asarray(model.log_w)),
                               [weights[a] for a in answers], atol=TOL)
    clean = np.exp(np.asarray(model.log_clean))
    for k, a in enumerate(answers):
        np.testing.assert_allclose(clean[k], [laws[a].get(s, 0.0) for s in want], atol=TOL)
        for s in laws[a]:
            assert model.component_of[want.index(s)] == k


@pytest.mark.parametrize("name", sorted(TINY))
def test_prefix_laws_match_the_oracle_at_every_time(name):
    model, weights, laws = tiny(name)
    length, pl = padded(laws)
    assert model.length == length
    noised = np.exp(np.asarray(_noised(model, jnp.arange(length + 1.0))))
    answers = model.answers
    strings = [s.ljust(length, PAD) for s in model.strings]
    for t in range(length + 1):
        n = length - t
        prefixes = {s[:n] for s in strings}
        heads = {}
        for z, s in enumerate(strings):
            heads.setdefault(s[:n], z)  # the first string of each prefix class holds its mass
        assert set(heads) == prefixes
        for k, a in enumerate(answers):
            row = noised[t, k]
            for y, z in heads.items():
                assert abs(row[z] - prefix_prob(pl[a], y)) <= TOL, (name, t, a, y)
            others = np.setdiff1d(np.arange(len(strings)), list(heads.values()))
            assert np.all(row[others] == 0.0)


@pytest.mark.parametrize("name", sorted(TINY))
def test_staircases_match_the_oracle_for_every_string(name):
    model, weights, laws = tiny(name)
    total = {}
    for a, law in laws.items():
        for s, p in law.items():
            total[s] = total.get(s, 0.0) + weights[a] * p
    for s in model.strings:
        owner = so.answers_of(model, s)
        if weights[owner] == 0:
            continue
        stair = so.staircase(model, s)
        for n in range(len(s) + 1):
            y = s[:n]
            p_y = sum(p for u, p in total.items() if u.startswith(y))
            same = weights[owner] * prefix_prob(laws[owner], y) / p_y
            assert abs(stair.same_answers[n] - same) <= TOL, (s, n)
            assert abs(stair.same_string[n] - total[s] / p_y) <= TOL, (s, n)
        post = np.exp(so.label_posterior_at_prefix(model, s, [0, len(s)]))
        np.testing.assert_allclose(post.sum(axis=1), 1.0, atol=TOL)
        np.testing.assert_allclose(post[0], np.exp(np.asarray(model.log_w)), atol=TOL)


REPORT_PAIRS = {
    "ternary": [([0], [0]), ([0], [0, 1, 2]), ([4], [3, 4, 5]), ([0, 3], list(range(6)))],
    "moving": [([0], [0]), ([1], [0, 1]), ([3], [2, 3])],
    "degenerate": [([0], [0]), ([1], [0, 1])],
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_window_report_curves_match_the_oracle(name):
    model, weights, laws = tiny(name)
    length, pl = padded(laws)
    answers = model.answers
    times = np.arange(length + 1.0)
    for s_init, s_target in REPORT_PAIRS[name]:
        rep = localize.window_report(model, s_init, s_target, 0.1, times, progress=False)
        a_i = [answers[k] for k in s_init]
        a_t = [answers[k] for k in s_target]
        for j, t in enumerate(times):
            want = oracle_curves(weights, pl, a_i, a_t, length - int(t))
            for key, value in want.items():
                got = getattr(rep, key)
                assert got is not None, key
                assert abs(got[j] - value) <= 1e-11, (name, s_init, s_target, t, key)


@settings(max_examples=min(5, settings().max_examples))
@given(data=st.data())
def test_random_specs_match_the_oracle(data):
    """Random tiny templates: the enumerated component laws and every prefix law."""
    letters = st.text(alphabet="abc", min_size=1, max_size=2)
    n_blanks = data.draw(st.integers(1, 3))
    choices = [data.draw(st.lists(letters, min_size=2, max_size=3, unique=True))
               for _ in range(n_blanks)]
    prob = lambda k: st.lists(st.integers(1, 9), min_size=k, max_size=k).map(  # noqa: E731
        lambda xs: [x / sum(xs) for x in xs])
    initial = data.draw(prob(len(choices[0])))
    transitions = [[data.draw(prob(len(choices[i + 1]))) for _ in choices[i]]
                   for i in range(n_blanks - 1)]
    group = data.draw(st.lists(st.text(alphabet="xy", max_size=2), min_size=2, max_size=2))
    where = data.draw(st.integers(0, n_blanks))
    pieces = ["{}"] * n_blanks
    pieces.insert(where, "[" + "|".join(group) + "]")
    template = "-".join(pieces)
    variants = [data.draw(prob(2))]
    weights, laws = oracle_laws(template, choices, initial, transitions, variants)
    strings = {s for law in laws.values() for s in law}
    owners = {}
    for a, law in laws.items():
        for s in law:
            owners.setdefault(s, set()).add(a)
    if any(len(o) > 1 for o in owners.values()):
        with pytest.raises(LocalizeError, match="model.choices"):
            so.structured_output(template, choices, initial, transitions, variants)
        return
    model = so.structured_output(template, choices, initial, transitions, variants)
    assert list(model.strings) == sorted(strings)
    length, pl = padded(laws)
    noised = np.exp(np.asarray(_noised(model, jnp.arange(length + 1.0))))
    pad_strings = [s.ljust(length, PAD) for s in model.strings]
    for t in range(length + 1):
        n = length - t
        for k, a in enumerate(model.answers):
            got = {}
            for z, s in enumerate(pad_strings):
                if noised[t, k, z] > 0:
                    got[s[:n]] = got.get(s[:n], 0.0) + noised[t, k, z]
            want = {y: q for y, q in prefix_law(pl[a], n).items() if q > 0}
            assert set(got) == set(want)
            for y in want:
                assert abs(got[y] - want[y]) <= TOL


# --------------------------------------------------------------------------------------
# the paper's default: staircase, windows, markers


def _chain_prob(answers, i):
    if i == 0:
        return so.DEFAULT_INITIAL[answers[0]]
    return so.DEFAULT_TRANSITIONS[i - 1][answers[i - 1]][answers[i]]


def test_default_staircase_is_the_product_of_the_unwritten_choices():
    model = default()
    s = original(model)
    assert model.n_components == 32 and model.n_strings == 1024
    stair = so.staircase(model, s)
    pos = so.first_letter_positions(model, s)
    ans = so.DEFAULT_ORIGINAL
    # The "." variants sit at the character after each item number, before each blank 2..5;
    # the final stop is the last character.
    var_pos = [s.index(f"{k}.") + 1 for k in range(2, 6)] + [len(s) - 1]
    for n in stair.prefix_len:
        answers_left = [_chain_prob(ans, i) for i in range(5) if pos[i] >= n]
        variants_left = [so.DEFAULT_VARIANT_PROBS[j][0] for j in range(5) if var_pos[j] >= n]
        assert abs(stair.same_answers[n] - math.prod(answers_left)) <= TOL
        assert abs(stair.same_string[n] - math.prod(answers_left + variants_left)) <= TOL
    jumps = np.flatnonzero(np.abs(np.diff(stair.same_answers)) > 1e-12)
    np.testing.assert_array_equal(jumps, pos)  # the jump from n = pos to pos + 1


def test_default_windows_sit_at_the_first_letters_and_the_paper_markers_bracket_them():
    model = default()
    s = original(model)
    pos = so.first_letter_positions(model, s)
    before, after, found = so.paper_markers(model, s)
    np.testing.assert_array_equal(found, pos)
    length = model.length
    times = np.arange(length + 1.0)
    for i, (s_after, s_before) in enumerate(so.choice_sets(model, so.DEFAULT_ORIGINAL)):
        assert len(s_after) == 2 ** (4 - i) and len(s_before) == 2 ** (5 - i)
        rep = localize.window_report(model, s_after, s_before, 0.05, times, progress=False)
        assert length - rep.T_before_C == pos[i]
        assert length - rep.T_after_C == pos[i] + 1
        n_b, n_a = pos[i] / len(s), (pos[i] + 1) / len(s)
        assert before[i] <= n_b < before[i] + 0.01
        assert after[i] - 0.01 < n_a <= after[i]


def test_report_label_mass_is_the_posterior_at_the_prefix_only_when_no_variant_moves_a_blank():
    model = default()
    s = original(model)
    theta = model.component_index(so.DEFAULT_ORIGINAL)
    times = np.arange(model.length + 1.0)
    rep = localize.window_report(model, [theta], [theta], 0.05, times, progress=False)
    stair = so.staircase(model, s)
    n = (model.length - times).astype(int)
    keep = n <= len(s)
    np.testing.assert_allclose(np.asarray(rep.label_mass_target)[keep],
                               stair.same_answers[n[keep]], atol=TOL)

    # An optional adjective moves blank 1: the prefix "big " of one string is more telling
    # than the average prefix of its tuple, and the window of blank 1 widens to every place
    # its first letter can be.
    tmodel, weights, laws = tiny("moving")
    s = "big cow and eel!"
    theta = tmodel.component_index(so.answers_of(tmodel, s))
    times = np.arange(tmodel.length + 1.0)
    rep = localize.window_report(tmodel, [theta], [theta], 0.05, times, progress=False)
    stair = so.staircase(tmodel, s)
    n = (tmodel.length - times).astype(int)
    keep = n <= len(s)
    gap = np.abs(np.asarray(rep.label_mass_target)[keep] - stair.same_answers[n[keep]])
    assert gap.max() > 0.05
    # "cat" / "cow" share the "c": the answer is written at the second letter of the word.
    jumps = np.flatnonzero(np.abs(np.diff(stair.same_answers)) > 1e-12)
    assert jumps[0] == len("big c")
    s_after, s_before = so.choice_sets(tmodel, so.answers_of(tmodel, s))[0]
    rep = localize.window_report(tmodel, s_after, s_before, 0.05, times, progress=False)
    assert tmodel.length - rep.T_before_C == len("c")   # earliest: no adjective
    assert tmodel.length - rep.T_after_C == len("big co")  # latest: with the adjective


# --------------------------------------------------------------------------------------
# sampling and the estimator


def test_generative_sampler_draws_the_enumerated_law():
    model = default()
    n = 200_000
    # The counts percent_to_freq uses (the same draws as so.sample, checked below).
    counts = np.asarray(so._sample_counts(jax.random.key(1), model, n))
    assert counts.sum() == n
    p = np.exp(np.asarray(jax.nn.logsumexp(model.log_w[:, None] + model.log_clean, axis=0)))
    z = (counts - n * p) / np.sqrt(n * p * (1 - p))
    assert np.abs(z).max() < 5.0
    chi2 = float(np.sum((counts - n * p) ** 2 / (n * p)))
    dof = model.n_strings - 1
    assert abs(chi2 - dof) < 5 * math.sqrt(2 * dof)


def _paper_code(strings, s, fractions):
    """The paper's ``percent_to_freq`` on a list of strings, in plain Python."""
    out = []
    for f in fractions:
        prefix = s[: int(len(s) * f)]
        sel = [x for x in strings if x.startswith(prefix)]
        out.append((sum(x == s for x in sel) / len(sel), len(sel)) if sel else (None, 0))
    return out


def test_estimator_is_the_papers_code_on_the_same_draws():
    model = default()
    s = original(model)
    key = jax.random.key(7)
    value, info = so.percent_to_freq(key, model, s, 3000)
    draws = np.asarray(so.sample(key, model, 3000))
    counts = np.asarray(so._sample_counts(key, model, 3000))
    np.testing.assert_array_equal(np.bincount(draws, minlength=model.n_strings), counts)
    ref = _paper_code([model.strings[i] for i in draws], s, so.paper_fractions())
    np.testing.assert_array_equal(info.n_prefix, [m for _, m in ref])
    np.testing.assert_allclose(value, [v for v, _ in ref], atol=1e-15)
    assert info.prefix_len[-1] == int(len(s) * 0.99) and info.fractions.size == 100
    assert np.all(info.n_equal == info.n_equal[0])
    np.testing.assert_allclose(info.se, np.sqrt(value * (1 - value) / info.n_prefix), atol=1e-15)


def test_estimator_converges_to_the_exact_staircase():
    model = default()
    s = original(model)
    exact = so.exact_percent_to_freq(model, s)
    # The large-N error: given m samples on the prefix the estimate is Binomial(m, p) / m,
    # and m is about N p(prefix) = N p(s) / p(s | prefix).
    p_s = float(exact[0])
    rms, theory = {}, {}
    for n in (10**3, 10**4, 10**5):
        errors = []
        for rep in range(8):
            value, info = so.percent_to_freq(jax.random.key(100 + rep), model, s, n)
            assert info.defined.all()
            errors.append(value - exact)
            if n == 10**5:
                se = np.sqrt(exact * (1 - exact) / info.n_prefix)
                assert np.all(np.abs(value - exact) <= 4 * se + 1e-15)
        rms[n] = float(np.sqrt(np.mean(np.square(errors))))
        theory[n] = float(np.sqrt(np.mean(exact * (1 - exact) / (n * p_s / exact))))
        assert 0.5 < rms[n] / theory[n] < 2.0, (n, rms[n], theory[n])
    assert rms[10**3] > rms[10**4] > rms[10**5]


def test_estimator_with_no_sample_on_the_prefix_reports_no_nan():
    model = default()
    s = original(model)
    value, info = so.percent_to_freq(jax.random.key(3), model, s, 1)
    assert not info.defined.all()
    assert np.all(value[~info.defined] == 0.0) and np.all(np.isinf(info.se[~info.defined]))
    assert not np.any(np.isnan(value)) and not np.any(np.isnan(info.se))
    value, info = so.percent_to_freq(jax.random.key(3), model, s, 1, include_original=True)
    assert info.defined.all() and np.all(value == 1.0)


def test_estimator_does_not_recompile():
    model = default()
    s = original(model)
    so.percent_to_freq(jax.random.key(0), model, s, 500)
    sizes = so._prefix_counts._cache_size(), so._batch._cache_size()
    so.percent_to_freq(jax.random.key(1), model, model.strings[3], 500)
    assert (so._prefix_counts._cache_size(), so._batch._cache_size()) == sizes


# --------------------------------------------------------------------------------------
# registry, config, bad input


def test_family_is_registered_and_the_example_config_runs():
    info = {f["name"]: f for f in families_info()}["structured_output"]
    assert info["required"] == [] and info["processes"] == ["truncation"]
    assert set(info["params"]) == {"template", "choices", "initial", "transitions",
                                   "variant_probs", "pad"}
    families = {name: {"params": list(f["params"]), "required": f["required"]}
                for name, f in {f["name"]: f for f in families_info()}.items()}
    cfg = load_config(ROOT / "examples" / "structured_output.toml", families)
    model = build(cfg.family, process=cfg.process, order=cfg.order, **cfg.model_params)
    rep = localize.window_report(model, cfg.s_init, cfg.s_target, cfg.eps, cfg.times,
                                 progress=False)
    s = original(model)
    pos = so.first_letter_positions(model, s)
    assert model.length - rep.T_before_C == pos[2] and model.length - rep.T_after_C == pos[2] + 1
    assert rep.theorem2_holds is True
    assert model.describe()["n_strings"] == 1024


BAD_MODELS = [
    ({"template": "a {} b [x|y"}, "model.template"),
    ({"template": "a { b"}, "model.template"),
    ({"template": "a | b {}"}, "model.template"),
    ({"template": "a [x] {}"}, "model.template"),
    ({"template": ""}, "model.template"),
    ({"choices": [["Pirate", "Ninja"]]}, "model.choices"),
    ({"choices": "Pirate"}, "model.choices"),
    ({"choices": [["A", "A"]] * 5}, "model.choices"),
    ({"choices": [["A", ""]] * 5}, "model.choices"),
    ({"initial": [0.5, 0.6]}, "model.initial"),
    ({"initial": [1.0]}, "model.initial"),
    ({"transitions": so.DEFAULT_TRANSITIONS[:3]}, "model.transitions"),
    ({"transitions": [[[0.5, 0.5], [0.5, -0.5]]] + list(so.DEFAULT_TRANSITIONS[1:])},
     r"model.transitions\[0\]\[1\]"),
    ({"variant_probs": so.DEFAULT_VARIANT_PROBS[:4]}, "model.variant_probs"),
    ({"variant_probs": [[0.5, 0.5]] * 4 + [[float("nan"), 1.0]]}, r"model.variant_probs\[4\]"),
    ({"pad": "ab"}, "model.pad"),
    ({"pad": "."}, "model.pad"),
    ({"process": "random_masking"}, "process.kind"),
    ({"order": [0, 1]}, "process.order"),
    ({"process": localize.Truncation(5)}, "process.length"),
    # Two answer tuples giving one string: the answers could not be read off it.
    ({"template": "{}{}", "choices": [["a", "ab"], ["bc", "c"]], "initial": [0.5, 0.5],
      "transitions": [[[0.5, 0.5], [0.5, 0.5]]], "variant_probs": []}, "model.choices"),
]


@pytest.mark.parametrize(("kwargs", "param"), BAD_MODELS)
def test_bad_model_parameters_name_the_parameter(kwargs, param):
    with pytest.raises(LocalizeError, match=param):
        so.structured_output(**kwargs)


def test_bad_estimator_and_query_input():
    model = default()
    s = original(model)
    key = jax.random.key(0)
    with pytest.raises(LocalizeError, match="^s:"):
        so.percent_to_freq(key, model, s + "?", 10)
    with pytest.raises(LocalizeError, match="^s:"):
        so.staircase(model, 3)
    for n in (0, -5, 2.5, True):
        with pytest.raises(LocalizeError, match="n_samples"):
            so.percent_to_freq(key, model, s, n)
    for f in ([], [0.5, 1.5], [[0.1]], ["a"], [float("nan")]):
        with pytest.raises(LocalizeError, match="fractions"):
            so.percent_to_freq(key, model, s, 10, f)
    with pytest.raises(LocalizeError, match="prefix_lengths"):
        so.label_posterior_at_prefix(model, s, [len(s) + 1])
    with pytest.raises(LocalizeError, match="answers"):
        model.component_index((0, 1, 2, 0, 0))
    with pytest.raises(LocalizeError, match="variants"):
        model.render(so.DEFAULT_ORIGINAL, (0, 0))
    with pytest.raises(LocalizeError, match="step_size"):
        so.paper_markers(model, s, 0)
    with pytest.raises(LocalizeError, match="model.bogus"):
        build("structured_output", bogus=1)


# --------------------------------------------------------------------------------------
# the claims of proofs_check.structured


def test_claims_hold_and_can_fail(monkeypatch):
    from proofs_check import structured as ps

    res = ps.structured_output(None)
    assert res.holds and res.instances == len(original()) + 1
    sides = res.detail["side_checks"]
    assert all(v["holds"] for v in sides.values())
    assert {"T_before_C_at_first_letter", "paper_marker_after_brackets",
            "report_label_mass_equals_posterior_at_prefix"} <= set(sides)
    assert res.detail["plateaus"] == [0.0648, 0.108, 0.24, 0.6, 0.8, 1.0]
    est = ps.structured_estimator(None)
    assert est.holds and est.instances == 100 and est.detail["max_abs_z"] < 4
    assert est.to_json()["name"] == "structured_estimator"

    # A wrong closed form, or a band narrower than the sampling noise, is caught.
    monkeypatch.setattr(ps, "_chain_prob", lambda answers, i: 0.5)
    assert not ps.structured_output(None).holds
    monkeypatch.setattr(ps, "ESTIMATOR_Z", 0.01)
    assert not ps.structured_estimator(None).holds
