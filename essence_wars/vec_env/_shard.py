"""One shard of envs: a native :class:`~essence_wars.core.Batch` writing into rows of the ring.

A :class:`ShardRunner` owns envs ``lo .. hi-1`` of the vector env. A worker
process runs one; with ``num_workers=0`` the learner runs one over all the
envs, in-process, on the same ring, so both paths execute this same code.

Per-episode logic lives here, vectorised per step (Python touches a step
once per shard, plus a few calls per *finished episode*):

- Seeding mirrors :class:`essence_wars.env.EssenceWarsEnv` exactly: env ``i``
  owns a NumPy generator seeded like ``gymnasium``'s ``np_random(seed + i)``,
  and every episode draws, in this order, the agent's seat (when
  ``"random"``), the agent's deck and the opponent's deck (when
  ``"random"``), then the 64-bit game seed. A reset without a seed
  continues the generators. So env ``i`` plays exactly the episodes of a
  single ``EssenceWarsEnv`` reset with ``seed + i``, whatever the sharding.
- The batch runs with native autoreset on, because that is what writes the
  final observation from the rewarded seat's side (``final_obs``); the
  game it deals next is then replaced by the episode drawn above
  (``reset_subset`` into a scratch output, copied into the slot rows). The
  native deal is wasted work, once per episode.
- ``same_step``: the terminal step's rows hold the new episode's first
  observation; the final one is in ``final_obs``.
  ``next_step``: the terminal step's rows hold the final observation (mask
  all zeros, ``current_player`` = the rewarded seat); the new episode waits
  in the scratch rows and is emitted by the env's next step, whose action
  is ignored (reward 0, not terminated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import numpy as np

from essence_wars import core

RANDOM = "random"
#: Exclusive bound of the game seed drawn per episode (as EssenceWarsEnv draws it).
SEED_BOUND = 1 << 63

DeckSpec = Union[str, Tuple[int, ...]]
_EMPTY = np.zeros(0, dtype=np.intp)


def make_rng(seed: int) -> np.random.Generator:
    """The generator ``gymnasium.utils.seeding.np_random(seed)`` returns (without importing gymnasium)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def _raw_draw_matches() -> bool:
    """Whether ``rng.integers(2**63)`` is ``random_raw() >> 1`` in this NumPy.

    It is for PCG64 (Lemire's bounded draw of a power-of-two range keeps the
    high bits of one 64-bit output and never rejects), and the raw call costs
    0.6 us instead of about 4 us: it is the one draw every episode makes. The
    check runs once at import, so a NumPy that draws differently falls back
    to ``integers``.
    """
    a, b = make_rng(12345), make_rng(12345)
    for k in range(64):
        if k % 3 == 0:  # interleave 32-bit draws, as a random seat or deck does
            if int(a.integers(2)) != int(b.integers(2)):
                return False
        if int(a.integers(SEED_BOUND)) != int(b.bit_generator.random_raw()) >> 1:
            return False
    return True


_RAW_DRAW = _raw_draw_matches()


def draw_game_seed(rng: np.random.Generator) -> int:
    """``int(rng.integers(2**63))``, the game seed of an episode (EssenceWarsEnv's draw)."""
    if _RAW_DRAW:
        return int(rng.bit_generator.random_raw()) >> 1
    return int(rng.integers(SEED_BOUND))


@dataclass(frozen=True)
class ShardConfig:
    """Everything a shard needs, checked by the learner; picklable for spawned workers."""

    deck: DeckSpec
    opponent_deck: DeckSpec
    mode: str
    opponents: Tuple[Optional[str], ...]  # one per env of the whole vector env
    seats: Tuple[Union[int, str], ...]  # one per env: 0, 1 or "random"
    illegal: str  # "raise" or "lose"
    same_step: bool


def _engine_deck(spec: DeckSpec):
    return list(spec) if isinstance(spec, tuple) else spec


class ShardRunner:
    """Steps envs ``lo .. hi-1`` into the ring ``views`` (a :meth:`RingLayout.views` dict)."""

    def __init__(self, cfg: ShardConfig, views: dict, lo: int, hi: int, ring_slots: int):
        self.cfg = cfg
        self.lo, self.hi = lo, hi
        n = self.n = hi - lo
        self.presets = core.list_decks()
        opponents = list(cfg.opponents[lo:hi])
        self.has_opponent = np.array([o is not None for o in opponents], dtype=bool)
        self.seat_specs = list(cfg.seats[lo:hi])
        # Nothing random but the game seed: an episode is one draw, no engine settings change.
        self.only_seeds = (RANDOM not in self.seat_specs and cfg.deck != RANDOM and cfg.opponent_deck != RANDOM)
        first0 = cfg.deck if cfg.deck != RANDOM else self.presets[0]
        first1 = cfg.opponent_deck if cfg.opponent_deck != RANDOM else self.presets[0]
        self.batch = core.Batch(
            n, _engine_deck(first0), _engine_deck(first1), cfg.mode, opponent=opponents,
            autoreset=True, illegal="error" if cfg.illegal == "raise" else "lose", seed=0,
        )
        # What the engine is set to, per env, so settings are only sent when they change.
        self.engine_decks: List[Tuple[DeckSpec, DeckSpec]] = [(first0, first1)] * n
        self.engine_seat = np.zeros(n, dtype=np.uint8)

        rows = slice(lo, hi)
        self.final_private = None if cfg.same_step else np.zeros((n, core.OBS_SIZE), dtype=np.float32)
        self.outs = []
        for k in range(ring_slots):
            final = views["final_obs"][k, rows] if cfg.same_step else self.final_private
            self.outs.append(self.batch.make_output(
                obs=views["obs"][k, rows], masks=views["masks"][k, rows], rewards=views["rewards"][k, rows],
                terminated=views["terminated"][k, rows], truncated=views["truncated"][k, rows],
                current_player=views["current_player"][k, rows], illegal=views["illegal"][k, rows],
                final_obs=final,
            ))
        self.seat_rows = [views["agent_seat"][k, rows] for k in range(ring_slots)]
        self.action_rows = [views["actions"][k, rows] for k in range(ring_slots)]
        self.reset_seeds = views["reset_seeds"][rows]
        self.subset_ids = views["subset_ids"][rows]
        # New episodes are dealt here (reset_subset writes rewards/flags too, which the
        # terminal step must keep), then copied into the slot rows.
        self.scratch = self.batch.make_output()

        self.rngs: List[Optional[np.random.Generator]] = [None] * n
        self.seat = np.zeros(n, dtype=np.uint8)  # seat of the episode each visible row belongs to
        self.next_seat = np.zeros(n, dtype=np.uint8)  # next_step: seat of the episode waiting
        self.to_move = np.zeros(n, dtype=np.uint8)  # current_player of each visible row
        self.pending = np.zeros(n, dtype=bool)  # next_step: next action ignored, new episode waiting
        self.any_pending = False

    def close(self) -> None:
        self.outs = []
        self.scratch = None
        self.batch.close()

    # -- episodes -----------------------------------------------------------

    def _draw(self, j: int) -> Tuple[int, int]:
        """Draws env ``j``'s next episode (the order of EssenceWarsEnv.reset), configures the
        engine for it, and returns ``(seat, game_seed)``."""
        rng = self.rngs[j]
        spec = self.seat_specs[j]
        seat = int(rng.integers(2)) if spec == RANDOM else spec
        presets = self.presets
        mine = self.cfg.deck
        if mine == RANDOM:
            mine = presets[int(rng.integers(len(presets)))]
        theirs = self.cfg.opponent_deck
        if theirs == RANDOM:
            theirs = presets[int(rng.integers(len(presets)))]
        game_seed = draw_game_seed(rng)
        decks = (mine, theirs) if seat == 0 else (theirs, mine)
        if decks != self.engine_decks[j]:
            self.batch.set_decks(_engine_deck(decks[0]), _engine_deck(decks[1]), self.cfg.mode, index=j)
            self.engine_decks[j] = decks
        if seat != self.engine_seat[j]:
            self.batch.set_agent_seat(seat, index=j)
            self.engine_seat[j] = seat
        return seat, game_seed

    def reset(self, slot: int, seeded: bool) -> None:
        """Deals every env of the shard a new episode into ``slot``; seeds the generators
        from ``reset_seeds`` first when ``seeded``."""
        if seeded:
            self.rngs = [make_rng(int(s)) for s in self.reset_seeds]
        elif any(r is None for r in self.rngs):
            raise RuntimeError("the first reset of a shard needs seeds")
        game_seeds = [0] * self.n
        for j in range(self.n):
            self.seat[j], game_seeds[j] = self._draw(j)
        out = self.outs[slot]
        self.batch.reset(seeds=game_seeds, out=out)
        self.pending[:] = False
        self.any_pending = False
        self.seat_rows[slot][:] = self.seat
        self.to_move[:] = out.current_player
        self.action_rows[slot][:] = -1

    def step(self, slot: int, count: Optional[int] = None) -> None:
        """Steps the shard into ``slot``: every env (``count=None``) with ``actions[slot]``,
        or the ``count`` local ids in ``subset_ids``."""
        out = self.outs[slot]
        actions = self.action_rows[slot]
        if count is None:
            ids = None
            if self.any_pending:
                pend = np.flatnonzero(self.pending)
                live = np.flatnonzero(~self.pending)
                if live.size:
                    self.batch.step_subset(live, actions[live], out)
                done = live[out.terminated[live] != 0]
            else:
                pend = _EMPTY
                self.batch.step(actions, out)
                done = np.flatnonzero(out.terminated)
        else:
            ids = self.subset_ids[:count].astype(np.intp)
            if self.any_pending:
                waiting = self.pending[ids]
                pend = ids[waiting]
                live = ids[~waiting]
            else:
                pend, live = _EMPTY, ids
            if live.size:
                self.batch.step_subset(live, actions[live], out)
            done = live[out.terminated[live] != 0]
        if pend.size:
            self._emit_pending(pend, out)
        if done.size:
            self._finish(done, out)
        seat_row = self.seat_rows[slot]
        if ids is None:
            seat_row[:] = self.seat
            self.to_move[:] = out.current_player
        else:
            seat_row[ids] = self.seat[ids]
            self.to_move[ids] = out.current_player[ids]

    def _emit_pending(self, pend: np.ndarray, out) -> None:
        """next_step: the step after a terminal one shows the new episode's first rows."""
        s = self.scratch
        out.obs[pend] = s.obs[pend]
        out.masks[pend] = s.masks[pend]
        out.current_player[pend] = s.current_player[pend]
        out.rewards[pend] = 0.0
        out.terminated[pend] = 0
        out.truncated[pend] = 0
        out.illegal[pend] = 0
        self.seat[pend] = self.next_seat[pend]
        self.pending[pend] = False
        self.any_pending = bool(self.pending.any())

    def _finish(self, done: np.ndarray, out) -> None:
        """Envs ``done`` ended this step: draw and deal their next episodes."""
        # The seat the terminal reward and final observation are for.
        reward_seat = np.where(self.has_opponent[done], self.seat[done], self.to_move[done]).astype(np.uint8)
        rngs = self.rngs
        if self.only_seeds:
            seeds = [draw_game_seed(rngs[j]) for j in done.tolist()]
            seats = self.seat[done]
        else:
            seeds = [0] * done.size
            seats = np.empty(done.size, dtype=np.uint8)
            for k, j in enumerate(done.tolist()):
                seats[k], seeds[k] = self._draw(j)
        s = self.scratch
        self.batch.reset_subset(done, seeds, out=s)
        if self.cfg.same_step:
            out.obs[done] = s.obs[done]
            out.masks[done] = s.masks[done]
            out.current_player[done] = s.current_player[done]
            self.seat[done] = seats
        else:
            out.obs[done] = self.final_private[done]
            out.masks[done] = 0
            out.current_player[done] = reward_seat
            self.next_seat[done] = seats
            self.pending[done] = True
            self.any_pending = True
