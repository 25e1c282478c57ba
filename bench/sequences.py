"""Benchmark of the sequence scans (issue 4), run by ``make bench``.

Case S1, prefix label posteriors of long Markov chains: ``K = 32`` random chains of order 1
over ``V = 64`` tokens (:func:`synthetic.markov_mixture.random_markov`, Dirichlet(0.5) rows),
``n = 1024`` sequences of ``L = 10^4`` tokens drawn from the mixture, and the label
posterior ``pi_t(theta | x_{1:l}) = softmax(log w + log p^theta(x_{1:l}))`` at every 100th
prefix length ``l = 100, 200, ..., 10^4`` (100 truncation times), as the window report of a
truncation process needs it. Ours is :meth:`MarkovMixture.log_prefix` (one pass over the
positions writing the ``(n, K)`` carry at the requested lengths) and a jitted
``log_softmax``; the baseline is the same computation in plain NumPy, a Python loop over
the ``L`` positions vectorised over sequences and components. The first call (compilation
included) is its own row; the two must agree to 1e-10 on every posterior probability.

Case S2, the whole window report of the same mixture under truncation at every 100th time
(101 times, ``S_init = {0}``, ``S_target = {0, 1}``, ``eps = 0.1``). These chains are far too
long to enumerate, so every curve is a Monte Carlo mean over ``S2_SAMPLES`` sequences per
curve with exact prefix densities (:mod:`localize.sequence_estimate`): one pass over the
positions serves all 101 times, and each threshold is refined to an exact integer time by
further passes over the same sequences. There is no NumPy baseline for the whole report;
the row says how long it takes (the issue asks for under 30 s on two cores).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import localize  # noqa: F401  (float64 before any array is made)
from bench.timing import best, once, row, say
from localize.continuous import EstimateConfig
from synthetic.markov_mixture import random_markov

S1_COMPONENTS, S1_ALPHABET, S1_LENGTH, S1_EVERY, S1_SEQUENCES = 32, 64, 10_000, 100, 1024
TOLERANCE = 1e-10
S2_SAMPLES = 1024


def numpy_prefix_posteriors(log_w, log_init, log_trans, tokens, lengths):
    """Log label posteriors of prefixes, plainly in NumPy (the baseline of case S1).

    Args:
        log_w: ``(K,)`` log weights.
        log_init: ``(K, V)`` log laws of the first token.
        log_trans: ``(K, V, V)`` log transition matrices.
        tokens: ``(n, L)`` integer tokens.
        lengths: increasing prefix lengths in ``1..L``.

    Returns:
        ``(n, m, K)`` log posteriors ``log pi(theta | x_{1:l})``.
    """
    k, v = log_trans.shape[0], log_trans.shape[-1]
    flat = log_trans.reshape(k, v * v).T  # row (previous token, next token) -> (K,)
    n, length = tokens.shape
    out = np.empty((n, len(lengths), k))
    acc = log_init[:, tokens[:, 0]].T.copy()
    q = 0
    for j in range(1, length + 1):
        if j > 1:
            acc += flat[tokens[:, j - 2] * v + tokens[:, j - 1]]
        while q < len(lengths) and lengths[q] == j:
            z = log_w[None] + acc
            top = z.max(axis=1, keepdims=True)
            out[:, q] = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
            q += 1
    return out


@jax.jit
def _posteriors(log_weights, log_prefix):
    return jax.nn.log_softmax(log_weights + log_prefix, axis=-1)


def prefix_posteriors(model, tokens, lengths):
    """``(n, m, K)`` log label posteriors of the prefixes, from one pass over positions.

    Two jitted calls, as a user makes them: the model's ``log_prefix`` and a
    ``log_softmax``. (Traced as one function they measured about 10% slower: XLA then
    schedules the softmax against the pass's buffer.)
    """
    return _posteriors(model.log_weights, model.log_prefix(tokens, lengths))


def case_prefix_posteriors(repeats: int, baseline_repeats: int) -> list[dict]:
    """Case S1: K = 32 chains, V = 64, L = 10^4, n = 1024, posteriors at 100 lengths."""
    k, v, length, n = S1_COMPONENTS, S1_ALPHABET, S1_LENGTH, S1_SEQUENCES
    model = random_markov(jax.random.key(5), k, v, length)
    say(f"case S1: drawing {n} sequences of {length} tokens ...")
    labels = jnp.arange(n, dtype=jnp.int32) % k
    tokens = jax.block_until_ready(model.sample(jax.random.key(6), labels))
    lengths = jnp.arange(S1_EVERY, length + 1, S1_EVERY, dtype=jnp.int32)

    def run():
        return np.asarray(prefix_posteriors(model, tokens, lengths))

    say("case S1: prefix posteriors, first call (compiles) and warm repetitions ...")
    first, _ = once(run)
    warm, ours = best(run, repeats)
    say(f"case S1: NumPy loop over positions, {baseline_repeats} repetition(s) ...")
    args = (np.asarray(model.log_weights), np.asarray(model.log_init),
            np.asarray(model.log_trans), np.asarray(tokens), np.asarray(lengths))
    base, theirs = best(lambda: numpy_prefix_posteriors(*args), baseline_repeats)
    diff = float(np.max(np.abs(np.exp(ours) - np.exp(theirs))))
    if not diff <= TOLERANCE:
        raise SystemExit(f"error: bench: the prefix posteriors differ by {diff:.3g} "
                         f"(expected at most {TOLERANCE:g})")
    name = (f"prefix posteriors K{k} V{v} L{length}, n = {n}, "
            f"{lengths.size} lengths")
    baseline = "numpy, loop over positions"
    return [
        row(name + " (first call, with compile)", first, baseline, base, diff),
        row(name, warm, baseline, base, diff),
    ]


def case_window_report(repeats: int) -> list[dict]:
    """Case S2: the Monte Carlo window report of case S1's mixture, 101 truncation times."""
    k, v, length = S1_COMPONENTS, S1_ALPHABET, S1_LENGTH
    times = np.arange(0, length + 1, S1_EVERY, dtype=np.float64)
    config = EstimateConfig(samples=S2_SAMPLES, seed=0)

    def run():
        # A new model object each time: the drawn sequences kept on a model would make a
        # repeated report on the same object skip its draws, which is not a warm run.
        model = random_markov(jax.random.key(5), k, v, length)
        return localize.window_report(model, [0], [0, 1], 0.1, times, progress=False,
                                      estimate=config)

    say("case S2: Monte Carlo window report, first call (compiles) and warm repetitions ...")
    first, _ = once(run)
    warm, report = best(run, repeats)
    name = (f"window report K{k} V{v} L{length}, truncation, {times.size} times, "
            f"{S2_SAMPLES} sequences per curve (T_after_C = {report.T_after_C}, "
            f"T_end = {report.T_end})")
    return [row(name + " (first call, with compile)", first), row(name, warm)]


if __name__ == "__main__":
    from bench.run import table

    print(table(case_prefix_posteriors(3, 1) + case_window_report(1)))
