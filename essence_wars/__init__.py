"""Essence Wars: a deterministic two-player card game engine for RL research.

The engine is a dependency-free Rust library with a plain C ABI
(``include/essence_wars.h``); this package reaches it through cffi.

>>> from essence_wars import Game
>>> with Game(seed=1, deck0=list_decks()[0], deck1=list_decks()[0]) as g:  # doctest: +SKIP
...     reward, done = g.step(g.greedy_action())
"""

from essence_wars._version import __version__
from essence_wars.core import (
    DECK_SIZE,
    END_TURN,
    NUM_ACTIONS,
    OBS_SIZE,
    OBS_VERSION,
    STATE_BYTES,
    Batch,
    BatchOutput,
    Card,
    ClosedError,
    EssenceWarsError,
    Game,
    GameOverError,
    IllegalActionError,
    InvalidDeckError,
    InvalidSnapshotError,
    NativeError,
    UnknownCardError,
    UnknownDeckError,
    deck_cards,
    describe_action,
    list_cards,
    list_decks,
)

__all__ = [
    "__version__",
    "DECK_SIZE",
    "END_TURN",
    "NUM_ACTIONS",
    "OBS_SIZE",
    "OBS_VERSION",
    "STATE_BYTES",
    "Batch",
    "BatchOutput",
    "Card",
    "ClosedError",
    "EssenceWarsError",
    "Game",
    "GameOverError",
    "IllegalActionError",
    "InvalidDeckError",
    "InvalidSnapshotError",
    "NativeError",
    "UnknownCardError",
    "UnknownDeckError",
    "deck_cards",
    "describe_action",
    "list_cards",
    "list_decks",
]

# Registers the Gymnasium id "EssenceWars-v0" (gymnasium is a dependency).
from essence_wars import env as _env  # noqa: E402,F401
