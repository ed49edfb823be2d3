"""Neural MCTS (AlphaZero's PUCT) through the C ABI: :class:`Search`.

A :class:`Search` holds ``B`` search trees, one per game in flight, and
advances them all with a batched leaf protocol, so one network forward pass
serves every tree::

    search = Search(num_trees=256, config=SearchConfig(simulations=64))
    for i in range(256):
        search.new_game(i, "argentum_control", "symbiote_aggro", seed=i)
    while search.select():                      # leaves -> search.obs, search.masks
        idx = search.leaf_rows()                # rows holding a leaf
        logits, values = net(search.obs[idx], search.masks[idx])
        search.priors[idx] = logits             # logits (default) or probabilities
        search.values[idx] = values             # for the player to move at the leaf
        search.expand()
    visits = search.root_visits()               # [B, 256] policy targets
    actions = search.choose(temperature=1.0)    # [B] int64, -1 for trees without a game
    rewards, done = search.apply(actions)       # plays them, keeps the subtrees

:meth:`Search.run` wraps the loop for a callable network. The leaf buffers
(``obs``, ``masks``, ``flags``, ``priors``, ``values``) and the result buffers
are NumPy arrays allocated once and handed to the library with
``ffi.from_buffer``: the protocol allocates nothing per round. Status codes
become the exceptions of :mod:`essence_wars.core` (``ValueError`` for bad
arguments and calls out of order, ``IllegalActionError``, ``GameOverError``,
``ClosedError``, ``NativeError``). Rules and conventions: ``docs/ALPHAZERO.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from essence_wars import core
from essence_wars._native import ffi, lib
from essence_wars.core import NUM_ACTIONS, OBS_SIZE, ClosedError, NativeError

__all__ = ["SearchConfig", "Search", "live_searches", "ROLLOUT_POLICIES"]

_PRIORS = {"logits": 0, "probabilities": 1}
_ROLLOUTS = {"random": 0, "greedy": 1}
ROLLOUT_POLICIES = tuple(_ROLLOUTS)  # the names SearchConfig.rollout_policy accepts (checked by callers up front)


@dataclass
class SearchConfig:
    """Search parameters (defaults: self-play).

    ``simulations``: new simulations per move. ``c_puct``: exploration in
    ``Q + c_puct * P * sqrt(N_parent) / (1 + N)``. ``dirichlet_alpha`` and
    ``dirichlet_fraction``: root noise (fraction 0 turns it off, for
    evaluation). ``fpu_reduction``: an unvisited child is valued at its
    parent's mean minus this. ``leaves_per_tree`` > 1 collects several leaves
    per tree per round with ``virtual_loss``. ``priors``: ``"logits"`` (the
    search takes a softmax over the legal actions) or ``"probabilities"``.
    ``reuse_tree``: keep the chosen subtree after a move. ``rollout_weight``
    (in [0, 1], default 0): each leaf's value becomes ``(1 - w) * network
    value + w * the result of a rollout from the leaf`` (AlphaGo's mixed
    evaluation; 0 is AlphaZero, the network alone). ``rollout_policy``: the
    rollouts' actions for both players, ``"random"`` (uniform over the legal
    actions, the ``mcts-N`` playout) or ``"greedy"`` (the greedy bot's, the
    ``mcts-N-greedy`` playout: about six times dearer, and stronger).
    ``rollout_determinized``: deal the undrawn cards of both decks afresh
    before each rollout, so the rollouts do not see the deck order the
    observation hides (the ``-det`` bots' deal); by default they draw the
    cards the players really will draw, as ``mcts-N``'s do.
    """

    simulations: int = 64
    c_puct: float = 1.25
    dirichlet_alpha: float = 0.3
    dirichlet_fraction: float = 0.25
    fpu_reduction: float = 0.25
    leaves_per_tree: int = 1
    virtual_loss: float = 1.0
    priors: str = "logits"
    reuse_tree: bool = True
    rollout_weight: float = 0.0
    rollout_policy: str = "random"
    rollout_determinized: bool = False

    def _to_c(self):
        if self.priors not in _PRIORS:
            raise ValueError(f"priors must be 'logits' or 'probabilities', got {self.priors!r}")
        if self.rollout_policy not in _ROLLOUTS:
            raise ValueError(f"rollout_policy must be 'random' or 'greedy', got {self.rollout_policy!r}")
        c = ffi.new("EwSearchConfig *")
        c.simulations = core._check_int(self.simulations, "simulations") if self.simulations >= 0 else 0
        c.c_puct = float(self.c_puct)
        c.dirichlet_alpha = float(self.dirichlet_alpha)
        c.dirichlet_fraction = float(self.dirichlet_fraction)
        c.fpu_reduction = float(self.fpu_reduction)
        c.leaves_per_tree = core._check_int(self.leaves_per_tree, "leaves_per_tree") if self.leaves_per_tree >= 0 else 0
        c.virtual_loss = float(self.virtual_loss)
        c.priors = _PRIORS[self.priors]
        c.reuse_tree = 1 if self.reuse_tree else 0
        c.rollout_weight = float(self.rollout_weight)
        c.rollout_policy = _ROLLOUTS[self.rollout_policy]
        c.rollout_determinized = 1 if self.rollout_determinized else 0
        return c

    @classmethod
    def _from_c(cls, c) -> "SearchConfig":
        return cls(simulations=int(c.simulations), c_puct=float(c.c_puct), dirichlet_alpha=float(c.dirichlet_alpha),
                   dirichlet_fraction=float(c.dirichlet_fraction), fpu_reduction=float(c.fpu_reduction),
                   leaves_per_tree=int(c.leaves_per_tree), virtual_loss=float(c.virtual_loss),
                   priors="logits" if c.priors == 0 else "probabilities", reuse_tree=bool(c.reuse_tree),
                   rollout_weight=float(c.rollout_weight),
                   rollout_policy="random" if c.rollout_policy == 0 else "greedy",
                   rollout_determinized=bool(c.rollout_determinized))


def _last_error() -> str:
    return ffi.string(lib.ew_search_last_error()).decode("utf-8", "replace")


def _error(status: int) -> Exception:
    cls = core._STATUS_EXCEPTIONS.get(status, NativeError)
    message = _last_error()
    if cls is NativeError:
        message = f"{ffi.string(lib.ew_status_name(status)).decode()}: {message}"
    return cls(message)


def _buffer(arr: np.ndarray, dtype, shape, what: str):
    """A cffi pointer into a caller's array, checked like core's buffers."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise TypeError(f"{what} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{what} must have shape {tuple(shape)}, got {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous")
    ctype = {np.float32: "float[]", np.uint8: "uint8_t[]", np.int64: "int64_t[]", np.uint32: "uint32_t[]"}[
        np.dtype(dtype).type]
    return ffi.from_buffer(ctype, arr, require_writable=arr.flags.writeable)


class Search:
    """``num_trees`` search trees advanced together (see the module docs).

    Buffers (NumPy views, rewritten in place by each call):

    - after :meth:`select`: ``obs`` float32 ``[rows, 326]``, ``masks`` uint8
      ``[rows, 256]``, ``flags`` uint8 ``[rows]`` (1: the row holds a leaf);
      ``rows = num_trees * leaves_per_tree`` and row ``t * K + k`` is leaf k of tree t.
    - inputs of :meth:`expand`: ``priors`` float32 ``[rows, 256]``, ``values``
      float32 ``[rows]`` (write the network's outputs there, or pass arrays).

    The native handle is freed by :meth:`close`, ``with``, or garbage collection.
    """

    def __init__(self, num_trees: int, config: Optional[SearchConfig] = None, seed: int = 0, **overrides):
        self._ptr = ffi.NULL
        config = config or SearchConfig()
        if overrides:
            config = SearchConfig(**{**asdict(config), **overrides})
        n = core._check_int(num_trees, "num_trees")
        out = ffi.new("EwSearch **")
        st = lib.ew_search_new(n, config._to_c(), core._check_seed(seed), out)
        if st:
            raise _error(st)
        self._ptr = ffi.gc(out[0], lib.ew_search_free)
        self.num_trees = n
        self._leaves = ffi.new("uint32_t *")
        # Results, one row per tree.
        self._visits = np.zeros((n, NUM_ACTIONS), np.float32)
        self._root_values = np.zeros(n, np.float32)
        self._actions = np.zeros(n, np.int64)
        self._rewards = np.zeros(n, np.float32)
        self._done = np.zeros(n, np.uint8)
        self.root_obs = np.zeros((n, OBS_SIZE), np.float32)
        self.root_masks = np.zeros((n, NUM_ACTIONS), np.uint8)
        self.root_players = np.zeros(n, np.uint8)
        self.root_status = np.zeros(n, np.uint8)
        self._p = {name: _buffer(getattr(self, attr), dt, getattr(self, attr).shape, name)
                   for name, attr, dt in (("visits", "_visits", np.float32), ("root_values", "_root_values", np.float32),
                                          ("actions", "_actions", np.int64), ("rewards", "_rewards", np.float32),
                                          ("done", "_done", np.uint8), ("root_obs", "root_obs", np.float32),
                                          ("root_masks", "root_masks", np.uint8),
                                          ("root_players", "root_players", np.uint8),
                                          ("root_status", "root_status", np.uint8))}
        self._config = config
        self._alloc_leaf_buffers()

    def _alloc_leaf_buffers(self) -> None:
        rows = self.num_trees * int(self._config.leaves_per_tree)
        self.rows = rows
        self.obs = np.zeros((rows, OBS_SIZE), np.float32)
        self.masks = np.zeros((rows, NUM_ACTIONS), np.uint8)
        self.flags = np.zeros(rows, np.uint8)
        self.priors = np.zeros((rows, NUM_ACTIONS), np.float32)
        self.values = np.zeros(rows, np.float32)
        self._obs_p = _buffer(self.obs, np.float32, self.obs.shape, "obs")
        self._masks_p = _buffer(self.masks, np.uint8, self.masks.shape, "masks")
        self._flags_p = _buffer(self.flags, np.uint8, self.flags.shape, "flags")
        self._priors_p = _buffer(self.priors, np.float32, self.priors.shape, "priors")
        self._values_p = _buffer(self.values, np.float32, self.values.shape, "values")

    # -- lifetime -----------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._ptr == ffi.NULL

    def close(self) -> None:
        """Frees the native search now. A second call does nothing."""
        ptr = self._ptr
        if ptr != ffi.NULL:
            self._ptr = ffi.NULL
            ffi.release(ptr)

    def __enter__(self) -> "Search":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.num_trees

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self._config.simulations} simulations"
        return f"Search({self.num_trees} trees, {state})"

    def _check(self, st: int) -> None:
        if st:
            if self._ptr == ffi.NULL:
                raise ClosedError("this search is closed")
            raise _error(st)

    def _handle(self):
        if self._ptr == ffi.NULL:
            raise ClosedError("this search is closed")
        return self._ptr

    # -- configuration and roots ----------------------------------------------

    @property
    def config(self) -> SearchConfig:
        """The configuration (a copy; assign a new one to change it)."""
        out = ffi.new("EwSearchConfig *")
        self._check(lib.ew_search_get_config(self._handle(), out))
        return SearchConfig._from_c(out)

    @config.setter
    def config(self, config: SearchConfig) -> None:
        self._check(lib.ew_search_set_config(self._handle(), config._to_c()))
        old_k = self._config.leaves_per_tree
        self._config = SearchConfig(**asdict(config))
        if config.leaves_per_tree != old_k:
            self._alloc_leaf_buffers()

    def new_game(self, index: int, deck0: str, deck1: str, mode: str = "attrition", seed: int = 0) -> None:
        """Deals a new game (preset decks) as the root of tree ``index``."""
        self._check(lib.ew_search_new_game(self._handle(), core._check_int(index, "index"), deck0.encode(),
                                           deck1.encode(), core._check_mode(mode), core._check_seed(seed)))

    def set_root(self, index: int, game: Optional[core.Game]) -> None:
        """A copy of ``game`` becomes tree ``index``'s root (``None``: the tree sits idle)."""
        ptr = ffi.NULL
        if game is not None:
            if game.closed:
                raise ClosedError("the game is closed")
            ptr = game._ptr
        self._check(lib.ew_search_set_root(self._handle(), core._check_int(index, "index"), ptr))

    def set_roots_from_batch(self, batch: core.Batch, tree_indices: Sequence[int], batch_indices: Sequence[int],
                             keep: bool = False) -> Optional[np.ndarray]:
        """Tree ``tree_indices[k]`` gets a copy of game ``batch_indices[k]`` of ``batch``.

        With ``keep`` (and the configuration's ``reuse_tree``), a tree whose
        old statistics hold a node for exactly that position (the next
        action of our own turn, or an opponent's turn the search explored)
        keeps that subtree; the position decides, never the caller's
        bookkeeping. Returns the flags of the trees that kept statistics
        (``None`` without ``keep``).
        """
        t = np.ascontiguousarray(tree_indices, dtype=np.uint32)
        b = np.ascontiguousarray(batch_indices, dtype=np.uint32)
        if t.shape != b.shape or t.ndim != 1:
            raise ValueError("tree_indices and batch_indices must be 1-D and of the same length")
        if batch.closed:
            raise ClosedError("the batch is closed")
        tp, bp = ffi.from_buffer("uint32_t[]", t), ffi.from_buffer("uint32_t[]", b)
        if not keep:
            self._check(lib.ew_search_set_roots_from_batch(self._handle(), batch._ptr, tp, bp, t.size))
            return None
        kept = np.zeros(t.size, np.uint8)
        self._check(lib.ew_search_set_roots_from_batch_keeping(self._handle(), batch._ptr, tp, bp, t.size,
                                                               ffi.from_buffer("uint8_t[]", kept)))
        return kept.astype(bool)

    def get_root(self, index: int) -> core.Game:
        """A copy of tree ``index``'s root game."""
        out = ffi.new("EwGame **")
        self._check(lib.ew_search_get_root(self._handle(), core._check_int(index, "index"), out))
        return core.Game._wrap(out[0])

    def seed_tree(self, index: int, seed: int) -> None:
        """Reseeds tree ``index``'s generator (root noise, move sampling)."""
        self._check(lib.ew_search_seed_tree(self._handle(), core._check_int(index, "index"), core._check_seed(seed)))

    def restart(self) -> None:
        """Drops the statistics of the current move in every tree."""
        self._check(lib.ew_search_restart(self._handle()))

    # -- the batched leaf protocol ----------------------------------------------

    def select(self) -> int:
        """Step 1 of a round: the leaves go to ``obs``/``masks``/``flags``;
        returns how many (0: every tree has finished this move's simulations)."""
        self._check(lib.ew_search_select(self._handle(), self._obs_p, self.obs.size, self._masks_p, self.masks.size,
                                         self._flags_p, self.flags.size, self._leaves))
        return int(self._leaves[0])

    def leaf_rows(self) -> np.ndarray:
        """Indices of the rows holding a leaf after :meth:`select`."""
        return np.flatnonzero(self.flags)

    def expand(self, priors: Optional[np.ndarray] = None, values: Optional[np.ndarray] = None) -> None:
        """Step 2: the network's ``priors`` float32 ``[rows, 256]`` and ``values``
        float32 ``[rows]`` (default: the ``priors``/``values`` buffers). Only
        flagged rows are read. NaN in a flagged row is a ``ValueError``."""
        pp = self._priors_p if priors is None else _buffer(priors, np.float32, (self.rows, NUM_ACTIONS), "priors")
        vp = self._values_p if values is None else _buffer(values, np.float32, (self.rows,), "values")
        self._check(lib.ew_search_expand(self._handle(), pp, self.rows * NUM_ACTIONS, vp, self.rows))

    def leaf_afterstates(self) -> Tuple[np.ndarray, np.ndarray]:
        """Between :meth:`select` (with leaves) and :meth:`expand`: the
        afterstates of every pending leaf, for networks that score each action
        by the position it leads to. Returns ``(obs [R, 326] float32, result
        [R] float32)``: one row per legal action of each leaf, leaves in row
        order, actions ascending (the layout of
        :meth:`essence_wars.core.Batch.afterstates`), so row r is the r-th set
        bit of ``masks[leaf_rows()]`` read row by row; ``result`` is the
        mover's result after the action (+1 won, -1 lost, 0 otherwise)."""
        rows = int(self.masks[self.flags.astype(bool)].sum(dtype=np.int64))
        obs = np.empty((rows, OBS_SIZE), np.float32)
        result = np.empty(rows, np.float32)
        count = ffi.new("uint32_t *")
        self._check(lib.ew_search_leaf_afterstates(
            self._handle(), ffi.from_buffer("float[]", obs, require_writable=True), obs.size,
            ffi.from_buffer("float[]", result, require_writable=True), result.size, count))
        return obs, result

    def run(self, evaluate: Callable[..., Tuple[np.ndarray, np.ndarray]]) -> int:
        """Runs rounds until every tree has its simulations. ``evaluate(obs[n,326],
        masks[n,256]) -> (priors[n,256], values[n])`` is called once per round on
        the flagged rows only. An ``evaluate`` with a true ``needs_afterstates``
        attribute is called as ``evaluate(obs, masks, after=(after_obs,
        after_result))`` with those rows' :meth:`leaf_afterstates`. Returns the
        number of leaves evaluated."""
        total = 0
        afterstates = bool(getattr(evaluate, "needs_afterstates", False))
        while True:
            n = self.select()
            if n == 0:
                return total
            extra = {"after": self.leaf_afterstates()} if afterstates else {}
            if n == self.rows:
                p, v = evaluate(self.obs, self.masks, **extra)
                self.priors[...] = p
                self.values[...] = v
            else:
                idx = self.leaf_rows()
                p, v = evaluate(self.obs[idx], self.masks[idx], **extra)
                self.priors[idx] = p
                self.values[idx] = v
            self.expand()
            total += n

    # -- results ----------------------------------------------------------------

    def root_visits(self) -> np.ndarray:
        """Root visit counts, float32 ``[num_trees, 256]`` (a buffer reused by later calls)."""
        self._check(lib.ew_search_root_visits(self._handle(), self._p["visits"], self._visits.size))
        return self._visits

    def root_values(self) -> np.ndarray:
        """Root mean values for the player to move at each root, float32 ``[num_trees]``."""
        self._check(lib.ew_search_root_values(self._handle(), self._p["root_values"], self.num_trees))
        return self._root_values

    def choose(self, temperature: float = 0.0) -> np.ndarray:
        """One action per tree, int64 ``[num_trees]`` (-1: no running game):
        most visited at temperature 0, else sampled ∝ visits^(1/T)."""
        self._check(lib.ew_search_choose(self._handle(), float(temperature), self._p["actions"], self.num_trees))
        return self._actions

    def apply(self, actions) -> Tuple[np.ndarray, np.ndarray]:
        """Plays ``actions[i]`` at tree i's root (-1: skip) and re-roots the trees.
        Returns ``(rewards, done)``: the reward of the player who acted
        (float32) and 1 where the game is over (uint8). Checked before any is played."""
        a = actions if (isinstance(actions, np.ndarray) and actions.dtype == np.int64 and actions.flags.c_contiguous) \
            else np.ascontiguousarray(actions, dtype=np.int64)
        if a.shape != (self.num_trees,):
            raise ValueError(f"actions must have shape ({self.num_trees},), got {a.shape}")
        ap = self._p["actions"] if a is self._actions else ffi.from_buffer("int64_t[]", a)
        self._check(lib.ew_search_apply(self._handle(), ap, self.num_trees, self._p["rewards"], self._p["done"]))
        return self._rewards, self._done

    def root_state(self):
        """``(obs [B,326], masks [B,256], players [B], status [B])`` of the roots
        (status 0 no game, 1 running, 2 over); buffers reused by later calls."""
        self._check(lib.ew_search_root_state(self._handle(), self.num_trees, self._p["root_obs"],
                                             self._p["root_masks"], self._p["root_players"], self._p["root_status"]))
        return self.root_obs, self.root_masks, self.root_players, self.root_status


def live_searches() -> int:
    """Native search handles alive now (for leak checks)."""
    out = ffi.new("uint64_t *")
    st = lib.ew_search_debug_live(out)
    if st:
        raise _error(st)
    return int(out[0])
