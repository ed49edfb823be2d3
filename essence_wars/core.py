"""The game through the C ABI: :class:`Game`, :class:`Batch`, the card and deck catalogue.

Everything here is a thin layer over ``essence_wars._native`` (cffi, API
mode): each method is one native call, status codes become exceptions, and
the hot paths (``Game.observe(out=...)``, ``Game.step``, ``Batch.step``) reuse
buffers prepared once, so they allocate nothing per call.

Errors never change a game: an illegal action, a bad argument or a closed
handle raises before anything is applied.
"""

from __future__ import annotations

import difflib
import functools
import operator
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from essence_wars._native import ffi, lib

__all__ = [
    "OBS_SIZE",
    "NUM_ACTIONS",
    "OBS_VERSION",
    "DECK_SIZE",
    "STATE_BYTES",
    "CARD_ID_SLOTS",
    "CARD_ID_VOCAB",
    "END_TURN",
    "Game",
    "Batch",
    "BatchOutput",
    "Card",
    "list_cards",
    "list_decks",
    "deck_cards",
    "describe_action",
    "EssenceWarsError",
    "IllegalActionError",
    "GameOverError",
    "UnknownDeckError",
    "UnknownCardError",
    "InvalidDeckError",
    "InvalidSnapshotError",
    "ClosedError",
    "NativeError",
]

#: Floats in one observation.
OBS_SIZE: int = int(lib.EW_OBS_SIZE)
#: Action indices; the mask has one entry per index.
NUM_ACTIONS: int = int(lib.EW_NUM_ACTIONS)
#: Version of the observation layout (changes whenever the layout does).
OBS_VERSION: int = int(lib.ew_obs_version())
#: Cards in a deck.
DECK_SIZE: int = int(lib.EW_DECK_SIZE)
#: Bytes of a game snapshot (:meth:`Game.to_bytes`).
STATE_BYTES: int = int(lib.EW_STATE_BYTES)
#: Card ids per position (:meth:`Game.card_ids`): 10 + 10 hand cards, 5 + 5 lanes, 2 + 2 supports.
CARD_ID_SLOTS: int = int(lib.EW_CARD_ID_SLOTS)
#: Rows of an embedding table over those ids (0 = empty slot, card id + 1 otherwise).
CARD_ID_VOCAB: int = int(lib.EW_CARD_ID_VOCAB)
#: The end-turn action, legal whenever the game is running.
END_TURN: int = 255

_U64_MAX = (1 << 64) - 1
_MODES = ("attrition", "essence_duel")

DeckSpec = Union[str, Sequence[int], np.ndarray]

# ---------------------------------------------------------------------------
# Exceptions.


class EssenceWarsError(Exception):
    """Base class of the errors raised by the native library."""


class IllegalActionError(EssenceWarsError, ValueError):
    """The action is not legal in this state. The game is unchanged.

    Attributes: ``action`` (the index given), ``num_legal`` (how many actions
    were legal), ``game_index`` (the game of a :class:`Batch`, else ``None``).
    """

    def __init__(self, message: str, action: Optional[int] = None, num_legal: Optional[int] = None,
                 game_index: Optional[int] = None):
        super().__init__(message)
        self.action = action
        self.num_legal = num_legal
        self.game_index = game_index


class GameOverError(EssenceWarsError, RuntimeError):
    """The game is over; reset it before stepping it again."""

    def __init__(self, message: str, game_index: Optional[int] = None):
        super().__init__(message)
        self.game_index = game_index


class UnknownDeckError(EssenceWarsError, ValueError):
    """No preset deck has this name (the message lists them, with a close match)."""


class UnknownCardError(EssenceWarsError, ValueError):
    """A card id that is not in the catalogue."""


class InvalidDeckError(EssenceWarsError, ValueError):
    """A custom deck breaks a deck-building rule (30 cards, copies, tokens)."""


class InvalidSnapshotError(EssenceWarsError, ValueError):
    """Bytes given to :meth:`Game.from_bytes` are not a valid snapshot."""


class ClosedError(EssenceWarsError, RuntimeError):
    """The game or batch was closed."""


class NativeError(EssenceWarsError, RuntimeError):
    """An unexpected failure inside the native library (a bug: please report it)."""


_STATUS_EXCEPTIONS = {
    1: NativeError,  # EW_ERR_NULL_HANDLE (a closed object is reported before this)
    2: NativeError,  # EW_ERR_INVALID_HANDLE
    3: IllegalActionError,
    4: GameOverError,
    5: UnknownDeckError,
    6: UnknownCardError,
    7: InvalidDeckError,
    8: ValueError,  # EW_ERR_BAD_ARGUMENT
    9: ValueError,  # EW_ERR_BUFFER_TOO_SMALL
    10: InvalidSnapshotError,
    11: NativeError,  # EW_ERR_PANIC
}


def _last_error() -> str:
    return ffi.string(lib.ew_last_error()).decode("utf-8", "replace")


def _error(status: int) -> Exception:
    """The exception for a failed native call (reads the thread's last error)."""
    cls = _STATUS_EXCEPTIONS.get(status, NativeError)
    message = _last_error()
    if cls is NativeError:
        name = ffi.string(lib.ew_status_name(status)).decode()
        message = f"{name}: {message}"
    return cls(message)


# ---------------------------------------------------------------------------
# Argument checks.


def _check_seed(seed, what: str = "seed") -> int:
    """A seed as a Python int in the u64 range, or a clear error."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{what} must be an integer in [0, 2**64 - 1], got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if seed < 0 or seed > _U64_MAX:
        raise ValueError(f"{what} must fit in an unsigned 64-bit integer: 0 <= {what} <= 2**64 - 1, got {seed}")
    return seed


def _check_mode(mode: str) -> bytes:
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string ({' or '.join(_MODES)}), got {type(mode).__name__}")
    if mode.strip().lower() not in _MODES:
        close = difflib.get_close_matches(mode.strip().lower(), _MODES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown mode {mode!r}{hint}; valid modes: {', '.join(_MODES)}")
    return mode.encode()


def _check_int(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}") from None


def describe_action(action: int) -> str:
    """A human description of an action index, e.g. ``attack from lane 2 into enemy lane 3``."""
    a = _check_int(action, "action")
    if a < 0 or a > 255:
        return "out of range 0..255"
    if a < 50:
        return f"play hand card {a // 5} with argument {a % 5}"
    if a < 75:
        return f"attack from lane {(a - 50) // 5} into enemy lane {(a - 50) % 5}"
    if a < 135:
        return f"ability of lane {(a - 75) // 12}, target {(a - 75) % 12}"
    if a == 255:
        return "end turn"
    return "reserved index"


# ---------------------------------------------------------------------------
# Catalogue.


@dataclass(frozen=True)
class Card:
    """One card of the catalogue."""

    id: int
    name: str
    faction: str
    rarity: str
    type: str
    cost: int
    attack: int
    health: int
    durability: int
    keywords: Tuple[str, ...]
    keyword_bits: int
    text: str


@functools.lru_cache(maxsize=None)
def _keyword_names() -> Tuple[str, ...]:
    out = ffi.new("const char **")
    names = []
    for bit in range(int(lib.EW_NUM_KEYWORDS)):
        st = lib.ew_keyword_name(bit, out)
        if st:
            raise _error(st)
        names.append(ffi.string(out[0]).decode())
    return tuple(names)


@functools.lru_cache(maxsize=None)
def _cards() -> Tuple[Card, ...]:
    info = ffi.new("EwCardInfo *")
    kw = _keyword_names()
    cards = []
    for cid in range(int(lib.ew_card_count())):
        st = lib.ew_card_info(cid, info)
        if st:
            raise _error(st)
        bits = int(info.keywords)
        cards.append(
            Card(
                id=int(info.id),
                name=ffi.string(info.name).decode(),
                faction=ffi.string(info.faction).decode(),
                rarity=ffi.string(info.rarity).decode(),
                type=ffi.string(info.card_type).decode(),
                cost=int(info.cost),
                attack=int(info.attack),
                health=int(info.health),
                durability=int(info.durability),
                keywords=tuple(name for b, name in enumerate(kw) if bits >> b & 1),
                keyword_bits=bits,
                text=ffi.string(info.text).decode(),
            )
        )
    return tuple(cards)


def list_cards() -> List[Card]:
    """Every card, indexed by id (``list_cards()[i].id == i``)."""
    return list(_cards())


@functools.lru_cache(maxsize=None)
def _decks() -> Tuple[str, ...]:
    out = ffi.new("const char **")
    names = []
    for i in range(int(lib.ew_deck_count())):
        st = lib.ew_deck_name(i, out)
        if st:
            raise _error(st)
        names.append(ffi.string(out[0]).decode())
    return tuple(names)


def list_decks() -> List[str]:
    """The names of the preset decks."""
    return list(_decks())


def _deck_index(name: str) -> int:
    index = ffi.new("uint32_t *")
    st = lib.ew_deck_find(name.encode(), index)
    if st:
        raise _error(st)
    return int(index[0])


def deck_cards(name: str) -> List[int]:
    """The 30 card ids of a preset deck (:class:`UnknownDeckError` lists the valid names)."""
    if not isinstance(name, str):
        raise TypeError(f"deck name must be a string, got {type(name).__name__}")
    i = _deck_index(name)
    buf = ffi.new("uint16_t[]", DECK_SIZE)
    count = ffi.new("size_t *")
    st = lib.ew_deck_cards(i, buf, DECK_SIZE, count)
    if st:
        raise _error(st)
    return [int(buf[k]) for k in range(int(count[0]))]


def _deck_ids(deck: DeckSpec, what: str):
    """A deck given as a preset name (returns its name as bytes) or a card-id list
    (returns an int64 cffi array of the ids, range-checked)."""
    if isinstance(deck, str):
        _deck_index(deck)  # raises UnknownDeckError with the valid names
        return deck.encode()
    if isinstance(deck, (bytes, bytearray)):
        raise TypeError(f"{what} must be a deck name (str) or a list of card ids, got bytes")
    try:
        ids = [_check_int(x, f"{what} card id") for x in deck]
    except TypeError as e:
        if "not iterable" in str(e):
            raise TypeError(f"{what} must be a deck name (str) or a list of card ids, got {type(deck).__name__}") from None
        raise
    count = len(_cards())
    for x in ids:
        if x < 0 or x >= count:
            raise UnknownCardError(f"{what}: unknown card id {x} (valid ids are 0..{count})")
    return ffi.new("int64_t[]", ids), len(ids)


# ---------------------------------------------------------------------------
# Single games.


class Game:
    """One game of Essence Wars.

    ``Game(seed=0, deck0="argentum_control", deck1="symbiote_aggro", mode="attrition")``:
    decks are preset names (:func:`list_decks`) or lists of 30 card ids; mode is
    ``"attrition"`` or ``"essence_duel"``. The seed (0..2**64-1) fixes the
    opening shuffle; after that the same actions always give the same game.

    The native handle is freed by :meth:`close`, by ``with Game() as g:``, or
    when the object is garbage-collected. Using a closed game raises
    :class:`ClosedError`; closing twice is a no-op.
    """

    __slots__ = ("_ptr", "_reward", "_done", "_u8", "_i32", "_u32", "_f32", "_actions",
                 "_obs_out", "_obs_ptr", "_mask_out", "_mask_ptr", "__weakref__")

    def __init__(self, seed: int = 0, deck0: DeckSpec = "argentum_control",
                 deck1: DeckSpec = "symbiote_aggro", mode: str = "attrition"):
        self._ptr = ffi.NULL  # so a failed __init__ leaves a closed object
        self._scratch()
        seed = _check_seed(seed)
        mode_b = _check_mode(mode)
        d0 = _deck_ids(deck0, "deck0")
        d1 = _deck_ids(deck1, "deck1")
        out = ffi.new("EwGame **")
        if isinstance(d0, bytes) and isinstance(d1, bytes):
            st = lib.ew_game_new(seed, d0, d1, mode_b, out)
        else:
            ids0, n0 = (_deck_ids(deck_cards(deck0), "deck0") if isinstance(d0, bytes) else d0)
            ids1, n1 = (_deck_ids(deck_cards(deck1), "deck1") if isinstance(d1, bytes) else d1)
            st = lib.ew_game_new_custom(seed, ids0, n0, ids1, n1, mode_b, out)
        if st:
            raise _error(st)
        self._ptr = ffi.gc(out[0], lib.ew_game_free)

    def _scratch(self) -> None:
        self._reward = ffi.new("float *")
        self._done = ffi.new("uint8_t *")
        self._u8 = ffi.new("uint8_t *")
        self._i32 = ffi.new("int32_t *")
        self._u32 = ffi.new("uint32_t *")
        self._f32 = ffi.new("float *")
        self._actions = None
        self._obs_out = None
        self._obs_ptr = None
        self._mask_out = None
        self._mask_ptr = None

    @classmethod
    def _wrap(cls, ptr) -> "Game":
        g = cls.__new__(cls)
        g._scratch()
        g._ptr = ffi.gc(ptr, lib.ew_game_free)
        return g

    # -- lifetime ---------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._ptr == ffi.NULL

    def close(self) -> None:
        """Frees the native game now. A second call does nothing."""
        ptr = self._ptr
        if ptr != ffi.NULL:
            self._ptr = ffi.NULL
            ffi.release(ptr)  # runs ew_game_free once

    def __enter__(self) -> "Game":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fail(self, status: int, action: Optional[int] = None) -> Exception:
        if self._ptr == ffi.NULL:
            return ClosedError("this game is closed")
        err = _error(status)
        if isinstance(err, IllegalActionError) and action is not None:
            err.action = operator.index(action)
            try:
                err.num_legal = len(self.legal_actions())
            except EssenceWarsError:
                pass
        return err

    def __repr__(self) -> str:
        if self.closed:
            return "<Game closed>"
        state = "over" if self.is_done() else f"player {self.current_player()} to move"
        return f"<Game turn {self.turn()}, {state}>"

    def __reduce__(self):
        return (Game.from_bytes, (self.to_bytes(),))

    # -- the state --------------------------------------------------------

    def reset(self, seed: Optional[int] = None) -> None:
        """Deals a new game with the same decks and mode, from ``seed`` (default: the current seed)."""
        if seed is None:
            seed = self.seed
        seed = _check_seed(seed)
        st = lib.ew_game_reset(self._ptr, seed)
        if st:
            raise self._fail(st)

    @property
    def seed(self) -> int:
        """The seed of the current deal."""
        out = ffi.new("uint64_t *")
        st = lib.ew_game_seed(self._ptr, out)
        if st:
            raise self._fail(st)
        return int(out[0])

    def observe(self, out: Optional[np.ndarray] = None, seat: Optional[int] = None) -> np.ndarray:
        """The observation of the player to move: float32 ``[326]``.

        With ``seat`` (0 or 1) it is the table as that seat sees it, whoever
        is to move (for example the final observation of a seat whose
        opponent ended the game). With ``out`` (a writable, C-contiguous
        float32 array of 326 elements) it is written in place and returned,
        with no allocation; reusing the same array makes the call cheapest.
        """
        if out is None:
            out = np.empty(OBS_SIZE, dtype=np.float32)
            ptr = ffi.from_buffer("float[]", out)
        elif out is self._obs_out:
            ptr = self._obs_ptr
        else:
            ptr = _float_buffer(out, OBS_SIZE, "out")
            self._obs_out, self._obs_ptr = out, ptr
        if seat is None:
            st = lib.ew_game_observe(self._ptr, ptr, OBS_SIZE)
        else:
            if isinstance(seat, bool) or not isinstance(seat, (int, np.integer)) or seat not in (0, 1):
                raise ValueError(f"seat must be 0 or 1, got {seat!r}")
            st = lib.ew_game_observe_seat(self._ptr, int(seat), ptr, OBS_SIZE)
        if st:
            raise self._fail(st)
        return out

    def card_ids(self, seat: Optional[int] = None) -> np.ndarray:
        """Which card is in each hand, lane and support slot: uint16 ``[34]``.

        0 is an empty slot, otherwise the card's id + 1 (an index into an
        embedding table of :data:`CARD_ID_VOCAB` rows). Same perspective and
        block order as :meth:`observe` (my hand, the opponent's hand, my lanes,
        theirs, my supports, theirs; docs/OBSERVATION.md, "Card ids"): the
        observation describes cards by their numbers only, this names them.
        """
        out = np.empty(CARD_ID_SLOTS, dtype=np.uint16)
        if seat is None:
            seat_arg = -1
        elif isinstance(seat, bool) or not isinstance(seat, (int, np.integer)) or seat not in (0, 1):
            raise ValueError(f"seat must be 0 or 1, got {seat!r}")
        else:
            seat_arg = int(seat)
        st = lib.ew_game_card_ids(self._ptr, seat_arg, ffi.from_buffer("uint16_t[]", out), CARD_ID_SLOTS)
        if st:
            raise self._fail(st)
        return out

    def action_mask(self, out: Optional[np.ndarray] = None) -> np.ndarray:
        """The legal-action mask: bool ``[256]`` (all False once the game is over).

        With ``out`` (a writable, C-contiguous bool or uint8 array of 256
        elements) it is written in place and returned.
        """
        if out is None:
            out = np.empty(NUM_ACTIONS, dtype=np.bool_)
            ptr = ffi.from_buffer("uint8_t[]", out)
        elif out is self._mask_out:
            ptr = self._mask_ptr
        else:
            ptr = _byte_buffer(out, NUM_ACTIONS, "out")
            self._mask_out, self._mask_ptr = out, ptr
        st = lib.ew_game_action_mask(self._ptr, ptr, NUM_ACTIONS)
        if st:
            raise self._fail(st)
        return out

    def legal_actions(self) -> np.ndarray:
        """The legal action indices in increasing order (int64; empty once the game is over)."""
        n = self._fill_legal_actions()
        return np.frombuffer(ffi.buffer(self._actions, n), dtype=np.uint8).astype(np.int64)

    def _fill_legal_actions(self) -> int:
        """Writes the legal actions into the scratch ``self._actions``; returns their count."""
        if self._actions is None:
            self._actions = ffi.new("uint8_t[]", NUM_ACTIONS)
        count = ffi.new("size_t *")
        st = lib.ew_game_legal_actions(self._ptr, self._actions, NUM_ACTIONS, count)
        if st:
            raise self._fail(st)
        return int(count[0])

    def afterstates(self) -> Tuple[np.ndarray, np.ndarray]:
        """Where each legal action leads, seen by the player to move, and its result.

        Returns ``(obs, result)``: float32 ``[R, 326]`` and float32 ``[R]``,
        R the number of legal actions (0 once the game is over). Row k is
        for ``legal_actions()[k]`` (ascending action order): the observation
        that ``fork()``, ``step(action)``, ``observe(seat=mover)`` would give,
        and the mover's result, +1.0 if the action ends the game with the
        mover winning, -1.0 with the mover losing, 0.0 otherwise (a draw or
        the game goes on). The game itself is unchanged. The arrays are new
        each call, sized from the legal-action count; the rows are written
        by one native call.
        """
        n = self._fill_legal_actions()
        obs = np.empty((n, OBS_SIZE), dtype=np.float32)
        result = np.empty(n, dtype=np.float32)
        st = lib.ew_game_afterstates(self._ptr, ffi.from_buffer("float[]", obs, require_writable=True), obs.size,
                                     ffi.from_buffer("float[]", result, require_writable=True), n, ffi.NULL)
        if st:
            raise self._fail(st)
        return obs, result

    def step(self, action: int) -> Tuple[float, bool]:
        """Plays ``action`` for the player to move.

        Returns ``(reward, done)``: the reward of the player who acted (+1 win,
        -1 loss, 0 otherwise) and whether the game ended. Raises
        :class:`IllegalActionError` (game unchanged) or :class:`GameOverError`.
        """
        try:
            st = lib.ew_game_step(self._ptr, action, self._reward, self._done)
        except (TypeError, OverflowError):
            a = _check_int(action, "action")  # TypeError for anything but an integer
            if self._ptr == ffi.NULL:
                raise ClosedError("this game is closed") from None
            if self.is_done():
                raise GameOverError("the game is over; reset it to play again") from None
            n = len(self.legal_actions())
            raise IllegalActionError(
                f"action {a} (out of range 0..255) is not legal now; {n} action(s) are legal", a, n) from None
        if st:
            raise self._fail(st, action)
        return self._reward[0], self._done[0] != 0

    def current_player(self) -> int:
        """The seat to move (0 or 1)."""
        st = lib.ew_game_current_player(self._ptr, self._u8)
        if st:
            raise self._fail(st)
        return self._u8[0]

    def turn(self) -> int:
        """The turn counter: player-turns started so far (1 on player 0's first turn)."""
        st = lib.ew_game_turn(self._ptr, self._u32)
        if st:
            raise self._fail(st)
        return self._u32[0]

    def is_done(self) -> bool:
        """True once the game is over."""
        st = lib.ew_game_is_over(self._ptr, self._u8)
        if st:
            raise self._fail(st)
        return self._u8[0] != 0

    def winner(self) -> Optional[int]:
        """The winner's seat (0 or 1), or None for a draw or a game still running."""
        st = lib.ew_game_winner(self._ptr, self._i32)
        if st:
            raise self._fail(st)
        w = self._i32[0]
        return None if w < 0 else w

    def reward(self, seat: int) -> float:
        """The final reward of ``seat``: +1 win, -1 loss, 0 draw or still running."""
        seat = _check_int(seat, "seat")
        if seat not in (0, 1):
            raise ValueError(f"seat must be 0 or 1, got {seat}")
        st = lib.ew_game_reward(self._ptr, seat, self._f32)
        if st:
            raise self._fail(st)
        return self._f32[0]

    def fork(self) -> "Game":
        """An independent copy (cheap: the state is plain data)."""
        out = ffi.new("EwGame **")
        st = lib.ew_game_clone(self._ptr, out)
        if st:
            raise self._fail(st)
        return Game._wrap(out[0])

    # -- bots -------------------------------------------------------------

    def random_action(self, seed: int = 0) -> int:
        """A uniformly random legal action drawn with ``seed``."""
        seed = _check_seed(seed)
        st = lib.ew_game_random_action(self._ptr, seed, self._u8)
        if st:
            raise self._fail(st)
        return self._u8[0]

    def greedy_action(self, seed: int = 0) -> int:
        """The greedy bot's action (one-ply lookahead; ties broken with ``seed``)."""
        seed = _check_seed(seed)
        st = lib.ew_game_greedy_action(self._ptr, seed, self._u8)
        if st:
            raise self._fail(st)
        return self._u8[0]

    def mcts_action(self, simulations: int = 100, seed: int = 0) -> int:
        """The MCTS bot's action with ``simulations`` (>= 1) simulations."""
        simulations = _check_int(simulations, "simulations")
        if not 1 <= simulations <= 0xFFFFFFFF:
            raise ValueError(f"simulations must be in 1..4294967295, got {simulations}")
        seed = _check_seed(seed)
        st = lib.ew_game_mcts_action(self._ptr, simulations, seed, self._u8)
        if st:
            raise self._fail(st)
        return self._u8[0]

    def bot_action(self, bot: str, seed: int = 0) -> int:
        """The action of a bot by name: ``random``, ``greedy``, ``mcts-N`` or ``mcts-N-greedy``,
        and either MCTS form with ``-det`` (determinized: it does not see the deck order)."""
        if not isinstance(bot, str):
            raise TypeError(f"bot must be a name string, got {type(bot).__name__}")
        seed = _check_seed(seed)
        st = lib.ew_game_bot_action(self._ptr, bot.encode(), seed, self._u8)
        if st:
            raise self._fail(st)
        return self._u8[0]

    def mcts_stats(self, bot: str = "mcts-1000", seed: int = 0) -> Tuple[int, np.ndarray, np.ndarray]:
        """What the rollout MCTS bot ``bot`` (an ``mcts-...`` name) thinks of this position.

        Returns ``(action, visits, values)``: the action it plays (the same as
        ``bot_action(bot, seed)``), the visits of each of the 256 actions
        (uint32, summing to the budget; a forced move or an immediate win gets
        all of it) and the mean result of those visits for the player to move
        (float32 in [-1, 1], 0 where unvisited).
        """
        if not isinstance(bot, str):
            raise TypeError(f"bot must be a name string, got {type(bot).__name__}")
        seed = _check_seed(seed)
        visits = np.zeros(NUM_ACTIONS, dtype=np.uint32)
        values = np.zeros(NUM_ACTIONS, dtype=np.float32)
        st = lib.ew_game_mcts_stats(self._ptr, bot.encode(), seed, self._u8,
                                    ffi.from_buffer("uint32_t[]", visits), ffi.from_buffer("float[]", values))
        if st:
            raise self._fail(st)
        return self._u8[0], visits, values

    # -- text and bytes ---------------------------------------------------

    def render(self) -> str:
        """A text picture of the table."""
        needed = ffi.new("size_t *")
        st = lib.ew_game_render(self._ptr, ffi.NULL, 0, needed)
        if st and st != 9:  # 9: EW_ERR_BUFFER_TOO_SMALL, expected for the size query
            raise self._fail(st)
        buf = ffi.new("char[]", int(needed[0]))
        st = lib.ew_game_render(self._ptr, buf, len(buf), needed)
        if st:
            raise self._fail(st)
        return ffi.string(buf).decode("utf-8", "replace")

    def __str__(self) -> str:
        return self.render() if not self.closed else repr(self)

    def to_bytes(self) -> bytes:
        """A compact, versioned snapshot of the whole game (``STATE_BYTES`` bytes)."""
        buf = ffi.new("uint8_t[]", STATE_BYTES)
        needed = ffi.new("size_t *")
        st = lib.ew_game_serialize(self._ptr, buf, STATE_BYTES, needed)
        if st:
            raise self._fail(st)
        return bytes(ffi.buffer(buf, int(needed[0])))

    @classmethod
    def from_bytes(cls, data) -> "Game":
        """A game restored from :meth:`to_bytes` output. Anything else raises
        :class:`InvalidSnapshotError` saying what is wrong."""
        if isinstance(data, str):
            raise TypeError("from_bytes needs bytes, got str")
        try:
            view = memoryview(data)
        except TypeError:
            raise TypeError(f"from_bytes needs a bytes-like object, got {type(data).__name__}") from None
        raw = view.tobytes() if not view.c_contiguous or view.format not in ("B", "b", "c") else data
        out = ffi.new("EwGame **")
        buf = ffi.from_buffer(raw)
        st = lib.ew_game_deserialize(buf if len(buf) else ffi.new("uint8_t[]", 1), len(buf), out)
        if st:
            raise _error(st)
        return cls._wrap(out[0])


def _float_buffer(arr, size: int, what: str):
    """A cffi ``float *`` into a caller's float32 array of ``size`` elements."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} must be a numpy float32 array of shape ({size},), got {type(arr).__name__}")
    if arr.dtype != np.float32:
        raise TypeError(f"{what} must have dtype float32, got {arr.dtype}")
    if arr.size != size:
        raise ValueError(f"{what} must hold {size} elements (shape ({size},)), got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous")
    if not arr.flags.writeable:
        raise ValueError(f"{what} must be writeable")
    if arr.ctypes.data % 4:
        raise ValueError(f"{what} must be 4-byte aligned")
    return ffi.from_buffer("float[]", arr, require_writable=True)


def _byte_buffer(arr, size: int, what: str):
    """A cffi ``uint8_t *`` into a caller's bool or uint8 array of ``size`` elements."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} must be a numpy bool or uint8 array of shape ({size},), got {type(arr).__name__}")
    if arr.dtype not in (np.bool_, np.uint8):
        raise TypeError(f"{what} must have dtype bool or uint8, got {arr.dtype}")
    if arr.size != size:
        raise ValueError(f"{what} must hold {size} elements, got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous")
    if not arr.flags.writeable:
        raise ValueError(f"{what} must be writeable")
    return ffi.from_buffer("uint8_t[]", arr, require_writable=True)


# ---------------------------------------------------------------------------
# Batches.

_OUTPUT_FIELDS = {
    # name: (dtype choices, row shape, required)
    "obs": ((np.float32,), (OBS_SIZE,), True),
    "masks": ((np.bool_, np.uint8), (NUM_ACTIONS,), True),
    "rewards": ((np.float32,), (), False),
    "terminated": ((np.bool_, np.uint8), (), False),
    "truncated": ((np.bool_, np.uint8), (), False),
    "current_player": ((np.uint8,), (), False),
    "illegal": ((np.bool_, np.uint8), (), False),
    "final_obs": ((np.float32,), (OBS_SIZE,), False),
}
_C_TYPES = {"obs": "float[]", "final_obs": "float[]", "rewards": "float[]"}


class BatchOutput:
    """The arrays one batch call writes into, prepared once.

    Attributes (numpy arrays, one row per game, or ``None`` when not kept):
    ``obs`` float32 ``[N, 326]``, ``masks`` bool/uint8 ``[N, 256]``,
    ``rewards`` float32 ``[N]``, ``terminated`` and ``truncated`` bool/uint8
    ``[N]``, ``current_player`` uint8 ``[N]``, ``illegal`` bool/uint8 ``[N]``,
    ``final_obs`` float32 ``[N, 326]``.

    Arrays not given are allocated (``final_obs`` only when
    ``final_obs=True``); given arrays must have the right dtype and shape, be
    C-contiguous and writeable (e.g. numpy views of shared memory), and are
    written in place.
    """

    __slots__ = tuple(_OUTPUT_FIELDS) + ("num_games", "_struct", "_keep")

    def __init__(self, num_games: int, *, final_obs: Union[bool, np.ndarray, None] = False, **arrays):
        unknown = set(arrays) - set(_OUTPUT_FIELDS)
        if unknown:
            raise TypeError(f"unknown output arrays {sorted(unknown)}; valid: {', '.join(_OUTPUT_FIELDS)}")
        self.num_games = num_games
        self._struct = ffi.new("EwBatchOutput *")
        self._struct.num_games = num_games
        self._keep = []
        for name, (dtypes, row, _required) in _OUTPUT_FIELDS.items():
            shape = (num_games,) + row
            arr = final_obs if name == "final_obs" else arrays.get(name)
            if isinstance(arr, np.ndarray):
                arr = self._check(name, arr, dtypes, shape)
            elif arr is None or arr is False:
                # Not given: allocated, except final_obs (kept only on request).
                arr = None if name == "final_obs" else np.zeros(shape, dtype=dtypes[0])
            elif arr is True and name == "final_obs":
                arr = np.zeros(shape, dtype=np.float32)
            else:
                raise TypeError(f"output array {name} must be a numpy array, got {type(arr).__name__}")
            if arr is not None:
                ptr = ffi.from_buffer(_C_TYPES.get(name, "uint8_t[]"), arr, require_writable=True)
                self._keep.append(ptr)
                setattr(self._struct, name, ptr)
            setattr(self, name, arr)

    @staticmethod
    def _check(name, arr, dtypes, shape):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"output array {name} must be a numpy array, got {type(arr).__name__}")
        if arr.dtype not in dtypes:
            names = " or ".join(np.dtype(d).name for d in dtypes)
            raise TypeError(f"output array {name} must have dtype {names}, got {arr.dtype}")
        if arr.shape != shape:
            raise ValueError(f"output array {name} must have shape {shape}, got {arr.shape}")
        if not arr.flags.c_contiguous:
            raise ValueError(f"output array {name} must be C-contiguous")
        if not arr.flags.writeable:
            raise ValueError(f"output array {name} must be writeable")
        return arr


def _opponent_name(opponent) -> bytes:
    if opponent is None:
        return b"none"
    if not isinstance(opponent, str):
        raise TypeError(f"opponent must be None or a bot name (random, greedy, mcts-N), got {type(opponent).__name__}")
    return opponent.encode()


class Batch:
    """``num_games`` games stepped by one native call (the C ``EwBatch``).

    ``Batch(num_games, deck0, deck1, mode, *, opponent=None, agent_seat=0,
    autoreset=False, illegal="error", final_obs=False, seed=0)``.

    - ``opponent``: ``None`` (self-play: you play both seats and read
      ``current_player``), or a bot name (``"random"``, ``"greedy"``,
      ``"mcts-N"``, ``"mcts-N-greedy"``) that plays the other seat inside each
      step, until it is the agent's turn again or the game ends; a sequence
      gives one per game. Rewards are then from the agent's seat.
    - ``agent_seat``: 0 or 1 (or one per game).
    - ``autoreset``: when a game ends, the step reports ``terminated`` and
      the final reward, and the next game is dealt at once from a seed
      derived from the finished game's seed; the ``obs``/``masks`` rows
      returned are the new game's, and the final observation goes to
      ``final_obs`` when that array is kept (``final_obs=True``).
    - ``illegal``: ``"error"`` (raise :class:`IllegalActionError` naming the
      first offending game; no game changes) or ``"lose"`` (that game ends
      as a loss for the agent, reward -1, flagged in ``illegal``).

    Game i is dealt from ``seed + i`` (or ``seeds[i]``); its whole trajectory
    depends only on that seed and the actions given for it. Settings changed
    with ``set_*`` take effect at the game's next reset.

    ``step`` writes into the arrays of :attr:`output` (allocated once) and
    returns that same :class:`BatchOutput`; pass ``out=`` (from
    :meth:`make_output`) to write into arrays of your own.
    """

    def __init__(self, num_games: int, deck0: DeckSpec = "argentum_control", deck1: DeckSpec = "symbiote_aggro",
                 mode: str = "attrition", *, opponent: Union[None, str, Sequence[Optional[str]]] = None,
                 agent_seat: Union[int, Sequence[int]] = 0, autoreset: bool = False, illegal: str = "error",
                 final_obs: bool = False, seed: int = 0):
        self._ptr = ffi.NULL
        num_games = _check_int(num_games, "num_games")
        if not 1 <= num_games <= 1 << 24:
            raise ValueError(f"num_games must be in 1..16777216, got {num_games}")
        if illegal not in ("error", "lose"):
            raise ValueError(f"illegal must be 'error' or 'lose', got {illegal!r}")
        mode_b = _check_mode(mode)
        first0 = deck0 if isinstance(deck0, str) else list_decks()[0]
        first1 = deck1 if isinstance(deck1, str) else list_decks()[0]
        _deck_ids(first0, "deck0")
        _deck_ids(first1, "deck1")
        out = ffi.new("EwBatch **")
        policy = lib.EW_ILLEGAL_ERROR if illegal == "error" else lib.EW_ILLEGAL_LOSE
        st = lib.ew_batch_new(num_games, first0.encode(), first1.encode(), mode_b, 1 if autoreset else 0, policy, out)
        if st:
            raise _error(st)
        self._ptr = ffi.gc(out[0], lib.ew_batch_free)
        self.num_games = num_games
        self.autoreset = bool(autoreset)
        self.illegal = illegal
        self._bad = ffi.new("int64_t *")
        self._actions = np.zeros(num_games, dtype=np.int64)
        self._actions_ptr = ffi.from_buffer("int64_t[]", self._actions)
        self._all = None  # every game's index, for afterstates()
        if not (isinstance(deck0, str) and isinstance(deck1, str)):
            self.set_decks(deck0, deck1, mode)
        if opponent is not None:
            self.set_opponent(opponent)
        if agent_seat != 0:
            self.set_agent_seat(agent_seat)
        #: The arrays written by default.
        self.output = BatchOutput(num_games, final_obs=final_obs)
        self.reset(seed)

    # -- lifetime ---------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._ptr == ffi.NULL

    def close(self) -> None:
        """Frees the native batch now. A second call does nothing."""
        ptr = self._ptr
        if ptr != ffi.NULL:
            self._ptr = ffi.NULL
            ffi.release(ptr)

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.num_games

    def __repr__(self) -> str:
        return f"<Batch of {self.num_games} games{' (closed)' if self.closed else ''}>"

    def _fail(self, status: int, indices=None, actions=None) -> Exception:
        if self._ptr == ffi.NULL:
            return ClosedError("this batch is closed")
        err = _error(status)
        index = int(self._bad[0])
        if index >= 0 and isinstance(err, (IllegalActionError, GameOverError)):
            err.game_index = index
            if isinstance(err, IllegalActionError) and actions is not None:
                k = index if indices is None else int(np.flatnonzero(indices == index)[0])
                err.action = int(actions[k])
        return err

    # -- settings ---------------------------------------------------------

    def _indices(self, index) -> Iterable[int]:
        if index is None:
            return [int(lib.EW_ALL_GAMES)]
        i = _check_int(index, "index")
        if not 0 <= i < self.num_games:
            raise IndexError(f"game index {i} out of range (the batch has {self.num_games} games)")
        return [i]

    def _per_game(self, value, index, setter) -> None:
        if index is None and isinstance(value, (list, tuple, np.ndarray)):
            if len(value) != self.num_games:
                raise ValueError(f"expected one value per game ({self.num_games}), got {len(value)}")
            for i, v in enumerate(value):
                setter(v, i)
        else:
            for i in self._indices(index):
                setter(value, i)

    def set_opponent(self, opponent, index: Optional[int] = None) -> None:
        """Sets the opponent (None, a bot name, or one per game) from the next reset on."""
        def one(v, i):
            st = lib.ew_batch_set_opponent(self._ptr, i, _opponent_name(v))
            if st:
                raise self._fail(st)
        self._per_game(opponent, index, one)

    def set_agent_seat(self, seat, index: Optional[int] = None) -> None:
        """Sets the agent's seat (0, 1, or one per game) from the next reset on."""
        def one(v, i):
            v = _check_int(v, "agent_seat")
            if v not in (0, 1):
                raise ValueError(f"agent_seat must be 0 or 1, got {v}")
            st = lib.ew_batch_set_agent_seat(self._ptr, i, v)
            if st:
                raise self._fail(st)
        self._per_game(seat, index, one)

    def set_decks(self, deck0: DeckSpec, deck1: DeckSpec, mode: str = "attrition", index: Optional[int] = None) -> None:
        """Sets the decks and mode (of one game, or all) from the next reset on."""
        mode_b = _check_mode(mode)
        d0 = _deck_ids(deck0, "deck0")
        d1 = _deck_ids(deck1, "deck1")
        for i in self._indices(index):
            if isinstance(d0, bytes) and isinstance(d1, bytes):
                st = lib.ew_batch_set_decks(self._ptr, i, d0, d1, mode_b)
            else:
                ids0, n0 = _deck_ids(deck_cards(deck0), "deck0") if isinstance(d0, bytes) else d0
                ids1, n1 = _deck_ids(deck_cards(deck1), "deck1") if isinstance(d1, bytes) else d1
                st = lib.ew_batch_set_decks_custom(self._ptr, i, ids0, n0, ids1, n1, mode_b)
            if st:
                raise self._fail(st)

    # -- outputs ----------------------------------------------------------

    def make_output(self, **arrays) -> BatchOutput:
        """A :class:`BatchOutput` over arrays of your own (missing ones are allocated)."""
        return BatchOutput(self.num_games, **arrays)

    def _out(self, out: Optional[BatchOutput]):
        if out is None:
            return self.output
        if not isinstance(out, BatchOutput):
            raise TypeError(f"out must be a BatchOutput (see Batch.make_output), got {type(out).__name__}")
        if out.num_games != self.num_games:
            raise ValueError(f"out has {out.num_games} rows, the batch has {self.num_games} games")
        return out

    # -- reset, step ------------------------------------------------------

    def reset(self, seed: int = 0, seeds: Optional[Sequence[int]] = None,
              out: Optional[BatchOutput] = None) -> BatchOutput:
        """Deals every game again: game i from ``seeds[i]``, or ``seed + i`` (mod 2**64)."""
        o = self._out(out)
        if seeds is not None:
            seeds = [_check_seed(s, "seeds[i]") for s in seeds]
            if len(seeds) != self.num_games:
                raise ValueError(f"seeds must hold one seed per game ({self.num_games}), got {len(seeds)}")
            arr = ffi.new("uint64_t[]", seeds)
            st = lib.ew_batch_reset(self._ptr, 0, arr, o._struct)
        else:
            st = lib.ew_batch_reset(self._ptr, _check_seed(seed), ffi.NULL, o._struct)
        if st:
            raise self._fail(st)
        return o

    def reset_subset(self, indices: Sequence[int], seeds: Sequence[int],
                     out: Optional[BatchOutput] = None) -> BatchOutput:
        """Deals the games ``indices`` again, game ``indices[k]`` from ``seeds[k]``; writes only their rows."""
        o = self._out(out)
        idx = self._index_array(indices)
        seeds = [_check_seed(s, "seeds[k]") for s in seeds]
        if len(seeds) != len(idx):
            raise ValueError(f"need one seed per index: {len(idx)} indices, {len(seeds)} seeds")
        st = lib.ew_batch_reset_subset(self._ptr, ffi.from_buffer("uint32_t[]", idx),
                                       ffi.new("uint64_t[]", seeds), len(idx), o._struct)
        if st:
            raise self._fail(st)
        return o

    def observe(self, out: Optional[BatchOutput] = None) -> BatchOutput:
        """Writes the current observations, masks and players to move."""
        o = self._out(out)
        st = lib.ew_batch_observe(self._ptr, o._struct)
        if st:
            raise self._fail(st)
        return o

    def step(self, actions, out: Optional[BatchOutput] = None) -> BatchOutput:
        """Steps every game: game i plays ``actions[i]``; one native call.

        Returns the :class:`BatchOutput` written (the same object each call).
        """
        o = self.output if out is None else self._out(out)
        if actions is not self._actions:
            try:
                np.copyto(self._actions, actions, casting="same_kind")
            except (TypeError, ValueError) as e:
                raise type(e)(f"actions must be {self.num_games} integers: {e}") from None
        st = lib.ew_batch_step(self._ptr, self._actions_ptr, o._struct, self._bad)
        if st:
            raise self._fail(st, None, self._actions)
        return o

    @property
    def actions(self) -> np.ndarray:
        """The batch's own int64 action array: fill it in place and pass it to
        :meth:`step` to skip the copy."""
        return self._actions

    def _index_array(self, indices) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.ndim != 1:
            raise ValueError(f"indices must be a 1-d sequence, got shape {idx.shape}")
        if idx.size and (idx.dtype.kind not in "iu"):
            raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_games):
            raise IndexError(f"game indices must be in 0..{self.num_games - 1}")
        return np.ascontiguousarray(idx, dtype=np.uint32)

    def step_subset(self, indices, actions, out: Optional[BatchOutput] = None) -> BatchOutput:
        """Steps only games ``indices`` (distinct), game ``indices[k]`` playing
        ``actions[k]``; writes only their rows of the output arrays."""
        o = self._out(out)
        idx = self._index_array(indices)
        acts = np.ascontiguousarray(actions, dtype=np.int64)
        if acts.shape != idx.shape:
            raise ValueError(f"need one action per index: {idx.shape[0]} indices, actions of shape {acts.shape}")
        st = lib.ew_batch_step_subset(self._ptr, ffi.from_buffer("uint32_t[]", idx),
                                      ffi.from_buffer("int64_t[]", acts), len(idx), o._struct, self._bad)
        if st:
            raise self._fail(st, idx, acts)
        return o

    # -- inspection -------------------------------------------------------

    def card_ids(self, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Card ids of every game from its player to move: uint16 ``[N, 34]``
        (see :meth:`Game.card_ids`). Call after :meth:`step` or :meth:`reset`
        to pair them with that step's observations. With ``out`` (a writable,
        C-contiguous uint16 array of N x 34 elements) it is written in place.
        """
        size = len(self) * CARD_ID_SLOTS
        if out is None:
            out = np.empty((len(self), CARD_ID_SLOTS), dtype=np.uint16)
        elif not isinstance(out, np.ndarray) or out.dtype != np.uint16:
            raise TypeError(f"out must be a numpy uint16 array of shape ({len(self)}, {CARD_ID_SLOTS})")
        elif out.size != size or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out must be a writeable, C-contiguous uint16 array of {size} elements "
                             f"(shape ({len(self)}, {CARD_ID_SLOTS})), got shape {out.shape}")
        st = lib.ew_batch_card_ids(self._ptr, ffi.from_buffer("uint16_t[]", out, require_writable=True), size)
        if st:
            raise self._fail(st)
        return out

    def afterstates(self, indices=None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The afterstates (:meth:`Game.afterstates`) of games ``indices``
        (distinct; default: every game, in order), one game after another.

        Returns ``(obs, result, counts)``: float32 ``[R, 326]``, float32
        ``[R]`` and int64 ``[len(indices)]``. ``counts[j]`` is the number of
        legal actions of game ``indices[j]`` (0 for a finished game), and its
        rows are the block ``counts[:j].sum()`` to ``counts[:j + 1].sum()``,
        in the order of :meth:`Game.afterstates` for that game: its legal
        actions ascending, each seen from its player to move, with that
        player's result. R is ``counts.sum()``. No game changes. The indices
        are checked as :meth:`step_subset` checks them (:class:`IndexError`
        out of range, :class:`ValueError` for one given twice).
        """
        if indices is None:
            if self._all is None:
                self._all = np.arange(self.num_games, dtype=np.uint32)
            idx = self._all
        else:
            idx = self._index_array(indices)
        n = len(idx)
        idx_ptr = ffi.from_buffer("uint32_t[]", idx)
        counts = np.empty(n, dtype=np.uint32)
        counts_ptr = ffi.from_buffer("uint32_t[]", counts, require_writable=True)
        st = lib.ew_batch_legal_counts(self._ptr, idx_ptr, n, counts_ptr, n)
        if st:
            raise self._fail(st)
        counts = counts.astype(np.int64)
        rows = int(counts.sum())
        obs = np.empty((rows, OBS_SIZE), dtype=np.float32)
        result = np.empty(rows, dtype=np.float32)
        st = lib.ew_batch_afterstates(self._ptr, idx_ptr, n, ffi.from_buffer("float[]", obs, require_writable=True),
                                      obs.size, ffi.from_buffer("float[]", result, require_writable=True), rows,
                                      ffi.NULL)
        if st:
            raise self._fail(st)
        return obs, result, counts

    def game(self, index: int) -> Game:
        """A copy of game ``index`` as a :class:`Game` (for rendering or search)."""
        (i,) = self._indices(_check_int(index, "index"))
        out = ffi.new("EwGame **")
        st = lib.ew_batch_get_game(self._ptr, i, out)
        if st:
            raise self._fail(st)
        return Game._wrap(out[0])

    def seed(self, index: int) -> int:
        """The seed game ``index`` was last dealt from."""
        (i,) = self._indices(_check_int(index, "index"))
        out = ffi.new("uint64_t *")
        st = lib.ew_batch_seed(self._ptr, i, out)
        if st:
            raise self._fail(st)
        return int(out[0])


def live_handles() -> Tuple[int, int]:
    """(live games, live batches) in the native library: for leak checks."""
    g = ffi.new("uint64_t *")
    b = ffi.new("uint64_t *")
    st = lib.ew_debug_live_handles(g, b)
    if st:
        raise _error(st)
    return int(g[0]), int(b[0])
