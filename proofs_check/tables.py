"""Exact tables of one instance: every law, divergence and posterior the claims compare.

For an instance (a model, a list of sub-populations and a grid of times) this module computes,
with the core's exact routines only (:meth:`localize.Model.view`, :func:`localize.forward_reverse`,
:func:`localize.log_submixture`, :func:`localize.label_law`, :func:`localize.log_set_posterior`,
:meth:`localize.Model.log_adjoint` and :mod:`localize.divergences`):

* the noised and clean sub-mixtures ``p_t^S``, ``p^S`` and those of the complements;
* the forward-reverse laws ``p^{S,t}`` of Definition 3 and their label laws;
* the kernel ``K_t(y | x)`` as a matrix (the adjoint applied to indicator functions), from
  which the posteriors ``P^<-(x | y, S)`` of Lemma 3 follow;
* every divergence between them, pair by pair.

Compilation dominates the cost on a CPU, so shapes are kept few: the random finite instances
are embedded in one canonical shape (:func:`pad_finite`: zero-weight components, symbols and
always-masked coordinates that change no law), and every divergence goes through one jitted
row-wise function on arrays padded with ``-inf`` (zero probability) to a fixed width.
"""

from __future__ import annotations

import dataclasses
import functools
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from localize import divergences as dv
from localize.errors import bad
from localize.experiment import forward_reverse
from localize.kernels import log_mask_adjoint, log_mask_forward
from localize.model import Model, View
from localize.posterior import label_law, log_set_posterior, log_submixture

NEG_INF = -np.inf
# The canonical shape of padded finite mixtures: K components on {0,1,2}^4, n grid times.
K_PAD, A_PAD, L_PAD, N_TIMES = 12, 3, 4, 9
# Every set list is padded to this many rows (all non-empty subsets of 5 components).
N_SETS = 31
# Row-wise divergences run on blocks of this many rows, each padded to at least this width.
ROW_BLOCK, MIN_WIDTH = 2048, 256


@dataclasses.dataclass(frozen=True)
class PaddedFinite(Model):
    """A finite mixture with its masking schedule tabulated on a grid (one compiled shape).

    The finite family computes ``view(t)`` as the coordinate-wise masking kernel
    (:func:`localize.kernels.log_mask_forward`) with the process's probabilities
    ``log_mask_probs(t)``. Here those probabilities are evaluated once per grid time and
    stored as data, and ``t`` is the *index* of a grid time, so truncation, ordered masking
    and random masking, and every alphabet, length and number of components up to the
    canonical ones, share one compilation. Padding changes no law: padded components have
    weight 0, padded symbols probability 0, and padded coordinates are constant and always
    masked.

    Attributes:
        log_w: ``(K_PAD,)`` log weights, ``-inf`` for padded components.
        log_pmfs: ``(K_PAD, A_PAD, ..., A_PAD)`` component log-pmfs.
        log_q: ``(N_TIMES, L_PAD)`` log masking probabilities at each grid time.
        log_keep: ``(N_TIMES, L_PAD)`` log visibility probabilities.
    """

    log_w: jax.Array
    log_pmfs: jax.Array
    log_q: jax.Array
    log_keep: jax.Array

    family = "finite (padded)"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        """The schedule is tabulated; the original process lives on the instance's model."""
        return None

    def view(self, t) -> View:
        i = jnp.asarray(t).astype(jnp.int32)
        return View(self.log_pmfs, log_mask_forward(self.log_pmfs, self.log_q[i],
                                                     self.log_keep[i]))

    def log_adjoint(self, t, log_r):
        i = jnp.asarray(t).astype(jnp.int32)
        return log_mask_adjoint(log_r, self.log_q[i], self.log_keep[i])


jax.tree_util.register_dataclass(
    PaddedFinite, data_fields=["log_w", "log_pmfs", "log_q", "log_keep"], meta_fields=[]
)


def pad_finite(log_w, log_pmfs, process, times) -> PaddedFinite:
    """Embed a finite mixture and its process on a grid in the canonical padded shape.

    Args:
        log_w: ``(K,)`` log weights, ``K <= K_PAD``.
        log_pmfs: ``(K, A, ..., A)`` with ``L`` sequence axes, ``A <= A_PAD``, ``L <= L_PAD``.
        process: the :class:`localize.Process` (its ``log_mask_probs`` is evaluated here).
        times: at most ``N_TIMES`` grid times (the last one is repeated to fill the grid).

    Returns:
        The :class:`PaddedFinite` model; its time argument is the grid index.
    """
    log_w, log_pmfs = np.asarray(log_w), np.asarray(log_pmfs)
    k, a, length = log_pmfs.shape[0], log_pmfs.shape[1], log_pmfs.ndim - 1
    if k > K_PAD or a > A_PAD or length > L_PAD or len(times) > N_TIMES:
        raise bad("instance", f"K={k}, A={a}, L={length}, {len(times)} times",
                  f"K <= {K_PAD}, A <= {A_PAD}, L <= {L_PAD} and at most {N_TIMES} times "
                  "for the padded shape")
    pmfs = np.full((K_PAD,) + (A_PAD,) * L_PAD, NEG_INF)
    # Padded coordinates carry the constant symbol 0; padded components are that point mass.
    pmfs[(slice(0, k),) + (slice(0, a),) * length + (0,) * (L_PAD - length)] = log_pmfs
    pmfs[(slice(k, K_PAD),) + (0,) * L_PAD] = 0.0
    w = np.full(K_PAD, NEG_INF)
    w[:k] = log_w
    grid = list(times) + [times[-1]] * (N_TIMES - len(times))
    log_q = np.zeros((N_TIMES, L_PAD))
    log_keep = np.full((N_TIMES, L_PAD), NEG_INF)
    for i, t in enumerate(grid):
        q, keep = process.log_mask_probs(float(t))
        log_q[i, :length], log_keep[i, :length] = np.asarray(q), np.asarray(keep)
    return PaddedFinite(*(jnp.asarray(x) for x in (w, pmfs, log_q, log_keep)))


def _at(model, sets, comps, t):
    view = model.view(t)
    lw = model.log_weights
    k = lw.shape[0]
    z_shape = view.log_noised.shape[1:]
    noised = view.log_noised.reshape(k, -1)
    clean = view.log_clean.reshape(k, -1)

    def sub(tab, masks):
        return jax.vmap(lambda m: log_submixture(lw, tab, m))(masks)

    n_z = noised.shape[1]
    onehot = jnp.where(jnp.eye(n_z, dtype=bool), 0.0, -jnp.inf).reshape((n_z,) + z_shape)
    return dict(
        pz=sub(noised, sets),
        pzc=sub(noised, comps),
        pu=sub(clean, sets),
        puc=sub(clean, comps),
        fr=jax.vmap(lambda m: forward_reverse(model, t, m).log_law.reshape(-1))(sets),
        label=jax.vmap(lambda m: label_law(lw, view.log_noised, m))(sets),
        pic=jax.vmap(lambda m: log_set_posterior(lw, noised, m))(comps),
        # log K_t(y | x): the adjoint of the kernel applied to the indicator of each y.
        logk=jax.vmap(lambda r: model.log_adjoint(t, r).reshape(-1))(onehot),
    )


@jax.jit
def _core(model, sets, comps, ts):
    return jax.lax.map(lambda t: _at(model, sets, comps, t), ts)


def _six(log_p, log_q):
    return jnp.stack([dv.tv(log_p, log_q), dv.log_overlap(log_p, log_q),
                      dv.bhattacharyya(log_p, log_q), dv.kl(log_p, log_q),
                      dv.chi_square(log_p, log_q), dv.posterior_overlap(log_p, log_q)])


_six_rows = jax.jit(jax.vmap(_six))
_tv_rows = jax.jit(jax.vmap(dv.tv))
DIVERGENCES = ("tv", "lo", "bc", "kl", "chi2", "po")


def _pad_rows(log_p, log_q):
    rows, width = log_p.shape
    w = max(MIN_WIDTH, 1 << max(0, int(width - 1).bit_length()))
    r = -(-rows // ROW_BLOCK) * ROW_BLOCK
    out = np.full((2, r, w), NEG_INF)
    out[0, :rows, :width], out[1, :rows, :width] = log_p, log_q
    return out


def divergence_rows(log_p, log_q, which="all"):
    """Divergences between paired rows of two arrays of log-pmfs (:mod:`localize.divergences`).

    Args:
        log_p: ``(..., D)`` log-pmfs.
        log_q: the same shape.
        which: ``"all"`` for TV, log-overlap, BC, KL, chi-square and the posterior overlap of
            Lemma 1; ``"tv"`` for TV only.

    Returns:
        For ``"all"`` a dict ``name -> (...)`` with the names of :data:`DIVERGENCES`; for
        ``"tv"`` one array ``(...)``.
    """
    log_p, log_q = np.asarray(log_p), np.asarray(log_q)
    lead, width = log_p.shape[:-1], log_p.shape[-1]
    rows = int(np.prod(lead))
    padded = _pad_rows(log_p.reshape(rows, width), log_q.reshape(rows, width))
    fn = _six_rows if which == "all" else _tv_rows
    parts = [np.asarray(fn(jnp.asarray(padded[0, s:s + ROW_BLOCK]),
                           jnp.asarray(padded[1, s:s + ROW_BLOCK])))
             for s in range(0, padded.shape[1], ROW_BLOCK)]
    out = np.concatenate(parts, axis=0)[:rows]
    if which == "all":
        return {name: out[:, i].reshape(lead) for i, name in enumerate(DIVERGENCES)}
    return out.reshape(lead)


def _pairwise(log_a, log_b, which="all", pairs=None):
    """Divergences of rows of ``log_a`` against rows of ``log_b``, per time.

    Args:
        log_a: ``(n, m, D)`` log-pmfs.
        log_b: ``(n, m', D)`` log-pmfs.
        which: as in :func:`divergence_rows`.
        pairs: an ``(m, m')`` boolean mask of the pairs to compute (default: all); the
            others are NaN, which a claim refuses to read.

    Returns:
        ``(n, m, m')`` arrays (a dict of them for ``"all"``).
    """
    n, na, d = log_a.shape
    nb = log_b.shape[1]
    if pairs is None:
        pairs = np.ones((na, nb), bool)
    ia, ib = np.nonzero(pairs)
    got = divergence_rows(log_a[:, ia], log_b[:, ib], which)

    def scatter(v):
        out = np.full((n, na, nb), np.nan)
        out[:, ia, ib] = v
        return out

    return {k: scatter(v) for k, v in got.items()} if which == "all" else scatter(got)


@dataclasses.dataclass(frozen=True, eq=False)
class Tables:
    """Exact quantities of one instance on its grid (NumPy, leading axis = time).

    With ``n`` times, ``m`` sets, ``K`` components, ``Z`` observations and ``U`` clean outcomes
    (flattened):

    Attributes:
        times: ``(n,)`` the grid.
        sets: the ``m`` sub-populations, as sorted tuples of component indices.
        weights: ``(K,)`` mixture weights.
        set_weight: ``(m,)`` ``w(S)``.
        has_rest: ``(m,)`` whether ``Theta - S`` has positive weight.
        pz, pzc: ``(n, m, Z)`` ``log p_t^S`` and ``log p_t^{Theta - S}``.
        pu, puc: ``(n, m, U)`` ``log p^S`` and ``log p^{Theta - S}``.
        fr: ``(n, m, U)`` ``log p^{S,t}``, the forward-reverse law of Definition 3.
        label: ``(n, m, K)`` ``E_{Y ~ p_t^S}[pi_t(theta | Y)]``.
        pic: ``(n, m, Z)`` ``log pi_t(Theta - S | y)``.
        logk: ``(n, Z, U)`` ``log K_t(y | x)``.
        div: name -> ``(n, m, m)`` divergences between noised sub-mixtures ``(p_t^A, p_t^B)``.
        div_rest: name -> ``(n, m)`` divergences ``(p_t^S, p_t^{Theta - S})``.
        tv_fr_clean: ``(n, m, m)`` ``TV(p^{A,t}, p^B)`` for ``A ⊆ B`` (NaN otherwise).
        tv_fr_fr: ``(n, m, m)`` ``TV(p^{A,t}, p^{B,t})`` for ``A`` before ``B`` in
            :attr:`sets` (NaN otherwise).
    """

    times: np.ndarray
    sets: tuple
    weights: np.ndarray
    set_weight: np.ndarray
    has_rest: np.ndarray
    pz: np.ndarray
    pzc: np.ndarray
    pu: np.ndarray
    puc: np.ndarray
    fr: np.ndarray
    label: np.ndarray
    pic: np.ndarray
    logk: np.ndarray
    div: dict
    div_rest: dict
    tv_fr_clean: np.ndarray
    tv_fr_fr: np.ndarray

    def index(self, subset) -> int:
        """Row of a set in :attr:`sets` (a ``KeyError`` names it when absent)."""
        return self._lookup[tuple(sorted(int(i) for i in subset))]

    @functools.cached_property
    def _lookup(self):
        return {s: i for i, s in enumerate(self.sets)}

    @property
    def full(self) -> int:
        """Row of ``Theta``."""
        return self.index(range(self.weights.size))


def masks(sets, n_components: int, k_model: int):
    """Boolean ``(N_SETS, k_model)`` masks of the sets and their complements, padded.

    Padding rows repeat ``Theta``; a complement of zero weight is replaced by ``Theta`` too
    (its rows are flagged by ``has_rest`` and never read).
    """
    if len(sets) > N_SETS:
        raise bad("sets", f"{len(sets)} sets", f"at most {N_SETS} sets per instance")
    full = np.zeros(k_model, dtype=bool)
    full[:n_components] = True
    s = np.tile(full, (N_SETS, 1))
    c = np.tile(full, (N_SETS, 1))
    for i, subset in enumerate(sets):
        s[i] = False
        s[i, list(subset)] = True
        rest = full & ~s[i]
        if rest.any():
            c[i] = rest
    return s, c


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compute(instance) -> Tables:
    """The :class:`Tables` of a catalog instance (cached per instance object)."""
    if instance in _CACHE:
        return _CACHE[instance]
    tab = _compute(instance)
    _CACHE[instance] = tab
    return tab


def _compute(instance) -> Tables:
    model, sets, times = instance.model, instance.sets, np.asarray(instance.times, float)
    weights = np.exp(np.asarray(model.log_weights, dtype=np.float64))
    k = weights.size
    if instance.padded:
        core_model = pad_finite(model.log_weights, model.log_pmfs, model.process, times)
        ts = jnp.arange(N_TIMES, dtype=jnp.int32)
        k_model = K_PAD
    else:
        core_model = model
        grid = np.concatenate([times, np.full(max(0, N_TIMES - times.size), times[-1])])
        ts = jnp.asarray(grid)
        k_model = k
    s, c = masks(sets, k, k_model)
    raw = jax.device_get(_core(core_model, jnp.asarray(s), jnp.asarray(c), ts))
    n, m = times.size, len(sets)
    get = {key: np.asarray(v)[:n, :m] for key, v in raw.items() if key != "logk"}
    logk = np.asarray(raw["logk"])[:n]
    label = get["label"][:, :, :k]
    has_rest = np.array([weights[[i for i in range(k) if i not in set(S)]].sum() > 0
                         for S in sets])
    set_weight = np.array([weights[list(S)].sum() for S in sets])
    pz, pzc = get["pz"], get["pzc"]
    rest_pairs = divergence_rows(pz, pzc)
    nested = np.array([[set(a) <= set(b) for b in sets] for a in sets])
    return Tables(
        times=times,
        sets=tuple(tuple(sorted(int(i) for i in S)) for S in sets),
        weights=weights,
        set_weight=set_weight,
        has_rest=has_rest,
        pz=pz,
        pzc=pzc,
        pu=get["pu"],
        puc=get["puc"],
        fr=get["fr"],
        label=label,
        pic=get["pic"],
        logk=logk,
        div=_pairwise(pz, pz),
        div_rest=rest_pairs,
        tv_fr_clean=_pairwise(get["fr"], get["pu"], "tv", pairs=nested),
        tv_fr_fr=_pairwise(get["fr"], get["fr"], "tv", pairs=np.triu(np.ones((m, m), bool), 1)),
    )
