"""The Gymnasium env (essence_wars.env): Gymnasium's own checker on every
configuration, vector envs, seeding, reward perspective, illegal actions,
bad inputs, self-play and league helpers, and a short MaskablePPO run."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ClosedEnvironmentError, ResetNeeded
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from essence_wars import core
from essence_wars.core import END_TURN, IllegalActionError, InvalidDeckError, UnknownCardError, UnknownDeckError
from essence_wars.env import ENV_ID, OBS_BOUND, EssenceWarsEnv, observe_as

from conftest import ROOT


def first_legal_policy(observation: np.ndarray, action_mask: np.ndarray) -> int:
    """A deterministic Python opponent: a legal action picked by hashing the observation."""
    legal = np.flatnonzero(action_mask)
    return int(legal[hash(observation.tobytes()) % len(legal)])


def masked_random(rng: np.random.Generator, mask: np.ndarray) -> int:
    legal = np.flatnonzero(mask)
    return int(legal[rng.integers(len(legal))]) if len(legal) else END_TURN


def play_episode(env, seed, policy_seed=0, max_steps=2000):
    """Plays one episode with uniformly random legal actions; returns the transitions."""
    rng = np.random.default_rng(policy_seed)
    obs, info = env.reset(seed=seed)
    steps = [(obs, 0.0, False, False, info)]
    for _ in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(masked_random(rng, info["action_mask"]))
        steps.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            return steps
    raise AssertionError("the episode did not end")


def same_transitions(a, b) -> bool:
    if len(a) != len(b):
        return False
    for (o1, r1, t1, u1, i1), (o2, r2, t2, u2, i2) in zip(a, b):
        if not (np.array_equal(o1["observation"], o2["observation"])
                and np.array_equal(o1["action_mask"], o2["action_mask"])
                and r1 == r2 and t1 == t2 and u1 == u2
                and i1.keys() == i2.keys()
                and all(np.array_equal(i1[k], i2[k]) for k in i1)):
            return False
    return True


# ---------------------------------------------------------------------------
# Gymnasium's checker on every configuration the env offers.

CUSTOM_DECK = core.deck_cards(core.list_decks()[2])
CONFIGS = {
    "default": {},
    "random-opponent": {"opponent": "random"},
    "greedy-opponent": {"opponent": "greedy"},
    "mcts-opponent": {"opponent": "mcts", "opponent_simulations": 8},
    "mcts-N-opponent": {"opponent": "mcts-6"},
    "mcts-N-greedy-opponent": {"opponent": "mcts-4-greedy"},
    "mcts-N-det-opponent": {"opponent": "mcts-6-det"},
    "callable-opponent": {"opponent": first_legal_policy},
    "self-play": {"opponent": None},
    "seat-1": {"agent_seat": 1},
    "seat-1-greedy": {"agent_seat": 1, "opponent": "greedy"},
    "seat-1-callable": {"agent_seat": 1, "opponent": first_legal_policy},
    "seat-random": {"agent_seat": "random"},
    "random-decks": {"deck": "random", "opponent_deck": "random"},
    "custom-deck-list": {"deck": CUSTOM_DECK, "opponent_deck": list(reversed(CUSTOM_DECK))},
    "custom-deck-array": {"deck": np.array(CUSTOM_DECK), "opponent_deck": "obsidion_burst"},
    "essence-duel": {"mode": "essence_duel"},
    "essence-duel-self-play": {"mode": "essence_duel", "opponent": None},
    "illegal-lose": {"illegal_action": "lose"},
    "ansi": {"render_mode": "ansi"},
    "human": {"render_mode": "human"},
    "max-steps": {"max_steps": 5},
}


def checked(env) -> list:
    """Runs check_env on ``env`` and returns the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_check_env(name, capsys):
    env = gym.make(ENV_ID, **CONFIGS[name])
    assert checked(env) == []
    env.close()


@pytest.mark.parametrize("extra", [{}, {"opponent": None}, {"agent_seat": 1, "opponent": "greedy"},
                                   {"opponent": first_legal_policy, "agent_seat": "random"}])
def test_check_env_raise_mode(extra, capsys):
    """Under illegal_action="raise", check_env passes when its sampler gives legal
    actions (END_TURN is legal whenever the game runs); with plain Discrete
    samples it fails on the first illegal one, which is why "lose" is the default."""
    env = gym.make(ENV_ID, illegal_action="raise", **extra)
    env.unwrapped.action_space.sample = lambda mask=None, probability=None: END_TURN
    assert checked(env) == []
    env.close()

    env = gym.make(ENV_ID, illegal_action="raise", **extra)
    env.unwrapped.action_space.seed(3)  # a fixed first sample, illegal in the opening
    with pytest.raises(IllegalActionError, match="is not legal now"):
        check_env(env.unwrapped)
    env.close()


def test_spaces():
    env = EssenceWarsEnv()
    assert env.action_space == gym.spaces.Discrete(256)
    space = env.observation_space
    assert set(space.spaces) == {"observation", "action_mask"}
    assert space["observation"].shape == (326,) and space["observation"].dtype == np.float32
    assert space["action_mask"].shape == (256,) and space["action_mask"].dtype == np.int8
    assert OBS_BOUND == 2**15 / 3
    obs, info = env.reset(seed=0)
    assert obs in space
    assert obs["action_mask"].dtype == np.int8 and info["action_mask"].dtype == np.bool_
    assert np.array_equal(obs["action_mask"].astype(bool), info["action_mask"])
    assert np.array_equal(env.action_masks(), info["action_mask"])
    assert info["action_mask"][END_TURN]
    assert set(info) == {"action_mask", "turn", "current_player", "agent_seat"}
    assert info["turn"] == 1 and info["current_player"] == 0 == info["agent_seat"]
    env.close()


# ---------------------------------------------------------------------------
# Registration and vector envs.


def test_make_and_registry():
    assert ENV_ID in gym.registry
    env = gym.make(ENV_ID, opponent="greedy", agent_seat=1)
    assert isinstance(env.unwrapped, EssenceWarsEnv)
    assert env.unwrapped.agent_seat == 1
    obs, info = env.reset(seed=1)
    assert info["current_player"] == 1 == info["agent_seat"]
    env.close()


def test_make_with_module_prefix_needs_no_import():
    code = ("import gymnasium as gym; e = gym.make('essence_wars.env:EssenceWars-v0', opponent='greedy'); "
            "o, i = e.reset(seed=0); print(o['observation'].shape)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "(326,)" in result.stdout


def run_vector(vec, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    obs, info = vec.reset(seed=seed)
    n = vec.num_envs
    assert obs["observation"].shape == (n, 326) and obs["action_mask"].shape == (n, 256)
    trace, finished = [], 0
    for _ in range(steps):
        actions = np.array([masked_random(rng, m) for m in obs["action_mask"]])
        obs, rewards, terminated, truncated, info = vec.step(actions)
        assert set(np.unique(rewards)) <= {-1.0, 0.0, 1.0}
        assert not truncated.any()
        finished += int(terminated.sum())
        trace.append((obs["observation"].copy(), rewards.copy(), terminated.copy()))
    return trace, finished


@pytest.mark.parametrize("mode, vector_kwargs", [("sync", {}), ("async", {}), ("async", {"context": "spawn"})])
def test_make_vec(mode, vector_kwargs):
    vec = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode=mode, vector_kwargs=vector_kwargs,
                       opponent="greedy", agent_seat="random")
    assert vec.single_action_space == gym.spaces.Discrete(256)
    trace, finished = run_vector(vec, 250, seed=5)
    assert finished >= 1
    vec.close()


def test_sync_and_async_vector_envs_agree():
    fns = [lambda: EssenceWarsEnv(opponent="random", deck="random", opponent_deck="random") for _ in range(2)]
    sync = gym.vector.SyncVectorEnv(fns)
    asyn = gym.vector.AsyncVectorEnv(fns)
    try:
        a, fa = run_vector(sync, 150, seed=11)
        b, fb = run_vector(asyn, 150, seed=11)
    finally:
        sync.close()
        asyn.close()
    assert fa == fb >= 1
    for (o1, r1, t1), (o2, r2, t2) in zip(a, b):
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(t1, t2)


# ---------------------------------------------------------------------------
# Seeding.


@pytest.mark.parametrize("kwargs", [{}, {"opponent": "greedy"}, {"opponent": "mcts-8"}, {"opponent": None},
                                    {"agent_seat": "random", "deck": "random", "opponent_deck": "random"}])
def test_same_seed_same_episode(kwargs):
    env1, env2 = EssenceWarsEnv(**kwargs), EssenceWarsEnv(**kwargs)
    assert same_transitions(play_episode(env1, seed=42), play_episode(env2, seed=42))
    # reset() without a seed continues the generator deterministically
    assert same_transitions(play_episode(env1, seed=None, policy_seed=1), play_episode(env2, seed=None, policy_seed=1))


def test_different_seeds_different_games():
    env = EssenceWarsEnv(opponent="greedy")
    firsts = {env.reset(seed=s)[0]["observation"].tobytes() for s in range(10)}
    assert len(firsts) >= 8  # the opening hands differ
    a, b = play_episode(env, seed=1), play_episode(env, seed=2)
    assert not same_transitions(a, b)
    # consecutive unseeded resets deal different games too
    env.reset(seed=3)
    unseeded = {env.reset()[0]["observation"].tobytes() for _ in range(5)}
    assert len(unseeded) >= 4


def test_seed_draws_seat_and_decks():
    env = EssenceWarsEnv(agent_seat="random", deck="random", opponent_deck="random")
    seats = {env.reset(seed=s)[1]["agent_seat"] for s in range(20)}
    assert seats == {0, 1}
    decks = set()
    for s in range(30):
        env.reset(seed=s)
        decks.add(env.unwrapped._engine_decks)
    assert len(decks) > 5
    seat_by_seed = [env.reset(seed=s)[1]["agent_seat"] for s in range(10)]
    assert seat_by_seed == [env.reset(seed=s)[1]["agent_seat"] for s in range(10)]


# ---------------------------------------------------------------------------
# Rewards, perspective, turns.


def test_rewards_are_from_the_agent_seat_and_opposite_across_seats():
    """The same game seen from seat 0 and from seat 1 gives opposite final rewards."""
    decks = core.list_decks()
    decisive = 0
    for seed in range(8):
        seat0 = EssenceWarsEnv(deck=decks[0], opponent_deck=decks[3], agent_seat=0, opponent=first_legal_policy)
        seat1 = EssenceWarsEnv(deck=decks[3], opponent_deck=decks[0], agent_seat=1, opponent=first_legal_policy)
        results = []
        for env in (seat0, seat1):
            obs, info = env.reset(seed=seed)
            total = 0.0
            while True:
                obs, reward, terminated, truncated, info = env.step(
                    first_legal_policy(obs["observation"], obs["action_mask"]))
                total += reward
                assert reward == 0.0 or terminated
                if terminated:
                    break
                assert info["current_player"] == env.agent_seat  # the opponent played inside the step
                assert obs["observation"][1] == env.agent_seat
            # the final observation is the agent's too
            assert obs["observation"][1] == env.agent_seat
            assert not obs["action_mask"].any()
            results.append((total, info["winner"], info["turn"]))
        (r0, w0, t0), (r1, w1, t1) = results
        assert r0 == -r1 and w0 == w1 and t0 == t1
        assert r0 == (0.0 if w0 == -1 else (1.0 if w0 == 0 else -1.0))
        decisive += r0 != 0
    assert decisive >= 1


def test_observe_as_matches_the_engines_final_observation():
    """observe_as (from a seat that is not to move) agrees with the engine's own
    final observation, which an autoresetting Batch writes from the agent's side."""
    rng = np.random.default_rng(0)
    other_side = 0
    for seed in range(10):
        seat = seed % 2
        kept = core.Batch(1, opponent="greedy", agent_seat=seat, seed=seed)
        auto = core.Batch(1, opponent="greedy", agent_seat=seat, seed=seed, autoreset=True, final_obs=True)
        while True:
            action = np.array([masked_random(rng, kept.output.masks[0])])
            kept.step(action)
            auto.step(action)
            if kept.output.terminated[0]:
                break
        final = kept.game(0)
        assert np.array_equal(observe_as(final, seat), auto.output.final_obs[0])
        other_side += final.current_player() != seat
        final.close()
        kept.close()
        auto.close()
    assert other_side > 0  # the snapshot route was taken
    game = core.Game(seed=3)
    game.step(END_TURN)
    waiting = observe_as(game, 0)
    assert waiting[1] == 0 and not np.array_equal(waiting, game.observe())
    assert np.array_equal(observe_as(game, 1), game.observe())


def test_self_play_rewards_the_player_who_acted():
    env = EssenceWarsEnv(opponent=None)
    obs, info = env.reset(seed=9)
    rng = np.random.default_rng(0)
    players, consecutive = [], 0
    while True:
        acting = info["current_player"]
        assert obs["observation"][1] == acting  # observation of the player to move
        obs, reward, terminated, truncated, info = env.step(masked_random(rng, info["action_mask"]))
        consecutive += bool(players) and players[-1] == acting
        players.append(acting)
        if terminated:
            break
        assert reward == 0.0
    assert consecutive > 0  # a turn is several actions by the same player
    assert set(players) == {0, 1}
    assert "agent_seat" not in info
    assert obs["observation"][1] == acting
    expected = 0.0 if info["winner"] == -1 else (1.0 if info["winner"] == acting else -1.0)
    assert reward == expected


def test_info_turn_and_current_player():
    env = EssenceWarsEnv(opponent="random", agent_seat=1)
    obs, info = env.reset(seed=0)
    assert info["turn"] == 2 and info["current_player"] == 1
    obs, reward, terminated, truncated, info = env.step(END_TURN)
    assert info["turn"] == 4 and info["current_player"] == 1 and info["illegal_action"] is False
    assert round(float(obs["observation"][0]) * 30) == info["turn"]


def test_max_steps_truncates():
    env = EssenceWarsEnv(max_steps=3)
    env.reset(seed=0)
    results = [env.step(END_TURN) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert not any(r[2] for r in results)
    with pytest.raises(ResetNeeded):
        env.step(END_TURN)
    env.reset()
    env.step(END_TURN)


def test_episodes_always_terminate_without_truncation():
    env = EssenceWarsEnv(opponent="greedy")
    for seed in range(3):
        steps = play_episode(env, seed=seed)
        assert steps[-1][2] and not any(s[3] for s in steps)
        assert steps[-1][4]["turn"] <= 31


# ---------------------------------------------------------------------------
# Illegal actions.


def an_illegal_action(mask) -> int:
    return int(np.flatnonzero(~np.asarray(mask, dtype=bool))[0])


def test_illegal_lose_ends_the_episode_as_a_loss():
    for seat in (0, 1):
        env = EssenceWarsEnv(agent_seat=seat, opponent="greedy")
        obs, info = env.reset(seed=4)
        bad = an_illegal_action(info["action_mask"])
        obs, reward, terminated, truncated, info = env.step(bad)
        assert (reward, terminated, truncated) == (-1.0, True, False)
        assert info["illegal_action"] is True and info["winner"] == 1 - seat
        assert not obs["action_mask"].any()
        with pytest.raises(ResetNeeded, match="call reset"):
            env.step(END_TURN)
        env.reset(seed=4)
        obs, reward, terminated, truncated, info = env.step(END_TURN)
        assert info["illegal_action"] is False


def test_illegal_lose_in_self_play_is_a_loss_for_the_player_to_move():
    env = EssenceWarsEnv(opponent=None)
    obs, info = env.reset(seed=0)
    env.step(END_TURN)  # player 1 to move
    obs, reward, terminated, truncated, info = env.step(an_illegal_action(env.action_masks()))
    assert (reward, terminated, info["winner"], info["illegal_action"]) == (-1.0, True, 0, True)
    assert obs["observation"][1] == 1


def test_illegal_raise_names_the_action_and_changes_nothing():
    env = EssenceWarsEnv(illegal_action="raise", opponent="greedy")
    twin = EssenceWarsEnv(illegal_action="raise", opponent="greedy")
    obs, info = env.reset(seed=8)
    twin.reset(seed=8)
    bad = an_illegal_action(info["action_mask"])
    legal = int(np.count_nonzero(info["action_mask"]))
    with pytest.raises(ValueError, match=rf"action {bad} \(.*\) is not legal now; {legal} action\(s\) are legal") as e:
        env.step(bad)
    assert isinstance(e.value, IllegalActionError)
    assert e.value.action == bad and e.value.num_legal == legal
    assert np.array_equal(env.action_masks(), info["action_mask"])
    a = play_episode_from(env, seed=1)
    b = play_episode_from(twin, seed=1)
    assert same_transitions(a, b)


def play_episode_from(env, seed):
    rng = np.random.default_rng(seed)
    steps, mask = [], env.action_masks()
    while True:
        obs, reward, terminated, truncated, info = env.step(masked_random(rng, mask))
        steps.append((obs, reward, terminated, truncated, info))
        mask = info["action_mask"]
        if terminated:
            return steps


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), actions=st.lists(st.integers(0, 255), min_size=1, max_size=120),
       opponent=st.sampled_from(["random", "greedy", None]), seat=st.sampled_from([0, 1]))
def test_property_random_actions_never_crash_in_lose_mode(seed, actions, opponent, seat):
    env = EssenceWarsEnv(opponent=opponent, agent_seat=seat, illegal_action="lose")
    obs, info = env.reset(seed=seed)
    for a in actions:
        was_legal = bool(info["action_mask"][a])
        obs, reward, terminated, truncated, info = env.step(a)
        assert obs in env.observation_space
        assert reward in (-1.0, 0.0, 1.0)
        assert info["illegal_action"] == (not was_legal)
        if not was_legal:
            assert terminated and reward == -1.0
        if terminated:
            assert not obs["action_mask"].any()
            obs, info = env.reset()
    env.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), actions=st.lists(st.integers(0, 255), min_size=1, max_size=120),
       opponent=st.sampled_from(["random", None, "callable"]))
def test_property_raise_mode_refuses_illegal_and_changes_nothing(seed, actions, opponent):
    opp = first_legal_policy if opponent == "callable" else opponent
    env = EssenceWarsEnv(opponent=opp, illegal_action="raise")
    obs, info = env.reset(seed=seed)
    for a in actions:
        if not info["action_mask"][a]:
            before = (env.action_masks(), env.render_mode, env.unwrapped._batch.game(0).to_bytes())
            with pytest.raises(IllegalActionError):
                env.step(a)
            assert np.array_equal(before[0], env.action_masks())
            assert before[2] == env.unwrapped._batch.game(0).to_bytes()
            continue
        obs, reward, terminated, truncated, info = env.step(a)
        if terminated:
            obs, info = env.reset()
    env.close()


# ---------------------------------------------------------------------------
# Opponents: callables, set_opponent (league), bad policies.


def test_callable_opponent_sees_its_own_side():
    seen = []

    def policy(observation, action_mask):
        seen.append((observation.copy(), action_mask.copy()))
        assert observation.dtype == np.float32 and action_mask.dtype == np.int8
        return END_TURN

    env = EssenceWarsEnv(opponent=policy, agent_seat=0)
    env.reset(seed=0)
    assert seen == []
    obs, reward, terminated, truncated, info = env.step(END_TURN)
    assert len(seen) == 1 and seen[0][0][1] == 1.0 and seen[0][1][END_TURN] == 1
    env = EssenceWarsEnv(opponent=policy, agent_seat=1)
    seen.clear()
    env.reset(seed=0)
    assert len(seen) == 1 and seen[0][0][1] == 0.0  # the opponent opened the game


def test_set_opponent_swaps_between_episodes():
    calls = []

    def policy(observation, action_mask):
        calls.append(1)
        return END_TURN

    env = EssenceWarsEnv(opponent="greedy")
    env.reset(seed=0)
    env.set_opponent(policy)
    assert env.opponent == "greedy"  # the episode under way keeps its opponent
    env.step(END_TURN)
    assert calls == []
    env.reset(seed=0)
    assert env.opponent == "policy"
    env.step(END_TURN)
    assert calls == [1]
    env.set_opponent("mcts", opponent_simulations=5)
    env.reset(seed=0)
    assert env.opponent == "mcts-5"
    env.set_opponent(None)
    obs, info = env.reset(seed=0)
    env.step(END_TURN)
    assert env.action_masks().any() and env.opponent == "self-play"
    with pytest.raises(ValueError, match="unknown opponent"):
        env.set_opponent("alphago")
    # league: a frozen policy and the bots in turn, episodes stay deterministic
    league = [first_legal_policy, "random", "greedy"]
    results = []
    for round_ in range(2):
        for k, opponent in enumerate(league):
            env.set_opponent(opponent)
            results.append(len(play_episode(env, seed=k)))
    assert results[:3] == results[3:]


def test_bad_opponent_policy_is_reported():
    env = EssenceWarsEnv(opponent=lambda o, m: 0 if not m[0] else 1000, agent_seat=1)
    with pytest.raises(ValueError, match="chose an illegal action|returned a bad action"):
        env.reset(seed=0)
    env = EssenceWarsEnv(opponent=lambda o, m: "end", agent_seat=1)
    with pytest.raises(ValueError, match="returned a bad action"):
        env.reset(seed=0)

    def crashes(observation, action_mask):
        raise RuntimeError("policy crashed")

    env = EssenceWarsEnv(opponent=crashes)
    env.reset(seed=0)
    with pytest.raises(RuntimeError, match="policy crashed"):
        env.step(END_TURN)
    with pytest.raises(ResetNeeded, match="opponent policy error"):  # it was the opponent's move
        env.step(END_TURN)
    env.set_opponent("random")
    env.reset(seed=0)
    env.step(END_TURN)


# ---------------------------------------------------------------------------
# Bad inputs get clear errors.


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"deck": "argentum_controll"}, UnknownDeckError, "deck: .*argentum_control"),
    ({"opponent_deck": "nope"}, UnknownDeckError, "opponent_deck"),
    ({"deck": [0, 1, 2]}, InvalidDeckError, "deck"),
    ({"deck": [10**6] * 30}, UnknownCardError, "unknown card id"),
    ({"deck": [1.5] * 30}, TypeError, "card ids must be integers"),
    ({"deck": 7}, TypeError, "preset deck name"),
    ({"mode": "deathmatch"}, ValueError, "mode must be one of"),
    ({"opponent": "alphazero"}, ValueError, "unknown opponent 'alphazero'; valid opponents: 'random', 'greedy'"),
    ({"opponent": "mcts-0"}, ValueError, "unknown opponent"),
    ({"opponent": "mcts-5-det-greedy"}, ValueError, "unknown opponent"),
    ({"opponent": 42}, TypeError, "opponent must be"),
    ({"opponent": "mcts", "opponent_simulations": 0}, ValueError, "opponent_simulations"),
    ({"opponent": "mcts", "opponent_simulations": 2.5}, TypeError, "opponent_simulations"),
    ({"agent_seat": 2}, ValueError, "agent_seat must be 0, 1 or 'random'"),
    ({"agent_seat": True}, ValueError, "agent_seat"),
    ({"agent_seat": "left"}, ValueError, "agent_seat"),
    ({"illegal_action": "ignore"}, ValueError, "illegal_action must be 'lose' or 'raise'"),
    ({"render_mode": "rgb_array"}, ValueError, "render_mode must be None or one of"),
    ({"max_steps": 0}, ValueError, "max_steps"),
])
def test_bad_constructor_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        EssenceWarsEnv(**kwargs)


@pytest.mark.parametrize("action, error, pattern", [
    (3.0, TypeError, "must be an integer in 0..255, got float"),
    ("255", TypeError, "got str"),
    (True, TypeError, "got bool"),
    (None, TypeError, "got NoneType"),
    (np.array([255]), ValueError, r"scalar integer .* shape \(1,\)"),
    (np.array([[1, 2]]), ValueError, "shape"),
    (np.array(2.0), TypeError, "dtype float64"),
    (-1, ValueError, "out of range"),
    (256, ValueError, "action 256 is out of range"),
    (np.uint8(255) + np.int64(1), ValueError, "out of range"),
])
@pytest.mark.parametrize("illegal_action", ["lose", "raise"])
def test_bad_actions(action, error, pattern, illegal_action):
    env = EssenceWarsEnv(illegal_action=illegal_action)
    obs, info = env.reset(seed=0)
    with pytest.raises(error, match=pattern):
        env.step(action)
    assert np.array_equal(env.action_masks(), info["action_mask"])  # nothing happened
    env.step(np.int32(END_TURN))  # numpy integer scalars and 0-d integer arrays are fine
    env.step(np.array(END_TURN))


def test_lifecycle_errors():
    env = EssenceWarsEnv()
    with pytest.raises(ResetNeeded, match="reset"):
        env.step(END_TURN)
    with pytest.raises(ResetNeeded):
        env.action_masks()
    with pytest.raises(ResetNeeded):
        env.render()
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"difficulty": 3})
    obs, info = env.reset(seed=0, options={"agent_seat": 1})
    assert info["agent_seat"] == 1
    with pytest.raises(ValueError, match="agent_seat"):
        env.reset(options={"agent_seat": 5})
    env.close()
    env.close()  # twice is fine
    for call in (lambda: env.step(END_TURN), lambda: env.reset(), env.render, env.action_masks,
                 lambda: env.set_opponent("random")):
        with pytest.raises(ClosedEnvironmentError, match="closed"):
            call()


# ---------------------------------------------------------------------------
# Rendering.


def test_render_ansi_and_human(capsys):
    env = EssenceWarsEnv(render_mode="ansi", opponent="greedy", agent_seat=1)
    env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and "Essence Wars" in text and "P0:" in text and "P1:" in text
    assert "agent: P1" in text and "greedy" in text
    rng = np.random.default_rng(0)
    for _ in range(400):
        obs, reward, terminated, truncated, info = env.step(masked_random(rng, env.action_masks()))
        if terminated:
            break
    assert "game over" in env.render()
    assert capsys.readouterr().out == ""

    env = EssenceWarsEnv(render_mode="human")
    env.reset(seed=0)
    assert "Essence Wars" in capsys.readouterr().out  # human mode prints at reset and each step
    env.step(END_TURN)
    assert "turn 3/30" in capsys.readouterr().out
    assert env.render() is None and "Essence Wars" in capsys.readouterr().out

    env = EssenceWarsEnv()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="without a render_mode"):
        assert env.render() is None


# ---------------------------------------------------------------------------
# Training: sb3-contrib's MaskablePPO (part of the test extra: a missing
# install fails here, it is not skipped).


def test_maskable_ppo_trains_for_a_few_thousand_steps():
    import torch
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.evaluation import evaluate_policy
    from stable_baselines3.common.env_util import make_vec_env

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64x64 MLP: one thread is fastest, and CI shares its 2 cores
    try:
        train_briefly(MaskablePPO, evaluate_policy, make_vec_env)
    finally:
        torch.set_num_threads(threads)


def train_briefly(MaskablePPO, evaluate_policy, make_vec_env):
    vec = make_vec_env(lambda: gym.make(ENV_ID, opponent="random", agent_seat="random"), n_envs=2, seed=0)
    model = MaskablePPO("MultiInputPolicy", vec, n_steps=256, batch_size=128, n_epochs=2, seed=0, verbose=0,
                        device="cpu", policy_kwargs={"net_arch": [64, 64]})
    model.learn(total_timesteps=3072)
    assert model.num_timesteps >= 3072
    mean_reward, _ = evaluate_policy(model, vec, n_eval_episodes=4, warn=False)
    assert -1.0 <= mean_reward <= 1.0
    # the masks reach the policy: it never plays an illegal action
    env = EssenceWarsEnv(opponent="greedy", illegal_action="raise")
    obs, info = env.reset(seed=0)
    for _ in range(200):
        action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        if terminated:
            obs, info = env.reset()
    vec.close()


def test_make_vec_returns_the_shared_memory_vector_env():
    from essence_wars.vec_env import SharedMemoryVectorEnv

    for mode in (None, "vector_entry_point"):
        kwargs = {} if mode is None else {"vectorization_mode": mode}
        venv = gym.make_vec("EssenceWars-v0", num_envs=3, opponent="greedy", num_workers=0, **kwargs)
        try:
            assert isinstance(venv, SharedMemoryVectorEnv)
            obs, _ = venv.reset(seed=5)
            assert obs["observation"].shape == (3, 326)
            masks = venv.action_masks()
            actions = np.array([np.flatnonzero(m)[0] for m in masks])
            obs, rew, term, trunc, info = venv.step(actions)
            assert rew.shape == (3,) and term.dtype == np.bool_
        finally:
            venv.close()
