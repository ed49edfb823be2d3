"""Built-in bots as Python callables: ``bot(game) -> action``.

Each wraps one native call (``ew_game_*_action``). A bot's choices depend
only on its seed and on the positions it is shown, in order: every call
draws a fresh seed from the bot's own counter, so two bots built with the
same seed and shown the same positions choose the same actions.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from essence_wars.core import Game, _check_int, _check_seed

__all__ = ["NativeBot", "RandomBot", "GreedyBot", "MctsBot", "make_bot"]

_M64 = (1 << 64) - 1


class NativeBot:
    """A bot of the native library by name: ``random``, ``greedy``, ``mcts-N``, ``mcts-N-greedy``
    (either MCTS form with ``-det``: determinized, it does not see the deck order)."""

    def __init__(self, name: str, seed: int = 0):
        if not isinstance(name, str):
            raise TypeError(f"bot name must be a string, got {type(name).__name__}")
        self.name = name
        self.seed = _check_seed(seed)
        self._calls = 0

    def _next_seed(self) -> int:
        # A Weyl sequence over the seed: distinct per call, deterministic per bot.
        s = (self.seed + self._calls * 0x9E3779B97F4A7C15) & _M64
        self._calls += 1
        return s

    def __call__(self, game: Game) -> int:
        """A legal action for the player to move in ``game`` (which must be running)."""
        return game.bot_action(self.name, self._next_seed())

    choose = __call__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, seed={self.seed})"


class RandomBot(NativeBot):
    """Uniform over the legal actions."""

    def __init__(self, seed: int = 0):
        super().__init__("random", seed)


class GreedyBot(NativeBot):
    """One-ply lookahead with the engine's evaluation; ties broken by the seed."""

    def __init__(self, seed: int = 0):
        super().__init__("greedy", seed)


class MctsBot(NativeBot):
    """UCT search with ``simulations`` simulations per move.

    With ``determinized=True`` the search does not know the deck order: each
    simulation reshuffles the undrawn cards (the ``mcts-N-det`` bot). By
    default it searches the true game, whose deck order the observation
    hides (docs/RULES_NOTES.md).
    """

    def __init__(self, simulations: int = 100, seed: int = 0, rollout: str = "random", determinized: bool = False):
        simulations = _check_int(simulations, "simulations")
        if simulations < 1:
            raise ValueError(f"simulations must be at least 1, got {simulations}")
        if rollout not in ("random", "greedy"):
            raise ValueError(f"rollout must be 'random' or 'greedy', got {rollout!r}")
        if not isinstance(determinized, (bool, np.bool_)):
            raise TypeError(f"determinized must be a bool, got {type(determinized).__name__}")
        suffix = ("-greedy" if rollout == "greedy" else "") + ("-det" if determinized else "")
        super().__init__(f"mcts-{simulations}{suffix}", seed)
        self.simulations = simulations
        self.determinized = bool(determinized)


def make_bot(name: str, seed: int = 0) -> Callable[[Game], int]:
    """A bot from its name (``random``, ``greedy``, ``mcts-N``, ``mcts-N-greedy``, either MCTS form + ``-det``)."""
    return NativeBot(name, seed)
