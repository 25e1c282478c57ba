"""In-context learning as a mixture of tasks ([LKC25] Example 6, Example 11, Corollary 3).

A sequence is ``[x_1, y_1, o, x_2, y_2, o, ..., x_N, y_N, o]`` (length ``3N``): queries
``x_i`` from a finite alphabet ``X``, answers ``y_i`` from ``Y``, and a delimiter ``o``.
Task ``theta`` (weight ``w_theta``) draws every query i.i.d. from a query law ``q`` shared by
all tasks (Assumption 2 of Example 11) and the answer from its own kernel
``p^theta(y | x)`` (Assumptions 3 and 4: the answer depends on the current query only); the
delimiter is deterministic. The forward process is truncation ([LKC25] Example 10): time
``t`` removes the last ``t`` tokens, so ``t = 2`` leaves ``[..., x_N]`` and resampling
``y_N`` from the whole mixture is the in-context learner of Example 6.

**Reduction (exact).** Write ``pi^theta(x, y) = q(x) p^theta(y | x)`` on the
``C = |X||Y|`` cells. A prefix's probability under ``theta`` is a product of ``pi^theta``
over its complete (query, answer) pairs, times ``q(x)`` for a query whose answer is hidden,
times 1 per delimiter. The last two factors are the same for every task, so every likelihood
ratio between tasks depends only on the **table of counts** of the visible pairs. At time
``t`` the number of visible pairs is ``n_v(t) = N - floor((t + 1) / 3)`` (a query without
its answer is not a pair) and:

* observation space ``Z``: count tables ``c`` with ``sum c = n_v``, with
  ``p_t^theta(c) = Multinomial(n_v; pi^theta)(c)``;
* clean space ``U``: pairs ``(c_v, c_h)`` of tables of the visible and the hidden pairs
  (``n_h = N - n_v``; a pair whose query is visible and answer hidden counts as hidden), with
  ``p^theta(c_v, c_h) = Mult(n_v; pi^theta)(c_v) Mult(n_h; pi^theta)(c_h)``;
* the kernel is deterministic, ``z = c_v``, so ``log_adjoint(t, log_r)[(c_v, c_h)] =
  log_r[c_v]``.

The forward-reverse law ``p^{S,t}(u) = p(u) sum_z K_t(z|u) p_t^S(z)/p_t(z)`` has, on each
class ``(c_v, c_h)``, a constant ratio to every component law, so every TV, posterior and
forward-reverse law computed on the reduction is the exact one on sequences
(:mod:`localize.model`). The token times ``t = 3k - 1, 3k, 3k + 1`` share one ``n_v``:
regenerating a delimiter or a query reveals nothing about the task.

**Sizes.** A table of total ``n`` is one of ``M_n = C(n + C - 1, C - 1)`` classes; shapes
must not depend on ``t``, so the observation axis has the static length ``M_N`` (padded with
``-inf``) and the clean space is the flattened pairs, of static length
``max_n M_n M_{N-n}``. The model keeps every table of total ``0..N``, so its size is capped:

* ``(N + 1) * M_N * C <= MAX_COUNT_ENTRIES`` (``2^24``): ``N <= 69`` for ``|X| = |Y| = 2``,
  ``N <= 23`` for ``3 x 2``, ``N <= 12`` for ``3 x 3``, ``N <= 6`` for 16 cells. Beyond, the
  builder raises.
* ``max_n M_n M_{N-n} <= MAX_CLEAN`` (``2^20``): ``N <= 32`` for ``2 x 2``, ``N <= 15`` for
  ``3 x 2``, ``N <= 9`` for ``3 x 3``. Beyond, the model is still built (its prefix laws,
  :func:`prefix_curves` and :func:`learner_error` work), but a window report, which needs
  the forward-reverse law on the clean space, raises a :class:`LocalizeError` naming
  ``model.n_examples``. Time grows with the clean space: a report on every token time at
  ``N = 30`` (``2 x 2``, 666,000 clean classes, 91 times) took 13 s of CPU after compiling
  (27 s wall on two shared cores); at ``N = 12`` it took 0.05 s.

**Alternative kernels (Corollary 3, App. C.2.4-C.2.5).** In deployment the queries come from
a user, not from the model: the steps ``y_i -> o -> x_{i+1}`` (and ``x_1``) use an
alternative kernel, here the delimiter followed by a query from a law ``q_alt``
(:func:`alt_model`), and only the answers come from the model. Assumption 1 asks that the
model's own kernels on those steps do not depend on ``theta`` on the support of the
alternative kernel; then ``p^{Theta,alt} = sum_theta w_theta p^{theta,alt}`` and the windows
computed with ``p^{.,alt}`` obey Theorem 2. With a shared query law Assumption 1 holds by
construction, and ``p^{theta,alt}`` is this family with ``q`` replaced by ``q_alt``. To check
Assumption 1 and the decomposition *from the definitions*, the token-level functions
(:func:`token_log_laws`, :func:`assumption1_gap`, :func:`alt_sampler_kernels`) work on the
explicit laws of every sequence at small ``N``, allow a query law per task (which breaks
Assumption 1) and never use the count reduction.

**Example 11.** :func:`pair_bhattacharyya` gives the per-pair Bhattacharyya coefficients and
``delta = H^2`` of Assumption 5; :func:`example11_thresholds` the corrected threshold
``ln(1/eps) / ln(1/(1 - delta/2))`` and the printed one ``ln((1 - delta/2)/eps)``
(theory.md §3.4, §7).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.nn import logsumexp

from localize import divergences as dv
from localize.errors import LocalizeError, bad
from localize.model import Model, View, check_weights, set_mask
from localize.posterior import log_set_weights
from localize.processes import Process, Truncation
from synthetic.registry import Family, register

# Count entries the model may hold: (N + 1) tables of at most M_N classes of C cells.
MAX_COUNT_ENTRIES = 2**24
# Classes of the clean space (pairs of tables) a window report may use.
MAX_CLEAN = 2**20
# Sequences the token-level (brute-force) functions may enumerate.
MAX_SEQUENCES = 2**16
# Cells |X| |Y| of the pair alphabet.
MAX_CELLS = 16
# Probability rows must sum to 1 within this.
ROW_TOL = 1e-9

NEG_INF = -jnp.inf


# --------------------------------------------------------------------------------------
# count tables


def n_classes(n: int, cells: int) -> int:
    """The number ``M_n = C(n + cells - 1, cells - 1)`` of count tables of total ``n``.

    The tables are Example 11's sufficient statistic: ``n`` (query, answer) pairs in
    ``cells = |X| |Y|`` cells.
    """
    return math.comb(n + cells - 1, cells - 1)


def count_tables(n: int, cells: int) -> np.ndarray:
    """Every table of ``cells`` non-negative counts summing to ``n`` (stars and bars).

    Args:
        n: the total.
        cells: the number of cells ``C >= 1``.

    Returns:
        ``(M_n, C)`` int64 counts, one table per row, lexicographic in the bar positions.
    """
    if cells == 1:
        return np.array([[n]], dtype=np.int64)
    flat = itertools.chain.from_iterable(itertools.combinations(range(n + cells - 1), cells - 1))
    bars = np.fromiter(flat, dtype=np.int64).reshape(-1, cells - 1)
    edges = np.hstack([np.full((bars.shape[0], 1), -1), bars,
                       np.full((bars.shape[0], 1), n + cells - 1)])
    return np.diff(edges, axis=1) - 1


def clean_classes(n_examples: int, cells: int) -> int:
    """``max_n M_n M_{N-n}``: the static size of the clean space of pairs of tables.

    The forward-reverse law (Definition 3) lives on pairs (visible, hidden) of tables.
    """
    return max(n_classes(n, cells) * n_classes(n_examples - n, cells)
               for n in range(n_examples + 1))


def visible_pairs(t, n_examples):
    """``n_v(t) = N - floor((t + 1) / 3)``: complete (query, answer) pairs left by truncation.

    Works on NumPy and traced JAX values alike. Positions ``3i, 3i + 1, 3i + 2`` (0-based)
    hold ``x_{i+1}, y_{i+1}, o``; a pair counts once its answer is visible.
    """
    xp = jnp if isinstance(t, jax.Array) else np
    tt = xp.round(xp.asarray(t)).astype(xp.int64)
    return xp.clip(n_examples - (tt + 1) // 3, 0, n_examples)


# --------------------------------------------------------------------------------------
# the model


@dataclasses.dataclass(frozen=True)
class ICLMixture(Model):
    """Tasks ``theta`` mapping queries to answers, exact through pair counts (Example 6).

    Attributes:
        log_w: ``(K,)`` log task weights.
        log_answers: ``(K, |X|, |Y|)`` log answer kernels ``log p^theta(y | x)``.
        log_query: ``(|X|,)`` log query law ``log q(x)``, shared by every task.
        tables: ``(N + 1, M_N, C)`` int16, row ``n`` holding the ``M_n`` tables of total
            ``n`` (cell ``x |Y| + y``) and zeros after them.
        log_fact: ``(N + 1,)`` ``log k!``.
        proc: truncation of the ``3N`` tokens.
        n_x: ``|X|``.
        n_y: ``|Y|``.
        sizes: ``(M_0, ..., M_N)``.
        clean_size: ``max_n M_n M_{N-n}``, or 0 when that exceeds :data:`MAX_CLEAN` (then
            the clean space, and so a window report, is refused).
        log_model_query: ``(|X|,)`` the model's own query law; it differs from
            ``log_query`` when the components are ``p^{theta,alt}`` (:func:`alt_model`).
            Recorded, not used: it is data, so alternative models share compilations.
    """

    log_w: jax.Array
    log_answers: jax.Array
    log_query: jax.Array
    tables: jax.Array
    log_fact: jax.Array
    log_model_query: jax.Array
    proc: Process
    n_x: int
    n_y: int
    sizes: tuple
    clean_size: int

    family = "icl"

    @property
    def log_weights(self):
        return self.log_w

    @property
    def process(self):
        return self.proc

    @property
    def n_examples(self) -> int:
        """``N``, the number of (query, answer, delimiter) triples."""
        return len(self.sizes) - 1

    @property
    def obs_size(self) -> int:
        """``M_N``, the static length of the observation axis."""
        return int(self.sizes[-1])

    def log_pairs(self):
        """``(K, C)`` ``log pi^theta(x, y) = log q(x) + log p^theta(y | x)``, cell ``x|Y| + y``."""
        return (self.log_query[None, :, None] + self.log_answers).reshape(
            self.log_answers.shape[0], -1)

    def log_count_laws(self, n, log_pi=None):
        """Multinomial log-pmfs of the tables of total ``n``.

        Args:
            n: the number of pairs (traceable integer).
            log_pi: ``(R, C)`` log cell probabilities (default :meth:`log_pairs`).

        Returns:
            ``(R, M_N)``: ``log Mult(n; pi_r)(c)`` for the ``M_n`` tables, ``-inf`` on padding.
        """
        log_pi = self.log_pairs() if log_pi is None else log_pi
        tab = jax.lax.dynamic_index_in_dim(self.tables, n, axis=0, keepdims=False)
        tab = tab.astype(jnp.int64)
        coef = self.log_fact[n] - jnp.sum(self.log_fact[tab], axis=-1)
        # 0 * log 0 = 0: an empty cell costs nothing even when the task never emits it.
        cnt = tab.astype(jnp.float64)[None]
        term = jnp.where(cnt > 0, cnt * log_pi[:, None, :], 0.0)
        valid = jnp.arange(self.obs_size) < jnp.asarray(self.sizes)[n]
        return jnp.where(valid[None], coef[None] + jnp.sum(term, axis=-1), NEG_INF)

    def _check_clean(self):
        if self.clean_size == 0:
            limit = max(n for n in range(1, 400)
                        if clean_classes(n, self.n_x * self.n_y) <= MAX_CLEAN)
            raise LocalizeError(
                f"model.n_examples: expected at most {limit} examples for a window report "
                f"with |X| |Y| = {self.n_x * self.n_y} cells (the clean space of pairs of "
                f"count tables has {clean_classes(self.n_examples, self.n_x * self.n_y):,} > "
                f"{MAX_CLEAN:,} classes), got {self.n_examples}; prefix_curves and "
                "learner_error work at this size")

    def _clean_index(self, n_vis):
        """Flattened clean index ``u -> (i, j)``: tables of the visible and hidden pairs."""
        self._check_clean()
        sizes = jnp.asarray(self.sizes)
        m_hid = sizes[self.n_examples - n_vis]
        u = jnp.arange(self.clean_size)
        i, j = u // m_hid, u % m_hid
        valid = i < sizes[n_vis]
        return jnp.where(valid, i, 0), j, valid

    def _clean_components(self, t):
        n_vis = visible_pairs(jnp.asarray(t), self.n_examples)
        i, j, valid = self._clean_index(n_vis)
        lv = self.log_count_laws(n_vis)
        lh = self.log_count_laws(self.n_examples - n_vis)
        return n_vis, lv, jnp.where(valid[None], lv[:, i] + lh[:, j], NEG_INF)

    def view(self, t) -> View:
        _, lv, clean = self._clean_components(t)
        return View(clean, lv)

    def log_noised_mixtures(self, t, log_rows):
        lv = self.log_count_laws(visible_pairs(jnp.asarray(t), self.n_examples))
        return logsumexp(log_rows[:, :, None] + lv[None], axis=1)

    def log_clean_mixtures(self, t, log_rows):
        # sum_theta a_theta e^{lv_theta(i)} e^{lh_theta(j)}, with the exponentials taken on
        # the two small axes (shifted by their maxima over tasks) and only a product, a sum
        # and one log per row on the large clean grid: the grid has up to 2^20 entries.
        n_vis = visible_pairs(jnp.asarray(t), self.n_examples)
        i, j, valid = self._clean_index(n_vis)
        lv = self.log_count_laws(n_vis)
        lh = self.log_count_laws(self.n_examples - n_vis)
        top_v = jnp.max(lv, axis=0)
        top_h = jnp.max(lh, axis=0)
        top_v = jnp.where(jnp.isfinite(top_v), top_v, 0.0)
        top_h = jnp.where(jnp.isfinite(top_h), top_h, 0.0)
        f = jnp.exp(log_rows[:, :, None] + lv[None] - top_v)
        g = jnp.exp(lh - top_h)
        total = f[:, 0, i] * g[0, j][None]
        for k in range(1, g.shape[0]):
            total = total + f[:, k, i] * g[k, j][None]
        # total e^{shift} is the probability itself (shift <= 0), and a term of the sum can
        # underflow only when its own probability is below 1e-308: nothing reported changes.
        out = jnp.log(total) + (top_v[i] + top_h[j])[None]
        return jnp.where(valid[None], out, NEG_INF)

    def log_adjoint(self, t, log_r):
        n_vis = visible_pairs(jnp.asarray(t), self.n_examples)
        i, _, valid = self._clean_index(n_vis)
        return jnp.where(valid, log_r[i], NEG_INF)

    def table_size(self) -> int:
        # The report holds five mixtures and the K components on the clean space at once.
        return max(self.n_components, 5) * max(self.clean_size, self.obs_size)

    def describe(self) -> dict:
        out = {
            **super().describe(),
            "n_examples": self.n_examples,
            "queries": self.n_x,
            "answers_alphabet": self.n_y,
            "query": np.exp(np.asarray(self.log_query)).tolist(),
            "answers": np.exp(np.asarray(self.log_answers)).tolist(),
            "observation_classes": self.obs_size,
            "clean_classes": self.clean_size,
        }
        model_query = np.exp(np.asarray(self.log_model_query))
        if not np.array_equal(model_query, np.exp(np.asarray(self.log_query))):
            out["model_query"] = model_query.tolist()
        return out


jax.tree_util.register_dataclass(
    ICLMixture,
    data_fields=["log_w", "log_answers", "log_query", "tables", "log_fact", "log_model_query"],
    meta_fields=["proc", "n_x", "n_y", "sizes", "clean_size"],
)


# --------------------------------------------------------------------------------------
# validation and the builder


def _log(p):
    with np.errstate(divide="ignore"):
        return np.log(p)


def _check_answers(answers, n_components: int) -> np.ndarray:
    expected = (f"{n_components} tasks (one per weight), each a list of |X| >= 1 rows of "
                "|Y| >= 2 answer probabilities")
    if isinstance(answers, (str, bytes)):
        raise bad("model.answers", answers, expected)
    try:
        a = np.asarray(answers, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad("model.answers", answers, expected) from None
    if a.ndim != 3 or a.shape[0] != n_components or a.shape[1] < 1 or a.shape[2] < 2:
        raise bad("model.answers", answers, expected + f" (got shape {a.shape})")
    if a.shape[1] * a.shape[2] > MAX_CELLS:
        raise bad("model.answers", f"array of shape {a.shape}",
                  f"|X| |Y| <= {MAX_CELLS} (query, answer) cells")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise bad("model.answers", answers, "finite non-negative probabilities")
    sums = a.sum(axis=2)
    if np.any(np.abs(sums - 1.0) > ROW_TOL):
        k, x = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
        raise bad(f"model.answers[{k}][{x}]", a[k, x].tolist(), "a row summing to 1")
    return a


def _check_query(query, n_x: int, name: str) -> np.ndarray:
    expected = f"{n_x} query probabilities (one per row of answers) summing to 1"
    if isinstance(query, (str, bytes)):
        raise bad(name, query, expected)
    try:
        q = np.asarray(query, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(name, query, expected) from None
    if q.shape != (n_x,) or not np.all(np.isfinite(q)) or np.any(q < 0):
        raise bad(name, query, expected)
    if abs(q.sum() - 1.0) > ROW_TOL:
        raise bad(name, query, expected + f" (they sum to {q.sum():.12g})")
    return q


def _check_n_examples(n_examples, cells: int) -> int:
    top = max(n for n in range(1, 400)
              if (n + 1) * n_classes(n, cells) * cells <= MAX_COUNT_ENTRIES)
    expected = f"an integer in 1..{top} (with |X| |Y| = {cells} cells)"
    if isinstance(n_examples, bool) or not isinstance(n_examples, (int, np.integer)):
        raise bad("model.n_examples", n_examples, expected)
    if not 1 <= int(n_examples) <= top:
        raise bad("model.n_examples", n_examples, expected)
    return int(n_examples)


@functools.lru_cache(maxsize=4)
def _padded_tables(n_examples: int, cells: int):
    """Every table of total ``0..N`` (padded) as one device array, built once per shape."""
    sizes = tuple(n_classes(n, cells) for n in range(n_examples + 1))
    tables = np.zeros((n_examples + 1, sizes[-1], cells), dtype=np.int16)
    for n in range(n_examples + 1):
        tables[n, : sizes[n]] = count_tables(n, cells)
    return sizes, jnp.asarray(tables)


def _build(log_w, log_answers, log_query, n_examples) -> ICLMixture:
    n_x, n_y = log_answers.shape[1:]
    cells = n_x * n_y
    sizes, tables = _padded_tables(n_examples, cells)
    log_fact = np.array([math.lgamma(k + 1.0) for k in range(n_examples + 1)])
    clean = clean_classes(n_examples, cells)
    return ICLMixture(
        log_w=jnp.asarray(log_w),
        log_answers=jnp.asarray(log_answers),
        log_query=jnp.asarray(log_query),
        tables=tables,
        log_fact=jnp.asarray(log_fact),
        log_model_query=jnp.asarray(log_query),
        proc=Truncation(3 * n_examples),
        n_x=int(n_x),
        n_y=int(n_y),
        sizes=sizes,
        clean_size=clean if clean <= MAX_CLEAN else 0,
    )


def icl(weights, answers, n_examples, query=None, alt_query=None, process="truncation",
        order=None) -> ICLMixture:
    """Build an in-context-learning mixture ([LKC25] Example 6, Example 11).

    Sequences are ``[x_1, y_1, o, ..., x_N, y_N, o]``; task ``theta`` draws ``x_i ~ q``
    i.i.d. and ``y_i ~ answers[theta][x_i]``; truncation removes the last ``t`` tokens.

    Args:
        weights: ``K`` task weights summing to 1.
        answers: ``K x |X| x |Y|`` answer probabilities ``p^theta(y | x)`` (rows sum to 1;
            ``|X| >= 1``, ``|Y| >= 2``, ``|X| |Y| <= 16``).
        n_examples: ``N``, the number of triples (sequence length ``3N``); capped so that
            the count tables fit (see the module docstring), and a window report needs a
            smaller cap still.
        query: the query law ``q`` shared by the tasks (default uniform).
        alt_query: optional law of a user's queries (Corollary 3): the components become
            ``p^{theta,alt}``, answers from the tasks and queries from ``alt_query``. Its
            support must lie in that of ``query`` (otherwise the model's posterior after an
            alternative query is undefined).
        process: ``"truncation"`` or a :class:`localize.Truncation` of length ``3N``.
        order: must be ``None`` (truncation has no order).

    Returns:
        An :class:`ICLMixture`.

    Raises:
        LocalizeError: naming the bad parameter.
    """
    w = check_weights(weights, "model.weights")
    a = _check_answers(answers, w.size)
    n_x, n_y = a.shape[1:]
    n_examples = _check_n_examples(n_examples, n_x * n_y)
    q = np.full(n_x, 1.0 / n_x) if query is None else _check_query(query, n_x, "model.query")
    if isinstance(process, Process):
        if not isinstance(process, Truncation):
            raise bad("process.kind", process.kind, "truncation for icl")
        if process.length != 3 * n_examples:
            raise bad("process.length", process.length,
                      f"3 * n_examples = {3 * n_examples} tokens")
    elif process != "truncation":
        raise bad("process.kind", process, "truncation for icl")
    if order is not None:
        raise bad("process.order", order, "no order for truncation")
    model = _build(_log(w), _log(a), _log(q), n_examples)
    if alt_query is None:
        return model
    return alt_model(model, alt_query)


def alt_model(model: ICLMixture, alt_query) -> ICLMixture:
    """The mixture of ``p^{theta,alt}``: the tasks answer, a user draws the queries (Cor. 3).

    The alternative kernel handles the steps ``y_i -> o -> x_{i+1}`` (and ``x_1``): it emits
    the delimiter, then a query from ``alt_query``, whatever the history. The model's kernels
    on those steps are ``1`` (the delimiter) and ``q(x)`` for every task, so Assumption 1
    holds, and ``p^{theta,alt}`` is the same family with ``q`` replaced by ``alt_query``;
    by Corollary 3's key step its mixture is the law of the deployed sampler,
    ``p^{Theta,alt}``, which :func:`alt_sampler_kernels` checks from the definition.

    Args:
        model: an :class:`ICLMixture` (its own query law ``q``).
        alt_query: ``|X|`` probabilities; its support must lie in ``supp q``.

    Returns:
        An :class:`ICLMixture` with components ``p^{theta,alt}`` and the model's ``q``
        recorded as ``model_query`` in :meth:`~ICLMixture.describe`.

    Raises:
        LocalizeError: naming ``model.alt_query``.
    """
    q_alt = _check_query(alt_query, model.n_x, "model.alt_query")
    # The model's own query law, also when ``model`` already has alternative components.
    q = np.exp(np.asarray(model.log_model_query))
    if np.any((q_alt > 0) & (q <= 0)):
        raise bad("model.alt_query", q_alt.tolist(),
                  f"a law whose support lies in that of the model's query law {q.tolist()} "
                  "(the model's posterior is undefined after a query it never emits)")
    return dataclasses.replace(model, log_query=jnp.asarray(_log(q_alt)),
                               log_model_query=model.log_model_query)


# --------------------------------------------------------------------------------------
# curves against the number of examples


class PrefixCurves(dict):
    """Curves against the number ``n = 0..N`` of visible (query, answer) pairs.

    A dict of ``(N + 1,)`` NumPy arrays, ``S`` the set given to :func:`prefix_curves` and
    ``R = Theta - S``: ``tv_rest`` ``TV(p_n^S, p_n^R)``; ``log_overlap_rest``
    ``log(1 - tv_rest)``; ``bc_rest`` ``BC(p_n^S, p_n^R)``; ``exit_mass``
    ``E_{Y~p_n^S}[pi_n(R | Y)]``; ``tv_full`` ``TV(p_n^S, p_n)``; ``learner_error`` the
    in-context learner's error after ``n`` examples (:func:`learner_error`).
    """


@jax.jit
def _prefix_curves(model, mask):
    lw = model.log_weights
    rows = jnp.stack([log_set_weights(lw, mask), log_set_weights(lw, ~mask), lw])
    log_answers = model.log_answers
    q = jnp.exp(model.log_query)

    def at(n):
        comp = model.log_count_laws(n)
        p_s, p_r, p_all = logsumexp(rows[:, :, None] + comp[None], axis=1)
        undefined = jnp.isneginf(p_all)
        # Posteriors over tasks under the whole mixture and under p^S, per table.
        joint = lw[:, None] + comp
        post = jnp.where(undefined[None], NEG_INF, joint - p_all[None])
        joint_s = rows[0][:, None] + comp
        post_s = jnp.where(jnp.isneginf(p_s)[None], NEG_INF, joint_s - p_s[None])
        log_w_rest = logsumexp(jnp.where(mask, NEG_INF, lw))
        exit_log = jnp.where(undefined, NEG_INF, log_w_rest + p_r - p_all)
        # Predictive answer laws of the learner (whole mixture) and of the truth (p^S).
        pred = jnp.einsum("km,kxy->mxy", jnp.exp(post), jnp.exp(log_answers))
        truth = jnp.einsum("km,kxy->mxy", jnp.exp(post_s), jnp.exp(log_answers))
        gap = 0.5 * jnp.sum(jnp.abs(truth - pred), axis=2) @ q
        err = jnp.sum(jnp.where(jnp.isneginf(p_s), 0.0, jnp.exp(p_s) * gap))
        return {
            "tv_rest": dv.tv(p_s, p_r),
            "log_overlap_rest": dv.log_overlap(p_s, p_r),
            "bc_rest": dv.bhattacharyya(p_s, p_r),
            "exit_mass": jnp.exp(logsumexp(p_s + exit_log)),
            "tv_full": dv.tv(p_s, p_all),
            "learner_error": err,
        }

    return jax.lax.map(at, jnp.arange(model.n_examples + 1))


def _proper_set(model, subset, name):
    mask = set_mask(model.n_components, subset, name)
    w = np.exp(np.asarray(model.log_weights))
    if w[mask].sum() <= 0 or w[~mask].sum() <= 0:
        raise bad(name, list(subset), "a set of positive weight whose complement also has "
                  "positive weight")
    return mask


def prefix_curves(model: ICLMixture, s_after) -> PrefixCurves:
    """Exact curves against the number of in-context examples seen (Example 11).

    With ``n`` visible pairs (token time ``t = 3(N - n) - 1 .. 3(N - n) + 1``), compares the
    prefix laws of ``S = s_after`` (e.g. ``{theta*}``) with those of ``Theta - S`` and of the
    whole mixture, and gives the in-context learner's error. Only the observation space is
    used, so this works up to the model's largest ``N``.

    Args:
        model: an :class:`ICLMixture`.
        s_after: component indices of ``S`` (positive weight, proper subset).

    Returns:
        A :class:`PrefixCurves`.

    Raises:
        LocalizeError: for a bad set, or if a NaN would escape.
    """
    mask = _proper_set(model, s_after, "s_after")
    out = PrefixCurves({k: np.asarray(v) for k, v in
                        jax.device_get(_prefix_curves(model, jnp.asarray(mask))).items()})
    for k, v in out.items():
        if np.any(np.isnan(v)):
            raise LocalizeError(f"{k}: the computation produced NaN; please report this model")
    return out


def learner_error(model: ICLMixture, s_after) -> np.ndarray:
    """The in-context learner's error after ``T = 0..N`` examples ([LKC25] Example 6).

    ``TV([x_1, ..., x_{T+1}, y_{T+1}], [x_1, ..., x_{T+1}, y~_{T+1}])``: the context of
    ``T`` examples and the query come from ``p^S``, ``y_{T+1}`` from ``p^S`` given the
    context, and ``y~_{T+1}`` from the whole mixture given it (the model's answer):
    ``sum_c p_T^S(c) sum_x q(x) TV(p^S(. | c, x), p(. | c, x))``, exact on count tables. It
    equals ``TV(p^{S,2}, p^S)`` of the model with ``N = T + 1`` (truncation at ``t = 2``).

    Args:
        model: an :class:`ICLMixture`.
        s_after: component indices of ``S`` (``{theta*}`` in the paper).

    Returns:
        ``(N + 1,)`` errors.
    """
    return prefix_curves(model, s_after)["learner_error"]


# --------------------------------------------------------------------------------------
# Example 11: per-pair Bhattacharyya coefficients and thresholds


def pair_bhattacharyya(model: ICLMixture, theta_star: int) -> dict:
    """Bhattacharyya coefficients of one (query, answer) pair (Example 11, Assumption 5).

    Args:
        model: an :class:`ICLMixture`.
        theta_star: the task of the context.

    Returns:
        ``{"bc_each": (K,) BC(pi^{theta*}, pi^theta), "bc_rest": BC(pi^{theta*}, pi^R)``
        with ``pi^R`` the pair law of the sub-mixture ``R = Theta - {theta*}``,
        ``"delta": H^2 = 2 - 2 bc_rest`` (Assumption 5's ``delta``), ``"delta_min"``:
        ``2 - 2 max_{theta != theta*} bc_each``}. For ``K = 2``, ``BC(p_n^{theta*},
        p_n^R) = bc_rest^n`` exactly (tensorization); for ``K > 2`` the ``n``-pair law of
        ``R`` is not a product and only ``BC(p_n^{theta*}, p_n^R) <= sum_theta
        sqrt(w_theta / w(R)) bc_each[theta]^n`` holds.
    """
    k = model.n_components
    if isinstance(theta_star, bool) or not isinstance(theta_star, (int, np.integer)) or not (
            0 <= theta_star < k):
        raise bad("theta_star", theta_star, f"a component index in 0..{k - 1}")
    # A few cells: plain NumPy (eager JAX would compile each tiny op).
    pi = np.exp(np.asarray(model.log_pairs()))
    w = np.exp(np.asarray(model.log_weights))
    others = np.arange(k) != theta_star
    if w[others].sum() <= 0:
        raise bad("theta_star", theta_star, "a task whose complement has positive weight")
    bc_each = np.sqrt(pi[theta_star][None] * pi).sum(axis=1)
    rest = (w[others] / w[others].sum()) @ pi[others]
    bc_rest = float(np.sqrt(pi[theta_star] * rest).sum())
    return {"bc_each": bc_each, "bc_rest": bc_rest, "delta": 2.0 - 2.0 * bc_rest,
            "delta_min": 2.0 - 2.0 * float(bc_each[others].max())}


def example11_thresholds(delta: float, eps: float) -> dict:
    """Example 11's number of in-context examples, as corrected and as printed (theory.md §7).

    The proof needs ``(1 - delta/2)^T <= eps``, i.e. ``T >= ln(1/eps) / ln(1/(1 - delta/2))``
    (``corrected``); the paper prints ``T >= ln((1 - delta/2)/eps)`` (``printed``).

    Args:
        delta: Assumption 5's ``H^2`` in ``[0, 2]``.
        eps: in ``(0, 1)``.

    Returns:
        ``{"corrected": float (inf when delta = 0), "printed": float}``.
    """
    if not 0.0 <= delta <= 2.0:
        raise bad("delta", delta, "a squared Hellinger distance in [0, 2]")
    if not 0.0 < eps < 1.0:
        raise bad("eps", eps, "a number in (0, 1)")
    base = 1.0 - delta / 2.0
    if base <= 0.0:
        corrected = 0.0
    elif base >= 1.0:
        corrected = math.inf
    else:
        corrected = math.log(1.0 / eps) / -math.log(base)
    printed = math.log(base / eps) if base > 0 else -math.inf
    return {"corrected": corrected, "printed": printed}


# --------------------------------------------------------------------------------------
# token level: explicit laws of every sequence (small N), for Assumption 1 and Corollary 3


def _check_token_size(n_x, n_y, n_examples):
    if (n_x * n_y) ** n_examples > MAX_SEQUENCES:
        raise bad("n_examples", n_examples,
                  f"(|X| |Y|)^N <= {MAX_SEQUENCES} sequences for the token-level laws "
                  f"(|X| |Y| = {n_x * n_y})")


def token_log_laws(log_query_laws, log_answers, n_examples: int):
    """Explicit log-pmfs of every task on every sequence (the model's own laws).

    The delimiters are deterministic and left out: a sequence is the tensor index
    ``(x_1, y_1, ..., x_N, y_N)``. A query law per task is allowed here (it breaks
    Assumption 1, which :func:`assumption1_gap` detects).

    Args:
        log_query_laws: ``(K, |X|)`` log query laws of the tasks (rows equal for the family).
        log_answers: ``(K, |X|, |Y|)`` log answer kernels.
        n_examples: ``N`` (``(|X||Y|)^N <= MAX_SEQUENCES``).

    Returns:
        ``(K, |X|, |Y|, ..., |X|, |Y|)`` log-probabilities.
    """
    log_answers = jnp.asarray(log_answers)
    _check_token_size(log_answers.shape[1], log_answers.shape[2], n_examples)
    return _token_log_laws(jnp.asarray(log_query_laws), log_answers, int(n_examples))


@functools.partial(jax.jit, static_argnums=2)
def _token_log_laws(log_query_laws, log_answers, n_examples):
    k, n_x, n_y = log_answers.shape
    pair = log_query_laws[:, :, None] + log_answers
    out = jnp.zeros((k,))
    for _ in range(n_examples):
        out = out[..., None, None] + pair.reshape((k,) + (1,) * (out.ndim - 1) + (n_x, n_y))
    return out


def _prefix_marginals(log_laws):
    """``marg[j]``: ``(K, a_1..a_j)`` log-pmfs of the first ``j`` free tokens, ``j = 0..2N``.

    Each is the next one summed over its last axis, so the tensor is reduced once per axis.
    """
    marg = [log_laws]
    for _ in range(log_laws.ndim - 1):
        marg.append(logsumexp(marg[-1], axis=-1))
    return marg[::-1]


def _free_visible(t, n_examples: int) -> int:
    """Free tokens (queries and answers) among the first ``3N - t`` tokens."""
    ell = 3 * n_examples - int(t)
    return 2 * (ell // 3) + min(ell % 3, 2)


def assumption1_gap(log_query_laws, log_answers, n_examples: int, alt_query):
    """How far the model's kernels on the alternative steps depend on the task (Assumption 1).

    For every query step (``x_1`` and each ``o -> x_{i+1}``), every prefix and every query
    ``x`` in the support of ``alt_query``: ``max_theta P^theta(x | prefix) - min_theta
    P^theta(x | prefix)``, over the tasks under which the prefix has positive probability,
    with ``P^theta(x | prefix)`` the ratio of the task's prefix marginals (computed by
    summing its explicit law, :func:`token_log_laws`, over completions). The delimiter steps
    ``y_i -> o`` contribute 0: every task emits ``o`` with probability 1.

    Args:
        log_query_laws: ``(K, |X|)`` log query laws of the tasks.
        log_answers: ``(K, |X|, |Y|)`` log answer kernels.
        n_examples: ``N`` (small: every sequence is enumerated).
        alt_query: ``(|X|,)`` the alternative query law.

    Returns:
        The largest gap (0 when Assumption 1 holds).
    """
    laws = token_log_laws(log_query_laws, log_answers, n_examples)
    return float(_assumption1_gap(laws, jnp.asarray(alt_query) > 0))


@jax.jit
def _assumption1_gap(laws, support):
    marg = _prefix_marginals(laws)
    gap = jnp.float64(0.0)
    for j in range(0, laws.ndim - 1, 2):
        before, after = marg[j][..., None], marg[j + 1]
        live = ~jnp.isneginf(before)
        cond = jnp.where(live, jnp.exp(after - jnp.where(live, before, 0.0)), 0.0)
        hi = jnp.max(jnp.where(live, cond, -1.0), axis=0)
        lo = jnp.min(jnp.where(live, cond, 2.0), axis=0)
        spread = jnp.where(jnp.sum(live, axis=0) >= 2, hi - lo, 0.0)
        gap = jnp.maximum(gap, jnp.max(jnp.where(support, spread, 0.0)))
    return gap


def _sampler_kernels(log_w, log_laws, mask, log_alt):
    rows = log_set_weights(log_w, mask)
    mix = [logsumexp(rows.reshape((-1,) + (1,) * (m.ndim - 1)) + m, axis=0)
           for m in _prefix_marginals(log_laws)]
    kernels = []
    for j in range(len(mix) - 1):
        if log_alt is not None and j % 2 == 0:
            kernels.append(jnp.broadcast_to(log_alt, mix[j + 1].shape))
        else:
            before = mix[j][..., None]
            live = ~jnp.isneginf(before)
            kernels.append(jnp.where(live, mix[j + 1] - jnp.where(live, before, 0.0), NEG_INF))
    return kernels


def _total(kernels, start=0, stop=None):
    """``sum_{start <= j < stop} kernels[j]``, broadcast to the full sequence tensor."""
    full = kernels[-1].shape
    out = jnp.zeros(full)
    for ker in kernels[start:stop]:
        out = out + ker.reshape(ker.shape + (1,) * (len(full) - ker.ndim))
    return out


def _log_alt(alt_query):
    return None if alt_query is None else jnp.asarray(_log(np.asarray(alt_query, np.float64)))


def alt_sampler_kernels(log_w, log_laws, mask, alt_query=None):
    """Log step kernels of the sampler that mixes in the alternative kernel (App. C.2.4).

    Step ``j`` adds free token ``j`` (a query when ``j`` is even, an answer when odd). With
    ``alt_query`` given, query steps use it whatever the history; every other step uses the
    model's kernel conditioned on ``S`` (``mask``): the ratio of the prefix marginals of
    ``p^S = sum_{theta in S} w_theta p^theta / w(S)``, which weighs the tasks by their
    posterior given the prefix *under the model*. Without ``alt_query`` the kernels
    multiply to ``p^S`` itself. Nothing here assumes Assumption 1: the kernels come from the
    definition, so their sum is ``log p^{S,alt}`` as the paper defines it.

    Args:
        log_w: ``(K,)`` log weights.
        log_laws: ``(K, |X|, |Y|, ...)`` the tasks' explicit laws (:func:`token_log_laws`).
        mask: ``(K,)`` boolean mask of ``S``.
        alt_query: ``(|X|,)`` the user's query law, or ``None``.

    Returns:
        A list of ``2N`` arrays, kernel ``j`` of shape ``(a_1, ..., a_{j+1})``.
    """
    return _jit_kernels(jnp.asarray(log_w), jnp.asarray(log_laws), jnp.asarray(mask),
                        _log_alt(alt_query))


@jax.jit
def _jit_kernels(log_w, log_laws, mask, log_alt):
    return _sampler_kernels(log_w, log_laws, mask, log_alt)


def alt_sampler_law(log_w, log_laws, mask, alt_query=None):
    """``log p^{S,alt}`` on every sequence, from the definition (App. C.2.4, Corollary 3).

    Args:
        log_w: ``(K,)`` log weights.
        log_laws: the tasks' explicit laws (:func:`token_log_laws`).
        mask: ``(K,)`` boolean mask of ``S``.
        alt_query: the user's query law, or ``None`` (then the law is ``p^S`` itself).

    Returns:
        The log-pmf on every sequence: the sum of :func:`alt_sampler_kernels`.
    """
    return _jit_law(jnp.asarray(log_w), jnp.asarray(log_laws), jnp.asarray(mask),
                    _log_alt(alt_query))


@jax.jit
def _jit_law(log_w, log_laws, mask, log_alt):
    return _total(_sampler_kernels(log_w, log_laws, mask, log_alt))


def alt_forward_reverse(log_w, log_laws, mask, t, alt_query=None):
    """The forward-reverse law run with the alternative sampler (Corollary 3's ``p^{S,T}``).

    The first ``3N - t`` tokens come from ``p^{S,alt}``, the rest from the sampler of the
    whole mixture (alternative queries, the model's answers given the prefix).

    Args:
        log_w: ``(K,)`` log weights.
        log_laws: the tasks' explicit laws (:func:`token_log_laws`).
        mask: ``(K,)`` boolean mask of ``S``.
        t: the token time ``T-hat`` in ``0..3N``.
        alt_query: the user's query law, or ``None`` for the plain experiment.

    Returns:
        The log-pmf on every sequence.
    """
    log_laws = jnp.asarray(log_laws)
    n_examples = (log_laws.ndim - 1) // 2
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= 3 * n_examples:
        raise bad("t", t, f"an integer token time in 0..{3 * n_examples}")
    return _jit_fr(jnp.asarray(log_w), log_laws, jnp.asarray(mask), _log_alt(alt_query),
                   _free_visible(t, n_examples))


@jax.jit
def _jit_fr(log_w, log_laws, mask, log_alt, visible):
    own = _sampler_kernels(log_w, log_laws, mask, log_alt)
    full = _sampler_kernels(log_w, log_laws, jnp.ones_like(mask), log_alt)
    return _total(_switch(own, full, visible))


def _switch(own, full, visible):
    """Kernels of ``own`` before step ``visible`` and of ``full`` from it on; the switch
    point is traced, so every truncation time shares one compilation."""
    return [jnp.where(j < visible, a, b) for j, (a, b) in enumerate(zip(own, full, strict=True))]


def alt_forward_reverse_tv(log_w, log_laws, mask_init, mask_target, alt_query=None):
    """``TV(p^{S_init,t}, p^{S_target,alt})`` at every token time ``t = 0..3N`` (Corollary 3).

    Both laws come from the sampler's definition (:func:`alt_forward_reverse`,
    :func:`alt_sampler_law`), on every sequence, in one compiled call.

    Args:
        log_w: ``(K,)`` log weights.
        log_laws: the tasks' explicit laws (:func:`token_log_laws`).
        mask_init: ``(K,)`` boolean mask of ``S_init``.
        mask_target: ``(K,)`` boolean mask of ``S_target``.
        alt_query: the user's query law, or ``None`` for the plain experiment.

    Returns:
        ``(3N + 1,)`` total variations.
    """
    log_laws = jnp.asarray(log_laws)
    n_examples = (log_laws.ndim - 1) // 2
    visible = jnp.asarray([_free_visible(t, n_examples) for t in range(3 * n_examples + 1)])
    return np.asarray(_jit_fr_tv(jnp.asarray(log_w), log_laws, jnp.asarray(mask_init),
                                 jnp.asarray(mask_target), _log_alt(alt_query), visible))


@jax.jit
def _jit_fr_tv(log_w, log_laws, mask_init, mask_target, log_alt, visible):
    own = _sampler_kernels(log_w, log_laws, mask_init, log_alt)
    full = _sampler_kernels(log_w, log_laws, jnp.ones_like(mask_init), log_alt)
    target = _total(_sampler_kernels(log_w, log_laws, mask_target, log_alt))

    def one(vis):
        law = _total(_switch(own, full, vis))
        return dv.tv(law, target)

    return jax.vmap(one)(visible)


def free_visible(t, n_examples: int) -> int:
    """Queries and answers among the first ``3N - t`` tokens under truncation (Example 10).

    Args:
        t: the token time in ``0..3N``.
        n_examples: ``N``.

    Returns:
        The index of the prefix laws of :func:`token_prefix_curves` at time ``t``.
    """
    return _free_visible(t, n_examples)


def token_prefix_curves(log_w, comp_laws, mask_a, mask_b) -> dict:
    """TVs between the prefix laws of two sub-mixtures, at every prefix length (token level).

    Args:
        log_w: ``(K,)`` log weights.
        comp_laws: ``(K, |X|, |Y|, ...)`` explicit component laws, e.g. ``p^{theta,alt}``
            stacked from :func:`alt_sampler_law` with one-hot masks.
        mask_a: ``(K,)`` boolean mask of ``A``.
        mask_b: ``(K,)`` boolean mask of ``B``.

    Returns:
        ``{"tv": (2N + 1,), "log_overlap": (2N + 1,)}``: ``TV(p_j^A, p_j^B)`` and
        ``log(1 - TV)`` for the laws of the first ``j`` queries and answers; the prefix at
        token time ``t`` has ``j = free_visible(t, N)``.
    """
    tv, lo = _token_prefix_curves(jnp.asarray(log_w), jnp.asarray(comp_laws),
                                  jnp.asarray(mask_a), jnp.asarray(mask_b))
    return {"tv": np.asarray(tv), "log_overlap": np.asarray(lo)}


@jax.jit
def _token_prefix_curves(log_w, comp_laws, mask_a, mask_b):
    rows = jnp.stack([log_set_weights(log_w, mask_a), log_set_weights(log_w, mask_b)])
    tvs, los = [], []
    for m in _prefix_marginals(comp_laws):
        a, b = logsumexp(rows.reshape(rows.shape + (1,) * (m.ndim - 1)) + m[None], axis=1)
        tvs.append(dv.tv(a, b))
        los.append(dv.log_overlap(a, b))
    return jnp.stack(tvs), jnp.stack(los)


def token_prefix_law(log_pmf, t):
    """Log-pmf of the first ``3N - t`` tokens of a sequence law: truncation (Example 10).

    Args:
        log_pmf: ``(|X|, |Y|, ..., |X|, |Y|)`` log-pmf on every sequence.
        t: the token time in ``0..3N``.

    Returns:
        The log-pmf of the visible queries and answers.
    """
    log_pmf = jnp.asarray(log_pmf)
    n_examples = log_pmf.ndim // 2
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= 3 * n_examples:
        raise bad("t", t, f"an integer token time in 0..{3 * n_examples}")
    vis = _free_visible(t, n_examples)
    axes = tuple(range(vis, log_pmf.ndim))
    return logsumexp(log_pmf, axis=axes) if axes else log_pmf


register(Family(
    name="icl",
    builder=lambda process, order, **kw: icl(process=process, order=order, **kw),
    params={
        "weights": "K task weights summing to 1",
        "answers": "K x |X| x |Y| answer probabilities p^theta(y | x), rows summing to 1 "
                   "(|X| |Y| <= 16)",
        "n_examples": "N (query, answer, delimiter) triples, 3N tokens; a window report "
                      "needs N <= 32 for |X| = |Y| = 2 (smaller for more cells)",
        "query": "|X| query probabilities shared by the tasks (default uniform)",
        "alt_query": "optional user query law (Corollary 3): components become p^{theta,alt}, "
                     "support inside that of query",
    },
    processes=("truncation",),
    summary="in-context learning (Examples 6 and 11, Corollary 3): tasks map queries to "
            "answers, [x, y, o] triples; exact through counts of (query, answer) pairs",
    required=("weights", "answers", "n_examples"),
))
