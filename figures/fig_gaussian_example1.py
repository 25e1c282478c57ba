"""Example 1 of [LKC25]: two isotropic Gaussians ``N(+-mu, I_d)`` under the OU process.

Equal weights, ``||mu||`` fixed, ``eps = 0.1``, forward process ``dX = -X dt + sqrt(2) dB``
(theory.md §3.1). Starting the forward-reverse experiment (Definition 3) from ``p^{+1}``, with
``S_after = {+1}`` and ``S_before = Theta`` (one window report, ``s_init = [0]``,
``s_target = [0, 1]``), the figure plots against ``t``:

* ``TV(p^{+1,t}, p^{+1})`` (the output still looks like ``p^{+1}``),
* ``TV(p^{+1,t}, p)`` (the output is a fresh draw from ``p``),
* the label law ``P(label(X^{+1,t}) = +1) = E_{Y ~ p_t^{+1}}[pi_t(+1 | Y)]``,

for ``d = 2, 100, 10^4`` on one plot. The means ``+-||mu|| (1, ..., 1) / sqrt(d)`` span one
direction, so every quantity is a one-dimensional quadrature after the span reduction and the
curves coincide for every ``d``; the figure reports the largest difference between dimensions.
Since that coincidence is produced by the reduction itself, the label law is also estimated by
Monte Carlo in the full ``d = 10^4`` space (no reduction, common random numbers over times) and
drawn with ``+- 2 se`` bars.

The exact window ``[T^C_after, T^C_before]`` (Definition 4, refined by bisection in
:func:`localize.window_report`) is shaded and the paper's endpoints are marked:
``T^C_after = ln||mu|| - ln ln(1/(2 eps^2))`` and ``T^C_before = ln||mu|| + ln 2 + ln(1/eps)``.
In one dimension ``TV(p_t^{+1}, p_t^{-1}) = 2 Phi(a) - 1`` with ``a = ||mu|| e^{-t}``, so the
exact endpoints are ``ln(||mu|| / Phi^{-1}(1 - eps^2/2))`` and ``ln(||mu|| / Phi^{-1}(1/2 +
eps))``; the paper's window contains the exact one (its bounds are conservative). A right
panel shows the two criteria of Definition 4 against ``eps^2`` and ``eps``.
"""

from __future__ import annotations

import math

import numpy as np

from figures import _common

NAME = "gaussian_example1"
SOURCES = (*_common.GAUSSIAN_SOURCES, "figures/fig_gaussian_example2.py")


def params(fast: bool) -> dict:
    """``||mu||``, eps, the dimensions, the time grid and the full-``d`` Monte Carlo check."""
    return {
        "fast": bool(fast),
        "seed": 1,  # only the full-d Monte Carlo check draws anything
        "norm": 10.0,
        "eps": 0.1,
        "dims": [2, 10_000] if fast else [2, 100, 10_000],
        "t_max": 8.0,
        # the forward-reverse TVs cost ~0.1 s per time each (nested quadrature)
        "n_times": 17 if fast else 41,
        "law_times": 41 if fast else 161,
        "mc_dim": 10_000,
        "mc_samples": 200 if fast else 1000,
        # from t = 1.5 on: earlier, pi_t(+1 | Y) is ~1 but for rare Y and the sample mean is
        # too skewed for a normal +-2 se band to mean anything at these sample sizes
        "mc_t_min": 1.5,
        "mc_t_max": 6.5,
        "mc_times": 6 if fast else 11,
    }


def paper_window(norm: float, eps: float) -> tuple[float, float]:
    """The paper's ``(T^C_after, T^C_before)`` for Example 1 (theory.md §3.1)."""
    return (math.log(norm) - math.log(math.log(1.0 / (2.0 * eps**2))),
            math.log(norm) + math.log(2.0) + math.log(1.0 / eps))


def exact_window(norm: float, eps: float) -> tuple[float, float]:
    """Closed-form exact ``(T^C_after, T^C_before)``.

    With ``a = ||mu|| e^{-t}``: ``1 - TV(p_t^{+1}, p_t^{-1}) = 2 Phi(-a) = eps^2`` and
    ``TV(p_t^{+1}, p_t) = Phi(a) - 1/2 = eps``.
    """
    from scipy.stats import norm as gauss

    return (math.log(norm / gauss.isf(eps**2 / 2.0)), math.log(norm / gauss.ppf(0.5 + eps)))


def label_law_1d(norm: float, ts) -> np.ndarray:
    """``E_{y ~ N(a, 1)}[sigmoid(2 a y)]``, ``a = ||mu|| e^{-t}``, by adaptive quadrature.

    An oracle that shares no code with the JAX path (``scipy.integrate.quad`` with a break
    at the switch ``y = 0``): the probability that the forward-reverse output from
    ``p^{+1}`` lands in ``+1`` (theory.md §3.1, §6 item 21).
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


def _full_dim_label_law(seed, model, ts, n):
    """Monte Carlo of ``E_{Y ~ p_t^{+1}}[pi_t(+1 | Y)]`` in the ambient dimension.

    ``Y~_t ~ N(mu, (1 + v(t)) I_d)`` (the law of ``X + sqrt(v(t)) Z``, ``X ~ N(mu, I_d)``),
    drawn afresh at every time (NumPy's generator, much faster than JAX's counter-based one
    on a CPU for ``n d`` normals) so that the points are independent; the posterior is the
    model's own, on the unreduced model, from ``d``-dimensional distances.
    """
    import jax

    @jax.jit
    def posterior(model, t, y):  # the model as an argument: its (2, d) means stay data
        post = jax.numpy.exp(model.log_posterior_weights(t, y)[:, 0])
        return post.mean(), post.std(ddof=1) / math.sqrt(n)

    rng = np.random.default_rng(seed)
    mu = np.asarray(model.means)[0]
    out = []
    for t in ts:
        sd = math.sqrt(1.0 + float(model.proc.ve_var(float(t))))
        y = mu[None] + sd * rng.standard_normal((n, mu.size))
        out.append(posterior(model, float(t), y))
    return np.array([float(m) for m, _ in out]), np.array([float(s) for _, s in out])


def compute(fast: bool) -> dict:
    """Window reports and label laws for every ``d``, closed-form checks, full-``d`` MC."""
    import jax

    import localize
    from localize.continuous import EstimateConfig
    from localize.posterior import log_set_weights
    from synthetic.gaussian_mixture import gaussian_mixture, two_symmetric_means

    p = params(fast)
    eps, norm = p["eps"], p["norm"]
    times = np.linspace(0.0, p["t_max"], p["n_times"])
    law_times = np.linspace(0.0, p["t_max"], p["law_times"])
    out: dict = {"params": p, "times": times, "law_times": law_times}
    curves = ("fr_tv_init", "fr_tv_full", "label_law", "tv_init_target", "tv_init_rest",
              "log_overlap_init_rest")
    rows = {k: [] for k in ("T_after_C", "T_before_C", "T_after_C_lo", "T_after_C_hi",
                            "T_before_C_lo", "T_before_C_hi", "error_bound")}
    methods = []
    for d in _common.progress(p["dims"], "gaussian example 1"):
        # The span reduction (what the hooks compute on) happens here, from the d-dim means.
        model = gaussian_mixture(two_symmetric_means(norm, d), process="ou").reduced()
        rep = localize.window_report(model, [0], [0, 1], eps, times, progress=False)
        law = model.fr_label_law(jax.random.key(p["seed"]), law_times,
                                 np.asarray(log_set_weights(model.log_weights,
                                                            np.array([True, False]))),
                                 EstimateConfig())
        vals = {
            "fr_tv_init": rep.fr_tv_init, "fr_tv_full": rep.fr_tv_full,
            "label_law": np.asarray(law.value)[:, 0],
            "tv_init_target": rep.tv_init_target, "tv_init_rest": rep.tv_init_rest,
            "log_overlap_init_rest": rep.log_overlap_init_rest,
        }
        for k in curves:
            out[f"d{d}_{k}"] = np.asarray(vals[k], dtype=np.float64)
        rows["T_after_C"].append(rep.T_after_C)
        rows["T_before_C"].append(rep.T_before_C)
        rows["T_after_C_lo"].append(rep.T_after_C_interval[0])
        rows["T_after_C_hi"].append(rep.T_after_C_interval[1])
        rows["T_before_C_lo"].append(rep.T_before_C_interval[0])
        rows["T_before_C_hi"].append(rep.T_before_C_interval[1])
        rows["error_bound"].append(rep.error_bound + float(np.max(law.error)))
        methods.append(f"d={d}: " + ", ".join(sorted({m for m in rep.method.values() if m}
                                                      | {law.method})))
    for k, v in rows.items():
        out[k] = np.asarray(v, dtype=np.float64)
    out["dims"] = np.asarray(p["dims"])
    out["methods"] = np.asarray(methods)
    # Largest difference between dimensions, over every curve of the forward-reverse panel.
    ref = p["dims"][0]
    out["max_dev_across_d"] = np.asarray(max(
        float(np.max(np.abs(out[f"d{d}_{k}"] - out[f"d{ref}_{k}"])))
        for d in p["dims"] for k in ("fr_tv_init", "fr_tv_full", "label_law")))
    # Oracles sharing no code with the JAX path (theory.md §3.1 and §6 item 21).
    a = norm * np.exp(-times)
    from scipy.special import erf

    out["max_dev_closed_form"] = np.asarray(max(
        max(float(np.max(np.abs(out[f"d{d}_label_law"]
                                 - label_law_1d(norm, law_times)))),
            float(np.max(np.abs(out[f"d{d}_tv_init_target"] - 0.5 * erf(a / math.sqrt(2))))),
            float(np.max(np.abs(out[f"d{d}_tv_init_rest"] - erf(a / math.sqrt(2))))))
        for d in p["dims"]))
    ea, eb = exact_window(norm, eps)
    out["exact_T_after_C"], out["exact_T_before_C"] = np.asarray(ea), np.asarray(eb)
    pa, pb = paper_window(norm, eps)
    out["paper_T_after_C"], out["paper_T_before_C"] = np.asarray(pa), np.asarray(pb)
    # The label law in the full d = 10^4 space, without the span reduction.
    mc_model = gaussian_mixture(two_symmetric_means(norm, p["mc_dim"]), process="ou")
    mc_t = np.linspace(p["mc_t_min"], p["mc_t_max"], p["mc_times"])
    m, se = _full_dim_label_law(p["seed"], mc_model, mc_t, p["mc_samples"])
    out["mc_times"], out["mc_label_law"], out["mc_label_law_se"] = mc_t, m, se
    out["mc_label_law_exact"] = label_law_1d(norm, mc_t)
    out["mc_z"] = (m - out["mc_label_law_exact"]) / se
    return out


def plot(data: dict, out_dir=None):
    """Left: forward-reverse curves for every ``d``; right: the Definition 4 criteria."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colors = _common.style()
    p = data["params"]
    eps, norm = p["eps"], p["norm"]
    dims = [int(d) for d in data["dims"]]
    t = data["times"]
    ta, tb = float(data["T_after_C"][0]), float(data["T_before_C"][0])
    pa, pb = float(data["paper_T_after_C"]), float(data["paper_T_before_C"])
    styles = [{"ls": "-", "lw": 3.2, "alpha": 0.55},
              {"ls": "--", "lw": 2.0, "alpha": 1.0},
              {"ls": "none", "marker": "o", "ms": 3.2, "markevery": 1, "alpha": 1.0}]
    c_init, c_full, c_law, c_sep, c_paper = colors[0], colors[1], colors[2], colors[4], "k"
    c_win = "0.55"
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15.5, 6.4), width_ratios=[1.35, 1])
    fig.subplots_adjust(wspace=0.22)

    for axis in (ax, bx):
        axis.axvspan(ta, tb, color=c_win, alpha=0.16, lw=0)
        axis.axvline(pa, color=c_paper, ls=":", lw=1.8)
        axis.axvline(pb, color=c_paper, ls="-.", lw=1.5)
    for j, d in enumerate(dims):
        st = styles[j]
        for key, c in (("fr_tv_init", c_init), ("fr_tv_full", c_full), ("label_law", c_law)):
            tt = data["law_times"] if key == "label_law" else t
            # markers of the label law at the times of the other curves
            every = max(1, round((tt.size - 1) / (t.size - 1)))
            mk = {"markevery": every} if key == "label_law" and "marker" in st else {}
            ax.plot(tt, data[f"d{d}_{key}"], color=c, **{**st, **mk})
    ax.errorbar(data["mc_times"], data["mc_label_law"], yerr=2 * data["mc_label_law_se"],
                fmt="s", ms=5.5, mfc="white", mec="k", ecolor="k", capsize=3, lw=1, zorder=6)
    ax.hlines(eps / math.sqrt(2), 0, ta, color=c_init, lw=1.1, ls=(0, (4, 2)))
    ax.hlines(eps, tb, t[-1], color=c_full, lw=1.1, ls=(0, (4, 2)))
    ax.text(0.05, eps / math.sqrt(2) + 0.015, r"Thm 2: $\varepsilon/\sqrt{2}$", color=c_init,
            fontsize=9)
    ax.text(t[-1] - 0.05, eps + 0.015, r"Thm 2: $\varepsilon$", color=c_full, fontsize=9,
            ha="right")
    ax.set_xlim(0, t[-1])
    ax.set_ylim(-0.02, 1.04)
    ax.set_xlabel(r"OU time $t$ (more noise $\rightarrow$)")
    ax.set_ylabel("total variation  /  probability")
    ax.set_title(r"Forward-reverse experiment started from $p^{+1}$ (Definition 3)")
    quantity = [
        Line2D([], [], color=c_init, lw=2.2,
               label=r"$\mathrm{TV}(p^{+1,t}, p^{+1})$  (still from $+1$?)"),
        Line2D([], [], color=c_full, lw=2.2,
               label=r"$\mathrm{TV}(p^{+1,t}, p)$  (a fresh draw from $p$?)"),
        Line2D([], [], color=c_law, lw=2.2,
               label=r"$P(\mathrm{label}(X^{+1,t}) = +1)$" "\n"
                     r"$= \mathbb{E}_{Y\sim p^{+1}_t}[\pi_t(+1\mid Y)]$"),
        Line2D([], [], ls="none", marker="s", mfc="white", mec="k", ms=5.5,
               label=f"same, Monte Carlo in $d = 10^{{{int(math.log10(p['mc_dim']))}}}$\n"
                     rf"without reduction ($n = {p['mc_samples']}$, $\pm 2$ se;" "\n"
                     rf"$\max |z| = {float(np.max(np.abs(data['mc_z']))):.1f}$ over "
                     f"{data['mc_z'].size} times)"),
    ]
    leg = ax.legend(handles=quantity, loc="upper right", fontsize=9)
    ax.add_artist(leg)
    dev = float(data["max_dev_across_d"])
    dim_handles = [Line2D([], [], color="0.3", **{k: v for k, v in styles[j].items()
                                                  if k != "markevery"},
                          label=f"$d = {d:,}$".replace(",", r"\,"))
                   for j, d in enumerate(dims)]
    ax.legend(handles=dim_handles, loc="center right", fontsize=9.5,
              bbox_to_anchor=(1.0, 0.3),
              title=f"dimension (the curves coincide:\nmax difference {dev:.1e})",
              title_fontsize=9)

    for j, d in enumerate(dims):
        st = styles[j]
        bx.plot(t, np.exp(data[f"d{d}_log_overlap_init_rest"]), color=c_sep, **st)
        bx.plot(t, data[f"d{d}_tv_init_target"], color=c_full, **st)
    bx.axhline(eps**2, color=c_sep, lw=1.0, ls=(0, (4, 2)))
    bx.axhline(eps, color=c_full, lw=1.0, ls=(0, (4, 2)))
    bx.text(t[-1] - 0.05, eps**2 * 1.35, r"$\varepsilon^2$", color=c_sep, ha="right")
    bx.text(t[-1] - 0.05, eps * 1.35, r"$\varepsilon$", color=c_full, ha="right")
    bx.set_yscale("log")
    bx.set_ylim(1e-11, 3.0)
    bx.set_xlim(0, t[-1])
    bx.set_xlabel(r"OU time $t$")
    bx.set_ylabel("Definition 4 criterion (log scale)")
    bx.set_title(r"Where the window ends: $T^C_{after}$ from separation, "
                 r"$T^C_{before}$ from closeness", fontsize=11)
    crit = [
        Line2D([], [], color=c_sep, lw=2.2,
               label=r"$1 - \mathrm{TV}(p^{+1}_t, p^{-1}_t)$: $\leq \varepsilon^2$ "
                     r"up to $T^C_{after}$"),
        Line2D([], [], color=c_full, lw=2.2,
               label=r"$\mathrm{TV}(p^{+1}_t, p_t)$: $\leq \varepsilon$ from $T^C_{before}$ on"),
        plt.Rectangle((0, 0), 1, 1, color=c_win, alpha=0.3,
                      label=rf"exact window $[{ta:.3f}, {tb:.3f}]$ (Def. 4)"),
        Line2D([], [], color=c_paper, ls=":", lw=1.8,
               label=r"paper $T^C_{after} = \ln\|\mu\| - \ln\ln\frac{1}{2\varepsilon^2}$"
                     f" = {pa:.3f}"),
        Line2D([], [], color=c_paper, ls="-.", lw=1.5,
               label=r"paper $T^C_{before} = \ln\|\mu\| + \ln 2 + \ln\frac{1}{\varepsilon}$"
                     f" = {pb:.3f}"),
    ]
    bx.legend(handles=crit, loc="lower right", fontsize=8.8)
    ea, eb = float(data["exact_T_after_C"]), float(data["exact_T_before_C"])
    txt = (f"exact ends (closed form): {ea:.4f}, {eb:.4f}\n"
           f"   $= \\ln(\\|\\mu\\|/\\Phi^{{-1}}(1-\\varepsilon^2/2))$, "
           f"$\\ln(\\|\\mu\\|/\\Phi^{{-1}}(\\frac{{1}}{{2}}+\\varepsilon))$\n"
           f"max |curve - closed form / scipy quad|: "
           f"{float(data['max_dev_closed_form']):.1e}")
    bx.text(0.985, 0.555, txt, transform=bx.transAxes, ha="right", va="top", fontsize=8.5,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.92})
    fig.suptitle(
        rf"Example 1: $p = \frac{{1}}{{2}}N(+\mu, I_d) + \frac{{1}}{{2}}N(-\mu, I_d)$, "
        rf"$\|\mu\| = {norm:g}$, OU process, $\varepsilon = {eps}$: the window "
        r"$[T^C_{after}, T^C_{before}]$ does not depend on $d$"
        "\nShaded: exact window from Definition 4; dotted / dash-dotted: the paper's "
        "endpoints (conservative: they contain the exact window)",
        fontsize=12.5, y=1.0)
    fig.text(0.07, -0.02, "Curves: exact (closed form / quadrature). Square markers: a "
             "Monte Carlo check, with its standard error.", fontsize=8, color="0.3",
             ha="left", va="bottom")
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=-0.02,
                        estimated=True)
