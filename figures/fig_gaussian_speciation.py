"""Speciation by cloning (Biroli & Mezard; Biroli, Bonnaire, de Bortoli, Mezard 2024), exactly.

Data ``p = 1/2 N(+mu, I_d) + 1/2 N(-mu, I_d)`` (Example 1 of [LKC25]) for two values of
``||mu||``. The physics literature measures the *speciation time* by cloning: take
``X_0 ~ p``, run the forward process to ``Y_t``, then run two independent copies of the
reverse SDE from the same ``Y_t`` down to ``t = 0`` and record whether both land in the same
class. Its probability is exactly

    ``P_same(t) = E_{Y ~ p_t}[sum_theta pi_t(theta | Y)^2]
               = sum_theta w_theta P(label(X^{theta,t}) = theta)``

(the two clones are independent draws of ``X | Y_t``; the second form is Fubini with
``p_t pi_t(theta | .) = w_theta p_t^theta``), i.e. the weighted forward-reverse label laws of
Definition 3, which the figure computes by exact quadrature (``fr_label_law``; the span of the
means is one-dimensional) and checks against an independent ``scipy.integrate.quad`` oracle.

**Cloning estimate.** In the reduced coordinate ``x = <X, mu> / ||mu||`` (exact: the
orthogonal coordinates are independent OU processes that never enter the score's class
information or the classification), ``X_0 = +-||mu|| + N(0, 1)``,
``Y_t = e^{-t} X_0 + sqrt(1 - e^{-2t}) N(0, 1)``, and the reverse SDE of
``dX = -X dt + sqrt(2) dB`` is run backwards in time ``s`` from ``t`` to ``0`` by
Euler-Maruyama with ``steps`` equal steps,

    ``x <- x + h (x + 2 grad log p_s(x)) + sqrt(2 h) xi``,
    ``grad log p_s(x) = a_s tanh(a_s x) - x``,  ``a_s = ||mu|| e^{-s}``,

the exact score of the noised mixture ``1/2 N(+-a_s, 1)``. Each endpoint is classified by the
sign of ``<x, mu>``; the fraction of the ``n`` clone pairs that agree is reported with its
binomial standard error, at a subset of the exact curve's own time grid.

Biroli-Mezard's forward process is ``dx = -x dt + d eta`` with ``<eta eta> = 2 delta``, i.e.
the paper's OU ``dX = -X dt + sqrt(2) dB``: times map identically, and their speciation time
``t_S = 1/2 log(Lambda)`` with ``Lambda = 1 + ||mu||^2`` the top eigenvalue of the data
covariance is marked, together with the exact critical window of Definition 4
(``S_after = {+1}``, ``S_before = Theta``), from the exact TV hooks by root finding
(:func:`figures.fig_gaussian_example2.definition4`, the meaning of
:func:`localize.window_report` without its forward-reverse TV curves).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from figures import _common

NAME = "gaussian_speciation"
SOURCES = (*_common.GAUSSIAN_SOURCES, "figures/fig_gaussian_example2.py")


def params(fast: bool) -> dict:
    """Norms, eps, the exact grid, the cloning subset, pairs and Euler-Maruyama steps."""
    return {
        "fast": bool(fast),
        "seed": 2024,
        "norms": [10.0, 100.0],
        "eps": 0.1,
        "dim": 1000,  # only names the ambient model; every curve is computed in its span
        "t_max": 8.0,
        "n_times": 41 if fast else 161,
        "clone_every": 4 if fast else 10,  # clone at every k-th time of the exact grid
        "clone_pairs": 500 if fast else 4000,
        "clone_steps": 100 if fast else 200,
    }


def _clone_agreement(key, ts, norm, n: int, steps: int):
    """Fraction of ``n`` clone pairs that end in the same class, for every time in ``ts``."""
    return _clone_fn()(key, ts, norm, n, steps)


@functools.cache
def _clone_fn():
    """The jitted cloning experiment (built on first use, so importing stays cheap)."""
    import jax
    import jax.numpy as jnp

    def one(k, t, norm, n, steps):
        k_lab, k_x, k_noise = jax.random.split(k, 3)
        label = jnp.where(jax.random.bernoulli(k_lab, 0.5, (n,)), 1.0, -1.0)
        g = jax.random.normal(k_x, (2, n), dtype=jnp.float64)
        x0 = label * norm + g[0]
        y = jnp.exp(-t) * x0 + jnp.sqrt(-jnp.expm1(-2.0 * t)) * g[1]
        h = t / steps
        xi = jax.random.normal(k_noise, (steps, 2, n), dtype=jnp.float64)

        def step(x, inp):
            i, z = inp
            a = norm * jnp.exp(-(t - i * h))  # a_s at the start of the step, s = t - i h
            # x + 2 score = x + 2 (a tanh(a x) - x) = 2 a tanh(a x) - x
            return x + h * (2.0 * a * jnp.tanh(a * x) - x) + jnp.sqrt(2.0 * h) * z, None

        x, _ = jax.lax.scan(step, jnp.stack([y, y]), (jnp.arange(steps), xi))
        return jnp.mean((jnp.sign(x[0]) == jnp.sign(x[1])).astype(jnp.float64))

    @functools.partial(jax.jit, static_argnames=("n", "steps"))
    def agreement(key, ts, norm, n, steps):
        # One time at a time (lax.map): memory stays at steps * 2n normals.
        return jax.lax.map(lambda args: one(*args, norm, n, steps),
                           (jax.random.split(key, ts.shape[0]), ts))

    return agreement


def p_same_1d(norm: float, ts) -> np.ndarray:
    """NumPy/SciPy oracle: ``E_{y~N(a,1)}[sigmoid(2 a y)]``, ``a = ||mu|| e^{-t}``.

    For two symmetric classes ``P_same = P(label(X^{+1,t}) = +1)``, this expectation;
    ``scipy.integrate.quad`` with a break at the switch ``y = 0`` (no code shared with JAX).
    """
    from scipy.integrate import quad
    from scipy.special import expit
    from scipy.stats import norm as gauss

    out = []
    for t in np.asarray(ts, dtype=np.float64):
        a = norm * math.exp(-t)
        lo, hi = a - 40.0, a + 40.0
        val, _ = quad(lambda y, a=a: gauss.pdf(y - a) * expit(2.0 * a * y), lo, hi,
                      points=[0.0] if lo < 0.0 < hi else None, limit=200,
                      epsabs=1e-15, epsrel=1e-13)
        out.append(val)
    return np.asarray(out)


def compute(fast: bool) -> dict:
    """Exact ``P_same`` (quadrature), the window report, and the cloning estimate per norm."""
    import jax
    import jax.numpy as jnp

    from figures.fig_gaussian_example2 import definition4
    from localize.continuous import EstimateConfig
    from localize.posterior import log_set_weights
    from synthetic.gaussian_mixture import gaussian_mixture, two_symmetric_means

    p = params(fast)
    times = np.linspace(0.0, p["t_max"], p["n_times"])
    idx = np.arange(p["clone_every"], p["n_times"], p["clone_every"])
    out: dict = {"params": p, "times": times, "clone_idx": idx}
    rows = {k: [] for k in ("T_after_C", "T_before_C", "t_S", "max_dev_oracle",
                            "max_abs_z", "chi2")}
    root = jax.random.key(p["seed"])
    for j, norm in enumerate(_common.progress(p["norms"], "speciation")):
        model = gaussian_mixture(two_symmetric_means(norm, p["dim"]), process="ou").reduced()
        lw = model.log_weights
        p_same = np.zeros_like(times)
        for theta in range(2):
            mask = np.arange(2) == theta
            law = model.fr_label_law(jax.random.key(0), times,
                                     np.asarray(log_set_weights(lw, mask)), EstimateConfig())
            p_same += math.exp(float(lw[theta])) * np.asarray(law.value)[:, theta]
        centre = math.log(norm)
        win = definition4(model, [0], [0, 1], p["eps"],
                          {"after": (centre - 1.5, centre + 0.5),
                           "end": (centre + 0.5, centre + 2.5)}, rounds=3)
        key = f"norm{j}"
        out[f"{key}_p_same"] = p_same
        rows["max_dev_oracle"].append(float(np.max(np.abs(
            p_same - p_same_1d(norm, times)))))
        rows["T_after_C"].append(win["T_after_C"])
        rows["T_before_C"].append(win["T_before_C"])
        rows["t_S"].append(0.5 * math.log1p(norm**2))
        frac = np.asarray(_clone_agreement(jax.random.fold_in(root, j),
                                           jnp.asarray(times[idx]), norm,
                                           p["clone_pairs"], p["clone_steps"]))
        n = p["clone_pairs"]
        exact = p_same[idx]
        out[f"{key}_clone"] = frac
        out[f"{key}_clone_se"] = np.sqrt(frac * (1.0 - frac) / n)
        # z-scores against the exact curve with the binomial se under the exact probability;
        # the chi^2 uses the times where the normal approximation holds (n min(p, 1-p) >= 5).
        se0 = np.sqrt(exact * (1.0 - exact) / n)
        z = np.where(se0 > 0, (frac - exact) / np.where(se0 > 0, se0, 1.0), 0.0)
        normal = n * np.minimum(exact, 1.0 - exact) >= 5.0
        out[f"{key}_z"] = z
        out[f"{key}_normal"] = normal
        rows["max_abs_z"].append(float(np.max(np.abs(z[normal]), initial=0.0)))
        rows["chi2"].append(float(np.sum(z[normal] ** 2)))
        out[f"{key}_dof"] = np.asarray(int(np.sum(normal)))
    out["norms"] = np.asarray(p["norms"])
    for k, v in rows.items():
        out[k] = np.asarray(v, dtype=np.float64)
    return out


def plot(data: dict, out_dir=None):
    """Top: exact ``P_same`` and the cloning estimate; bottom: residuals in standard errors."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colors = _common.style()
    p = data["params"]
    t = data["times"]
    idx = data["clone_idx"]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(12.5, 8.6), height_ratios=[2.6, 1],
                                 sharex=True)
    fig.subplots_adjust(hspace=0.08)
    per_norm = []
    for j, norm in enumerate(data["norms"]):
        c = colors[0] if j == 0 else colors[3]
        key = f"norm{j}"
        ta, tb, ts = (float(data[k][j]) for k in ("T_after_C", "T_before_C", "t_S"))
        for axis in (ax, bx):
            axis.axvspan(ta, tb, color=c, alpha=0.10, lw=0)
            axis.axvline(ts, color=c, ls="--", lw=1.6)
        ax.plot(t, data[f"{key}_p_same"], color=c, lw=2.2)
        ax.errorbar(t[idx], data[f"{key}_clone"], yerr=2 * data[f"{key}_clone_se"],
                         fmt="o", ms=5, mfc="white", mec=c, ecolor=c, capsize=2.5, lw=1.1,
                         zorder=5)
        normal = data[f"{key}_normal"]
        tz = t[idx] + (j - 0.5) * 0.04
        bx.plot(tz[normal], data[f"{key}_z"][normal], "o", color=c, ms=5)
        bx.plot(tz[~normal], data[f"{key}_z"][~normal], "o", color=c, ms=5, mfc="white")
        box = {"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85}
        ax.text(ts + 0.06, 0.432, rf"$t_S = {ts:.3f}$", color=c, fontsize=9.5, va="bottom",
                bbox=box)
        ax.text((ta + tb) / 2, 1.035, f"exact window [{ta:.2f}, {tb:.2f}]", ha="center",
                va="bottom", color=c, fontsize=9, bbox=box)
        per_norm.append([
            Line2D([], [], color=c, lw=2.2,
                   label=rf"$\|\mu\| = {norm:g}$: exact $P_{{same}}(t)$ (quadrature)"),
            Line2D([], [], color=c, ls="none", marker="o", mfc="white", mec=c,
                   label=rf"$\|\mu\| = {norm:g}$: cloning, $n = {p['clone_pairs']:,}$ pairs "
                         r"($\pm 2$ se); "
                         rf"$\chi^2 = {float(data['chi2'][j]):.1f}$ on "
                         rf"{int(data[f'{key}_dof'])} times"),
        ])
    extra = [
        Line2D([], [], color="0.3", ls="--", lw=1.6,
               label=r"speciation time $t_S = \frac{1}{2}\ln\Lambda$, $\Lambda = 1 + \|\mu\|^2$"
                     " (Biroli et al.)"),
        plt.Rectangle((0, 0), 1, 1, color="0.5", alpha=0.25,
                      label=r"exact window $[T^C_{after}, T^C_{before}]$, "
                            r"$S_{after} = \{+1\}$, $\varepsilon = " f"{p['eps']}$"),
    ]
    # Two legend columns (filled column-wise): one per norm, each ending with a shared entry.
    handles = per_norm[0] + extra[:1] + per_norm[1] + extra[1:]
    ax.axhline(0.5, color="0.5", lw=0.8)
    ax.set_ylim(0.42, 1.08)
    ax.set_ylabel(r"$P_{same}(t) = \mathbb{E}_{Y\sim p_t}\left[\sum_\theta "
                  r"\pi_t(\theta\mid Y)^2\right]$")
    fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=9.2,
               bbox_to_anchor=(0.5, 0.035))
    ax.set_title("Probability that two clones restarted from the same $Y_t$ end in the same "
                 "class", fontsize=12)
    bx.axhspan(-2, 2, color="0.85", alpha=0.6, lw=0)
    bx.axhline(0, color="0.4", lw=0.8)
    bx.set_ylim(-4.5, 4.5)
    bx.set_xlim(0, t[-1])
    bx.set_ylabel("(cloning - exact) / se")
    bx.set_xlabel(r"OU time $t$ at which the clones are made (more noise $\rightarrow$)")
    bx.text(0.01, 0.9, r"grey band: $\pm 2$ binomial se (se from the exact probability); "
            r"hollow: $n\,\min(p, 1-p) < 5$, left out of $\chi^2$",
            transform=bx.transAxes, fontsize=8.5, va="top")
    dev = float(np.max(data["max_dev_oracle"]))
    fig.suptitle(
        r"Speciation in $p = \frac{1}{2}N(+\mu, I) + \frac{1}{2}N(-\mu, I)$ under OU "
        r"$dX = -X\,dt + \sqrt{2}\,dB$ (Biroli-Mezard's $dx = -x\,dt + d\eta$, "
        r"$\langle\eta\eta\rangle = 2\delta$: same time)"
        "\n" r"Exact: $P_{same}(t) = \sum_\theta w_\theta\, P(\mathrm{label}(X^{\theta,t}) "
        r"= \theta)$, the forward-reverse label law (quadrature; vs scipy quad oracle: max "
        f"diff {dev:.1e})"
        "\nCloning: two Euler-Maruyama reverse-SDE runs from the same $Y_t$ with the exact "
        f"score ({p['clone_steps']} steps), each classified by "
        r"$\mathrm{sign}\langle x, \mu\rangle$",
        fontsize=11.5, y=1.03)
    fig.text(0.07, -0.1, "Curves: exact (quadrature). Circles: the cloning Monte Carlo "
             "estimate, with binomial standard errors.", fontsize=8, color="0.3", ha="left",
             va="bottom")
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.1,
                        estimated=True)
