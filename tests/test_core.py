"""The Python API end to end: Game, catalogue, errors, snapshots, lifetime."""

from __future__ import annotations

import gc
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import essence_wars
from essence_wars import core
from essence_wars.core import (
    NUM_ACTIONS,
    OBS_SIZE,
    OBS_VERSION,
    ClosedError,
    Game,
    GameOverError,
    IllegalActionError,
    InvalidDeckError,
    InvalidSnapshotError,
    UnknownCardError,
    UnknownDeckError,
)

from conftest import play_random


# ---------------------------------------------------------------------------
# Constants and catalogue.


def test_constants_and_version():
    assert (OBS_SIZE, NUM_ACTIONS) == (326, 256)
    assert OBS_VERSION >= 1
    assert core.STATE_BYTES == 519
    assert essence_wars.__version__.count(".") == 2


def test_catalogue(decks):
    cards = core.list_cards()
    assert len(cards) > 0
    for i, c in enumerate(cards):
        assert c.id == i
        assert c.type in ("creature", "spell", "support")
        assert c.rarity in ("common", "legendary", "token")
        assert c.faction in ("Argentum", "Symbiote", "Obsidion", "Neutral")
        assert all(isinstance(k, str) for k in c.keywords)
    assert decks == core.list_decks()
    for name in decks:
        ids = core.deck_cards(name)
        assert len(ids) == core.DECK_SIZE
        assert all(0 <= x < len(cards) for x in ids)
    assert core.describe_action(50 + 5 * 2 + 3) == "attack from lane 2 into enemy lane 3"
    assert core.describe_action(255) == "end turn"


# ---------------------------------------------------------------------------
# A game end to end.


def test_game_plays_to_the_end(game):
    assert game.turn() == 1 and game.current_player() == 0
    assert not game.is_done() and game.winner() is None
    steps = 0
    while not game.is_done():
        obs = game.observe()
        assert obs.dtype == np.float32 and obs.shape == (OBS_SIZE,)
        assert np.all(np.isfinite(obs))
        mask = game.action_mask()
        assert mask.dtype == np.bool_ and mask.shape == (NUM_ACTIONS,)
        legal = game.legal_actions()
        assert legal.dtype == np.int64
        np.testing.assert_array_equal(legal, np.flatnonzero(mask))
        assert mask[255]
        actor = game.current_player()
        action = game.greedy_action(seed=steps) if steps % 2 else game.random_action(seed=steps)
        assert mask[action]
        reward, done = game.step(action)
        assert isinstance(reward, float) and isinstance(done, bool)
        if done:
            assert reward == game.reward(actor)
        else:
            assert reward == 0.0
        steps += 1
    w = game.winner()
    assert w in (0, 1, None)
    if w is None:
        assert game.reward(0) == game.reward(1) == 0.0
    else:
        assert game.reward(w) == 1.0 and game.reward(1 - w) == -1.0
    assert not game.action_mask().any()
    assert len(game.legal_actions()) == 0
    with pytest.raises(GameOverError):
        game.step(255)
    with pytest.raises(GameOverError):
        game.random_action(0)


def test_same_seed_same_game(deck_pair):
    a = Game(3, *deck_pair)
    b = Game(3, *deck_pair)
    for t in range(60):
        if a.is_done():
            break
        np.testing.assert_array_equal(a.observe(), b.observe())
        act = a.random_action(t)
        assert act == b.random_action(t)
        assert a.step(act) == b.step(act)
    assert a.to_bytes() == b.to_bytes()


def test_reset(game):
    first = game.observe().copy()
    play_random(game, 5, max_steps=30)
    game.reset()
    np.testing.assert_array_equal(game.observe(), first)
    game.reset(seed=8)
    assert game.seed == 8
    with pytest.raises(ValueError, match="2\\*\\*64"):
        game.reset(seed=-1)


def test_observe_and_mask_into_out(game):
    buf = np.full(OBS_SIZE, -7.0, dtype=np.float32)
    assert game.observe(out=buf) is buf
    np.testing.assert_array_equal(buf, game.observe())
    # the cached pointer path (same array again)
    game.step(255)
    game.observe(out=buf)
    np.testing.assert_array_equal(buf, game.observe())
    m8 = np.zeros(NUM_ACTIONS, dtype=np.uint8)
    assert game.action_mask(out=m8) is m8
    np.testing.assert_array_equal(m8.astype(bool), game.action_mask())
    mb = np.zeros(NUM_ACTIONS, dtype=np.bool_)
    game.action_mask(out=mb)
    np.testing.assert_array_equal(mb, game.action_mask())


def test_fork_is_independent(game):
    before = game.to_bytes()
    child = game.fork()
    assert child.to_bytes() == before
    child.step(255)
    assert game.to_bytes() == before
    assert child.to_bytes() != before
    game.close()
    assert child.current_player() == 1  # the fork outlives the original
    child.close()


def test_bots(game):
    for seed in range(5):
        assert game.action_mask()[game.random_action(seed)]
    assert game.action_mask()[game.greedy_action()]
    assert game.action_mask()[game.mcts_action(simulations=20, seed=1)]
    assert game.mcts_action(20, 1) == game.mcts_action(20, 1)
    assert game.action_mask()[game.bot_action("mcts-10-greedy", 3)]
    for det in ("mcts-30-det", "mcts-8-greedy-det"):  # determinized: seeded like the others
        assert game.action_mask()[game.bot_action(det, 3)]
        assert game.bot_action(det, 3) == game.bot_action(det, 3)
    with pytest.raises(ValueError, match="valid bots"):
        game.bot_action("minimax")
    with pytest.raises(ValueError, match="simulations"):
        game.mcts_action(simulations=0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**64 - 1), prefix=st.lists(st.integers(0, 10**6), max_size=60),
       sims=st.integers(1, 60), bot_seed=st.integers(0, 2**64 - 1), greedy=st.booleans(), det=st.booleans())
def test_mcts_stats_are_the_bots_search(deck_pair, seed, prefix, sims, bot_seed, greedy, det):
    g = Game(seed, *deck_pair)
    for x in prefix:
        if g.is_done():
            break
        legal = g.legal_actions()
        g.step(int(legal[x % len(legal)]))
    if g.is_done():
        with pytest.raises(GameOverError):
            g.mcts_stats("mcts-5")
        return
    bot = f"mcts-{sims}" + ("-greedy" if greedy else "") + ("-det" if det else "")
    before = g.to_bytes()
    action, visits, values = g.mcts_stats(bot, bot_seed)
    assert g.to_bytes() == before, "searching leaves the game unchanged"
    assert action == g.bot_action(bot, bot_seed), "the same seed plays the same action"
    mask = g.action_mask()
    assert visits.dtype == np.uint32 and values.dtype == np.float32
    assert visits.sum() == sims and mask[action] and visits[action] == visits.max()
    assert not visits[~mask].any() and not values[~mask].any()
    assert ((values >= -1) & (values <= 1)).all()
    g.close()


def test_mcts_stats_refuse_other_bots(game):
    before = game.to_bytes()
    for bad in ("greedy", "random", "mcts-0", "minimax"):
        with pytest.raises(ValueError, match="MCTS bot name|valid bots"):
            game.mcts_stats(bad)
    with pytest.raises(TypeError, match="name string"):
        game.mcts_stats(1000)
    with pytest.raises(ValueError):
        game.mcts_stats("mcts-10", seed=-1)
    assert game.to_bytes() == before


def test_render(game):
    text = game.render()
    assert "P0:" in text and "P1:" in text and "turn 1" in text
    assert str(game) == text


def test_snapshot_round_trip(game):
    play_random(game, 11, max_steps=40)
    data = game.to_bytes()
    assert len(data) == core.STATE_BYTES and data[:4] == b"EWGS"
    copy = Game.from_bytes(data)
    assert copy.to_bytes() == data
    np.testing.assert_array_equal(copy.observe(), game.observe())
    assert Game.from_bytes(bytearray(data)).to_bytes() == data
    assert Game.from_bytes(memoryview(data)).to_bytes() == data
    assert Game.from_bytes(np.frombuffer(data, dtype=np.uint8)).to_bytes() == data
    restored = pickle.loads(pickle.dumps(game))
    assert restored.to_bytes() == data
    for t in range(20):
        if game.is_done():
            break
        a = game.random_action(100 + t)
        assert game.step(a) == copy.step(a)
        np.testing.assert_array_equal(copy.observe(), game.observe())


def test_snapshot_garbage_is_rejected(game):
    data = game.to_bytes()
    with pytest.raises(InvalidSnapshotError, match="519 bytes"):
        Game.from_bytes(data[:-1])
    with pytest.raises(InvalidSnapshotError, match="magic"):
        Game.from_bytes(b"\0" * len(data))
    with pytest.raises(InvalidSnapshotError, match="checksum"):
        Game.from_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    with pytest.raises(InvalidSnapshotError, match="version"):
        Game.from_bytes(data[:4] + b"\x63\x00" + data[6:])
    with pytest.raises(InvalidSnapshotError):
        Game.from_bytes(b"")
    with pytest.raises(TypeError):
        Game.from_bytes("not bytes")
    with pytest.raises(TypeError):
        Game.from_bytes(12)


# ---------------------------------------------------------------------------
# Afterstates.


def expected_afterstates(g: Game):
    """What Game.afterstates must return, built from fork + step + observe(seat=mover)."""
    mover = g.current_player()
    obs, result = [], []
    for a in g.legal_actions():
        child = g.fork()
        reward, done = child.step(int(a))
        obs.append(child.observe(seat=mover))
        assert reward == (child.reward(mover) if done else 0.0)
        result.append(reward)
        child.close()
    return np.array(obs, np.float32).reshape(-1, OBS_SIZE), np.array(result, np.float32)


def check_afterstates(g: Game):
    before = g.to_bytes()
    obs, result = g.afterstates()
    assert g.to_bytes() == before, "afterstates changed the game"
    n = len(g.legal_actions())
    assert obs.dtype == np.float32 and obs.shape == (n, OBS_SIZE)
    assert result.dtype == np.float32 and result.shape == (n,)
    want_obs, want_result = expected_afterstates(g)
    np.testing.assert_array_equal(obs, want_obs)
    np.testing.assert_array_equal(result, want_result)
    return obs, result


def test_afterstates_are_fork_step_observe_for_every_legal_action(deck_pair):
    for seed, mode in ((3, "attrition"), (4, "essence_duel")):
        g = Game(seed, *deck_pair, mode=mode)
        steps = 0
        while not g.is_done():
            obs, result = check_afterstates(g)
            legal, mover = g.legal_actions(), g.current_player()
            action = g.greedy_action(seed=steps) if steps % 3 else g.random_action(seed=steps)
            reward, done = g.step(action)
            # The row of the action played is where the game went.
            k = int(np.flatnonzero(legal == action)[0])
            np.testing.assert_array_equal(obs[k], g.observe(seat=mover))
            assert result[k] == reward
            steps += 1
        assert reward in (-1.0, 0.0, 1.0) and result[k] == reward, "the last action's row has the game's result"
        obs, result = g.afterstates()
        assert obs.shape == (0, OBS_SIZE) and result.shape == (0,), "a finished game has no afterstates"
        g.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**64 - 1), prefix=st.lists(st.integers(0, 10**6), max_size=80),
       mode=st.sampled_from(["attrition", "essence_duel"]))
def test_afterstates_after_random_prefixes(deck_pair, seed, prefix, mode):
    g = Game(seed, *deck_pair, mode=mode)
    for x in prefix:
        if g.is_done():
            break
        legal = g.legal_actions()
        g.step(int(legal[x % len(legal)]))
    check_afterstates(g)
    g.close()


# ---------------------------------------------------------------------------
# Error paths.


def test_illegal_action_error_names_the_action(game):
    before = game.to_bytes()
    n_legal = len(game.legal_actions())
    with pytest.raises(IllegalActionError) as info:
        game.step(50 + 5 * 2 + 3)
    err = info.value
    assert isinstance(err, ValueError)
    assert "attack from lane 2 into enemy lane 3" in str(err)
    assert f"{n_legal} action(s) are legal" in str(err)
    assert err.action == 63 and err.num_legal == n_legal
    for bad in (-1, 256, 200, 2**63, -(2**70), np.int64(140), np.uint8(134)):
        with pytest.raises(IllegalActionError, match="not legal"):
            game.step(bad)
    for bad in (1.5, "end", None, [255]):
        with pytest.raises(TypeError):
            game.step(bad)
    assert game.to_bytes() == before


def test_unknown_deck_lists_valid_names_with_a_close_match(decks):
    name = decks[0]
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    with pytest.raises(UnknownDeckError) as info:
        Game(0, typo, decks[0])
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert f'did you mean "{name}"' in msg
    for d in decks:
        assert d in msg
    with pytest.raises(UnknownDeckError):
        core.deck_cards("no_such_deck")
    with pytest.raises(TypeError):
        Game(0, 42, decks[0])


def test_custom_decks_and_unknown_cards(decks):
    ids = core.deck_cards(decks[0])
    g = Game(5, ids, decks[0])
    g2 = Game(5, decks[0], decks[0])
    assert g.to_bytes() == g2.to_bytes()
    g3 = Game(5, np.array(ids), tuple(ids))
    assert g3.to_bytes() == g2.to_bytes()
    n = len(core.list_cards())
    for bad in (n, 10**6, -1):
        with pytest.raises(UnknownCardError, match=str(bad)):
            Game(0, ids[:-1] + [bad], decks[0])
    with pytest.raises(InvalidDeckError, match="exactly 30"):
        Game(0, ids[:29], decks[0])
    tokens = [c.id for c in core.list_cards() if c.rarity == "token"]
    if tokens:
        with pytest.raises(InvalidDeckError, match="token"):
            Game(0, ids[:-1] + [tokens[0]], decks[0])
    with pytest.raises(TypeError):
        Game(0, ids[:-1] + [1.5], decks[0])


def test_bad_seeds_and_modes(decks):
    for bad in (-1, 2**64, 2**80):
        with pytest.raises(ValueError, match="unsigned 64-bit"):
            Game(bad, decks[0], decks[0])
    assert Game(2**64 - 1, decks[0], decks[0]).seed == 2**64 - 1
    assert Game(np.uint64(5), decks[0], decks[0]).seed == 5
    for bad in (1.0, "3", None, True):
        with pytest.raises(TypeError, match="seed"):
            Game(bad, decks[0], decks[0])
    with pytest.raises(ValueError, match="essence_duel"):
        Game(0, decks[0], decks[0], mode="essence-duel")
    g = Game(0, decks[0], decks[0], mode="essence_duel")
    assert "essence_duel" in g.render()
    with pytest.raises(ValueError, match="seed"):
        g.random_action(seed=-5)
    with pytest.raises(ValueError):
        g.reward(2)


def test_wrong_out_buffers(game):
    before = game.to_bytes()
    bad_outs = [
        (np.zeros(OBS_SIZE, dtype=np.float64), TypeError, "float32"),
        (np.zeros(OBS_SIZE + 1, dtype=np.float32), ValueError, "326"),
        (np.zeros((2, OBS_SIZE), dtype=np.float32)[:, 0], ValueError, "326"),
        (np.zeros(2 * OBS_SIZE, dtype=np.float32)[::2], ValueError, "contiguous"),
        ([0.0] * OBS_SIZE, TypeError, "numpy"),
    ]
    for out, exc, text in bad_outs:
        with pytest.raises(exc, match=text):
            game.observe(out=out)
    ro = np.zeros(OBS_SIZE, dtype=np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        game.observe(out=ro)
    with pytest.raises(TypeError, match="bool or uint8"):
        game.action_mask(out=np.zeros(NUM_ACTIONS, dtype=np.int32))
    with pytest.raises(ValueError, match="256"):
        game.action_mask(out=np.zeros(10, dtype=np.uint8))
    assert game.to_bytes() == before


def test_use_after_close_and_double_close(deck_pair):
    g = Game(1, *deck_pair)
    assert not g.closed
    g.close()
    assert g.closed
    g.close()  # no-op
    for call in (g.observe, g.action_mask, g.legal_actions, g.current_player, g.turn, g.is_done,
                 g.winner, g.fork, g.render, g.to_bytes, g.reset, g.greedy_action, g.afterstates,
                 lambda: g.step(255), lambda: g.reward(0), lambda: g.random_action(1),
                 lambda: g.observe(out=np.zeros(OBS_SIZE, np.float32))):
        with pytest.raises(ClosedError, match="closed"):
            call()
    assert repr(g) == "<Game closed>"
    with Game(1, *deck_pair) as g2:
        g2.step(255)
    assert g2.closed


def test_handles_are_freed_on_close_and_on_gc(deck_pair):
    gc.collect()
    base = core.live_handles()
    games = [Game(i, *deck_pair) for i in range(20)]
    forks = [g.fork() for g in games]
    assert core.live_handles()[0] == base[0] + 40
    for g in games:
        g.close()
    assert core.live_handles()[0] == base[0] + 20
    del forks
    gc.collect()
    assert core.live_handles()[0] == base[0]
    b = core.Batch(3, *deck_pair)
    assert core.live_handles()[1] == base[1] + 1
    del b
    gc.collect()
    assert core.live_handles() == base


# ---------------------------------------------------------------------------
# Property: errors never change the state.

_CALLS = st.one_of(
    st.tuples(st.just("step"), st.integers(-300, 600)),
    st.tuples(st.just("step_legal"), st.integers(0, 10**6)),
    st.tuples(st.just("observe_bad"), st.sampled_from(["f64", "short", "strided"])),
    st.tuples(st.just("reward"), st.integers(-2, 3)),
    st.tuples(st.just("bot"), st.sampled_from(["random", "greedy", "mcts-3", "alphago", "", "mcts-3-det",
                                               "mcts-2-greedy-det", "mcts-det", "mcts-3-det-greedy", "greedy-det"])),
    # Arbitrary strings over the names' letters (9 characters at most keeps any budget below 10,000 simulations).
    st.tuples(st.just("bot"), st.text(alphabet="mcts-123detgrndyaomDET ", max_size=9)),
    st.tuples(st.just("from_bytes"), st.binary(max_size=600)),
    st.tuples(st.just("mcts"), st.integers(-1, 3)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**64 - 1), calls=st.lists(_CALLS, min_size=1, max_size=40))
def test_random_call_sequences_never_change_state_on_error(deck_pair, seed, calls):
    g = Game(seed, *deck_pair)
    for kind, arg in calls:
        before = g.to_bytes()
        changed_ok = False
        try:
            if kind == "step":
                g.step(arg)
                changed_ok = True
            elif kind == "step_legal":
                legal = g.legal_actions()
                if len(legal):
                    g.step(int(legal[arg % len(legal)]))
                    changed_ok = True
            elif kind == "observe_bad":
                out = {"f64": np.zeros(OBS_SIZE), "short": np.zeros(5, np.float32),
                       "strided": np.zeros(2 * OBS_SIZE, np.float32)[::2]}[arg]
                g.observe(out=out)
            elif kind == "reward":
                g.reward(arg)
            elif kind == "bot":
                g.bot_action(arg, seed=1)
            elif kind == "from_bytes":
                Game.from_bytes(arg)
            elif kind == "mcts":
                g.mcts_action(simulations=arg)
        except (ValueError, TypeError, GameOverError) as e:
            assert str(e), "errors carry a message"
            assert g.to_bytes() == before, f"{kind}({arg!r}) raised {e!r} but changed the game"
            continue
        if not changed_ok:
            assert g.to_bytes() == before, f"{kind}({arg!r}) changed the game"
    g.close()


# ---------------------------------------------------------------------------
# Command line and bots.


def test_cli_subcommands(capsys, decks):
    from essence_wars import cli

    assert cli.main(["info"]) == 0
    assert "obs_size" in capsys.readouterr().out
    assert cli.main(["decks"]) == 0
    assert capsys.readouterr().out.split() == decks
    assert cli.main(["decks", decks[0]]) == 0
    assert cli.main(["cards", "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["play", "--seed", "4", "--quiet"]) == 0
    assert "result:" in capsys.readouterr().out
    assert cli.main(["play", "--deck0", "nope"]) == 2
    assert "valid decks" in capsys.readouterr().err
    assert set(cli.SUBCOMMANDS) >= {"info", "cards", "decks", "play"}


def test_python_bots_are_deterministic(deck_pair):
    from essence_wars.bots import GreedyBot, MctsBot, RandomBot, make_bot

    for make in (lambda: RandomBot(3), lambda: GreedyBot(3), lambda: MctsBot(10, 3), lambda: make_bot("mcts-5-greedy", 3),
                 lambda: MctsBot(10, 3, determinized=True)):
        runs = []
        for _ in range(2):
            g = Game(9, *deck_pair)
            bots = [make(), make()]
            trace = []
            while not g.is_done() and len(trace) < 60:
                a = bots[g.current_player()](g)
                trace.append(a)
                g.step(a)
            runs.append(trace)
        assert runs[0] == runs[1]
    with pytest.raises(ValueError):
        MctsBot(0)
    assert MctsBot(7, rollout="greedy", determinized=True).name == "mcts-7-greedy-det"
    with pytest.raises(TypeError, match="determinized"):
        MctsBot(7, determinized="yes")
