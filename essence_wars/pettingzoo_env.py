"""PettingZoo environments: Essence Wars for two agents, ``"player_0"`` and ``"player_1"``.

In the style of PettingZoo's classic games (chess, connect four):

>>> from essence_wars.pettingzoo_env import env
>>> e = env(render_mode="ansi")
>>> e.reset(seed=42)
>>> for agent in e.agent_iter():
...     observation, reward, termination, truncation, info = e.last()
...     if termination or truncation:
...         action = None
...     else:
...         action = e.action_space(agent).sample(observation["action_mask"])
...     e.step(action)

Observations
    ``{"observation": float32 [326], "action_mask": int8 [256]}`` for every
    agent, from that agent's own side of the table (the engine's encoding,
    ``docs/OBSERVATION.md``). The mask of the agent that is not to move is
    all zeros, and so are both masks once the game is over.

Turns
    A turn is several actions by the same player (play cards, attack, use
    abilities) ended by ``END_TURN`` (255). ``agent_selection`` always follows
    the game's player to move, so the same agent is selected again and again
    until it ends its turn: it does not alternate blindly.

Rewards
    0 on every step; when the game ends, +1 for the winner and -1 for the
    loser (0 each for a draw), given to both agents at once.

Illegal actions
    :func:`env` wraps :class:`raw_env` as the classic games do
    (``TerminateIllegalWrapper`` with ``illegal_reward=-1``, then
    ``AssertOutOfBoundsWrapper`` and ``OrderEnforcingWrapper``): an illegal
    action ends the game with -1 for the offender and 0 for the other agent.
    :class:`raw_env` itself raises :class:`essence_wars.core.IllegalActionError`
    (a ``ValueError``) and changes nothing.

Parallel API
    :func:`parallel_env` gives the same game through PettingZoo's
    ``ParallelEnv``: each ``step`` takes an action for every live agent, but
    only the action of the player to move is played; the other agent's
    action is ignored (its mask is all zeros, so a masked sampler hands it
    action 0). Both agents leave ``agents`` when the game ends.

Seeding
    ``reset(seed=s)`` seeds the env's generator, which draws the decks
    (``"random"`` decks) and the 64-bit game seed; ``reset()`` without a seed
    continues it. Same seed and same actions, same game.

Truncation
    Never: the game's own turn limit ends every game (a terminal outcome).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
from gymnasium import spaces
from gymnasium.error import ClosedEnvironmentError, ResetNeeded
from gymnasium.utils import seeding
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers

from essence_wars import core
from essence_wars.env import (
    action_index,
    check_deck,
    check_illegal,
    check_mode,
    check_render_mode,
    illegal_message,
    observation_space,
    observe_as,
    pick_deck,
)

__all__ = ["AGENTS", "env", "raw_env", "parallel_env", "EssenceWarsParallelEnv"]

#: The agents; ``AGENTS[seat]`` plays seat ``seat`` (player 0 moves first).
AGENTS = ("player_0", "player_1")
_SEAT = {agent: seat for seat, agent in enumerate(AGENTS)}
_SEED_BOUND = 1 << 63
_METADATA = {
    "render_modes": ["ansi", "human"],
    "name": "essence_wars_v0",
    "is_parallelizable": False,  # turns are not simultaneous: use parallel_env() instead
    "render_fps": 4,
}


class _Table:
    """The game and the settings both APIs share: decks, mode, seeding, observing, rendering."""

    def __init__(self, deck0: Any, deck1: Any, mode: str, render_mode: Optional[str]):
        self.deck_specs = (check_deck(deck0, "deck0"), check_deck(deck1, "deck1"))
        self.mode = check_mode(mode)
        self.render_mode = check_render_mode(render_mode, _METADATA["render_modes"])
        self.np_random: Optional[np.random.Generator] = None
        self.game: Optional[core.Game] = None
        self.decks: Any = None
        self.closed = False
        self.forfeit: Optional[int] = None  # seat that lost by an illegal action (parallel "lose")

    def deal(self, seed: Optional[int]) -> None:
        if self.closed:
            raise ClosedEnvironmentError("this environment is closed; create a new one")
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        rng = self.np_random
        decks = (pick_deck(self.deck_specs[0], rng), pick_deck(self.deck_specs[1], rng))
        game_seed = int(rng.integers(_SEED_BOUND))
        if self.game is not None and decks == self.decks:
            self.game.reset(game_seed)
        else:
            if self.game is not None:
                self.game.close()
            as_arg = [list(d) if isinstance(d, tuple) else d for d in decks]
            self.game = core.Game(seed=game_seed, deck0=as_arg[0], deck1=as_arg[1], mode=self.mode)
            self.decks = decks
        self.forfeit = None

    def started(self) -> core.Game:
        if self.closed:
            raise ClosedEnvironmentError("this environment is closed; create a new one")
        if self.game is None:
            raise ResetNeeded("call reset() before using the environment")
        return self.game

    def observe(self, seat: int, to_move: bool) -> Dict[str, np.ndarray]:
        game = self.started()
        mask = np.zeros(core.NUM_ACTIONS, dtype=np.int8)
        if to_move and self.forfeit is None:
            game.action_mask(mask.view(np.uint8))
        return {"observation": observe_as(game, seat), "action_mask": mask}

    def render(self):
        game = self.started()
        if self.render_mode is None:
            from gymnasium import logger

            logger.warn("render() was called without a render_mode; pass render_mode='ansi' or 'human'")
            return None
        text = game.render().rstrip() + "\n"
        if self.forfeit is not None:
            text += f"game over: {AGENTS[self.forfeit]} played an illegal action and forfeits\n"
        if self.render_mode == "ansi":
            return text
        print(text, flush=True)
        return None

    def close(self) -> None:
        if self.game is not None:
            self.game.close()
            self.game = None
        self.closed = True


def env(**kwargs: Any) -> AECEnv:
    """The AEC env, wrapped like PettingZoo's classic games (see the module docstring).

    Keyword arguments go to :class:`raw_env`.
    """
    aec = raw_env(**kwargs)
    aec = wrappers.TerminateIllegalWrapper(aec, illegal_reward=-1)
    aec = wrappers.AssertOutOfBoundsWrapper(aec)
    aec = wrappers.OrderEnforcingWrapper(aec)
    return aec


class _Spaces:
    """What the AEC and the parallel env share: agents, spaces, render mode."""

    def _init_spaces(self) -> None:
        self.render_mode = self._table.render_mode
        self.possible_agents = list(AGENTS)
        self.agents = []
        self.observation_spaces = {agent: observation_space() for agent in AGENTS}
        self.action_spaces = {agent: spaces.Discrete(core.NUM_ACTIONS) for agent in AGENTS}

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]


class raw_env(_Spaces, AECEnv):
    """Essence Wars as a PettingZoo AEC env (unwrapped: illegal actions raise).

    Args:
        deck0, deck1: the decks of player_0 and player_1: preset names,
            lists of 30 card ids, or ``"random"`` (a preset drawn each reset).
        mode: ``"attrition"`` or ``"essence_duel"``.
        render_mode: None, ``"ansi"`` (``render()`` returns the table) or
            ``"human"`` (printed after every reset and step).
    """

    metadata = _METADATA

    def __init__(self, deck0: Any = "argentum_control", deck1: Any = "symbiote_aggro",
                 mode: str = "attrition", render_mode: Optional[str] = None):
        super().__init__()
        self._table = _Table(deck0, deck1, mode, render_mode)
        self._init_spaces()

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None) -> None:
        self._table.deal(seed)
        game = self._table.game
        self.agents = list(AGENTS)
        self.rewards = {agent: 0.0 for agent in AGENTS}
        self._cumulative_rewards = {agent: 0.0 for agent in AGENTS}
        self.terminations = {agent: False for agent in AGENTS}
        self.truncations = {agent: False for agent in AGENTS}
        self.infos = {agent: {"turn": game.turn()} for agent in AGENTS}
        self.agent_selection = AGENTS[game.current_player()]
        if self.render_mode == "human":
            self.render()

    def observe(self, agent: str) -> Dict[str, np.ndarray]:
        """``agent``'s observation from its own side; its mask is all zeros unless it is to move."""
        game = self._table.started()
        to_move = agent == self.agent_selection and not game.is_done()
        return self._table.observe(_SEAT[agent], to_move)

    def step(self, action: Any) -> None:
        """Plays ``action`` for ``agent_selection``; the next agent is the game's player to move."""
        game = self._table.started()
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        a = action_index(action)
        if not game.action_mask()[a]:
            raise core.IllegalActionError(
                f"{agent}: " + illegal_message(a, len(game.legal_actions())), a, len(game.legal_actions()))
        self._cumulative_rewards[agent] = 0.0
        _, done = game.step(a)
        turn = game.turn()
        if done:
            winner = game.winner()
            self.rewards = {ag: float(game.reward(_SEAT[ag])) for ag in AGENTS}
            self.terminations = {ag: True for ag in AGENTS}
            self.infos = {ag: {"turn": turn, "winner": -1 if winner is None else winner} for ag in AGENTS}
        else:
            self.rewards = {ag: 0.0 for ag in AGENTS}
            self.infos = {ag: {"turn": turn} for ag in AGENTS}
            self.agent_selection = AGENTS[game.current_player()]
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def render(self):
        """``"ansi"``: the table as text; ``"human"``: prints it and returns None."""
        return self._table.render()

    def close(self) -> None:
        """Frees the native game (closing twice is allowed)."""
        self._table.close()


class EssenceWarsParallelEnv(_Spaces, ParallelEnv):
    """Essence Wars through PettingZoo's Parallel API (see the module docstring).

    Args:
        deck0, deck1, mode, render_mode: as :class:`raw_env`.
        illegal_action: ``"raise"`` (default; ``IllegalActionError``, nothing
            changes) or ``"lose"`` (the offender forfeits: -1 for it, +1 for
            the other agent, ``info["illegal_action"] = True``).
    """

    metadata = _METADATA

    def __init__(self, deck0: Any = "argentum_control", deck1: Any = "symbiote_aggro",
                 mode: str = "attrition", render_mode: Optional[str] = None, illegal_action: str = "raise"):
        self._table = _Table(deck0, deck1, mode, render_mode)
        self._illegal = check_illegal(illegal_action)
        self._init_spaces()

    def _observations(self, game: core.Game) -> Dict[str, Dict[str, np.ndarray]]:
        to_move = -1 if game.is_done() else game.current_player()
        return {agent: self._table.observe(_SEAT[agent], _SEAT[agent] == to_move) for agent in AGENTS}

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        """Deals a new game. Returns ``(observations, infos)``."""
        self._table.deal(seed)
        game = self._table.game
        self.agents = list(AGENTS)
        infos = {agent: {"turn": game.turn(), "current_player": game.current_player()} for agent in AGENTS}
        if self.render_mode == "human":
            self.render()
        return self._observations(game), infos

    def step(self, actions: Dict[str, Any]):
        """Plays the action of the player to move; the other agent's action is ignored.

        Returns ``(observations, rewards, terminations, truncations, infos)``.
        """
        game = self._table.started()
        if not self.agents:
            raise ResetNeeded("the game is over; call reset() before step()")
        if not isinstance(actions, dict):
            raise TypeError(f"actions must be a dict {{agent: action}}, got {type(actions).__name__}")
        unknown = set(actions) - set(AGENTS)
        if unknown:
            raise KeyError(f"unknown agents {sorted(unknown)}; the agents are {list(AGENTS)}")
        seat = game.current_player()
        agent = AGENTS[seat]
        if agent not in actions:
            raise KeyError(f"no action for {agent}, the player to move")
        a = action_index(actions[agent])
        illegal = False
        if not game.action_mask()[a]:
            num_legal = len(game.legal_actions())
            if self._illegal == "raise":
                raise core.IllegalActionError(f"{agent}: " + illegal_message(a, num_legal), a, num_legal)
            illegal = True
            self._table.forfeit = seat
            done = True
            rewards = {agent: -1.0, AGENTS[1 - seat]: 1.0}
            winner = 1 - seat
        else:
            _, done = game.step(a)
            rewards = {ag: float(game.reward(_SEAT[ag])) if done else 0.0 for ag in AGENTS}
            winner = game.winner() if done else None
        turn = game.turn()
        to_move = game.current_player()
        infos: Dict[str, Dict[str, Any]] = {}
        for ag in AGENTS:
            infos[ag] = {"turn": turn, "current_player": to_move}
            if done:
                infos[ag]["winner"] = -1 if winner is None else winner
                infos[ag]["illegal_action"] = illegal
        observations = self._observations(game)
        terminations = {ag: done for ag in AGENTS}
        truncations = {ag: False for ag in AGENTS}
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def render(self):
        """``"ansi"``: the table as text; ``"human"``: prints it and returns None."""
        return self._table.render()

    def close(self) -> None:
        """Frees the native game (closing twice is allowed)."""
        self._table.close()


def parallel_env(**kwargs: Any) -> EssenceWarsParallelEnv:
    """The Parallel API version (see :class:`EssenceWarsParallelEnv`)."""
    return EssenceWarsParallelEnv(**kwargs)
