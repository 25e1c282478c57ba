"""Benchmarks of the Gaussian-mixture path (issue 3), run by ``make bench``.

Case G1, dimension does not matter: the whole window report of Example 1 (two components
``N(+-mu, I)``, ``||mu|| = 6.3``, OU, 64 times) in ``d = 10^6`` against the same report in
``d = 10``. The span reduction projects once onto the line of the means and computes there,
so the two must cost about the same (the issue asks for at most 2x) and give the same
numbers.

Case G2, Monte Carlo label law: ``P(label(X^{A,t}) = theta) = E_{Y ~ p_t^A}[pi_t(theta | Y)]``
for ``K = 64`` random means in ``d = 512``, ``10^5`` samples per time, 64 times, against a
straightforward NumPy implementation of the same estimator (labels, then ``Y`` in ``R^d``,
then the exact posterior by a log-sum-exp over the components, at each time). Ours projects
onto the span of the means (``r = 63``), draws the standard normals once and reuses them at
every time (common random numbers), all in one jitted computation. Both are unbiased with
the same number of samples per time; they are compared through their standard errors.
"""

from __future__ import annotations

import jax
import numpy as np

import localize
import synthetic
from bench.timing import best as _best
from bench.timing import once, row, say
from localize.continuous import EstimateConfig
from localize.posterior import log_set_weights

G2_COMPONENTS, G2_DIM, G2_SAMPLES, G2_TIMES = 64, 512, 100_000, 64


def numpy_label_law(rng, means, weights, init, variance, ve_vars, samples):
    """The Monte Carlo label law, plainly in NumPy (the baseline of case G2).

    Args:
        rng: a ``numpy.random.Generator``.
        means: ``(K, d)`` means.
        weights: ``(K,)`` weights.
        init: ``(K,)`` boolean mask of ``A``.
        variance: the shared isotropic variance ``s^2``.
        ve_vars: the normalised noise variances ``v(t)``, one per time.
        samples: draws per time.

    Returns:
        ``(value, se)``, each ``(n_times, K)``.
    """
    a = np.where(init, weights, 0.0)
    a = a / a.sum()
    sq_means = np.sum(means**2, axis=1)
    values, ses = [], []
    for v in ve_vars:
        labels = rng.choice(means.shape[0], size=samples, p=a)
        var = variance + v
        y = means[labels] + np.sqrt(var) * rng.standard_normal((samples, means.shape[1]))
        sq = np.sum(y**2, axis=1)[:, None] - 2.0 * y @ means.T + sq_means[None]
        logits = np.log(weights)[None] - 0.5 * sq / var
        logits -= logits.max(axis=1, keepdims=True)
        post = np.exp(logits)
        post /= post.sum(axis=1, keepdims=True)
        values.append(post.mean(axis=0))
        ses.append(post.std(axis=0, ddof=1) / np.sqrt(samples))
    return np.asarray(values), np.asarray(ses)


def case_example1_dimension(repeats: int) -> list[dict]:
    """Case G1: Example 1's report in d = 10^6 against d = 10 (64 times)."""
    times = np.linspace(0.0, 6.0, 64)
    reports, secs = {}, {}
    for dim in (10, 1_000_000):
        say(f"case G1: Example 1 window report in d = {dim} ...")

        def run(dim=dim):
            # Building the model is part of the cost: it holds the d-dimensional means.
            model = synthetic.build("gaussian_mixture", means_from="two_symmetric", norm=6.3,
                                    dim=dim, process="ou")
            return localize.window_report(model, [0], [0, 1], 0.1, times, progress=False)

        run()  # compile (the two dimensions share one compilation after the reduction)
        secs[dim], reports[dim] = _best(run, repeats)
    a, b = reports[10].to_json(), reports[1_000_000].to_json()
    diff = max(float(np.max(np.abs(np.asarray(a[c]) - np.asarray(b[c]))))
               for c in ("tv_init_target", "tv_init_rest", "fr_tv_init", "fr_tv_full",
                         "label_mass_target"))
    name = f"Example 1 window report, OU, {times.size} times"
    return [
        row(f"{name}, d = 10", secs[10]),
        row(f"{name}, d = 10^6 (baseline: same report in d = 10)", secs[1_000_000],
            "ours in d = 10", secs[10], diff),
    ]


def case_mc_label_law(repeats: int, baseline_repeats: int) -> list[dict]:
    """Case G2: Monte Carlo label law, K = 64, d = 512, 10^5 samples, 64 times."""
    means = synthetic.gaussian_mixture.random_means(jax.random.key(3), G2_COMPONENTS, G2_DIM)
    model = synthetic.gaussian_mixture.gaussian_mixture(means, process="ou")
    times = np.linspace(0.0, 4.0, G2_TIMES)
    init = np.zeros(G2_COMPONENTS, dtype=bool)
    init[0] = True
    log_init = log_set_weights(model.log_weights, init)
    config = EstimateConfig(samples=G2_SAMPLES, seed=0)
    key = jax.random.key(0)

    def run():
        est = model.fr_label_law(key, times, log_init, config)
        return np.asarray(est.value), np.asarray(est.se)

    say("case G2: Monte Carlo label law, first call (compiles) and warm repetitions ...")
    first, _ = once(run)
    warm, (ours, ours_se) = _best(run, repeats)
    say(f"case G2: NumPy baseline, {baseline_repeats} repetition(s) ...")
    ve = np.expm1(2.0 * times)
    weights = np.full(G2_COMPONENTS, 1.0 / G2_COMPONENTS)
    base, (theirs, theirs_se) = _best(
        lambda: numpy_label_law(np.random.default_rng(0), means, weights, init, 1.0, ve,
                                G2_SAMPLES),
        baseline_repeats,
    )
    # Two independent unbiased estimates: their difference, in joint standard errors.
    z = np.abs(ours - theirs) / np.sqrt(ours_se**2 + theirs_se**2 + 1e-300)
    if np.max(z) > 6.0:
        raise SystemExit(f"error: bench: the label laws differ by {np.max(z):.1f} standard "
                         "errors (expected at most 6)")
    name = (f"MC label law K{G2_COMPONENTS} d{G2_DIM}, {G2_SAMPLES:.0e} samples x "
            f"{G2_TIMES} times")
    base_name = "numpy, same estimator in R^d"
    diff = float(np.max(np.abs(ours - theirs)))
    return [
        row(name + " (first call, with compile)", first, base_name, base, diff),
        row(name, warm, base_name, base, diff),
    ]
