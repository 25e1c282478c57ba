"""The forward-reverse experiment of Definition 3 ([LKC25] §2.2), computed exactly.

Start from ``p^S``, run the forward process to ``t``, then draw ``X | Y_t`` under the
*whole* mixture ``p``. Its law is
``p^{S,t}(x) = p(x) sum_y K_t(y | x) p_t^S(y) / p_t(y)`` (theory.md §1.4), which is what
:func:`forward_reverse` evaluates through the model's kernel adjoint.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from localize.continuous import ContinuousModel, EstimateConfig, is_curve_model
from localize.errors import bad
from localize.posterior import NEG_INF, label_law, log_set_weights
from localize.sequence import SequenceModel


class ForwardReverse(NamedTuple):
    """The forward-reverse law ``p^{S,t}`` with the component laws on the same space.

    Attributes:
        log_law: ``(*U)``, ``log p^{S,t}(u)``.
        log_clean: ``(K, *U)``, ``log p^theta(u)`` on the same (possibly reduced) space, so
            that ``p^{S,t}`` can be compared with any sub-mixture ``p^{S'}``.
    """

    log_law: object
    log_clean: object


def forward_reverse(model, t, mask) -> ForwardReverse:
    """Exact law of ``X^{S,t}``, the output of the forward-reverse experiment.

    Args:
        model: a :class:`localize.Model`.
        t: the time ``T-hat`` (traceable).
        mask: ``(K,)`` boolean mask of the starting sub-population ``S``.

    Returns:
        A :class:`ForwardReverse`; compare it with ``log_submixture(w, log_clean, S')``.
    """
    lw = model.log_weights
    rows = jnp.stack([log_set_weights(lw, mask), lw])
    log_ps, log_pt = model.log_noised_mixtures(t, rows)
    # p_t^S / p_t, set to 0 off the support of p_t (p_t^S vanishes there too).
    log_r = jnp.where(jnp.isneginf(log_pt), NEG_INF, log_ps - log_pt)
    log_p = model.log_clean_mixtures(t, lw[None])[0]
    return ForwardReverse(log_p + model.log_adjoint(t, log_r), model.view(t).log_clean)


def forward_reverse_label_law(model, t, mask, *, key=None, config: EstimateConfig | None = None):
    """``P(label(X^{S,t}) = theta) = E_{Y~p_t^S}[pi_t(theta|Y)]`` for every ``theta``.

    This is the "probability the resample keeps the feature" of the paper's experiments.
    For a finite :class:`localize.Model` it is exact (and traceable); a
    :class:`~localize.continuous.ContinuousModel` answers through its ``fr_label_law`` hook
    (exact, quadrature or Monte Carlo), at one time or a vector of times.

    Args:
        model: a :class:`localize.Model`, a :class:`~localize.continuous.ContinuousModel` or
            a :class:`~localize.sequence.SequenceModel` (exact through its finite model
            when it has one, else Monte Carlo).
        t: the time ``T-hat`` (continuous and sequence models: a number or a 1-D array).
        mask: ``(K,)`` boolean mask of ``S``.
        key: continuous models only: the ``jax.random`` key (default: from
            ``config.seed``).
        config: continuous models only: the Monte Carlo budget (default
            :class:`EstimateConfig`).

    Returns:
        ``(K,)`` probabilities for a finite model; for a continuous model an
        :class:`~localize.continuous.Estimate` whose ``value`` and ``se`` are ``(K,)`` for a
        scalar ``t`` and ``(n_times, K)`` for a vector.
    """
    if isinstance(model, SequenceModel) and model.finite() is not None:
        model = model.finite()
    if not isinstance(model, (ContinuousModel, SequenceModel)) and not is_curve_model(model):
        return label_law(model.log_weights, model.view(t).log_noised, mask)
    config = EstimateConfig() if config is None else config
    if not isinstance(config, EstimateConfig):
        raise bad("config", config, "an EstimateConfig or None")
    key = jax.random.key(config.seed) if key is None else key
    mask = np.asarray(mask, dtype=bool)
    scalar = np.ndim(t) == 0
    ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
    lw = np.asarray(model.log_weights)
    est = model.fr_label_law(key, ts, np.asarray(log_set_weights(lw, mask)), config)
    if not scalar:
        return est
    first = lambda a: None if a is None else np.asarray(a)[0]  # noqa: E731
    return est._replace(**{f: first(getattr(est, f)) for f in
                           ("value", "se", "bias", "error", "log_overlap", "log_overlap_se")})
