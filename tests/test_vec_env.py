"""The shared-memory vector env (essence_wars.vec_env): Gymnasium conformance,
identical trajectories to ``SyncVectorEnv`` over the single env, both autoreset
modes, seeding and determinism across worker counts and start methods, the
EnvPool-style partial steps, the ring's view semantics, and bad input
(including property-based tests with hypothesis).

Fault injection (dead and hung workers, Ctrl-C, SIGKILL of the learner, leaks)
is in test_vec_env_faults.py.
"""

from __future__ import annotations

import multiprocessing as mp
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import AlreadyPendingCallError, ClosedEnvironmentError, NoAsyncCallError, ResetNeeded
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import batch_space
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from essence_wars import core
from essence_wars.core import END_TURN, IllegalActionError
from essence_wars.vec_env import SharedMemoryVectorEnv, make
from essence_wars.vec_env._shard import draw_game_seed, make_rng

POSIX = sys.platform != "win32"
needs_workers = pytest.mark.skipif(not POSIX, reason="the worker tests run on POSIX")
DECKS = core.list_decks()


def sample_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random legal action per row (END_TURN for a row with none)."""
    mask = np.asarray(mask).astype(bool)
    keys = np.where(mask, rng.random(mask.shape), -1.0)
    return np.where(mask.any(axis=1), keys.argmax(axis=1), END_TURN)


def hash_policy(observation: np.ndarray, action_mask: np.ndarray) -> np.ndarray:
    """A deterministic per-env policy: a legal action picked by hashing the row's observation,
    so an env's actions depend on its own trajectory only (not on batch order)."""
    out = np.full(len(observation), END_TURN, dtype=np.int64)
    for i in range(len(observation)):
        legal = np.flatnonzero(action_mask[i])
        if legal.size:
            h = int(np.frombuffer(observation[i].tobytes(), dtype=np.uint32).sum())
            out[i] = legal[h % legal.size]
    return out


def env_kwargs(opponent="greedy", agent_seat=0, deck="argentum_control", opponent_deck="symbiote_aggro"):
    return dict(deck=deck, opponent_deck=opponent_deck, mode="attrition", opponent=opponent,
                agent_seat=agent_seat, illegal_action="lose")


def reference(n: int, autoreset: str, **kwargs) -> SyncVectorEnv:
    from essence_wars.env import EssenceWarsEnv

    return SyncVectorEnv([lambda: EssenceWarsEnv(**kwargs) for _ in range(n)],
                         autoreset_mode=AutoresetMode.NEXT_STEP if autoreset == "next_step" else AutoresetMode.SAME_STEP)


def assert_same_step(t, ref, got, same_step: bool) -> None:
    (o1, r1, t1, u1, i1), (o2, r2, t2, u2, i2) = ref, got
    np.testing.assert_array_equal(o1["observation"], o2["observation"], err_msg=f"step {t}")
    np.testing.assert_array_equal(o1["action_mask"], o2["action_mask"], err_msg=f"step {t}")
    np.testing.assert_array_equal(r1, r2, err_msg=f"step {t}")
    np.testing.assert_array_equal(t1, t2, err_msg=f"step {t}")
    np.testing.assert_array_equal(u1, u2, err_msg=f"step {t}")
    # At a terminal next_step row current_player is the rewarded seat (documented);
    # the single env reports the engine's seat to move of the finished game.
    rows = np.ones_like(t1) if same_step else ~t1
    np.testing.assert_array_equal(i1["current_player"][rows], i2["current_player"][rows], err_msg=f"step {t}")
    np.testing.assert_array_equal(i1["illegal_action"], i2["illegal_action"], err_msg=f"step {t}")
    np.testing.assert_array_equal(i1["_illegal_action"], i2["_illegal_action"], err_msg=f"step {t}")
    if "agent_seat" in i1:
        np.testing.assert_array_equal(i1["agent_seat"], i2["agent_seat"], err_msg=f"step {t}")
        np.testing.assert_array_equal(i1["_agent_seat"], i2["_agent_seat"])
    if same_step:
        assert ("final_obs" in i1) == ("final_obs" in i2), f"step {t}"
        if "final_obs" in i1:
            np.testing.assert_array_equal(i1["_final_obs"], i2["_final_obs"])
            for j in np.flatnonzero(i1["_final_obs"]):
                for key in ("observation", "action_mask"):
                    np.testing.assert_array_equal(i1["final_obs"][j][key], i2["final_obs"][j][key])
            f1, f2 = i1["final_info"], i2["final_info"]
            np.testing.assert_array_equal(i1["_final_info"], i2["_final_info"])
            np.testing.assert_array_equal(f1["_illegal_action"], f2["_illegal_action"])
            np.testing.assert_array_equal(f1["illegal_action"], f2["illegal_action"])


# ---------------------------------------------------------------------------
# Gymnasium conformance.


def test_is_a_gymnasium_vector_env_with_the_single_envs_spaces():
    from essence_wars.env import EssenceWarsEnv

    single = EssenceWarsEnv()
    env = make(5, num_workers=0, seed=0)
    try:
        assert isinstance(env, gym.vector.VectorEnv)
        assert env.num_envs == 5
        assert env.single_observation_space == single.observation_space
        assert env.single_action_space == single.action_space
        assert env.observation_space == batch_space(single.observation_space, 5)
        assert env.action_space == batch_space(single.action_space, 5)
        assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
        obs, info = env.reset(seed=1)
        assert env.observation_space.contains(obs)
        assert obs["observation"].dtype == np.float32 and obs["observation"].shape == (5, core.OBS_SIZE)
        assert obs["action_mask"].dtype == np.int8 and obs["action_mask"].shape == (5, core.NUM_ACTIONS)
        assert set(info) >= {"current_player", "_current_player"}
        out = env.step(sample_legal(obs["action_mask"], np.random.default_rng(0)))
        assert len(out) == 5
        obs, rew, term, trunc, info = out
        assert env.observation_space.contains(obs)
        assert rew.shape == term.shape == trunc.shape == (5,)
        assert term.dtype == trunc.dtype == np.bool_
        assert np.issubdtype(rew.dtype, np.floating)
        assert {"current_player", "illegal_action", "agent_seat"} <= set(info)
        masks = env.action_masks()
        assert masks.dtype == np.bool_ and masks.shape == (5, core.NUM_ACTIONS)
        np.testing.assert_array_equal(masks, obs["action_mask"].astype(bool))
    finally:
        env.close()
        single.close()


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_gymnasium_vector_wrappers_work(mode):
    from gymnasium.wrappers.vector import DictInfoToList, RecordEpisodeStatistics

    env = RecordEpisodeStatistics(make(4, num_workers=0, seed=0, opponent="greedy", autoreset_mode=mode))
    try:
        obs, info = env.reset()
        episodes = 0
        for _ in range(150):
            obs, rew, term, trunc, info = env.step(env.unwrapped.action_masks().argmax(axis=1))
            if "episode" in info:
                episodes += int(info["_episode"].sum())
        assert episodes > 5
    finally:
        env.close()
    listed = DictInfoToList(make(3, num_workers=0, seed=0))
    try:
        obs, infos = listed.reset()
        assert len(infos) == 3 and {"current_player", "agent_seat"} <= set(infos[0])
    finally:
        listed.close()


def test_same_step_metadata_and_final_obs():
    env = make(4, num_workers=0, seed=3, autoreset_mode="same_step", opponent="greedy")
    try:
        assert env.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
        obs, info = env.reset()
        rng = np.random.default_rng(0)
        seen = 0
        for _ in range(400):
            obs, rew, term, trunc, info = env.step(sample_legal(obs["action_mask"], rng))
            assert obs["action_mask"].any(axis=1).all(), "same_step never shows a finished game"
            if term.any():
                seen += 1
                assert info["_final_obs"].dtype == np.bool_
                np.testing.assert_array_equal(info["_final_obs"], term)
                for i in range(4):
                    if term[i]:
                        final = info["final_obs"][i]
                        assert env.single_observation_space.contains(final)
                        assert not final["action_mask"].any()
                        assert rew[i] in (-1.0, 0.0, 1.0)
                    else:
                        assert info["final_obs"][i] is None
            else:
                assert "final_obs" not in info
        assert seen > 3
    finally:
        env.close()


def test_next_step_ignores_the_action_after_a_terminal_step():
    env = make(3, num_workers=0, seed=5, opponent="greedy", illegal_action="raise")
    try:
        obs, info = env.reset()
        rng = np.random.default_rng(1)
        checked = 0
        for _ in range(500):
            masks = env.action_masks()
            actions = sample_legal(obs["action_mask"], rng)
            obs, rew, term, trunc, info = env.step(actions)
            if term.any():
                i = int(np.flatnonzero(term)[0])
                assert not obs["action_mask"][i].any(), "the final observation's mask is all zeros"
                assert env.action_masks()[i].all(), "any action is accepted for an env about to reset"
                bad = sample_legal(obs["action_mask"], rng)
                bad[i] = 254  # illegal (and refused in raise mode) unless ignored
                obs, rew, term2, trunc, info = env.step(bad)
                assert rew[i] == 0.0 and not term2[i]
                assert obs["action_mask"][i].any() and info["current_player"][i] == 0
                assert round(float(obs["observation"][i, 0]) * 30) == 1, "the new game's first turn"
                checked += 1
            del masks
        assert checked > 3
    finally:
        env.close()


CONFIGS = [
    ("greedy", 0, "argentum_control"),
    ("greedy", 1, "argentum_control"),
    ("random", "random", "random"),
    (None, 0, "argentum_control"),
    (None, "random", "random"),
]


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
@pytest.mark.parametrize("opponent,seat,deck", CONFIGS)
def test_identical_to_sync_vector_env_over_the_single_env(mode, opponent, seat, deck):
    """Same seeds, same actions (including illegal ones) -> identical trajectories."""
    n = 5
    kwargs = env_kwargs(opponent, seat, deck, "random" if deck == "random" else "symbiote_aggro")
    ref = reference(n, mode, **kwargs)
    env = make(n, num_workers=0, autoreset_mode=mode, **kwargs)
    try:
        o1, i1 = ref.reset(seed=11)
        o2, i2 = env.reset(seed=11)
        np.testing.assert_array_equal(o1["observation"], o2["observation"])
        np.testing.assert_array_equal(i1["current_player"], i2["current_player"])
        rng = np.random.default_rng(2)
        ends = 0
        for t in range(250):
            actions = sample_legal(o1["action_mask"], rng)
            if rng.random() < 0.03:
                actions[rng.integers(n)] = rng.integers(256)  # now and then an illegal action: a loss
            r1 = ref.step(actions)
            r2 = env.step(actions)
            assert_same_step(t, r1, r2, mode == "same_step")
            o1 = r1[0]
            ends += int(r1[2].sum())
        assert ends > 0
    finally:
        env.close()
        ref.close()


@needs_workers
def test_identical_to_sync_vector_env_with_two_workers():
    n = 6
    kwargs = env_kwargs("greedy", "random", "random", "random")
    ref = reference(n, "next_step", **kwargs)
    env = make(n, num_workers=2, **kwargs)
    try:
        o1, _ = ref.reset(seed=21)
        env.reset(seed=21)
        rng = np.random.default_rng(3)
        for t in range(150):
            actions = sample_legal(o1["action_mask"], rng)
            r1, r2 = ref.step(actions), env.step(actions)
            assert_same_step(t, r1, r2, False)
            o1 = r1[0]
    finally:
        env.close()
        ref.close()


def test_self_play_matches_independent_games():
    """A reference that does not use essence_wars.env: N core.Games dealt from the
    seeds the vector env documents (gymnasium's np_random(seed + i), one 63-bit draw
    per episode), stepped with the same actions."""
    n, seed = 4, 77
    env = make(n, num_workers=0, opponent=None, seed=seed, autoreset_mode="same_step")
    rngs = [make_rng(seed + i) for i in range(n)]
    games = [core.Game(draw_game_seed(r), "argentum_control", "symbiote_aggro") for r in rngs]
    try:
        obs, info = env.reset()
        pick = np.random.default_rng(4)
        for t in range(300):
            for i, g in enumerate(games):
                np.testing.assert_array_equal(obs["observation"][i], g.observe(), err_msg=f"{t} {i}")
                np.testing.assert_array_equal(obs["action_mask"][i], g.action_mask().astype(np.int8))
                assert info["current_player"][i] == g.current_player()
            actions = sample_legal(obs["action_mask"], pick)
            acting = info["current_player"].copy()
            obs, rew, term, trunc, info = env.step(actions)
            for i, g in enumerate(games):
                reward, done = g.step(int(actions[i]))
                assert rew[i] == reward and term[i] == done, (t, i)
                if done:
                    assert g.winner() in (None, acting[i], 1 - acting[i])
                    g.close()
                    games[i] = core.Game(draw_game_seed(rngs[i]), "argentum_control", "symbiote_aggro")
    finally:
        env.close()
        for g in games:
            g.close()


def test_self_play_rewards_are_for_the_player_who_acted():
    env = make(8, num_workers=0, opponent=None, seed=9)
    try:
        obs, info = env.reset()
        rng = np.random.default_rng(5)
        wins = {0: 0, 1: 0}
        for _ in range(800):
            acting = info["current_player"].copy()
            obs, rew, term, trunc, info = env.step(sample_legal(obs["action_mask"], rng))
            for i in np.flatnonzero(term):
                assert info["current_player"][i] == acting[i], "terminal row: the rewarded seat"
                assert obs["observation"][i, 1] == acting[i], "final observation from the acting seat"
                if rew[i] > 0:
                    wins[int(acting[i])] += 1
        assert wins[0] > 0 and wins[1] > 0
    finally:
        env.close()


# ---------------------------------------------------------------------------
# Seeding and determinism.


def trajectory(env, seed, steps, policy=hash_policy) -> list:
    obs, info = env.reset(seed=seed)
    out = [obs["observation"].copy()]
    for _ in range(steps):
        obs, rew, term, trunc, info = env.step(policy(obs["observation"], obs["action_mask"]))
        out += [obs["observation"].copy(), obs["action_mask"].copy(), rew.copy(), term.copy(),
                info["current_player"].copy()]
    return out


def same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


@needs_workers
@pytest.mark.parametrize("opponent", ["greedy", None])
def test_identical_for_any_number_of_workers(opponent):
    kw = dict(opponent=opponent, agent_seat="random", deck="random", opponent_deck="random")
    runs = []
    for workers in (0, 1, 2, 3):
        env = make(7, num_workers=workers, **kw)
        try:
            runs.append(trajectory(env, 123, 120))
        finally:
            env.close()
    assert all(same(runs[0], r) for r in runs[1:])


@needs_workers
@pytest.mark.parametrize("method", [m for m in ("fork", "spawn", "forkserver") if m in mp.get_all_start_methods()])
def test_identical_across_start_methods(method):
    base = make(4, num_workers=0, opponent="greedy", agent_seat="random")
    env = make(4, num_workers=2, start_method=method, opponent="greedy", agent_seat="random")
    try:
        assert env.start_method == method
        assert same(trajectory(base, 5, 60), trajectory(env, 5, 60))
    finally:
        env.close()
        base.close()


@needs_workers
@pytest.mark.parametrize("handoff", ["hybrid", "semaphore", "pipe", "spin"])
def test_every_handoff_gives_the_same_trajectories(handoff):
    base = make(5, num_workers=0, opponent="random")
    env = make(5, num_workers=2, opponent="random", handoff=handoff, spin_us=20)
    try:
        assert same(trajectory(base, 3, 60), trajectory(env, 3, 60))
    finally:
        env.close()
        base.close()


def test_seeding_rules():
    env = make(3, num_workers=0, seed=42, opponent="random")
    other = make(3, num_workers=0, opponent="random")
    try:
        first = trajectory(env, None, 30)  # the first reset without a seed uses the constructor's
        assert same(first, trajectory(env, 42, 30))
        assert same(first, trajectory(other, 42, 30))
        assert same(trajectory(env, [42, 43, 44], 30), first)  # a list: one seed per env
        assert not same(trajectory(env, 43, 30), first)
        # reset() without a seed continues every env's generator: new games
        env.reset(seed=42)
        o1, _ = env.reset()
        o2, _ = other.reset(seed=42)
        assert not np.array_equal(o1["observation"], o2["observation"])
        with pytest.raises(ValueError, match="one seed per env"):
            env.reset(seed=[1, 2])
        with pytest.raises(ValueError):
            env.reset(seed=-1)
        with pytest.raises(TypeError):
            env.reset(seed=1.5)
        with pytest.raises(ValueError, match="options"):
            env.reset(seed=1, options={"agent_seat": 1})
    finally:
        env.close()
        other.close()


def test_random_seat_and_decks_are_drawn_per_episode():
    env = make(16, num_workers=0, seed=0, opponent="greedy", agent_seat="random", deck="random",
               opponent_deck="random")
    try:
        obs, info = env.reset()
        seats = {int(s) for s in info["agent_seat"]}
        assert seats == {0, 1}
        rng = np.random.default_rng(0)
        per_env = [set() for _ in range(16)]
        for _ in range(300):
            obs, rew, term, trunc, info = env.step(sample_legal(obs["action_mask"], rng))
            for i in range(16):
                per_env[i].add(int(info["agent_seat"][i]))
        assert sum(len(s) == 2 for s in per_env) > 8, "seats change between episodes"
    finally:
        env.close()


def test_per_env_opponents_and_seats():
    opponents = [None, "random", "greedy", "mcts-4-det"]
    env = make(4, num_workers=0, seed=1, opponent=opponents, agent_seat=[0, 1, 1, 0])
    try:
        obs, info = env.reset()
        np.testing.assert_array_equal(info["_agent_seat"], [False, True, True, True])
        np.testing.assert_array_equal(info["agent_seat"][1:], [1, 1, 0])
        np.testing.assert_array_equal(info["current_player"][1:], [1, 1, 0])  # the agent moves
        rng = np.random.default_rng(0)
        for _ in range(60):
            obs, rew, term, trunc, info = env.step(sample_legal(obs["action_mask"], rng))
            live = ~term[1:]  # (a terminal row reports the rewarded seat: the agent's too)
            np.testing.assert_array_equal(info["current_player"][1:][live], np.array([1, 1, 0])[live])
    finally:
        env.close()


# ---------------------------------------------------------------------------
# EnvPool-style partial steps.


def per_env_trajectories(env, seed, steps, k, rounds) -> dict:
    """Steps with a per-env deterministic policy in EnvPool style; returns each env's
    observations in order."""
    obs, info = env.reset(seed=seed)
    hist = {i: [obs["observation"][i].copy()] for i in range(env.num_envs)}
    env.step_async(hash_policy(obs["observation"], obs["action_mask"]), env_ids=np.arange(env.num_envs))
    for _ in range(rounds):
        obs, rew, term, trunc, info = env.step_wait(batch_size=k)
        ids = info["env_id"]
        assert len(ids) == k and len(set(ids.tolist())) == k
        for row, i in enumerate(ids):
            hist[int(i)].append(obs["observation"][row].copy())
            hist[int(i)].append(float(rew[row]))
        env.step_async(hash_policy(obs["observation"], obs["action_mask"]), env_ids=ids)
    return hist


@pytest.mark.parametrize("workers,k", [(0, 3), pytest.param(2, 3, marks=needs_workers),
                                       pytest.param(2, 4, marks=needs_workers)])
def test_envpool_mode_gives_each_env_its_own_trajectory(workers, k):
    """k=4 with two workers of 4 envs: every batch is a whole shard (returned as views)."""
    n = 8
    sync = make(n, num_workers=0, opponent="greedy", agent_seat="random")
    pool = make(n, num_workers=workers, opponent="greedy", agent_seat="random", batch_size=k)
    try:
        full = trajectory(sync, 8, 80)
        hist = per_env_trajectories(pool, 8, 80, k, 60)
        for i, h in hist.items():
            steps = (len(h) - 1) // 2
            assert steps >= 1
            np.testing.assert_array_equal(h[0], full[0][i])
            for s in range(steps):
                np.testing.assert_array_equal(h[1 + 2 * s], full[1 + 5 * s][i], err_msg=f"env {i} step {s}")
                assert h[2 + 2 * s] == full[3 + 5 * s][i]
    finally:
        sync.close()
        pool.close()


def test_envpool_argument_errors():
    env = make(6, num_workers=0, seed=0, batch_size=2)
    try:
        obs, _ = env.reset()
        actions = sample_legal(obs["action_mask"], np.random.default_rng(0))
        env.step_async(actions)  # all six, results two at a time
        o, r, t, u, info = env.step_wait()
        assert len(info["env_id"]) == 2 and o["observation"].shape == (2, core.OBS_SIZE)
        assert env.action_masks().shape == (2, core.NUM_ACTIONS)
        with pytest.raises(ValueError, match="still in flight"):
            env.step_async(np.full(2, END_TURN), env_ids=[info["env_id"][0], 5 if 5 not in info["env_id"] else 4])
        with pytest.raises(ValueError, match="still in flight"):
            env.step_async(np.full(6, END_TURN))
        with pytest.raises(ValueError, match="duplicates"):
            env.step_async(np.full(2, END_TURN), env_ids=[info["env_id"][0]] * 2)
        with pytest.raises(ValueError, match="out of range"):
            env.step_async(np.full(1, END_TURN), env_ids=[6])
        with pytest.raises(ValueError, match="shape"):
            env.step_async(np.full(3, END_TURN), env_ids=info["env_id"])
        with pytest.raises(ValueError, match="batch_size"):
            env.step_wait(batch_size=5)
        env.step_wait(batch_size=4)
        o, _ = env.reset()  # drains whatever is in flight
        assert o["observation"].shape == (6, core.OBS_SIZE)
    finally:
        env.close()


# ---------------------------------------------------------------------------
# The ring: views, copies, validity.


def test_views_are_read_only_and_valid_for_r_minus_1_steps():
    r = 5
    env = make(4, num_workers=0, seed=2, ring_slots=r, opponent="greedy")
    copy = make(4, num_workers=0, seed=2, copy=True, opponent="greedy")
    try:
        obs, _ = env.reset()
        obs_c, _ = copy.reset()
        with pytest.raises(ValueError):
            obs["observation"][0, 0] = 1.0
        assert obs_c["observation"].flags.writeable
        views, copies = [obs["observation"]], [obs_c["observation"].copy()]
        rng = np.random.default_rng(0)
        for _ in range(r - 1):
            a = sample_legal(obs["action_mask"], rng)
            obs, rew, term, *_ = env.step(a)
            obs_c, *_ = copy.step(a)
            views.append(obs["observation"])
            copies.append(obs_c["observation"].copy())
        for v, c in zip(views, copies):  # the last R results are all intact
            np.testing.assert_array_equal(v, c)
        obs, *_ = env.step(sample_legal(obs["action_mask"], rng))
        assert np.shares_memory(obs["observation"], views[0]), "result R overwrites result 0's slot"
    finally:
        env.close()
        copy.close()


@needs_workers
def test_workers_write_the_ring_the_learner_reads():
    env = make(6, num_workers=2, seed=2, ring_slots=2)
    try:
        obs, _ = env.reset()
        first = obs["observation"]
        obs, *_ = env.step(sample_legal(obs["action_mask"], np.random.default_rng(0)))
        assert not np.shares_memory(first, obs["observation"])
        obs2, *_ = env.step(sample_legal(obs["action_mask"], np.random.default_rng(0)))
        assert np.shares_memory(first, obs2["observation"])
    finally:
        env.close()


# ---------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize("kwargs,error,pattern", [
    ({"num_envs": 0}, ValueError, "num_envs"),
    ({"num_envs": 2.5}, TypeError, "num_envs"),
    ({"num_workers": 5}, ValueError, "num_workers"),
    ({"num_workers": -1}, ValueError, "num_workers"),
    ({"ring_slots": 0}, ValueError, "ring_slots"),
    ({"deck": "nope"}, core.UnknownDeckError, "deck"),
    ({"opponent_deck": [0] * 30}, core.InvalidDeckError, "opponent_deck"),
    ({"mode": "chess"}, ValueError, "mode"),
    ({"opponent": "alphago"}, ValueError, "opponent"),
    ({"opponent": ["random"] * 3}, ValueError, "one per env"),
    ({"agent_seat": 2}, ValueError, "agent_seat"),
    ({"autoreset_mode": "disabled"}, ValueError, "autoreset_mode"),
    ({"illegal_action": "ignore"}, ValueError, "illegal_action"),
    ({"seed": -3}, ValueError, "seed"),
    ({"start_method": "teleport"}, ValueError, "start_method"),
    ({"timeout": 0}, ValueError, "timeout"),
    ({"batch_size": 5}, ValueError, "batch_size"),
    ({"handoff": "carrier-pigeon"}, ValueError, "handoff"),
    ({"copy": "yes"}, TypeError, "copy"),
])
def test_bad_constructor_arguments(kwargs, error, pattern):
    args = {"num_envs": 4, **kwargs}
    with pytest.raises(error, match=pattern):
        SharedMemoryVectorEnv(args.pop("num_envs"), **args)


def test_custom_decks_and_essence_duel():
    deck = core.deck_cards(DECKS[2])
    env = make(3, num_workers=0, seed=0, deck=deck, opponent_deck=DECKS[1], mode="essence_duel")
    ref = reference(3, "next_step", **{**env_kwargs("random", 0, deck, DECKS[1]), "mode": "essence_duel"})
    try:
        o1, _ = ref.reset(seed=0)
        o2, _ = env.reset()
        np.testing.assert_array_equal(o1["observation"], o2["observation"])
        assert o2["observation"][0, 2] == 1.0  # mode flag
    finally:
        env.close()
        ref.close()


@pytest.fixture
def raise_env():
    env = make(4, num_workers=0, seed=7, opponent="greedy", illegal_action="raise")
    env.reset()
    yield env
    env.close()


def state_of(env) -> list:
    """A fingerprint of every env's state: one more step with fixed legal actions, on a copy."""
    return [env._runner.batch.game(i).to_bytes() for i in range(env.num_envs)]


@pytest.mark.parametrize("actions,error,pattern", [
    (np.full(3, END_TURN), ValueError, r"shape \(4,\)"),
    (np.full((4, 1), END_TURN), ValueError, "shape"),
    (END_TURN, ValueError, "shape"),
    ([255.0, 255.0, 255.5, 255.0], ValueError, "env 2: action 255.5 is not an integer"),
    ([255.0, np.nan, 255.0, 255.0], ValueError, "env 1"),
    (np.array([True, False, True, False]), TypeError, "bool"),
    (["a", "b", "c", "d"], TypeError, "integers"),
    ([255, 255, 255, None], TypeError, "env 3"),
    ("abcd", TypeError, "sequence"),
    ([255, 255, 256, 255], IllegalActionError, "env 2: action 256 is out of range"),
    ([255, -1, 255, 255], IllegalActionError, "env 1: action -1 is out of range"),
    ([255, 255, 255, 2**70], IllegalActionError, "env 3"),
    (np.array([255, 255, 2**64 - 1, 255], dtype=np.uint64), IllegalActionError, "env 2"),
    ([255, 255, 255, 254], IllegalActionError, "env 3: action 254 .* not legal"),
])
def test_bad_actions_raise_and_change_nothing(raise_env, actions, error, pattern):
    before = state_of(raise_env)
    with pytest.raises(error, match=pattern):
        raise_env.step(actions)
    assert state_of(raise_env) == before
    raise_env.step(np.full(4, END_TURN))  # still usable


def test_integral_floats_and_other_int_dtypes_are_accepted(raise_env):
    for dtype in (np.float32, np.float64, np.int16, np.uint8, np.int32, np.uint64):
        raise_env.step(np.full(4, END_TURN).astype(dtype))
    raise_env.step([END_TURN] * 4)
    raise_env.step((END_TURN,) * 4)


def test_illegal_action_error_names_the_env(raise_env):
    with pytest.raises(IllegalActionError) as info:
        raise_env.step([255, 255, 254, 255])
    assert info.value.game_index == 2 and info.value.action == 254
    assert isinstance(info.value, ValueError)


def test_lose_mode_forfeits_only_the_offending_env():
    a = make(4, num_workers=0, seed=3, opponent="greedy")
    b = make(4, num_workers=0, seed=3, opponent="greedy")
    try:
        obs, _ = a.reset()
        b.reset()
        legal = sample_legal(obs["action_mask"], np.random.default_rng(0))
        bad = legal.copy()
        bad[1] = 254
        bad[3] = 9999
        oa, ra, ta, _, ia = a.step(legal)
        ob, rb, tb, _, ib = b.step(bad)
        np.testing.assert_array_equal(ib["illegal_action"], [False, True, False, True])
        np.testing.assert_array_equal(tb, [ta[0], True, ta[2], True])
        assert rb[1] == rb[3] == -1.0
        for i in (0, 2):
            np.testing.assert_array_equal(oa["observation"][i], ob["observation"][i])
    finally:
        a.close()
        b.close()


def test_lifecycle_errors():
    env = make(2, num_workers=0, seed=0)
    with pytest.raises(ResetNeeded):
        env.step([255, 255])
    with pytest.raises(ResetNeeded):
        env.action_masks()
    env.reset()
    with pytest.raises(NoAsyncCallError):
        env.step_wait()
    env.step_async([255, 255])
    with pytest.raises(AlreadyPendingCallError):
        env.step_async([255, 255])
    env.step_wait()
    env.close()
    env.close()
    for call in (lambda: env.reset(), lambda: env.step([255, 255]), lambda: env.step_async([255, 255]),
                 lambda: env.step_wait(), env.action_masks):
        with pytest.raises(ClosedEnvironmentError):
            call()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.one_of(st.integers(-2**70, 2**70), st.integers(0, 255),
                                  st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none()),
                        min_size=0, max_size=6))
def test_property_bad_actions_raise_cleanly_or_step(actions):
    """Any list of actions either steps (every value an integer 0..255, legal) or raises
    TypeError/ValueError, after which every env is exactly as before."""
    env = make(4, num_workers=0, seed=1, opponent="random", illegal_action="raise")
    try:
        env.reset()
        before = state_of(env)
        try:
            env.step(actions)
        except (TypeError, ValueError):
            assert state_of(env) == before
        else:
            assert len(actions) == 4
        env.step(np.full(4, END_TURN))
    finally:
        env.close()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), actions=st.lists(st.integers(-300, 600), min_size=3, max_size=3))
def test_property_lose_mode_never_raises_for_integers(seed, actions):
    """In lose mode every integer action steps: legal ones play, anything else forfeits."""
    env = make(3, num_workers=0, seed=seed, opponent="greedy")
    try:
        obs, _ = env.reset()
        mask = obs["action_mask"].astype(bool)
        obs, rew, term, trunc, info = env.step(actions)
        for i, a in enumerate(actions):
            legal = 0 <= a <= 255 and mask[i, a]
            assert info["illegal_action"][i] == (not legal)
            if not legal:
                assert term[i] and rew[i] == -1.0
    finally:
        env.close()
