"""Shared test configuration: float64 on, and hypothesis profiles that never flake.

``import localize`` comes first: it is the one place that turns on ``jax_enable_x64``.

Profiles (select with ``HYPOTHESIS_PROFILE=...``):

* ``ci`` (default): derandomized, no deadline, a moderate number of examples, so the whole
  property suite runs in a couple of minutes on two cores and never flakes;
* ``thorough``: thousands of examples per property, for a long local run;
* ``dev``: a handful of examples, for iterating on a test.
"""

import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, settings

import localize  # float64 before any array is made
from localize import divergences as dv
from localize.model import Model
from localize.posterior import log_mixture, log_set_weights

# Let test modules ``import oracle`` (the brute-force oracle beside them).
sys.path.insert(0, str(Path(__file__).resolve().parent))

_COMMON = dict(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    database=None,
)

settings.register_profile("ci", max_examples=40, **_COMMON)
settings.register_profile("thorough", max_examples=3000, **_COMMON)
settings.register_profile("dev", max_examples=8, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --------------------------------------------------------------------------------------
# The package on every set and time at once, shared by test_core and test_properties.
#
# Compilation dominates the cost of the exact tests, so both modules evaluate the core
# through this one jitted function: it compiles once per model shape, process and number
# of times, and the two modules use the same shape classes.


def all_masks(k):
    """Every non-empty set of ``k`` components as a ``(2^k - 1, k)`` boolean array.

    Set ``b`` (a bit mask, component ``i`` is bit ``i``) is row ``b - 1``.
    """
    return np.array([[(b >> i) & 1 for i in range(k)] for b in range(1, 2**k)], dtype=bool)


DIVERGENCES = ("tv", "log_overlap", "bhattacharyya", "hellinger_sq", "kl", "chi_square",
               "posterior_overlap")


@jax.jit
def package_tables(model, masks, ts):
    """Every exact core routine for every set (rows of ``masks``) and every time in ``ts``.

    Returns a dict of arrays with a leading time axis: the model's view (``view_clean``,
    ``view_noised``), ``mixture`` (``log p_t``), ``post`` (label posterior), ``adjoint``
    (``log K_t(y | x)`` as ``(|Z|, *U)``, the kernel adjoint applied to one-hot functions);
    per set: ``set_weights``, ``noised`` / ``clean`` (sub-mixtures), ``set_post``,
    ``label_law`` (:func:`localize.label_law`), ``fr`` / ``fr_clean``
    (:func:`localize.forward_reverse`), ``fr_label``, ``mixtures_noised`` /
    ``mixtures_clean`` (``Model.log_noised_mixtures`` / ``log_clean_mixtures`` of the family)
    and ``generic_mixtures_*`` (the base-class versions); per pair of sets: each divergence
    between the noised sub-mixtures, ``fr_tv_clean[A, B] = TV(p^{A,t}, p^B)`` and
    ``fr_tv_fr[A, B] = TV(p^{A,t}, p^{B,t})``.
    """
    lw = model.log_weights

    def pair(f, xs, ys):
        return jax.vmap(lambda a: jax.vmap(lambda b: f(a, b))(ys))(xs)

    def at(t):
        view = model.view(t)
        obs_shape = view.log_noised.shape[1:]
        n_obs = int(np.prod(obs_shape))
        onehot = jnp.where(jnp.eye(n_obs, dtype=bool), 0.0, -jnp.inf)

        def per_set(m):
            fr = localize.forward_reverse(model, t, m)
            return {
                "set_weights": log_set_weights(lw, m),
                "noised": localize.log_submixture(lw, view.log_noised, m),
                "clean": localize.log_submixture(lw, view.log_clean, m),
                "set_post": localize.log_set_posterior(lw, view.log_noised, m),
                "label_law": localize.label_law(lw, view.log_noised, m),
                "fr": fr.log_law,
                "fr_clean": fr.log_clean,
                "fr_label": localize.forward_reverse_label_law(model, t, m),
            }

        out = jax.vmap(per_set)(masks)
        # The mixtures of many sets at once, as the family computes them and as the generic
        # Model implementation does (mixing the component views).
        rows = out["set_weights"]
        out.update(
            mixtures_noised=model.log_noised_mixtures(t, rows),
            mixtures_clean=model.log_clean_mixtures(t, rows),
            generic_mixtures_noised=Model.log_noised_mixtures(model, t, rows),
            generic_mixtures_clean=Model.log_clean_mixtures(model, t, rows),
        )
        out.update(
            view_clean=view.log_clean,
            view_noised=view.log_noised,
            mixture=log_mixture(lw, view.log_noised),
            post=localize.log_label_posterior(lw, view.log_noised),
            adjoint=jax.vmap(lambda r: model.log_adjoint(t, r.reshape(obs_shape)))(onehot),
            fr_tv_clean=pair(dv.tv, out["fr"], out["clean"]),
            fr_tv_fr=pair(dv.tv, out["fr"], out["fr"]),
        )
        for name in DIVERGENCES:
            out[name] = pair(getattr(dv, name), out["noised"], out["noised"])
        return out

    return jax.vmap(at)(ts)


def tables(model, times):
    """:func:`package_tables` on every set, as NumPy arrays (asserting that no NaN escaped)."""
    out = jax.device_get(package_tables(model, all_masks(model.n_components),
                                        jnp.asarray(times, dtype=jnp.float64)))
    out = {name: np.asarray(v) for name, v in out.items()}
    for name, v in out.items():
        assert not np.any(np.isnan(v)), f"NaN in {name}"
    return out
