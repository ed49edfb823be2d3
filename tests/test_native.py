"""Python and Rust agree, and Batch behaves like N single games."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from essence_wars import core
from essence_wars._native import ffi, lib
from essence_wars.core import (
    NUM_ACTIONS,
    OBS_SIZE,
    Batch,
    Game,
    GameOverError,
    IllegalActionError,
)

_M64 = (1 << 64) - 1


def mix64(z: int) -> int:
    """SplitMix64's finaliser, as rust_core/src/batch.rs::mix64."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class Fnv1a64:
    def __init__(self):
        self.h = 0xCBF29CE484222325

    def feed(self, data: bytes) -> None:
        h = self.h
        for b in data:
            h = ((h ^ b) * 0x100000001B3) & _M64
        self.h = h


def python_trajectory_hash(seed, deck0, deck1, mode, policy_seed, max_steps):
    """The replay that ew_debug_trajectory_hash does in Rust, through the Python API."""
    g = Game(seed, deck0, deck1, mode)
    h = Fnv1a64()
    obs = np.empty(OBS_SIZE, np.float32)
    t = 0
    while True:
        g.observe(out=obs)
        h.feed(obs.astype("<f4").tobytes())
        mask = g.action_mask()
        h.feed(mask.astype(np.uint8).tobytes())
        if g.is_done() or t >= max_steps:
            break
        legal = np.flatnonzero(mask)
        k = mix64((policy_seed + t) & _M64) % len(legal)
        reward, done = g.step(int(legal[k]))
        h.feed(np.float32(reward).astype("<f4").tobytes())
        h.feed(bytes([1 if done else 0]))
        t += 1
    g.close()
    return h.h, t


@pytest.mark.parametrize("seed,policy_seed,mode", [(1, 2, "attrition"), (99, 5, "essence_duel"), (2**63 + 7, 0, "attrition")])
def test_python_and_rust_see_bit_identical_observations(decks, seed, policy_seed, mode):
    d0, d1 = decks[0], decks[-1]
    out_hash = ffi.new("uint64_t *")
    out_steps = ffi.new("uint32_t *")
    st = lib.ew_debug_trajectory_hash(seed, d0.encode(), d1.encode(), mode.encode(), policy_seed, 100_000,
                                      out_hash, out_steps)
    assert st == 0, core._last_error()
    py_hash, py_steps = python_trajectory_hash(seed, d0, d1, mode, policy_seed, 100_000)
    assert py_steps == out_steps[0] and py_steps > 20
    assert py_hash == out_hash[0]


def test_native_panics_are_caught_and_reported():
    assert lib.ew_debug_panic() == lib.EW_ERR_PANIC
    assert "internal panic" in core._last_error()


# ---------------------------------------------------------------------------
# Batch.


def test_batch_equals_single_games(deck_pair):
    n = 8
    batch = Batch(n, *deck_pair, seed=1000)
    games = [Game(1000 + i, *deck_pair) for i in range(n)]
    out = batch.output
    for i, g in enumerate(games):
        np.testing.assert_array_equal(out.obs[i], g.observe())
        np.testing.assert_array_equal(out.masks[i], g.action_mask())
    live = np.ones(n, dtype=bool)
    t = 0
    while live.any():
        idx = np.flatnonzero(live)
        acts = np.array([games[i].random_action(t * 97 + i) for i in idx], dtype=np.int64)
        batch.step_subset(idx, acts)
        for k, i in enumerate(idx):
            actor = games[i].current_player()
            r, d = games[i].step(int(acts[k]))
            assert out.rewards[i] == r
            assert bool(out.terminated[i]) == d
            assert not out.truncated[i]
            assert out.current_player[i] == games[i].current_player()
            np.testing.assert_array_equal(out.obs[i], games[i].observe())
            np.testing.assert_array_equal(out.masks[i], games[i].action_mask())
            if d:
                live[i] = False
                assert r == games[i].reward(actor)
        t += 1
    for i, g in enumerate(games):
        assert batch.game(i).to_bytes() == g.to_bytes()
    with pytest.raises(GameOverError) as info:
        batch.step(np.full(n, 255))
    assert info.value.game_index == 0


def test_batch_full_step_matches_singles_in_lockstep(deck_pair):
    n = 4
    batch = Batch(n, *deck_pair, seed=5, autoreset=True)
    games = [Game(5 + i, *deck_pair) for i in range(n)]
    for t in range(300):
        acts = batch.actions  # fill the batch's own array: no copy
        for i, g in enumerate(games):
            acts[i] = g.random_action(t + 31 * i)
        o = batch.step(acts)
        for i, g in enumerate(games):
            r, d = g.step(int(acts[i]))
            assert o.rewards[i] == r and bool(o.terminated[i]) == d
            if d:
                g.reset(int(mix64(g.seed ^ 0x6E6578745F657069)))
            np.testing.assert_array_equal(o.obs[i], g.observe())
            assert batch.seed(i) == g.seed


def test_batch_illegal_error_changes_nothing(deck_pair):
    batch = Batch(3, *deck_pair, seed=3)
    snaps = [batch.game(i).to_bytes() for i in range(3)]
    obs = batch.output.obs.copy()
    with pytest.raises(IllegalActionError) as info:
        batch.step([255, 255, 63])
    err = info.value
    assert err.game_index == 2 and err.action == 63
    assert "game 2" in str(err) and "attack from lane 2 into enemy lane 3" in str(err)
    assert [batch.game(i).to_bytes() for i in range(3)] == snaps
    np.testing.assert_array_equal(batch.output.obs, obs)
    with pytest.raises(IllegalActionError) as info:
        batch.step_subset([1], [999])
    assert info.value.game_index == 1 and info.value.action == 999
    with pytest.raises(ValueError):
        batch.step([255, 255])  # wrong length
    with pytest.raises(TypeError):
        batch.step([1.5, 255, 255])
    with pytest.raises(ValueError, match="twice"):
        batch.step_subset([0, 0], [255, 255])
    with pytest.raises(IndexError):
        batch.step_subset([5], [255])
    assert [batch.game(i).to_bytes() for i in range(3)] == snaps


def test_batch_illegal_lose(deck_pair):
    batch = Batch(3, *deck_pair, seed=3, illegal="lose", opponent="random", agent_seat=[0, 1, 0])
    o = batch.step([255, 140, -1])
    np.testing.assert_array_equal(o.illegal, [False, True, True])
    np.testing.assert_array_equal(o.terminated, [False, True, True])
    np.testing.assert_array_equal(o.rewards, [0.0, -1.0, -1.0])
    assert batch.game(1).winner() == 0 and batch.game(2).winner() == 1


def test_batch_with_opponents_and_autoreset(deck_pair):
    n = 6
    seats = [0, 1, 0, 1, 0, 1]
    opponents = ["random", "random", "greedy", "greedy", "mcts-8", "random"]
    batch = Batch(n, *deck_pair, opponent=opponents, agent_seat=seats, autoreset=True, final_obs=True, seed=40)
    o = batch.output
    assert o.final_obs is not None and o.final_obs.shape == (n, OBS_SIZE)
    np.testing.assert_array_equal(o.current_player, seats)
    endings = 0
    rng = np.random.default_rng(0)
    for _ in range(1500):
        acts = np.array([rng.choice(np.flatnonzero(o.masks[i])) for i in range(n)])
        prev_seeds = [batch.seed(i) for i in range(n)]
        batch.step(acts)
        np.testing.assert_array_equal(o.current_player, seats)  # always the agent's turn
        for i in range(n):
            if o.terminated[i]:
                endings += 1
                assert o.rewards[i] in (-1.0, 0.0, 1.0)
                assert batch.seed(i) != prev_seeds[i]
                assert o.final_obs[i, 1] == seats[i]  # final obs from the agent's seat
                assert batch.game(i).turn() == (1 if seats[i] == 0 else 2)
            else:
                assert o.rewards[i] == 0.0
    assert endings >= n


def test_batch_trajectories_do_not_depend_on_sharding(deck_pair):
    """Game i's trajectory depends only on its seed and its actions: a batch of 6
    gives the same rows as batches of 2 + 4 (how a vector env shards games)."""
    kw = dict(opponent="greedy", autoreset=True, final_obs=True)
    seeds = [11, 12, 13, 14, 15, 16]
    whole = Batch(6, *deck_pair, **kw)
    whole.reset(seeds=seeds)
    parts = [Batch(2, *deck_pair, **kw), Batch(4, *deck_pair, **kw)]
    parts[0].reset(seeds=seeds[:2])
    parts[1].reset(seeds=seeds[2:])
    rng = np.random.default_rng(1)
    for _ in range(400):
        acts = np.array([rng.choice(np.flatnonzero(whole.output.masks[i])) for i in range(6)])
        w = whole.step(acts)
        a = parts[0].step(acts[:2])
        b = parts[1].step(acts[2:])
        for name in ("obs", "masks", "rewards", "terminated", "current_player"):
            joined = np.concatenate([getattr(a, name), getattr(b, name)])
            np.testing.assert_array_equal(getattr(w, name), joined, err_msg=name)


def test_batch_into_caller_arrays(deck_pair):
    n = 3
    batch = Batch(n, *deck_pair)
    ring = np.zeros((2, n, OBS_SIZE), np.float32)
    masks = np.zeros((2, n, NUM_ACTIONS), np.uint8)
    slots = [batch.make_output(obs=ring[k], masks=masks[k]) for k in range(2)]
    batch.reset(seed=0, out=slots[0])
    batch.step(np.full(n, 255), out=slots[1])
    assert ring[0].any() and ring[1].any()
    np.testing.assert_array_equal(ring[1], batch.observe().obs)
    with pytest.raises(TypeError, match="float32"):
        batch.make_output(obs=np.zeros((n, OBS_SIZE)))
    with pytest.raises(ValueError, match="shape"):
        batch.make_output(obs=np.zeros((n + 1, OBS_SIZE), np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        batch.make_output(obs=np.zeros((n, 2 * OBS_SIZE), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="rows"):
        batch.step(np.full(n, 255), out=Batch(n + 1, *deck_pair).output)
    with pytest.raises(TypeError):
        batch.make_output(nonsense=np.zeros(3))


def test_batch_settings_and_errors(deck_pair):
    batch = Batch(2, *deck_pair)
    with pytest.raises(ValueError, match="valid bots"):
        batch.set_opponent("minimax")
    with pytest.raises(ValueError):
        batch.set_agent_seat(2)
    with pytest.raises(IndexError):
        batch.set_agent_seat(1, index=5)
    with pytest.raises(ValueError, match="one value per game"):
        batch.set_opponent(["random"])
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        batch.reset(seed=-1)
    with pytest.raises(ValueError):
        Batch(0, *deck_pair)
    with pytest.raises(ValueError):
        Batch(2, *deck_pair, illegal="ignore")
    with pytest.raises(core.UnknownDeckError):
        Batch(2, "nope", deck_pair[1])
    batch.set_decks(core.deck_cards(deck_pair[1]), deck_pair[0], mode="essence_duel", index=1)
    batch.reset(seed=9)
    expected = Game(10, core.deck_cards(deck_pair[1]), deck_pair[0], "essence_duel")
    assert batch.game(1).to_bytes() == expected.to_bytes()
    batch.reset_subset([0], [77])
    assert batch.seed(0) == 77 and batch.seed(1) == 10
    batch.close()
    batch.close()
    with pytest.raises(core.ClosedError):
        batch.step([255, 255])


# ---------------------------------------------------------------------------
# Afterstates.


def check_batch_afterstates(batch: Batch, indices=None):
    """Batch.afterstates(indices) is each listed game's Game.afterstates, one block
    after another, and changes no game."""
    listed = range(batch.num_games) if indices is None else [int(i) for i in indices]
    games = [batch.game(i) for i in listed]
    before = [g.to_bytes() for g in games]
    obs, result, counts = batch.afterstates(indices)
    assert [batch.game(i).to_bytes() for i in listed] == before, "afterstates changed a game"
    assert obs.dtype == np.float32 and result.dtype == np.float32 and counts.dtype == np.int64
    assert counts.shape == (len(games),)
    assert obs.shape == (int(counts.sum()), OBS_SIZE) and result.shape == (int(counts.sum()),)
    at = 0
    for j, g in enumerate(games):
        assert counts[j] == len(g.legal_actions()) == g.action_mask().sum()
        g_obs, g_result = g.afterstates()
        np.testing.assert_array_equal(obs[at:at + counts[j]], g_obs, err_msg=f"game {listed[j]}")
        np.testing.assert_array_equal(result[at:at + counts[j]], g_result)
        at += int(counts[j])
        g.close()
    return obs, result, counts


def test_batch_afterstates_are_the_games_rows_one_block_after_another(deck_pair):
    n = 6
    batch = Batch(n, *deck_pair, seed=70)
    rng = np.random.default_rng(5)
    out = batch.output
    for t in range(400):
        obs, result, counts = check_batch_afterstates(batch)
        np.testing.assert_array_equal(counts, out.masks.sum(1))
        order = rng.permutation(n)[: rng.integers(0, n + 1)]
        check_batch_afterstates(batch, order)
        live = np.flatnonzero(out.masks.any(1))
        if not len(live):
            break
        if t % 10 == 0:  # a single game's afterstates agree with a fork of it
            i = int(live[0])
            g = batch.game(i)
            start = int(counts[:i].sum())
            for k, a in enumerate(g.legal_actions()):
                child = g.fork()
                mover = child.current_player()
                reward, _ = child.step(int(a))
                np.testing.assert_array_equal(obs[start + k], child.observe(seat=mover))
                assert result[start + k] == reward
        acts = np.array([rng.choice(np.flatnonzero(out.masks[i])) for i in live])
        batch.step_subset(live, acts)
    assert not out.masks.any(), "every game finished"
    obs, result, counts = batch.afterstates()
    assert obs.shape == (0, OBS_SIZE) and result.shape == (0,) and counts.tolist() == [0] * n


def test_batch_afterstates_with_opponents_are_the_agents(deck_pair):
    batch = Batch(4, *deck_pair, opponent="random", agent_seat=[0, 1, 1, 0], autoreset=True, seed=3)
    for _ in range(30):
        obs, result, counts = check_batch_afterstates(batch)
        seats = np.repeat(batch.output.current_player, counts)
        np.testing.assert_array_equal(obs[:, 1], seats.astype(np.float32))  # feature 1: the mover's seat
        batch.step([int(np.flatnonzero(m)[-1]) for m in batch.output.masks])


def test_batch_afterstates_check_indices_and_the_handle(deck_pair):
    batch = Batch(3, *deck_pair)
    snaps = [batch.game(i).to_bytes() for i in range(3)]
    with pytest.raises(IndexError):
        batch.afterstates([3])
    with pytest.raises(IndexError):
        batch.afterstates([-1])
    with pytest.raises(ValueError, match="twice"):
        batch.afterstates([1, 0, 1])
    with pytest.raises(TypeError):
        batch.afterstates([0.5])
    with pytest.raises(ValueError):
        batch.afterstates([[0, 1]])
    obs, result, counts = batch.afterstates([])
    assert obs.shape == (0, OBS_SIZE) and result.shape == (0,) and counts.shape == (0,)
    check_batch_afterstates(batch, np.array([2, 0], dtype=np.int64))
    assert [batch.game(i).to_bytes() for i in range(3)] == snaps
    batch.close()
    with pytest.raises(core.ClosedError):
        batch.afterstates()
    with pytest.raises(core.ClosedError):
        batch.afterstates([0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**64 - 8), prefix=st.lists(st.integers(0, 10**6), max_size=60),
       order=st.permutations(range(4)), keep=st.integers(0, 4))
def test_batch_afterstates_after_random_prefixes(deck_pair, seed, prefix, order, keep):
    batch = Batch(4, *deck_pair, seed=seed)
    for x in prefix:
        live = np.flatnonzero(batch.output.masks.any(1))
        if not len(live):
            break
        acts = [np.flatnonzero(batch.output.masks[i])[(x + int(i)) % batch.output.masks[i].sum()] for i in live]
        batch.step_subset(live, acts)
    check_batch_afterstates(batch, order[:keep])
    check_batch_afterstates(batch)
    batch.close()
