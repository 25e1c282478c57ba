"""``make bench``: time the exact window report against a dense NumPy baseline.

The Gaussian-mixture cases (G1, G2) are described in :mod:`bench.gaussian`, the sequence
cases (S1, S2) in :mod:`bench.sequences`, the planted-signal case (P1) in :mod:`bench.planted`.

Case 1 computes every per-time curve of :func:`localize.window_report` for a random finite
mixture (K = 8, A = 2, L = 10) under random masking at 11 times, and the same curves with a
plain NumPy implementation that builds the dense ``|X| x |Y| = 1024 x 59049`` kernel matrix
at each time. The two must agree to 1e-10. Case 2 (K = 8, A = 4, L = 9, so ``|Y| = 5^9``)
is ours alone; a dense kernel would have ``4^9 * 5^9 = 5 * 10^11`` entries.

Our side is timed after a warm-up call (the first call, which compiles, is its own row);
every time is the best of a few repetitions of ``time.perf_counter``. Writes ``bench.json``
(a list of ``{name, seconds, baseline, baseline_seconds, speedup, max_abs_diff}``) and
prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import reduce

import jax
import numpy as np

import localize
import synthetic
from bench import gaussian, planted, sequences
from bench.timing import best as _best
from bench.timing import once as _once
from bench.timing import row as _row
from bench.timing import say as _say

CURVES = (
    "tv_init_target",
    "tv_target_rest",
    "tv_init_rest",
    "fr_tv_target",
    "fr_tv_init",
    "fr_tv_full",
    "label_mass_target",
)
TOLERANCE = 1e-10
BASELINE = "numpy, dense kernel matrices"


def dense_kernel(t: float, alphabet: int, length: int) -> np.ndarray:
    """``K_t[x, y] = P(Y_t = y | X = x)`` for independent masking at rate ``t``, dense.

    Outcomes are in lexicographic order (first coordinate most significant); symbol
    ``alphabet`` of ``y`` means masked. The per-coordinate ``A x (A+1)`` kernel is
    ``[(1 - t) I | t 1]`` and the full kernel is its ``L``-fold Kronecker power.
    """
    one = np.hstack([(1.0 - t) * np.eye(alphabet), np.full((alphabet, 1), t)])
    return reduce(np.kron, [one] * length)


def _tv(p, q) -> float:
    return 0.5 * float(np.abs(p - q).sum())


def _sub(weights, table, mask):
    w = np.where(mask, weights, 0.0)
    return (w / w.sum()) @ table


def dense_curves(weights, pmfs, alphabet, length, s_init, s_target, times) -> dict:
    """The curves of the window report, from dense kernels (the baseline).

    Args:
        weights: ``(K,)`` mixture weights.
        pmfs: ``(K, A^L)`` component pmfs.
        alphabet: ``A``.
        length: ``L``.
        s_init: component indices of ``S_init``.
        s_target: component indices of ``S_target``.
        times: masking rates in [0, 1].

    Returns:
        Curve name -> ``(n_times,)`` array, named as in :class:`localize.WindowReport`.
    """
    k = weights.size
    init = np.isin(np.arange(k), s_init)
    target = np.isin(np.arange(k), s_target)
    clean_full = weights @ pmfs
    clean_init = _sub(weights, pmfs, init)
    clean_target = _sub(weights, pmfs, target)
    out = {name: [] for name in CURVES}
    for t in times:
        kernel = dense_kernel(float(t), alphabet, length)
        noised = pmfs @ kernel
        p_init = _sub(weights, noised, init)
        p_target = _sub(weights, noised, target)
        p_rest_t = _sub(weights, noised, ~target)
        p_rest_i = _sub(weights, noised, ~init)
        p_full = weights @ noised
        support = p_full > 0
        safe = np.where(support, p_full, 1.0)
        ratio = np.where(support, p_init / safe, 0.0)
        # Definition 3: p^{S,t}(x) = p(x) sum_y K_t(y|x) p_t^S(y) / p_t(y).
        fr_law = clean_full * (kernel @ ratio)
        post_target = np.where(support, (np.where(target, weights, 0.0) @ noised) / safe, 0.0)
        out["tv_init_target"].append(_tv(p_init, p_target))
        out["tv_target_rest"].append(_tv(p_target, p_rest_t))
        out["tv_init_rest"].append(_tv(p_init, p_rest_i))
        out["fr_tv_target"].append(_tv(fr_law, clean_target))
        out["fr_tv_init"].append(_tv(fr_law, clean_init))
        out["fr_tv_full"].append(_tv(fr_law, clean_full))
        out["label_mass_target"].append(float(p_init @ post_target))
        del kernel, noised
    return {name: np.asarray(v) for name, v in out.items()}


def _instance(seed, k, alphabet, length):
    return synthetic.random_finite(jax.random.key(seed), k, alphabet, length,
                                   process="random_masking")


def case_dense(repeats: int, baseline_repeats: int) -> list[dict]:
    """Case 1: K = 8, A = 2, L = 10, random masking at 11 times, against dense NumPy."""
    k, a, length = 8, 2, 10
    model = _instance(0, k, a, length)
    s_init, s_target, eps = [0], [0, 1, 2, 3], 0.1
    times = np.linspace(0.0, 1.0, 11)
    run = lambda: localize.window_report(model, s_init, s_target, eps, times,  # noqa: E731
                                         progress=False)
    _say("case 1: window_report, first call (compiles) and warm repetitions ...")
    first, _ = _once(run)
    warm, report = _best(run, repeats)
    _say(f"case 1: dense NumPy baseline, {baseline_repeats} repetition(s) ...")
    weights = np.exp(np.asarray(model.log_weights))
    pmfs = np.exp(np.asarray(model.log_pmfs)).reshape(k, -1)
    base, dense = _best(
        lambda: dense_curves(weights, pmfs, a, length, s_init, s_target, times),
        baseline_repeats,
    )
    ours = report.to_json()
    diff = max(float(np.max(np.abs(np.asarray(ours[c]) - dense[c]))) for c in CURVES)
    if not diff <= TOLERANCE:
        raise SystemExit(f"error: bench: the report and the dense baseline differ by {diff:.3g}"
                         f" (expected at most {TOLERANCE:g})")
    name = f"window_report K{k} A{a} L{length} random masking, {times.size} times"
    return [
        _row(name + " (first call, with compile)", first, BASELINE, base, diff),
        _row(name, warm, BASELINE, base, diff),
    ]


def case_large(repeats: int) -> list[dict]:
    """Case 2: K = 8, A = 4, L = 9 (|Y| = 5^9), random masking at 11 times, ours only."""
    k, a, length = 8, 4, 9
    model = _instance(1, k, a, length)
    times = np.linspace(0.0, 1.0, 11)
    run = lambda: localize.window_report(model, [0], [0, 1, 2, 3], 0.1, times,  # noqa: E731
                                         progress=False)
    _say("case 2: window_report, first call (compiles) and warm repetitions ...")
    first, _ = _once(run)
    warm, _ = _best(run, repeats)
    name = f"window_report K{k} A{a} L{length} random masking, {times.size} times"
    return [_row(name + " (first call, with compile)", first), _row(name, warm)]


def _fmt(v, spec) -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    """The rows as a fixed-width table."""
    width = max(len(r["name"]) for r in rows)
    head = (f"{'case':<{width}}  {'seconds':>9}  {'baseline s':>10}  {'speedup':>8}  "
            f"{'max diff':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        speedup = "-" if r["speedup"] is None else f"{r['speedup']:.1f}x"
        lines.append(
            f"{r['name']:<{width}}  {r['seconds']:>9.4f}  "
            f"{_fmt(r['baseline_seconds'], '.3f'):>10}  {speedup:>8}  "
            f"{_fmt(r['max_abs_diff'], '.1e'):>9}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run both cases, write the JSON file and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench.json", help="where to write the rows")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of our side")
    parser.add_argument("--baseline-repeats", type=int, default=2,
                        help="repetitions of the dense baseline")
    args = parser.parse_args(argv)
    rows = case_dense(args.repeats, args.baseline_repeats) + case_large(max(1, args.repeats // 2))
    rows += gaussian.case_example1_dimension(args.repeats)
    rows += gaussian.case_mc_label_law(max(1, args.repeats // 2), 1)
    rows += sequences.case_prefix_posteriors(args.repeats, args.baseline_repeats)
    rows += sequences.case_window_report(max(1, args.repeats // 2))
    rows += planted.case_planted(args.repeats, args.baseline_repeats)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    print(table(rows))
    print(f"\nwrote {args.out}; devices: {', '.join(str(d) for d in jax.devices())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
