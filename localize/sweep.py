"""Big sweeps over every visible device: one jitted, vmapped function with its batch sharded.

A figure or a property check often evaluates one pure per-item function on every point of a
product grid (times x parameters x seeds). :func:`sweep` runs it as ``jax.jit(jax.vmap(fn))``
with the batch axis split over a one-dimensional mesh of devices,
``NamedSharding(Mesh(devices, ("batch",)), PartitionSpec("batch"))``: each device computes a
contiguous block of items. On one CPU it is the plain vmapped call.

* The batch is padded to a multiple of the device count by repeating its last item, so a
  padded row is a valid input (never a zero variance or a zero key) and cannot raise or
  produce NaN; the padding is sliced off before the result reaches the host.
* The jitted function is cached per ``(fn, in_axes, mesh, chunk_size)``, and jit's own cache
  is keyed by shapes and shardings, so a second sweep of the same shapes does not compile.
* Give each item its own PRNG key (a row of ``jax.random.split``): the draws then do not
  depend on how the batch is split, and a sweep on four devices reproduces the one on a
  single device up to rounding (XLA may vectorise a block of another size differently, which
  moves a transcendental or a sum by an ulp or two; the tests hold it to 1e-15).

Example, the two-component TV of [LKC25] Example 1 on a grid of times, norms and seeds::

    grid = product_grid(times, norms, jax.random.split(jax.random.key(0), 8))
    tv = grid.unflatten(sweep(per_item, *grid.points))  # (n_times, n_norms, 8)
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from localize.errors import bad

BATCH = "batch"  # the name of the mesh axis the batch is split over
_CACHE_SIZE = 256  # distinct (fn, in_axes, mesh, chunk_size) kept compiled at once


class Sharded(NamedTuple):
    """The output of :func:`sharded_sweep`, still on the devices.

    Attributes:
        value: a pytree like ``fn``'s output, each leaf of shape ``(padded, ...)`` and sharded
            along its first axis over the mesh; rows from ``size`` on are padding.
        size: the number of real items.
    """

    value: Any
    size: int

    def to_host(self):
        """The un-padded result gathered to host NumPy arrays (batch axis first)."""
        host = jax.device_get(self.value)
        return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[: self.size], host)


class Grid(NamedTuple):
    """A flat product grid and the shape that folds a result back onto its axes.

    Attributes:
        points: one pytree per axis, each leaf with leading length ``prod(shape)``: item ``j``
            of the flat grid is ``(points[0][j], points[1][j], ...)``, last axis fastest
            (the order of ``itertools.product``).
        shape: the length of every axis.
    """

    points: tuple
    shape: tuple

    @property
    def size(self) -> int:
        """The number of grid points, ``prod(shape)``."""
        return math.prod(self.shape)

    def unflatten(self, tree):
        """Reshape every leaf of ``tree`` from ``(size, ...)`` to ``(*shape, ...)``.

        Args:
            tree: a pytree of arrays with a leading axis of length :attr:`size`, e.g. the
                output of :func:`sweep` on :attr:`points`.

        Returns:
            The same pytree with the flat axis split into the grid's axes.

        Raises:
            LocalizeError: naming ``tree`` when a leaf's leading axis is not :attr:`size`.
        """

        def fold(path, leaf):
            shape = np.shape(leaf)
            if not shape or shape[0] != self.size:
                raise bad(f"tree{jax.tree_util.keystr(path)}", f"array of shape {shape}",
                          f"a leading axis of {self.size} items (the grid {self.shape})")
            return leaf.reshape(self.shape + tuple(shape[1:]))

        return jax.tree_util.tree_map_with_path(fold, tree)


def product_grid(*axes) -> Grid:
    """Flatten the Cartesian product of several axes into one batch for :func:`sweep`.

    Args:
        *axes: each an array (or a pytree of arrays sharing a leading length, e.g. a dict of
            parameters that vary together, or PRNG keys from ``jax.random.split``) whose
            leading axis lists the values of that axis of the grid.

    Returns:
        A :class:`Grid`; ``sweep(fn, *grid.points)`` evaluates ``fn`` at every point and
        ``grid.unflatten`` folds the result back to ``(*grid.shape, ...)``.

    Raises:
        LocalizeError: naming ``axes[i]`` when an axis is empty, a scalar, or its leaves
            disagree on the length.
    """
    if not axes:
        raise bad("axes", axes, "at least one axis")
    axes = tuple(np.asarray(a) if isinstance(a, (list, tuple)) else a for a in axes)
    shape = tuple(_axis_length(a, f"axes[{i}]") for i, a in enumerate(axes))
    # C order (last axis fastest), the order of itertools.product and of reshape(shape).
    index = np.indices(shape).reshape(len(shape), -1)
    points = tuple(jax.tree_util.tree_map(lambda leaf, i=i: leaf[index[i]], a)
                   for i, a in enumerate(axes))
    return Grid(points, shape)


def _axis_length(axis, name: str) -> int:
    leaves = jax.tree_util.tree_leaves(axis)
    lengths = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if not leaves or None in lengths or 0 in lengths:
        raise bad(name, axis, "a non-empty array (or pytree of arrays) with a leading axis")
    if len(lengths) > 1:
        raise bad(name, f"leaves of lengths {sorted(lengths)}", "one leading length")
    return lengths.pop()


def batch_mesh(devices=None) -> Mesh:
    """A one-dimensional mesh named ``"batch"`` over ``devices`` (default: all visible).

    Raises:
        LocalizeError: naming ``devices`` when it is empty, repeats a device or holds
            something that is not a ``jax.Device``.
    """
    if devices is None:
        devices = jax.devices()
    try:
        devices = list(devices)
    except TypeError:
        raise bad("devices", devices, "a list of jax devices") from None
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise bad("devices", devices, "a non-empty list of jax devices")
    if len(set(devices)) != len(devices):
        raise bad("devices", devices, "distinct devices")
    return Mesh(np.array(devices), (BATCH,))


def sharded_sweep(fn: Callable, *args, in_axes=0, devices=None,
                  chunk_size: int | None = None) -> Sharded:
    """Evaluate ``fn`` on every item of a batch, split over devices; the result stays there.

    Args:
        fn: a pure, jittable function of one item of each argument, returning a pytree of
            arrays. The same ``fn`` object (not a fresh lambda or ``partial``) reuses the
            compiled code across calls; pass what it shares as an unbatched argument.
        *args: pytrees of arrays (NumPy, JAX, or PRNG key arrays); every leaf of a batched
            argument has the batch along its ``in_axes`` axis, all of one length.
        in_axes: as in ``jax.vmap``, one entry per argument: the batch axis of every leaf
            (an int) or ``None`` for an argument shared by every item (replicated on each
            device). A single int applies to every argument.
        devices: the devices to split the batch over (default ``jax.devices()``).
        chunk_size: if given, each device evaluates its block ``chunk_size`` items at a
            time (``lax.map`` with ``batch_size``) instead of all at once, which bounds the
            memory of a big Monte Carlo sweep. The batch is then padded to whole chunks on
            every device, so one loop body of one shape is compiled (no remainder branch).

    Returns:
        A :class:`Sharded`: the padded output (batch axis first, sharded over the mesh) and
        the number of real items.

    Raises:
        LocalizeError: naming the argument (``args[i]`` and the path of the leaf) when batch
            sizes disagree or a leaf has no batch axis; naming ``fn``, ``in_axes``,
            ``devices`` or ``chunk_size`` when they are not what is expected.
    """
    if not callable(fn):
        raise bad("fn", fn, "a callable")
    axes = _normalise_in_axes(in_axes, len(args))
    chunk_size = _check_chunk_size(chunk_size)
    mesh = batch_mesh(devices)
    n = _batch_size(args, axes)
    # With chunks, every device's block is whole chunks: lax.map then compiles one body and
    # no remainder branch.
    unit = mesh.size * (chunk_size or 1)
    padded = -(-n // unit) * unit
    placed = tuple(_place(arg, axis, n, padded, mesh)
                   for arg, axis in zip(args, axes, strict=True))
    # An unhashable callable cannot key the cache: it is compiled afresh on every call.
    build = _jitted if _hashable(fn) else _jitted.__wrapped__
    return Sharded(build(fn, axes, mesh, chunk_size)(*placed), n)


def sweep(fn: Callable, *args, in_axes=0, devices=None, chunk_size: int | None = None):
    """Evaluate ``fn`` on every item of a batch over every device; return NumPy on the host.

    The same as ``jax.vmap(fn, in_axes)(*args)`` gathered to the host, computed as one
    jitted call with the batch sharded over ``devices`` (see :func:`sharded_sweep` for the
    arguments). Typical use, a grid of times x norms x seeds::

        def per_item(t, norm, key):
            ...  # one Monte Carlo estimate, from this item's own key

        grid = product_grid(ts, norms, jax.random.split(jax.random.key(0), 16))
        est = grid.unflatten(sweep(per_item, *grid.points))  # (len(ts), len(norms), 16)

    Returns:
        ``fn``'s output pytree with a leading batch axis, as NumPy arrays, without padding.
    """
    return sharded_sweep(fn, *args, in_axes=in_axes, devices=devices,
                         chunk_size=chunk_size).to_host()


def _hashable(v) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _normalise_in_axes(in_axes, n_args: int) -> tuple:
    if not n_args:
        raise bad("args", (), "at least one batched argument")
    expected = f"an int, None, or a tuple of {n_args} of them (one per argument)"
    if in_axes is None or _is_int(in_axes):
        axes = (in_axes,) * n_args
    elif isinstance(in_axes, (tuple, list)) and len(in_axes) == n_args:
        axes = tuple(in_axes)
    else:
        raise bad("in_axes", in_axes, expected)
    if not all(a is None or _is_int(a) for a in axes):
        raise bad("in_axes", in_axes, expected)
    if all(a is None for a in axes):
        raise bad("in_axes", in_axes, "at least one batched argument (an int)")
    return tuple(None if a is None else int(a) for a in axes)


def _check_chunk_size(chunk_size):
    if chunk_size is None:
        return None
    if not _is_int(chunk_size) or chunk_size < 1:
        raise bad("chunk_size", chunk_size, "None or an integer >= 1")
    return int(chunk_size)


def _batch_size(args, axes) -> int:
    """The common length of every batched leaf, naming the first leaf that disagrees."""
    n, first = None, None
    for i, (arg, axis) in enumerate(zip(args, axes, strict=True)):
        if axis is None:
            continue
        leaves = jax.tree_util.tree_flatten_with_path(arg)[0]
        if not leaves:
            raise bad(f"args[{i}]", arg, "at least one array (it is batched)")
        for path, leaf in leaves:
            name = f"args[{i}]{jax.tree_util.keystr(path)}"
            shape = np.shape(leaf)
            if not -len(shape) <= axis < len(shape):
                raise bad(name, f"array of shape {shape}", f"an array with a batch axis {axis}")
            if n is None:
                n, first = shape[axis], name
            elif shape[axis] != n:
                raise bad(name, f"array of shape {shape}",
                          f"{n} items along axis {axis}, as many as {first}")
    if n == 0:
        raise bad(first, "an empty batch", "at least one item")
    return n


def _place(arg, axis, n: int, padded: int, mesh: Mesh):
    """Pad a batched argument by repeating its last item, and put it on the mesh."""
    if axis is None:
        return jax.device_put(arg, NamedSharding(mesh, P()))
    index = np.minimum(np.arange(padded), n - 1)

    def one(leaf):
        ax = axis % np.ndim(leaf)
        if padded > n:
            # Host arrays are padded on the host, so nothing lands on one device first.
            leaf = (np.take(leaf, index, axis=ax) if isinstance(leaf, np.ndarray)
                    else jnp.take(leaf, index, axis=ax))
        return jax.device_put(leaf, NamedSharding(mesh, P(*([None] * ax), BATCH)))

    return jax.tree_util.tree_map(one, arg)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _jitted(fn, axes: tuple, mesh: Mesh, chunk_size):
    """``jit(vmap(fn))`` with the output sharded along the batch; cached so calls share it."""
    mapped = (jax.vmap(fn, in_axes=axes) if chunk_size is None
              else _blockwise(fn, axes, mesh.size, chunk_size))
    return jax.jit(mapped, out_shardings=NamedSharding(mesh, P(BATCH)))


def _blockwise(fn, axes: tuple, n_devices: int, chunk_size: int):
    """``vmap(fn)`` evaluated ``chunk_size`` items at a time within each device's block.

    The batch axis (length ``n_devices * b``) is split into ``(n_devices, b)``; the device
    axis is vmapped, so each device keeps its own contiguous block, and ``lax.map`` walks
    the block sequentially.
    """

    def run(*args):
        batched = {i: jax.tree_util.tree_map(lambda x, a=a: _split(x, a, n_devices), args[i])
                   for i, a in enumerate(axes) if a is not None}

        def on_device(block):
            def item(xs):
                return fn(*(xs[i] if i in xs else arg for i, arg in enumerate(args)))

            return jax.lax.map(item, block, batch_size=chunk_size)

        out = jax.vmap(on_device)(batched)
        return jax.tree_util.tree_map(lambda y: y.reshape((-1,) + y.shape[2:]), out)

    return run


def _split(x, axis: int, n_devices: int):
    """Move the batch axis first and split it into ``(n_devices, block)``."""
    x = jnp.moveaxis(x, axis, 0)
    return x.reshape((n_devices, x.shape[0] // n_devices) + x.shape[1:])
