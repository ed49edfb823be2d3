"""An in-process vector env over :class:`essence_wars.core.Batch`.

It mirrors the subset of ``essence_wars.vec_env.make(...)`` the agents use
(same observation dict, ``info["current_player"]``, ``action_masks()``,
``autoreset_mode="same_step"``, a ring of ``ring_slots`` output slots whose
views stay valid for ``ring_slots - 1`` steps), with no worker processes.
The trainer uses it when ``essence_wars.vec_env`` is absent or when asked
(``--env batch``); the tests use it because it starts instantly.

Decks and seats rotate per episode: ``deck="random"`` (or
``opponent_deck="random"``, ``agent_seat="random"``) draws a new value for a
game when it ends. The engine applies settings at a game's next reset, and
under autoreset that reset happens inside the step that ends the game, so
a value drawn at the end of episode k applies from episode k+2 on: still
uniform over episodes, just one episode late.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from essence_wars import core

RANDOM = "random"


class BatchVecEnv:
    """``num_envs`` games in one :class:`~essence_wars.core.Batch`, autoreset in the same step.

    ``step(actions)`` returns ``(obs, rewards, terminated, truncated, info)``
    where ``obs = {"observation": [N,326] f32, "action_mask": [N,256] bool}``
    and ``info = {"current_player": [N] int}``. With a bot opponent the
    reward is from the agent's seat; in self-play (``opponent=None``) it is
    for the player who acted.
    """

    metadata = {"autoreset_mode": "same_step"}

    def __init__(self, num_envs: int, deck: str = RANDOM, opponent_deck: str = RANDOM, mode: str = "attrition",
                 opponent: Union[None, str, Sequence[Optional[str]]] = None,
                 agent_seat: Union[int, str] = RANDOM, ring_slots: int = 2, seed: int = 0,
                 illegal_action: str = "raise"):
        self.num_envs = num_envs
        self.deck, self.opponent_deck, self.mode = deck, opponent_deck, mode
        self.agent_seat = agent_seat
        self.decks = core.list_decks()
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.batch = core.Batch(num_envs, self.decks[0], self.decks[0], mode, opponent=opponent, autoreset=True,
                                illegal="error" if illegal_action == "raise" else "lose", seed=seed)
        self.ring_slots = max(2, ring_slots)
        n = num_envs
        self._ring_obs = np.zeros((self.ring_slots, n, core.OBS_SIZE), np.float32)
        self._ring_mask = np.zeros((self.ring_slots, n, core.NUM_ACTIONS), np.bool_)
        self._ring_rew = np.zeros((self.ring_slots, n), np.float32)
        self._ring_term = np.zeros((self.ring_slots, n), np.bool_)
        self._ring_trunc = np.zeros((self.ring_slots, n), np.bool_)
        self._ring_cp = np.zeros((self.ring_slots, n), np.uint8)
        self._outs = [self.batch.make_output(obs=self._ring_obs[k], masks=self._ring_mask[k],
                                             rewards=self._ring_rew[k], terminated=self._ring_term[k],
                                             truncated=self._ring_trunc[k], current_player=self._ring_cp[k])
                      for k in range(self.ring_slots)]
        self._slot = 0

    def _draw_settings(self, index: Optional[int]) -> None:
        targets = range(self.num_envs) if index is None else [index]
        for i in targets:
            d0 = self.decks[self.rng.integers(len(self.decks))] if self.deck == RANDOM else self.deck
            d1 = (self.decks[self.rng.integers(len(self.decks))] if self.opponent_deck == RANDOM
                  else self.opponent_deck)
            seat = int(self.rng.integers(2)) if self.agent_seat == RANDOM else int(self.agent_seat)
            # deck is the agent's; with the agent in seat 1 it goes to seat 1.
            self.batch.set_decks(*((d0, d1) if seat == 0 else (d1, d0)), self.mode, index=i)
            self.batch.set_agent_seat(seat, index=i)

    def _result(self, k: int):
        obs = {"observation": self._ring_obs[k], "action_mask": self._ring_mask[k]}
        return obs, {"current_player": self._ring_cp[k]}

    def reset(self, seed: Optional[int] = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.seed = seed
        self._draw_settings(None)
        self._slot = 0
        self.batch.reset(seed=int(self.rng.integers(1 << 62)), out=self._outs[0])
        self._ring_rew[0] = 0
        self._ring_term[0] = False
        return self._result(0)

    def action_masks(self) -> np.ndarray:
        return self._ring_mask[self._slot]

    def afterstates(self):
        """``(obs [R,326] f32, result [R] f32, counts [N] int64)`` of the current positions: for each env in
        order, one row per legal action (ascending) with the observation, from the mover's seat, after that
        action is applied to a copy of the game, and its result for the mover (+1 won, -1 lost, else 0).
        The envs' games are not changed (``core.Batch.afterstates``)."""
        return self.batch.afterstates()

    def step(self, actions):
        k = (self._slot + 1) % self.ring_slots
        self.batch.step(actions, out=self._outs[k])
        self._slot = k
        for i in np.flatnonzero(self._ring_term[k]):
            self._draw_settings(int(i))
        obs, info = self._result(k)
        return obs, self._ring_rew[k], self._ring_term[k], self._ring_trunc[k], info

    def close(self) -> None:
        self.batch.close()
