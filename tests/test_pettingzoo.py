"""The PettingZoo envs (essence_wars.pettingzoo_env): PettingZoo's own tests,
turn order, rewards for both players, illegal actions, the parallel variant,
bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.error import ClosedEnvironmentError, ResetNeeded
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test, seed_test

from essence_wars import core
from essence_wars.core import END_TURN, IllegalActionError, UnknownDeckError
from essence_wars.pettingzoo_env import AGENTS, EssenceWarsParallelEnv, env, parallel_env, raw_env

# PettingZoo's api_test warns about every dict observation (it lists the classic
# games that have them by name); those two warnings are expected here.
EXPECTED_API_WARNINGS = {
    "Observation space for each agent probably should be gymnasium.spaces.box or gymnasium.spaces.discrete",
    "Observation is not a NumPy array",
}


def run_quietly(fn, *args, **kwargs) -> set:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return {str(w.message) for w in caught}


# ---------------------------------------------------------------------------
# PettingZoo's own tests.


@pytest.mark.parametrize("make", [
    lambda: env(),
    lambda: raw_env(),
    lambda: env(deck0="random", deck1="random", mode="essence_duel"),
    lambda: env(deck0=core.deck_cards("obsidion_control"), deck1="symbiote_tempo"),
])
def test_api_test(make):
    assert run_quietly(api_test, make(), num_cycles=1000) <= EXPECTED_API_WARNINGS


@pytest.mark.parametrize("kwargs", [{}, {"illegal_action": "lose"}, {"deck0": "random", "deck1": "random"}])
def test_parallel_api_test(kwargs):
    assert run_quietly(parallel_api_test, parallel_env(**kwargs), num_cycles=1000) == set()


def test_seed_test():
    seed_test(env, num_cycles=500)
    seed_test(lambda: raw_env(deck0="random", deck1="random"), num_cycles=500)


def test_parallel_seed_test():
    # parallel_seed_test samples actions without the mask: under "lose" an
    # illegal one ends the game deterministically.
    parallel_seed_test(lambda: parallel_env(illegal_action="lose"), num_cycles=500)


@pytest.mark.parametrize("make", [env, raw_env, parallel_env])
def test_render_test(make, capsys):
    if make is parallel_env:
        for mode in ("ansi", "human"):
            p = make(render_mode=mode)
            p.reset(seed=0)
            out = p.render()
            assert (isinstance(out, str) and "Essence Wars" in out) if mode == "ansi" else out is None
    else:
        render_test(make, custom_tests={"ansi": lambda text: "Essence Wars" in text and "P0:" in text})
    assert "Essence Wars" in capsys.readouterr().out  # "human" printed


# ---------------------------------------------------------------------------
# Turn order and rewards.


def play_aec(e, seed, rng):
    """Plays to the end with random legal actions; returns the selections, rewards and final infos."""
    e.reset(seed=seed)
    selections, final = [], {}
    for agent in e.agent_iter(max_iter=5000):
        obs, reward, termination, truncation, info = e.last()
        if termination or truncation:
            final[agent] = (reward, info)
            e.step(None)
            continue
        game = e.unwrapped._table.game
        assert agent == AGENTS[game.current_player()]  # follows the game, not a blind alternation
        assert obs["observation"][1] == game.current_player()
        other = AGENTS[1 - AGENTS.index(agent)]
        assert not e.observe(other)["action_mask"].any()
        assert e.observe(other)["observation"][1] == 1 - game.current_player()  # its own side
        legal = np.flatnonzero(obs["action_mask"])
        selections.append(agent)
        e.step(int(legal[rng.integers(len(legal))]))
    return selections, final


def test_agent_selection_follows_the_player_to_move_and_rewards_are_opposite():
    e = env()
    rng = np.random.default_rng(0)
    decisive = 0
    for seed in range(6):
        selections, final = play_aec(e, seed, rng)
        assert selections[0] == "player_0"
        repeats = sum(a == b for a, b in zip(selections, selections[1:]))
        assert repeats > 0  # several actions in a row by the same player
        assert set(final) == set(AGENTS)
        (r0, i0), (r1, i1) = final["player_0"], final["player_1"]
        assert r0 == -r1 and i0["winner"] == i1["winner"]
        assert r0 == (0.0 if i0["winner"] == -1 else (1.0 if i0["winner"] == 0 else -1.0))
        decisive += r0 != 0
        assert e.agents == []
    assert decisive >= 1


def test_same_game_in_gymnasium_and_pettingzoo():
    """The Gymnasium self-play env and the AEC env deal the same game from the
    same seed and agree on the outcome."""
    from essence_wars.env import EssenceWarsEnv

    gym_env = EssenceWarsEnv(opponent=None)
    aec = raw_env()
    obs, info = gym_env.reset(seed=5)
    aec.reset(seed=5)
    rng = np.random.default_rng(1)
    while True:
        agent = aec.agent_selection
        assert AGENTS.index(agent) == info["current_player"]
        aec_obs = aec.observe(agent)
        assert np.array_equal(aec_obs["observation"], obs["observation"])
        assert np.array_equal(aec_obs["action_mask"], obs["action_mask"])
        legal = np.flatnonzero(obs["action_mask"])
        a = int(legal[rng.integers(len(legal))])
        obs, reward, terminated, truncated, info = gym_env.step(a)
        aec.step(a)
        if terminated:
            break
    assert aec.rewards[agent] == reward
    assert aec.rewards[AGENTS[1 - AGENTS.index(agent)]] == -reward
    assert aec.infos[agent]["winner"] == info["winner"]


# ---------------------------------------------------------------------------
# Illegal actions.


def test_raw_env_raises_on_illegal_actions_and_changes_nothing():
    e = raw_env()
    e.reset(seed=3)
    obs = e.observe("player_0")
    bad = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    before = e.unwrapped._table.game.to_bytes()
    with pytest.raises(IllegalActionError, match=rf"player_0: action {bad} .* is not legal now"):
        e.step(bad)
    assert e.unwrapped._table.game.to_bytes() == before
    assert e.agent_selection == "player_0" and not any(e.terminations.values())
    for action, error in ((256, ValueError), (-1, ValueError), (2.5, TypeError), ("x", TypeError)):
        with pytest.raises(error):
            e.step(action)


def test_env_wrapper_terminates_on_illegal_actions():
    e = env()
    e.reset(seed=3)
    bad = int(np.flatnonzero(e.observe("player_0")["action_mask"] == 0)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e.step(bad)
    assert all(e.terminations.values())
    assert e.rewards == {"player_0": -1.0, "player_1": 0.0}
    for agent in e.agent_iter():
        assert e.last()[2] or e.last()[3]
        e.step(None)
    assert e.agents == []


# ---------------------------------------------------------------------------
# The parallel variant.


def test_parallel_ignores_the_waiting_agent():
    p1, p2 = parallel_env(), parallel_env()
    obs1, _ = p1.reset(seed=7)
    obs2, _ = p2.reset(seed=7)
    rng = np.random.default_rng(0)
    steps = 0
    while p1.agents:
        to_move = [a for a in AGENTS if obs1[a]["action_mask"].any()]
        assert len(to_move) == 1
        mover = to_move[0]
        waiting = AGENTS[1 - AGENTS.index(mover)]
        assert not obs1[waiting]["action_mask"].any()
        legal = np.flatnonzero(obs1[mover]["action_mask"])
        a = int(legal[rng.integers(len(legal))])
        # the waiting agent's action is ignored, even an illegal one
        obs1, r1, t1, u1, i1 = p1.step({mover: a, waiting: 0})
        obs2, r2, t2, u2, i2 = p2.step({mover: a, waiting: 200})
        for agent in AGENTS:
            assert np.array_equal(obs1[agent]["observation"], obs2[agent]["observation"])
            assert np.array_equal(obs1[agent]["observation"][1], AGENTS.index(agent))
        assert r1 == r2 and t1 == t2 and u1 == u2
        steps += 1
    assert steps > 10
    assert r1["player_0"] == -r1["player_1"]
    assert all(t1.values()) and not any(u1.values())
    with pytest.raises(ResetNeeded):
        p1.step({"player_0": END_TURN, "player_1": END_TURN})


def test_parallel_illegal_modes():
    p = parallel_env()
    obs, infos = p.reset(seed=1)
    assert infos["player_0"]["current_player"] == 0
    bad = int(np.flatnonzero(obs["player_0"]["action_mask"] == 0)[0])
    with pytest.raises(IllegalActionError, match="player_0"):
        p.step({"player_0": bad, "player_1": 0})
    with pytest.raises(KeyError, match="no action for player_0"):
        p.step({"player_1": END_TURN})
    with pytest.raises(KeyError, match="unknown agents"):
        p.step({"player_0": END_TURN, "player_9": 0})
    with pytest.raises(TypeError, match="dict"):
        p.step([END_TURN, END_TURN])
    p = parallel_env(illegal_action="lose")
    p.reset(seed=1)
    obs, rewards, terminations, truncations, infos = p.step({"player_0": bad, "player_1": 0})
    assert rewards == {"player_0": -1.0, "player_1": 1.0}
    assert all(terminations.values()) and infos["player_0"]["illegal_action"] is True
    assert infos["player_1"]["winner"] == 1
    assert p.agents == [] and not obs["player_0"]["action_mask"].any()


# ---------------------------------------------------------------------------
# Bad inputs and lifetime.


@pytest.mark.parametrize("make", [raw_env, parallel_env])
def test_bad_arguments_and_lifetime(make):
    with pytest.raises(UnknownDeckError, match="deck0"):
        make(deck0="nope")
    with pytest.raises(ValueError, match="mode"):
        make(mode="blitz")
    with pytest.raises(ValueError, match="render_mode"):
        make(render_mode="rgb_array")
    if make is parallel_env:
        with pytest.raises(ValueError, match="illegal_action"):
            make(illegal_action="skip")
    e = make()
    with pytest.raises(ResetNeeded):
        e.render()
    e.close()
    e.close()
    with pytest.raises(ClosedEnvironmentError):
        e.reset(seed=0)
    assert isinstance(parallel_env(), EssenceWarsParallelEnv)
