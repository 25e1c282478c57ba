"""Benchmark of the planted sparse regression likelihood ratio (issue 5), run by ``make bench``.

Case P1: the exact ``log LR`` of ``10^3`` datasets of ``n = 50`` observations in ``s = 40``
with ``k = 3`` (``C(40, 3) = 9880`` supports), against a NumPy implementation of the same
enumeration that loops over the supports in chunks of the same size (the supports of a chunk
by fancy indexing into the sufficient statistics, a log-sum-exp carried across chunks). Both
start from the raw data, so the sufficient statistics are part of the cost; they must agree
to 1e-9.

Memory: the NumPy side is measured with ``tracemalloc`` (its peak is the chunk's
``(D, chunk, k, k)`` gather plus the statistics). The JAX side holds the statistics
(``D s^2`` floats for the table of pair energies) and, per step of the scan, the chunk's supports
and its ``(chunk, D)`` energies; nothing has a ``C(s, k)`` axis, so its memory is set by the
chunk (see :func:`synthetic.planted._enumerate`).
"""

from __future__ import annotations

import itertools
import math
import tracemalloc

import jax
import numpy as np

import localize  # noqa: F401  (float64 before any array is made)
from bench.timing import best as _best
from bench.timing import once, row, say
from synthetic import planted

P1_S, P1_K, P1_SIGMA2, P1_N, P1_DATASETS, P1_CHUNK = 40, 3, 0.5, 50, 1000, 1024


def numpy_log_lr(X, y, k, sigma2, chunk):
    """``log LR`` of a batch of datasets, plainly in NumPy (the baseline of case P1).

    Args:
        X: ``(D, n, s)`` designs.
        y: ``(D, n)`` responses.
        k: sparsity.
        sigma2: noise variance.
        chunk: supports per step of the loop.

    Returns:
        ``(D,)`` log likelihood ratios.
    """
    d, n, s = X.shape
    xty = np.einsum("dns,dn->ds", X, y)
    gram = np.einsum("dns,dnt->dst", X, X)
    yty = np.sum(y * y, axis=1)
    supports = itertools.combinations(range(s), k)
    total = np.full(d, -np.inf)
    while True:
        block = np.array(list(itertools.islice(supports, chunk)), dtype=np.intp)
        if block.size == 0:
            break
        lin = xty[:, block].sum(axis=2)
        quad = gram[:, block[:, :, None], block[:, None, :]].sum(axis=(2, 3))
        logits = -(yty[:, None] - 2.0 * lin + quad) / (2.0 * sigma2)
        top = np.maximum(total, logits.max(axis=1))
        total = top + np.log(np.exp(total - top) + np.exp(logits - top[:, None]).sum(axis=1))
    count = math.comb(s, k)
    log_null = -0.5 * yty / (k + sigma2) - 0.5 * n * np.log(2 * np.pi * (k + sigma2))
    log_planted = total - np.log(count) - 0.5 * n * np.log(2 * np.pi * sigma2)
    return log_planted - log_null


def case_planted(repeats: int, baseline_repeats: int) -> list[dict]:
    """Case P1: exact log LR, 10^3 datasets, n = 50, C(40, 3) = 9880 supports."""
    model = planted.PlantedRegression(P1_S, P1_K, P1_SIGMA2, P1_N, chunk=P1_CHUNK)
    # Half planted, half null: the ratio spans both tails.
    X1, y1, _ = planted.sample_planted(jax.random.key(0), model, P1_DATASETS // 2)
    X0, y0 = planted.sample_null(jax.random.key(1), model, P1_DATASETS // 2)
    X = np.concatenate([np.asarray(X1), np.asarray(X0)])
    y = np.concatenate([np.asarray(y1), np.asarray(y0)])

    def run():
        return np.asarray(planted.log_likelihood_ratio(model, X, y))

    say("case P1: planted log LR, first call (compiles) and warm repetitions ...")
    first, _ = once(run)
    warm, ours = _best(run, repeats)
    say(f"case P1: NumPy baseline, {baseline_repeats} repetition(s) ...")
    base, theirs = _best(lambda: numpy_log_lr(X, y, P1_K, P1_SIGMA2, P1_CHUNK),
                         baseline_repeats)
    tracemalloc.start()
    numpy_log_lr(X, y, P1_K, P1_SIGMA2, P1_CHUNK)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    say(f"case P1: NumPy peak traced memory {peak / 2**20:.1f} MiB (data itself "
        f"{(X.nbytes + y.nbytes) / 2**20:.1f} MiB, not counted)")
    diff = float(np.max(np.abs(ours - theirs)))
    if diff > 1e-9:
        raise SystemExit(f"error: bench: the log likelihood ratios differ by {diff:.2e} "
                         "(expected at most 1e-9)")
    name = (f"planted log LR, {P1_DATASETS} datasets x n{P1_N}, "
            f"C({P1_S},{P1_K}) = {model.n_supports} supports, chunk {P1_CHUNK}")
    base_name = "numpy, same enumeration in chunks"
    return [
        row(name + " (first call, with compile)", first, base_name, base, diff),
        row(name, warm, base_name, base, diff),
    ]


if __name__ == "__main__":
    from bench.run import table

    print(table(case_planted(3, 1)))
