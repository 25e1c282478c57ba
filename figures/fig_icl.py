"""In-context learning ([LKC25] Examples 6 and 11, Corollary 3): the window in examples.

Sequences ``[x_1, y_1, o, ..., x_N, y_N, o]``; each task maps queries to answers; truncation
removes tokens from the end (theory.md §3.4). Every number is exact, on count tables of the
(query, answer) pairs (:mod:`synthetic.icl`).

* (a) Two tasks, ``theta*`` = "answer ``y = x`` w.p. 0.9" against "guess", weights 1/2: against
  the number ``n`` of examples in the context, the separation ``1 - TV(p_n^{theta*},
  p_n^{other})`` (Definition 4's ``T^C_after`` is where it falls below ``eps^2``), the
  Bhattacharyya coefficient with its tensorized closed form ``(1 - delta/2)^n``, and the
  in-context learner's error after ``n`` examples against Example 11's ``eps / w_theta*``,
  with the corrected and the printed thresholds of Example 11.
* (b) The same, as numbers of examples against ``eps``: the exact ones (Definition 4 and the
  learner's error) grow like the corrected threshold ``ln(1/eps)/ln(1/(1 - delta/2))``,
  not like the printed ``ln((1 - delta/2)/eps)``.
* (c) Example 6 in token time, a context of ``N`` examples of the identity task against its
  flip: the forward-reverse distances ``TV(p^{theta*,t}, p^{theta*})`` and
  ``TV(p^{theta*,t}, p)`` with the exact window; ``T^C_after = 3N - (3 n* - 1)``.
* (d) Corollary 3: three tasks, with the model's own queries and with a user's query law
  (the alternative kernel on ``y_i -> o -> x_{i+1}``); the key step
  ``p^{Theta,alt} = sum_theta w_theta p^{theta,alt}`` checked on every sequence of 3 examples,
  and its failure when the query law depends on the task (Assumption 1 broken).
"""

from __future__ import annotations

import math

import numpy as np

from figures import _common

NAME = "icl_window"
SOURCES = ("synthetic/icl.py", "proofs_check/icl.py")


def params(fast: bool) -> dict:
    """Sizes and error parameters (no randomness)."""
    return {
        "fast": bool(fast),
        "seed": None,
        "n_max": 45 if fast else 60,
        "eps_a": 0.1,
        "eps_grid": np.geomspace(0.3, 0.004, 12 if fast else 40).tolist(),
        "n_context": 12,
        "eps_c": 0.1,
        "eps_d": 0.3,
    }


def compute(fast: bool) -> dict:
    """Exact curves of the four panels."""
    import jax.numpy as jnp

    import localize
    from proofs_check import icl as pc
    from synthetic import icl as ic

    p = params(fast)
    out: dict = {"params": p}

    # (a), (b): curves against examples, thresholds against eps.
    case = pc.EXAMPLE11_CASES[0]
    num = pc.example11_numbers(case, p["n_max"], eps=p["eps_grid"])
    c = num["curves"]
    out.update(
        n=np.arange(p["n_max"] + 1),
        one_minus_tv=np.exp(c["log_overlap_rest"]),
        bc=c["bc_rest"],
        bc_tensorized=num["pair"]["bc_rest"] ** np.arange(p["n_max"] + 1),
        learner_error=c["learner_error"],
        exit_mass=c["exit_mass"],
        delta=num["pair"]["delta"],
        w_star=case.weights[case.theta_star],
        decay_learner=num["decay"]["learner_error"],
        decay_one_minus_tv=num["decay"]["one_minus_tv"],
        decay_corrected=num["decay"]["corrected"],
    )
    rows = num["rows"]
    none = lambda v: -1 if v is None else v  # noqa: E731
    out.update(
        eps_grid=np.asarray(p["eps_grid"]),
        n_after_def4=np.asarray([none(r["n_after_definition4"]) for r in rows], float),
        n_learner=np.asarray([none(r["n_learner_below_eps_over_w"]) for r in rows], float),
        n_bc=np.asarray([none(r["n_bc_below_eps"]) for r in rows], float),
        corrected=np.asarray([r["corrected"] for r in rows]),
        printed=np.asarray([r["printed"] for r in rows]),
        corrected_eps2=np.asarray([r["corrected_eps2"] for r in rows]),
        printed_eps2=np.asarray([r["printed_eps2"] for r in rows]),
    )
    th_a = ic.example11_thresholds(num["pair"]["delta"], p["eps_a"])
    out.update(corrected_a=th_a["corrected"], printed_a=th_a["printed"])

    # (c): Example 6 in token time.
    case_c = pc.EXAMPLE11_CASES[1]
    # The prefix laws of n pairs do not depend on N: reuse the compiled curves of (a).
    curves_c = ic.prefix_curves(pc._model(case_c, p["n_max"]), [case_c.theta_star])
    rep, n_star, _ = pc.example6_window(case_c, p["n_context"], p["eps_c"], curves=curves_c)
    out.update(
        c_times=np.asarray(rep.times), c_fr_init=np.asarray(rep.fr_tv_init),
        c_fr_full=np.asarray(rep.fr_tv_full),
        c_T_after=np.nan if rep.T_after_C is None else rep.T_after_C,
        c_T_before=np.nan if rep.T_before_C is None else rep.T_before_C,
        c_n_star=-1 if n_star is None else n_star, c_w_star=case_c.weights[case_c.theta_star])

    # (d): Corollary 3, model queries against the user's.
    case_d, alt = pc.COROLLARY3_CASE, list(pc.COROLLARY3_ALT_QUERY)
    k = len(case_d.weights)
    model = pc._model(case_d, p["n_context"])
    times = list(range(3 * p["n_context"] + 1))
    for key, m in (("model", model), ("alt", ic.alt_model(model, alt))):
        r = localize.window_report(m, [0], list(range(k)), p["eps_d"], times, progress=False)
        out[f"d_{key}_fr_init"] = np.asarray(r.fr_tv_init)
        out[f"d_{key}_fr_full"] = np.asarray(r.fr_tv_full)
        out[f"d_{key}_T_after"] = np.nan if r.T_after_C is None else r.T_after_C
        out[f"d_{key}_T_before"] = np.nan if r.T_before_C is None else r.T_before_C
    out["d_W"] = (1 - case_d.weights[0]) / case_d.weights[0]
    n_tok = pc.COROLLARY3_TOKEN_N
    log_w = np.log(np.asarray(case_d.weights))
    log_a = np.log(np.asarray(case_d.answers))
    for key, queries in (("shared", np.tile(np.asarray(case_d.query), (k, 1))),
                         ("broken", np.asarray(pc.COROLLARY3_BROKEN_QUERIES))):
        laws = ic.token_log_laws(np.log(queries), log_a, n_tok)
        full = np.exp(np.asarray(ic.alt_sampler_law(log_w, laws, np.ones(k, bool), alt)))
        parts = np.exp(np.asarray(jnp.stack([ic.alt_sampler_law(log_w, laws, np.arange(k) == j,
                                                                alt) for j in range(k)])))
        out[f"d_{key}_residual"] = float(np.max(np.abs(
            full - np.einsum("k,k...->...", np.exp(log_w), parts))))
        out[f"d_{key}_gap"] = ic.assumption1_gap(np.log(queries), log_a, n_tok, alt)
    return out


def plot(data: dict, out_dir=None):
    """Four panels: examples, thresholds against eps, token time, Corollary 3."""
    import matplotlib.pyplot as plt

    colors = _common.style()
    p = data["params"]
    fig, axes = plt.subplots(2, 2, figsize=(15.5, 11.5))
    (ax_a, ax_b), (ax_c, ax_d) = axes
    c_sep, c_bc, c_err, c_exit, c_win = colors[1], colors[0], colors[2], colors[4], colors[7]

    # (a) curves against the number of examples.
    n = data["n"]
    eps, w_star, delta = p["eps_a"], float(data["w_star"]), float(data["delta"])
    na = data["n_after_def4"]
    ax_a.semilogy(n, data["one_minus_tv"], color=c_sep, lw=2,
                  label=r"$1 - \mathrm{TV}(p_n^{\theta^*}, p_n^{\mathrm{guess}})$")
    ax_a.semilogy(n, data["bc"], color=c_bc, lw=2,
                  label=r"$\mathrm{BC}(p_n^{\theta^*}, p_n^{\mathrm{guess}})$")
    ax_a.semilogy(n[::3], data["bc_tensorized"][::3], "o", color=c_bc, ms=5, mfc="none",
                  label=rf"tensorized $(1-\delta/2)^n$, $\delta = H^2 = {delta:.3f}$")
    ax_a.semilogy(n, data["exit_mass"], color=c_exit, lw=1.5, ls="--",
                  label=r"exit mass $\mathbb{E}_{p_n^{\theta^*}}[\pi_n(\mathrm{guess}\mid Y)]$")
    ax_a.semilogy(n, data["learner_error"], color=c_err, lw=2.2,
                  label="in-context learner's error after $n$ examples")
    ax_a.axhline(eps**2, color=c_sep, lw=0.9, ls="-.")
    ax_a.axhline(eps, color=c_bc, lw=0.9, ls="-.")
    ax_a.axhline(eps / w_star, color=c_err, lw=0.9, ls="-.")
    for y, text, col in ((eps**2, r"$\varepsilon^2$", c_sep), (eps, r"$\varepsilon$", c_bc),
                         (eps / w_star, r"$\varepsilon / w_{\theta^*}$", c_err)):
        ax_a.text(n[-1], y * 1.12, text, color=col, ha="right", va="bottom", fontsize=10)
    i_eps = int(np.argmin(np.abs(data["eps_grid"] - eps)))
    n_def4 = float(data["n_after_def4"][i_eps]) if abs(data["eps_grid"][i_eps] - eps) < 1e-12 \
        else float(_first(data["one_minus_tv"] <= eps**2))
    ax_a.axvline(data["corrected_a"], color="k", ls="--", lw=1.3,
                 label=rf"corrected threshold $\ln(1/\varepsilon)/\ln(1/(1-\delta/2))$"
                       rf" = {data['corrected_a']:.1f}")
    ax_a.axvline(data["printed_a"], color="k", ls=":", lw=1.8,
                 label=rf"printed threshold $\ln((1-\delta/2)/\varepsilon)$ = "
                       rf"{data['printed_a']:.1f}")
    if n_def4 >= 0:
        ax_a.axvline(n_def4, color=c_sep, lw=1.6,
                     label=rf"exact $T^C_{{after}}$ (Def. 4) = {int(n_def4)} examples")
    # Room below the curves for the legend.
    ax_a.set_ylim(float(np.min(data["learner_error"])) / 300, 2.0)
    ax_a.set_xlim(0, n[-1])
    ax_a.set_xlabel("number of in-context examples $n$ (visible (query, answer) pairs)")
    ax_a.set_ylabel("exact value (log scale)")
    ax_a.set_title(rf"(a) $\theta^*$: $y = x$ w.p. 0.9, against guessing; "
                   rf"$w = (1/2, 1/2)$, $\varepsilon = {eps}$", fontsize=11.5)
    ax_a.legend(fontsize=8.3, loc="lower left")
    del na

    # (b) numbers of examples against eps.
    e = data["eps_grid"]
    ok = data["n_after_def4"] >= 0
    ax_b.plot(e[ok], data["n_after_def4"][ok], "o-", color=c_sep, ms=5,
              label=r"exact $T^C_{after}$ in examples: $1 - \mathrm{TV} \leq \varepsilon^2$")
    ax_b.plot(e, data["corrected_eps2"], "--", color=c_sep, lw=1.4,
              label=r"corrected, for $\varepsilon^2$: $2\ln(1/\varepsilon)/\ln(1/(1-\delta/2))$")
    ax_b.plot(e, data["printed_eps2"], ":", color=c_sep, lw=2,
              label=r"printed, for $\varepsilon^2$: $\ln((1-\delta/2)/\varepsilon^2)$")
    ok = data["n_learner"] >= 0
    ax_b.plot(e[ok], data["n_learner"][ok], "s-", color=c_err, ms=5,
              label=r"exact: learner's error $\leq \varepsilon/w_{\theta^*}$ from then on")
    ax_b.plot(e, data["corrected"], "--", color=c_err, lw=1.4,
              label=r"corrected: $\ln(1/\varepsilon)/\ln(1/(1-\delta/2))$")
    ax_b.plot(e, data["printed"], ":", color=c_err, lw=2,
              label=r"printed: $\ln((1-\delta/2)/\varepsilon)$")
    ax_b.set_xscale("log")
    ax_b.invert_xaxis()
    ax_b.set_ylim(0, p["n_max"] * 1.05)
    ax_b.set_xlabel(r"$\varepsilon$ (log scale, decreasing to the right)")
    ax_b.set_ylabel("number of in-context examples")
    ax_b.set_title("(b) examples needed against $\\varepsilon$: the exact numbers grow like "
                   "the corrected threshold\n"
                   f"exact decay per example (last half of $n$): learner's error "
                   f"$e^{{-{data['decay_learner']:.3f}}}$, $1 - $TV "
                   f"$e^{{-{data['decay_one_minus_tv']:.3f}}}$;\n"
                   f"the corrected threshold assumes $1 - \\delta/2 = "
                   f"e^{{-{data['decay_corrected']:.3f}}}$, the printed one $e^{{-1}}$",
                   fontsize=11)
    ax_b.legend(fontsize=8.3, loc="upper left")

    # (c) Example 6 in token time.
    t = data["c_times"]
    big_n, ec = p["n_context"], p["eps_c"]
    w_c = float(data["c_w_star"])
    ta, tb = float(data["c_T_after"]), float(data["c_T_before"])
    if np.isfinite(ta) and np.isfinite(tb):
        ax_c.axvspan(ta, tb, color=c_win, alpha=0.15, lw=0,
                     label=rf"exact window $[T^C_{{after}}, T^C_{{before}}] = [{ta:g}, {tb:g}]$")
    ax_c.plot(t, data["c_fr_init"], "o-", color=c_err, ms=3.5, lw=1.8,
              label=r"$\mathrm{TV}(p^{\theta^*,t}, p^{\theta^*})$ (resample keeps the task)")
    ax_c.plot(t, data["c_fr_full"], "s-", color=c_bc, ms=3.5, lw=1.8,
              label=r"$\mathrm{TV}(p^{\theta^*,t}, p)$ (resample forgets it)")
    w_ratio = (1 - w_c) / w_c
    ax_c.axhline(max(1, w_ratio) * ec / math.sqrt(2), color=c_err, lw=0.9, ls="-.",
                 label=r"Theorem 2, $t \leq T^C_{after}$: $\max(1,W)\,\varepsilon/\sqrt{2}$")
    ax_c.axhline(ec, color=c_bc, lw=0.9, ls="-.",
                 label=r"Theorem 2, $t \geq T^C_{before}$: $\varepsilon$")
    ax_c.annotate("t = 2: regenerate $y_N$ only\n(Example 6: the learner's error)",
                  (2, data["c_fr_init"][2]), xytext=(4, 0.3), fontsize=8.5,
                  arrowprops={"arrowstyle": "->", "lw": 1.0, "color": "0.2"})
    ax_c.set_xlim(0, 3 * big_n)
    ax_c.set_ylim(0, 1.0)
    ax_c.set_xticks(range(0, 3 * big_n + 1, 3))
    ax_c.set_xlabel(r"token time $t$ (tokens removed from the end; every 3rd token is a "
                    r"delimiter $o$)")
    ax_c.set_ylabel("TV of the forward-reverse output")
    ax_c.set_title(rf"(c) Example 6: $N = {big_n}$ examples, $y = x$ w.p. 0.9 "
                   rf"($w = {w_c}$) against its flip, $\varepsilon = {ec}$" "\n"
                   rf"$T^C_{{after}} = 3N - (3n^* - 1)$ with $n^* = {int(data['c_n_star'])}$ "
                   "separating examples, whatever N", fontsize=11)
    ax_c.legend(fontsize=8.3, loc="upper right")

    # (d) Corollary 3.
    ed = p["eps_d"]
    for key, style, label in (("model", "--", "model's own queries q = (1/2, 1/2)"),
                              ("alt", "-", "user's queries q_alt = (0.8, 0.2)")):
        ax_d.plot(t, data[f"d_{key}_fr_init"], style, color=c_err, lw=1.8,
                  label=rf"$\mathrm{{TV}}(p^{{0,t}}, p^{{0}})$, {label}")
        ax_d.plot(t, data[f"d_{key}_fr_full"], style, color=c_bc, lw=1.8,
                  label=rf"$\mathrm{{TV}}(p^{{0,t}}, p)$, {label}")
    ta, tb = float(data["d_alt_T_after"]), float(data["d_alt_T_before"])
    if np.isfinite(ta) and np.isfinite(tb):
        ax_d.axvspan(ta, tb, color=c_win, alpha=0.15, lw=0,
                     label=rf"window of $p^{{\cdot,alt}}$: [{ta:g}, {tb:g}]")
    ax_d.axhline(max(1, float(data["d_W"])) * ed / math.sqrt(2), color=c_err, lw=0.9, ls="-.",
                 label=r"Corollary 3, $t \leq T^C_{after}$: $\max(1,W)\,\varepsilon/\sqrt{2}$")
    ax_d.axhline(ed, color=c_bc, lw=0.9, ls="-.",
                 label=r"Corollary 3, $t \geq T^C_{before}$: $\varepsilon$")
    ax_d.set_xlim(0, 3 * big_n)
    ax_d.set_ylim(0, 1.0)
    ax_d.set_xticks(range(0, 3 * big_n + 1, 3))
    ax_d.set_xlabel(r"token time $t$")
    ax_d.set_ylabel("TV of the forward-reverse output")
    ax_d.set_title(rf"(d) Corollary 3: three tasks, weights (0.5, 0.3, 0.2), $S = \{{0\}}$, "
                   rf"$\varepsilon = {ed}$" "\nqueries from a user (alternative kernel on "
                   r"$y_i \to o \to x_{i+1}$), answers from the model", fontsize=11)
    ax_d.legend(fontsize=8.0, loc="upper right")
    ax_d.text(0.02, 0.97,
              "key step p^(Theta,alt) = sum w p^(theta,alt),\n"
              "max error on all sequences of 3 examples:\n"
              f"  shared query law: {float(data['d_shared_residual']):.0e}\n"
              f"    (Assumption 1 gap {float(data['d_shared_gap']):.0e})\n"
              f"  task-dependent queries: {float(data['d_broken_residual']):.3f}\n"
              f"    (Assumption 1 gap {float(data['d_broken_gap']):.2f}: broken)",
              transform=ax_d.transAxes, ha="left", va="top", fontsize=8.3, family="monospace",
              bbox={"boxstyle": "round", "fc": "white", "ec": "0.75", "alpha": 0.9})

    fig.suptitle("In-context learning (Examples 6 and 11, Corollary 3 of [LKC25]): sequences "
                 "[x1, y1, o, ..., xN, yN, o], truncation from the end; exact on counts of "
                 "(query, answer) pairs", fontsize=13, y=0.995)
    fig.tight_layout(rect=(0, 0.01, 1, 0.98))
    return _common.save(fig, NAME, data, __file__, out_dir, footer_y=0.0)


def _first(ok) -> int:
    idx = np.flatnonzero(ok)
    return int(idx[0]) if idx.size else -1
