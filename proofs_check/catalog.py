"""The catalog of instances on which ``localize check`` runs the paper's claims.

:func:`default_catalog` returns, from one fixed seed:

* **random finite mixtures** (theory.md §6): ``K = 2..5`` components with Dirichlet(0.3)
  pmfs on ``A^L`` (``A = 2..3``, ``L = 2..4``), Dirichlet(1) weights, under truncation,
  ordered masking (a random order) and random masking, each with a random nested pair
  ``S_init ⊆ S_target ⊊ Theta``, a grid covering the index set and a list of ``eps``; the
  general claims range over *every* non-empty sub-population of them (all nested pairs, all
  partitions), not only the designated pair;
* a **perturbed twin** of some of them (same weights, components mixed with a random pmf)
  for Corollary 2;
* **point masses** (:mod:`synthetic.point_masses`): Example 3's two points at Hamming
  distance ``d_H`` in ``{0,1}^1000`` under random masking, each with a grid holding the closed
  forms' thresholds (these also serve the general claims);
* **Example 7**: the points of a product of alphabets under ordered masking, with the tree of
  Definition 8, through the point-mass family and as explicit pmfs (with a perturbed twin for
  Corollary 2);
* **biased coins**: a three-coin mixture as explicit pmfs on ``{0,1}^4`` for the general
  claims, and the family :mod:`synthetic.biased_coins` for Example 5 at the paper's
  thresholds (up to ``T = 4.5e6`` tokens).

``thorough=True`` adds more random mixtures, four nested point masses under truncation at
``L = 1000`` and the biased-coins family itself at ``L = 30`` in the general claims, at the
price of two more compilations (about 25 s on two cores).

Instances are grouped by *role*; a claim takes the instances of its roles. Shapes are few on
purpose: on a CPU compilation dominates, and every random finite mixture shares one
compiled program (:func:`proofs_check.tables.pad_finite`).
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import numpy as np

from localize.model import Model
from proofs_check import examples as ex
from synthetic.finite import finite_mixture

# The error parameters every general instance is checked at.
EPS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
# Shapes of the random finite mixtures: (alphabet, length), cycled; K cycles through 2..5.
SHAPES = ((2, 2), (3, 3), (2, 4), (3, 4), (2, 3), (3, 2), (2, 4), (3, 3))
PROCESSES = ("truncation", "ordered_masking", "random_masking")
# Random masking is checked on this many equally spaced times in [0, 1].
N_RANDOM_MASKING_TIMES = 9
# Example 3: (d_H, eps) pairs, including the rows of theory.md §3.2's table.
EXAMPLE3_CASES = ((1, 0.1), (5, 0.1), (50, 0.1), (500, 0.05), (1000, 0.3), (5, 0.3), (50, 0.02))
EXAMPLE3_LENGTH = 1000
# Example 7: the alphabets of the coordinates.
EXAMPLE7_ALPHABETS = (2, 3, 2)


@dataclasses.dataclass(frozen=True, eq=False)
class Instance:
    """One model with the sets, times and error parameters the claims are checked on.

    Attributes:
        name: a readable unique name.
        model: the :class:`localize.Model`.
        times: the grid (points of the process's index set, increasing).
        sets: the sub-populations the claims range over (sorted tuples of indices).
        s_init: the instance's designated ``S_init``.
        s_target: the instance's designated ``S_target`` (contains ``s_init``).
        eps: the error parameters.
        roles: which claims use it (``"general"``, ``"example3"``, ``"example5"``,
            ``"example7"``, ``"corollary2"``).
        padded: computed through the canonical padded finite shape (finite models only).
        twin: for ``"corollary2"``, the model ``q`` with the same weights.
        params: example-specific parameters (``d_H``, ``delta``, the tree ...).
    """

    name: str
    model: Model
    times: tuple
    sets: tuple
    s_init: tuple
    s_target: tuple
    eps: tuple = EPS
    roles: frozenset = frozenset({"general"})
    padded: bool = False
    twin: Instance | None = None
    params: dict = dataclasses.field(default_factory=dict)

    def describe(self) -> dict:
        """A short JSON-ready description."""
        return {"name": self.name, "model": self.model.describe(), "roles": sorted(self.roles)}


def all_subsets(k: int) -> tuple:
    """Every non-empty subset of ``range(k)``, as sorted tuples, smallest first."""
    return tuple(c for r in range(1, k + 1) for c in itertools.combinations(range(k), r))


def _grid(process: str, length: int) -> tuple:
    if process == "random_masking":
        return tuple(float(t) for t in np.linspace(0.0, 1.0, N_RANDOM_MASKING_TIMES))
    return tuple(float(t) for t in range(length + 1))


def _nested_pair(rng: np.random.Generator, k: int):
    target_size = int(rng.integers(1, k))  # a proper subset
    target = np.sort(rng.choice(k, size=target_size, replace=False))
    init_size = int(rng.integers(1, target_size + 1))
    init = np.sort(rng.choice(target, size=init_size, replace=False))
    return tuple(int(i) for i in init), tuple(int(i) for i in target)


def _generator(key) -> np.random.Generator:
    """A NumPy generator seeded by the bits of a ``jax.random`` key.

    ``jax.random.gamma`` (hence ``jax.random.dirichlet`` and :func:`synthetic.random_finite`)
    takes about 7 s to compile on two cores, an eighth of the time budget of
    ``localize check``; NumPy's Dirichlet sampler costs nothing, and seeding it from the
    instance's key keeps every draw a function of the catalog's one seed.
    """
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _dirichlet_rows(key, n_rows: int, size: int, concentration: float,
                    first: float | None = None):
    """``Dirichlet(concentration)`` rows (and ``Dirichlet(first)`` weights) drawn from ``key``.

    Returns:
        ``(weights, rows)``: ``Dirichlet(first)`` weights of length ``n_rows`` (``None`` when
        ``first`` is ``None``) and ``(n_rows, size)`` ``Dirichlet(concentration)`` rows.
    """
    gen = _generator(key)
    w = None if first is None else gen.dirichlet(np.full(n_rows, first))
    rows = gen.dirichlet(np.full(size, concentration), size=n_rows)
    # Renormalise in float64 so the validation's 1e-9 tolerance is met exactly.
    rows = rows / rows.sum(axis=1, keepdims=True)
    return (None if w is None else w / w.sum()), rows


def random_mixture(key, n_components: int, alphabet: int, length: int, process: str,
                   order=None):
    """A random finite mixture as in theory.md §6: Dirichlet(0.3) pmfs, Dirichlet(1) weights.

    The same law as :func:`synthetic.random_finite`, drawn from ``key`` (see
    :func:`_generator` for why through NumPy).
    """
    w, p = _dirichlet_rows(key, n_components, alphabet**length, 0.3, first=1.0)
    return finite_mixture(w, p, alphabet, length, process, order)


def perturbed(key, model, strength) -> Model:
    """A finite mixture ``q`` with the same weights: ``q^theta = (1 - l) p^theta + l r^theta``.

    Args:
        key: a ``jax.random`` key.
        model: a :class:`synthetic.FiniteMixture`.
        strength: the largest mixing proportion ``l`` (each component draws its own, uniform
            in ``[0, strength]``, from the first column of the draw).

    Returns:
        The perturbed :class:`synthetic.FiniteMixture` (same process, same weights).
    """
    k = model.n_components
    size = model.alphabet**model.length
    _, r = _dirichlet_rows(key, k, size, 0.3)
    lam = strength * _generator(jax.random.fold_in(key, 1)).uniform(size=k)
    p = np.exp(np.asarray(model.log_pmfs)).reshape(k, size)
    q = (1 - lam[:, None]) * p + lam[:, None] * r
    q /= q.sum(axis=1, keepdims=True)
    w = np.exp(np.asarray(model.log_weights))
    return finite_mixture(w / w.sum(), q, model.alphabet, model.length, model.process)


def _random_instances(key, rng: np.random.Generator, per_process: int,
                      twins_per_process: int) -> list:
    # One masking order per length, so that ordered masking reuses its compilations.
    orders = {length: rng.permutation(length).tolist() for length in range(2, 5)}
    out = []
    for p_idx, process in enumerate(PROCESSES):
        for j in range(per_process):
            a, length = SHAPES[j % len(SHAPES)]
            k = 2 + (j + p_idx) % 4
            sub = jax.random.fold_in(key, 100 * p_idx + j)
            order = orders[length] if process == "ordered_masking" else None
            model = random_mixture(sub, k, a, length, process, order=order)
            s_init, s_target = _nested_pair(rng, k)
            twin = None
            roles = {"general"}
            if j < twins_per_process:
                q = perturbed(jax.random.fold_in(sub, 1), model, 0.3)
                twin = Instance(f"{process}-{j}-twin", q, _grid(process, length),
                                all_subsets(k), s_init, s_target, padded=True,
                                roles=frozenset())
                roles.add("corollary2")
            out.append(Instance(
                name=f"random-{process}-{j} (K={k}, A={a}, L={length})",
                model=model, times=_grid(process, length), sets=all_subsets(k),
                s_init=s_init, s_target=s_target, roles=frozenset(roles), padded=True,
                twin=twin,
            ))
    return out


def _example3_instances() -> list:
    from synthetic.point_masses import point_masses

    out = []
    for d_h, eps in EXAMPLE3_CASES:
        points = ex.example3_points(EXAMPLE3_LENGTH, d_h)
        model = point_masses([0.5, 0.5], points, 2, "random_masking")
        out.append(Instance(
            name=f"example3 (d_H={d_h}, eps={eps})", model=model,
            times=ex.example3_grid(d_h, eps), sets=all_subsets(2), s_init=(0,),
            s_target=(0, 1), eps=(eps,), roles=frozenset({"general", "example3"}),
            params={"d_H": d_h, "eps": eps},
        ))
    return out


def _nested_points_instance(rng: np.random.Generator) -> Instance:
    from synthetic.point_masses import point_masses

    length = 1000
    points = np.zeros((4, length), dtype=np.int64)
    points[1, 900:] = 1
    points[2, 500:] = 2
    points[3, 100:] = 1
    w = rng.dirichlet(np.ones(4))
    times = (0.0, 50.0, 100.0, 250.0, 499.0, 500.0, 600.0, 900.0, 1000.0)
    return Instance(
        name="point-masses-nested (K=4, L=1000, truncation)",
        model=point_masses(w / w.sum(), points, 3, "truncation"), times=times,
        sets=all_subsets(4), s_init=(1,), s_target=(0, 1), roles=frozenset({"general"}),
    )


def _example7_instances(key, rng: np.random.Generator) -> list:
    from synthetic.point_masses import point_masses

    alphabets = EXAMPLE7_ALPHABETS
    d = len(alphabets)
    order = rng.permutation(d).tolist()
    tree = ex.example7_tree(alphabets, order)
    points = tree.points
    k = points.shape[0]
    w = rng.dirichlet(np.ones(k))
    w = w / w.sum()
    a = max(alphabets)
    times = tuple(float(t) for t in range(d + 1))
    leaf = tree.subsets[tree.leaves[0]]
    parent = tree.subsets[tree.parent[tree.leaves[0]]]
    params = {"tree": tree, "alphabets": alphabets, "order": order}
    pm = Instance(
        name=f"example7-point-masses (alphabets={list(alphabets)}, order={order})",
        model=point_masses(w, points, a, "ordered_masking", order=order), times=times,
        sets=tree.subsets, s_init=leaf, s_target=parent, eps=(0.1,),
        roles=frozenset({"example7"}), params=params,
    )
    # The same mixture as explicit pmfs on A^d, and a perturbed twin for Corollary 2.
    flat = np.ravel_multi_index(points.T, (a,) * d)
    pmfs = np.zeros((k, a**d))
    pmfs[np.arange(k), flat] = 1.0
    fin = finite_mixture(w, pmfs, a, d, "ordered_masking", order=order)
    q = perturbed(key, fin, 0.2)
    twin = Instance(f"example7-finite-twin (order={order})", q, times, tree.subsets, leaf,
                    parent, padded=True, roles=frozenset())
    fin_inst = Instance(
        name=f"example7-finite (alphabets={list(alphabets)}, order={order})", model=fin,
        times=times, sets=tree.subsets, s_init=leaf, s_target=parent, eps=(0.1,),
        roles=frozenset({"example7", "corollary2"}), padded=True, twin=twin, params=params,
    )
    return [pm, fin_inst]


def coin_pmfs(deltas, length: int) -> np.ndarray:
    """``(K, 2^L)`` pmfs of ``Bern(1/2 + delta)^{(x) L}`` on ``{0,1}^L`` (lexicographic)."""
    ones = np.asarray(list(itertools.product((0, 1), repeat=length))).sum(axis=1)
    p = 0.5 + np.asarray(deltas, dtype=np.float64)[:, None]
    return p**ones * (1.0 - p) ** (length - ones)


def _coins_instances(rng: np.random.Generator, thorough: bool) -> list:
    from synthetic.biased_coins import biased_coins

    deltas = [0.2, 0.05, -0.15]
    w = rng.dirichlet(np.ones(3))
    w = w / w.sum()
    # The exchangeable coins as explicit pmfs on {0,1}^4 (the padded path, no compilation);
    # the family itself compiles for long (the binomial code) and serves Example 5 and the
    # thorough catalog.
    out = [Instance(
        name="biased-coins-as-pmfs (K=3, L=4, truncation)",
        model=finite_mixture(w, coin_pmfs(deltas, 4), 2, 4, "truncation"),
        times=_grid("truncation", 4), sets=all_subsets(3), s_init=(0,), s_target=(0, 1),
        padded=True,
    )]
    if thorough:
        length = 30  # keeps the clean space of count pairs within one padded width (256)
        out.append(Instance(
            name=f"biased-coins (K=3, L={length}, truncation)",
            model=biased_coins(w, deltas, length, "truncation"),
            times=tuple(float(t) for t in np.linspace(0, length, 9).round()),
            sets=all_subsets(3), s_init=(0,), s_target=(0, 1),
        ))
    # Example 5: the modes (+Delta, -Delta) of every case as components of one model, so
    # that one compilation serves all cases; the laws of a pair of components, and of their
    # equal-weight sub-mixture, are those of Example 5's two-component model.
    cases = ex.EXAMPLE5_CASES
    th = [ex.example5_thresholds(delta, eps) for delta, eps in cases]
    length = max(x["n_after"] for x in th) + 1
    model = biased_coins([1.0 / (2 * len(cases))] * (2 * len(cases)),
                         [d for delta, _ in cases for d in (delta, -delta)], length,
                         "truncation")
    times = sorted({float(length - x[key]) for x in th for key in ("n_after", "n_before")})
    out.append(Instance(
        name=f"example5 (T={length}, (Delta, eps) = {list(cases)})", model=model,
        times=tuple(times), sets=tuple((2 * i, 2 * i + 1) for i in range(len(cases))),
        s_init=(0,), s_target=(0, 1), eps=tuple(eps for _, eps in cases),
        roles=frozenset({"example5"}),
        params={"cases": [{"delta": delta, "eps": eps, "plus": 2 * i, "minus": 2 * i + 1, **x}
                          for i, ((delta, eps), x) in enumerate(zip(cases, th, strict=True))]},
    ))
    return out


def default_catalog(seed: int = 0, thorough: bool = False) -> list:
    """The catalog ``localize check`` runs on (deterministic for a given seed).

    Args:
        seed: the seed of the ``jax.random`` key every random instance is drawn from.
        thorough: more random mixtures (8 instead of 5 per process, 3 twins instead of 2),
            nested point masses at ``L = 1000``, and the biased-coins family itself at
            ``L = 30`` in the general claims (its compilation alone takes about 20 s on two
            cores).

    Returns:
        A list of :class:`Instance`.
    """
    key = jax.random.key(seed)
    rng = np.random.default_rng(seed)
    per_process, twins = (8, 3) if thorough else (5, 2)
    out = _random_instances(jax.random.fold_in(key, 0), rng, per_process, twins)
    out += _example3_instances()
    if thorough:
        out.append(_nested_points_instance(rng))
    out += _example7_instances(jax.random.fold_in(key, 7), rng)
    out += _coins_instances(rng, thorough)
    return out


def with_role(catalog, role: str) -> list:
    """The instances of ``catalog`` that play ``role``."""
    return [inst for inst in catalog if role in inst.roles]


def describe(catalog) -> dict:
    """Counts of the catalog's instances, in all and by role."""
    roles = sorted({r for inst in catalog for r in inst.roles})
    return {"instances": len(catalog),
            "by_role": {r: sum(r in inst.roles for inst in catalog) for r in roles}}
