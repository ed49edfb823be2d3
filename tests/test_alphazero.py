"""AlphaZero end to end at toy sizes: network, self-play data, training with
checkpoint and resume, the search agent, and the CLI wiring."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from agents import alphazero  # noqa: E402
from agents.alphazero import Args, ReplayBuffer, SelfPlay, load_agent, play_match, train  # noqa: E402
from agents.az_network import Evaluator, PolicyValueNet  # noqa: E402
from essence_wars import core  # noqa: E402


def tiny(tmp_path, **kw) -> Args:
    base = dict(run_dir=str(tmp_path / "run"), iterations=2, num_games=8, moves_per_iteration=40, simulations=8,
                min_buffer=16, train_steps=3, batch_size=32, width=32, blocks=1, eval_every=2, eval_games=4,
                eval_simulations=4, eval_opponents="random", checkpoint_every=1, buffer_size=5000)
    base.update(kw)
    return Args(**base)


def test_network_shapes_and_value_range():
    net = PolicyValueNet(width=32, blocks=2)
    logits, values = net(torch.randn(5, 326))
    assert logits.shape == (5, 256) and values.shape == (5,)
    assert (values.abs() <= 1).all()
    p, v = Evaluator(net)(np.zeros((3, 326), np.float32), np.ones((3, 256), np.uint8))
    assert p.dtype == np.float32 and p.shape == (3, 256) and v.shape == (3,)


def test_selfplay_fills_the_buffer_with_valid_targets(tmp_path):
    args = tiny(tmp_path, num_games=8, simulations=4)
    torch.manual_seed(0)
    sp = SelfPlay(args, Evaluator(PolicyValueNet(32, 1)), seed=3)
    buf = ReplayBuffer(20_000)
    moves = 0
    while sp.games_finished < 1 and moves < 2000:
        sp.play(20, buf)
        moves += 20
    assert sp.games_finished >= 1 and buf.size > 0
    pol = buf.policy[:buf.size]
    np.testing.assert_allclose(pol.sum(1), 1.0, rtol=1e-5)
    assert (pol[~buf.masks[:buf.size]] == 0).all(), "visit targets only on legal actions"
    assert set(np.unique(buf.value[:buf.size])) <= {-1.0, 0.0, 1.0}
    sp.search.close()


def test_value_targets_mix_in_the_root_search_value(tmp_path):
    """q_weight = 0.5 gives targets halfway between the game result (+-1, 0) and the root value in [-1, 1]."""
    results = {}
    for q in (0.0, 0.5):
        args = tiny(tmp_path, num_games=4, simulations=8, q_weight=q)
        torch.manual_seed(0)
        sp = SelfPlay(args, Evaluator(PolicyValueNet(32, 1)), seed=5)
        buf = ReplayBuffer(20_000)
        while sp.games_finished < 1:
            sp.play(20, buf)
        results[q] = buf.value[:buf.size].copy()
        sp.search.close()
    z, mixed = results[0.0], results[0.5]
    n = min(len(z), len(mixed))
    assert n > 0
    # same seeds, same network, same games: the first finished game's positions line up
    root = 2 * mixed[:n] - z[:n]
    assert (np.abs(root) <= 1 + 1e-5).all(), "the recovered root values are search values in [-1, 1]"
    assert not set(np.unique(mixed[:n])) <= {-1.0, 0.0, 1.0}


def test_playout_cap_randomisation_records_only_full_searches(tmp_path):
    args = tiny(tmp_path, num_games=4, simulations=16, full_search_prob=0.25, fast_simulations=2)
    torch.manual_seed(0)
    sp = SelfPlay(args, Evaluator(PolicyValueNet(32, 1)), seed=9)
    buf = ReplayBuffer(20_000)
    recorded = sum(sp.play(10, buf) for _ in range(8))
    assert 0 < sp.fast_moves < 80 and sp.fast_moves > 40, "about three moves in four are fast"
    pending = sum(len(t) for t in sp.trajectories)
    assert buf.size + pending == recorded <= 4 * (80 - sp.fast_moves)
    assert sp.search.config.simulations in (16, 2)
    sp.search.close()
    with pytest.raises(ValueError, match="full_search_prob"):
        train(Args(full_search_prob=0.0))


def test_learning_rate_schedules():
    args = Args(iterations=11, lr=1e-3, lr_min=1e-4, lr_schedule="cosine")
    lrs = [alphazero.learning_rate(args, it) for it in range(1, 12)]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lrs[5] == pytest.approx(0.5 * (1e-3 + 1e-4))
    assert alphazero.learning_rate(Args(lr=3e-4), 7) == 3e-4
    with pytest.raises(ValueError, match="lr_schedule"):
        alphazero.learning_rate(Args(lr_schedule="linear"), 1)
    with pytest.raises(ValueError, match="q_weight"):
        train(Args(q_weight=1.5))
    with pytest.raises(ValueError, match="augment must be '' or 'hands', got 'lanes'"):
        train(Args(augment="lanes"))


def test_training_with_hand_augmentation(tmp_path):
    out = train(tiny(tmp_path, augment="hands", eval_every=0))
    assert out["state"]["gradient_steps"] > 0


def test_train_checkpoint_resume_and_agent(tmp_path):
    args = tiny(tmp_path)
    out = train(args)
    assert out["state"]["iteration"] == 2
    assert out["state"]["gradient_steps"] > 0, "the buffer should have filled"
    assert "random" in out["eval"]
    ckpt = out["checkpoint"]
    # resume continues the iteration count
    out2 = train(tiny(tmp_path, iterations=3, resume="auto", eval_every=0))
    assert out2["state"]["iteration"] == 3
    assert out2["state"]["positions"] > out["state"]["positions"]
    import glob

    assert glob.glob(str(tmp_path / "run" / "events.out.tfevents.*"))

    agent = load_agent(ckpt, simulations=4)
    with core.Game(4) as g:
        obs, mask = g.observe()[None], g.action_mask()[None]
        a_policy = agent.act(obs, mask)
        a_search = agent.act(obs, mask, games=[g])
        assert mask[0, a_policy[0]] and mask[0, a_search[0]]
        assert mask[0, agent(obs[0], mask[0])]
    m = play_match(agent, "random", games=4, seed=1)
    assert m.total.games == 4 and set(m.per_seat) == {0, 1}
    # The shared harness takes the search agent as "az:PATH@SIMULATIONS".
    from agents import evaluate

    searcher = evaluate.resolve_agent(f"az:{ckpt}@4")
    assert hasattr(searcher, "act_in_batch")
    for opponent in ("random", searcher):
        r = evaluate.play_match(searcher, opponent, games=4, seed=2)
        assert r.total.games == 4


def test_cli_registers_train_alphazero(tmp_path):
    from agents import commands
    from essence_wars import cli

    assert "alphazero" in commands.TRAINERS
    parser = cli.build_parser()
    ns = parser.parse_args(["train", "alphazero", "--simulations", "3", "--run-dir", str(tmp_path)])
    assert ns.simulations == 3 and ns.algorithm == "alphazero"
    p = argparse.ArgumentParser()
    alphazero.configure(p)
    assert p.parse_args([]).eval_simulations == Args().eval_simulations


def test_export_keeps_the_network_and_drops_the_optimiser(tmp_path, monkeypatch):
    import subprocess

    from agents import alphazero, evaluate

    ckpt = train(tiny(tmp_path, iterations=1, eval_every=0))["checkpoint"]
    dst = str(tmp_path / "az.pt")
    # the same command as PPO's export: python -m agents.checkpoint SRC DST
    done = subprocess.run([sys.executable, "-m", "agents.checkpoint", ckpt, dst], capture_output=True, text=True,
                          cwd=str(Path(__file__).resolve().parent.parent))
    assert done.returncode == 0, done.stderr
    # its mistakes are one line each, not a traceback, and write nothing
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    torch.save({"a": 1}, tmp_path / "dict.pt")
    for argv, said in (([str(tmp_path / "missing.pt")], "no checkpoint file at"),
                       ([str(junk)], "is not a readable torch checkpoint"),
                       ([str(tmp_path / "dict.pt"), str(tmp_path / "out.pt")], "is not an Essence Wars")):
        bad = subprocess.run([sys.executable, "-m", "agents.checkpoint", *argv], capture_output=True, text=True,
                             cwd=str(Path(__file__).resolve().parent.parent))
        assert bad.returncode == 2 and said in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    assert not (tmp_path / "out.pt").exists()
    exported = torch.load(dst, weights_only=False)
    assert "optimizer" not in exported and "torch_rng" not in exported
    assert exported["network"] == torch.load(ckpt, weights_only=False)["network"]
    x = torch.randn(7, 326)
    with torch.no_grad():
        a, b = alphazero.load_network(ckpt)(x), alphazero.load_network(dst)(x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # "az:shipped@N" is the packaged export
    monkeypatch.setattr(alphazero, "SHIPPED", dst)
    searcher = evaluate.resolve_agent("az:shipped@3")
    assert searcher.simulations == 3
    for bad in ("az:shipped@many", "az:shipped@-3", "az:shipped@x,rollout=0.5", "az:shipped@1.5",
                "az:shipped@\u00b2"):
        with pytest.raises(ValueError, match="whole number of simulations"):
            evaluate.resolve_agent(bad)
    with pytest.raises(ValueError, match="no search option"):
        evaluate.resolve_agent("az:shipped@0,rollout=0.5")
    # "@0" is the network with no search: its policy head's most likely legal action, worked out here
    # from the network directly, on the evaluation batch's own observations
    raw = evaluate.resolve_agent("az:shipped@0")
    batch = core.Batch(6, opponent="random", autoreset=False)
    try:
        out = batch.reset(seed=5)
        idx = np.array([0, 2, 5])
        with torch.no_grad():
            logits, _ = alphazero.load_network(dst)(torch.from_numpy(out.obs[idx].copy()))
        logits[~torch.from_numpy(out.masks[idx].astype(bool))] = -float("inf")
        assert raw.act_in_batch(batch, idx).tolist() == logits.argmax(1).tolist()
        assert raw._search is None  # no tree was built
    finally:
        batch.close()
    assert evaluate.play_match(raw, "random", games=4, seed=1).total.games == 4
    mixed = evaluate.resolve_agent("az:shipped@5,rollout=0.5")
    assert mixed.simulations == 5 and mixed.config.rollout_weight == 0.5 and "rollout0.5" in mixed.name
    assert evaluate.play_match(mixed, "random", games=4, seed=1).total.games == 4
    assert mixed.config.rollout_policy == "random"
    greedy_mix = evaluate.resolve_agent("az:shipped@5,playout=greedy,rollout=0.5")
    assert greedy_mix.config.rollout_policy == "greedy" and greedy_mix.name.endswith("rollout0.5-greedy")
    assert evaluate.play_match(greedy_mix, "random", games=4, seed=1).total.games == 4
    assert not greedy_mix.config.rollout_determinized
    blind = evaluate.resolve_agent("az:shipped@5,playout=greedy-det,rollout=0.5")
    assert blind.config.rollout_policy == "greedy" and blind.config.rollout_determinized
    assert blind.name.endswith("rollout0.5-greedy-det")
    assert evaluate.play_match(blind, "random", games=4, seed=1).total.games == 4
    assert alphazero.playout_config("random-det") == {"rollout_policy": "random", "rollout_determinized": True}
    explorer = evaluate.resolve_agent("az:shipped@5,c_puct=2.5")
    assert explorer.config.c_puct == 2.5 and explorer.name.endswith("-cpuct2.5")
    assert evaluate.resolve_agent("az:shipped@5").config.c_puct == 1.25
    for bad, why in (("az:shipped@5,rollout=2", "in \\[0, 1\\]"), ("az:shipped@5,rollout=x", "needs a number"),
                     ("az:shipped@5,rollout=nan", "needs a number"),
                     ("az:shipped@5,cpuct=2", "the options are rollout=W"),
                     ("az:shipped@5,c_puct=0", "C > 0"), ("az:shipped@5,c_puct=-1", "C > 0"),
                     ("az:shipped@5,c_puct=x", "C > 0"), ("az:shipped@5,c_puct=inf", "C > 0"),
                     ("az:shipped@0,c_puct=2", "no search option"),
                     ("az:shipped@5,rollout=0.5,playout=smart", "random, greedy, random-det, greedy-det"),
                     ("az:shipped@5,rollout=0.5,playout=det", "random, greedy"),
                     ("az:shipped@5,playout=greedy", "needs rollout=W"),
                     ("az:shipped@0,playout=greedy", "no search option"),
                     ("az:shipped@5,reuse=2", "reuse=1"), ("az:shipped@5,reuse=yes", "reuse=1"),
                     ("az:shipped@0,reuse=1", "no search option")):
        with pytest.raises(ValueError, match=why):
            evaluate.resolve_agent(bad)
    with pytest.raises(FileNotFoundError, match="no AlphaZero checkpoint"):
        alphazero.load_network(str(tmp_path / "missing.pt"))
    torch.save({"model": {}}, tmp_path / "not_az.pt")
    with pytest.raises(ValueError, match="not an AlphaZero checkpoint"):
        alphazero.load_network(str(tmp_path / "not_az.pt"))


def test_search_agent_reuses_each_games_tree_between_decisions():
    """az:PATH@N,reuse=1: a game's tree keeps its statistics when it holds the
    new position (here: the next action of the agent's own turn), so roots
    start the move with more than one search's visits; without reuse they
    never do. Decisions are legal, and the same whatever the worker count."""
    from agents import evaluate

    sims = 24
    plain = evaluate.resolve_agent(f"az:shipped@{sims}")
    reuse = evaluate.resolve_agent(f"az:shipped@{sims},reuse=1")
    assert reuse.reuse and reuse.config.reuse_tree and reuse.name.endswith("-reuse")
    assert not plain.reuse and not plain.config.reuse_tree
    assert not evaluate.resolve_agent(f"az:shipped@{sims},reuse=0").reuse
    most = {}
    for agent in (plain, reuse):
        batch = core.Batch(8, opponent="greedy", agent_seat=[0, 1] * 4, autoreset=False)
        try:
            out = batch.reset(seeds=list(range(40, 48)))
            most[agent.name] = 0
            for _ in range(30):
                idx = np.flatnonzero(~out.terminated.astype(bool))
                if not idx.size:
                    break
                actions = agent.act_in_batch(batch, idx)
                assert out.masks[idx, actions].all(), "an illegal action"
                visits = agent._search.root_visits()[idx]
                # a forced move puts `sims` on its one action and is not searched
                searched = (visits > 0).sum(1) > 1
                if searched.any():
                    most[agent.name] = max(most[agent.name], int(visits[searched].sum(1).max()))
                batch.step_subset(idx, actions)
        finally:
            batch.close()
    assert most[plain.name] <= sims
    assert most[reuse.name] > sims, most
    one = evaluate.play_match("az:shipped@8,reuse=1", "greedy", games=6, seed=2)
    two = evaluate.play_match("az:shipped@8,reuse=1", "greedy", games=6, seed=2, workers=2)
    assert (one.total, one.per_seat, one.per_deck) == (two.total, two.per_seat, two.per_deck)


def test_init_starts_from_a_network_and_rollout_weight_reaches_self_play(tmp_path):
    """--init copies the weights (and shape) of another run's network into a fresh run; --rollout-weight
    (with --rollout-policy) runs self-play with mixed leaf values; all are checked for range and existence."""
    first = train(tiny(tmp_path, iterations=1, eval_every=0, width=48))["checkpoint"]
    src = alphazero.load_network(first)
    fresh = train(tiny(tmp_path, run_dir=str(tmp_path / "init"), iterations=0, init=first))["checkpoint"]
    copied = alphazero.load_network(fresh)
    assert copied.config() == src.config() == {"width": 48, "blocks": 1}
    for a, b in zip(src.state_dict().values(), copied.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.load(fresh, weights_only=False)["state"]["iteration"] == 0
    # --grow-blocks: the deeper network starts as the same function, and then trains its new blocks
    x = torch.randn(9, 326)
    grown = src.grown(2)
    assert grown.config() == {"width": 48, "blocks": 3}
    with torch.no_grad():
        (pa, va), (pb, vb) = src(x), grown(x)
    assert torch.equal(pa, pb) and torch.equal(va, vb)
    deeper = train(tiny(tmp_path, run_dir=str(tmp_path / "grow"), iterations=2, init=first, grow_blocks=2))
    trained = alphazero.load_network(deeper["checkpoint"])
    assert trained.config() == {"width": 48, "blocks": 3}
    assert trained.trunk[2].fc2.weight.abs().sum() > 0  # the new block learned
    for bad, kw in (("needs --init", dict(grow_blocks=1)), (">= 0", dict(grow_blocks=-1, init=first))):
        with pytest.raises(ValueError, match=bad):
            train(tiny(tmp_path, run_dir=str(tmp_path / "badgrow"), **kw))
    out = train(tiny(tmp_path, run_dir=str(tmp_path / "mixed"), iterations=2, init=first, rollout_weight=0.5))
    assert out["state"]["iteration"] == 2 and out["state"]["positions"] > 0
    out = train(tiny(tmp_path, run_dir=str(tmp_path / "greedy"), iterations=1, init=first, rollout_weight=0.5,
                     rollout_policy="greedy-det"))
    assert out["state"]["iteration"] == 1 and out["state"]["positions"] > 0
    with pytest.raises(ValueError, match="rollout_weight"):
        train(tiny(tmp_path, run_dir=str(tmp_path / "bad"), rollout_weight=1.5))
    with pytest.raises(ValueError, match="rollout_policy"):
        train(tiny(tmp_path, run_dir=str(tmp_path / "bad"), rollout_weight=0.5, rollout_policy="smart"))
    with pytest.raises(FileNotFoundError, match="no AlphaZero checkpoint"):
        train(tiny(tmp_path, run_dir=str(tmp_path / "bad2"), init=str(tmp_path / "missing.pt")))


# ---------------------------------------------------------------------------
# Self-play in worker processes (--selfplay-workers).


def _buffer_rows(buf: ReplayBuffer) -> tuple:
    return tuple(x[:buf.size].copy() for x in (buf.obs, buf.masks, buf.policy, buf.value))


def test_a_one_worker_pool_plays_the_games_of_in_process_self_play(tmp_path):
    """Worker 0 gets the in-process seed and a copy of the weights: its first batch is the same games,
    the same visit targets and results, row for row."""
    args = tiny(tmp_path, num_games=4, simulations=8, moves_per_iteration=150)
    torch.manual_seed(0)
    net = PolicyValueNet(32, 1).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the worker's thread count: the same float sums
    try:
        local = SelfPlay(args, Evaluator(net), seed=11)
        here = ReplayBuffer(20_000)
        n_here = local.play(150, here)
        local.close()
    finally:
        torch.set_num_threads(threads)
    pool = alphazero.SelfPlayPool(args, net, seed=11, workers=1)
    try:
        there = ReplayBuffer(20_000)
        n_there = pool.play(150, there)
    finally:
        pool.close()
    assert n_here == n_there > 0
    assert here.size == there.size > 0, "some games finish within 150 moves"
    for a, b in zip(_buffer_rows(here), _buffer_rows(there)):
        np.testing.assert_array_equal(a, b)
    assert pool.games_finished == local.games_finished and pool.results == local.results
    assert pool.game_lengths == local.game_lengths


def test_a_pool_is_deterministic_and_splits_the_games(tmp_path):
    """Two runs of a 2-worker pool with the same seed and weights fill identical buffers, whatever the
    timing: worker 0's rows come first. The second batch is played while the caller 'trains'."""
    args = tiny(tmp_path, num_games=5, simulations=4)
    torch.manual_seed(1)
    net = PolicyValueNet(32, 1)
    runs = []
    for _ in range(2):
        pool = alphazero.SelfPlayPool(args, net, seed=3, workers=2)
        buf = ReplayBuffer(20_000)
        try:
            positions = [pool.play(30, buf) for _ in range(3)]
            runs.append((positions, _buffer_rows(buf), pool.games_finished, dict(pool.results)))
        finally:
            pool.close()
    (pos_a, rows_a, games_a, res_a), (pos_b, rows_b, games_b, res_b) = runs
    assert pos_a == pos_b and games_a == games_b > 0 and res_a == res_b
    assert sum(res_a.values()) == games_a
    for a, b in zip(rows_a, rows_b):
        np.testing.assert_array_equal(a, b)
    assert all(p <= 5 * 30 for p in pos_a), "5 games in all (3 + 2), at most one position per move each"
    import multiprocessing

    assert not multiprocessing.active_children(), "close() joins every worker"


def test_a_dead_worker_is_named_and_the_pool_still_closes(tmp_path):
    import multiprocessing
    import os
    import signal

    args = tiny(tmp_path, num_games=4, simulations=4)
    pool = alphazero.SelfPlayPool(args, PolicyValueNet(32, 1), seed=0, workers=2)
    try:
        buf = ReplayBuffer(5000)
        pool.play(5, buf)  # both workers are up and already playing the next batch
        victim = pool._procs[1]
        os.kill(victim.pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match=rf"self-play worker 1 \(pid {victim.pid}\) died \(exit code -9\)"):
            pool.play(5, buf)
    finally:
        pool.close()
    pool.close()  # idempotent
    assert not multiprocessing.active_children()
    with pytest.raises(ValueError, match="selfplay_workers must be between 1 and num_games"):
        alphazero.SelfPlayPool(args, PolicyValueNet(32, 1), seed=0, workers=5)


def test_train_with_selfplay_workers_checkpoints_resumes_and_leaves_no_process(tmp_path):
    import multiprocessing

    out = train(tiny(tmp_path, iterations=3, selfplay_workers=2, eval_every=3))
    state = out["state"]
    assert state["iteration"] == 3 and state["positions"] > 0 and state["gradient_steps"] > 0
    assert "random" in out["eval"]
    again = train(tiny(tmp_path, iterations=4, selfplay_workers=2, resume="auto", eval_every=0))
    assert again["state"]["iteration"] == 4 and again["state"]["positions"] > state["positions"]
    assert not multiprocessing.active_children()
    with pytest.raises(ValueError, match="selfplay_workers must be between 0 and num_games"):
        train(tiny(tmp_path, run_dir=str(tmp_path / "bad"), selfplay_workers=-1))


def test_a_worker_that_fails_reports_its_error(tmp_path):
    """An unknown deck fails inside the workers' SelfPlay; the pool raises with the worker's own message."""
    import multiprocessing

    args = tiny(tmp_path, num_games=2, simulations=4, decks="no_such_deck")
    pool = alphazero.SelfPlayPool(args, PolicyValueNet(32, 1), seed=0, workers=2)
    try:
        with pytest.raises(RuntimeError, match=r"(?s)self-play worker 0 failed:.*no_such_deck"):
            pool.play(5, ReplayBuffer(100))
    finally:
        pool.close()
    assert not multiprocessing.active_children()


def test_replay_buffer_newest_rows_across_the_wrap():
    buf = ReplayBuffer(5)
    rows = lambda a, b: (np.full((b - a, 326), 0, np.float32) + np.arange(a, b, dtype=np.float32)[:, None],
                         np.ones((b - a, 256), bool), np.full((b - a, 256), 1 / 256, np.float32),
                         np.arange(a, b, dtype=np.float32))
    buf.add(*rows(0, 4))
    buf.add(*rows(4, 7))  # wraps: the ring holds 2..6
    assert buf.added == 7 and buf.size == 5
    np.testing.assert_array_equal(buf.newest(3)[3], [4, 5, 6])
    np.testing.assert_array_equal(buf.newest(3)[0][:, 0], [4, 5, 6])
    np.testing.assert_array_equal(buf.newest(99)[3], [2, 3, 4, 5, 6])


def _random_rows(rng, n: int, sparse: bool = True) -> tuple:
    obs = rng.normal(size=(n, 326)).astype(np.float32)
    masks = rng.random((n, 256)) < 0.05
    masks[:, 255] = True
    policy = rng.random((n, 256)).astype(np.float32) * (masks if sparse else 1)
    policy /= policy.sum(1, keepdims=True)
    return obs, masks, policy, rng.uniform(-1, 1, n).astype(np.float32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(capacity=st.integers(1, 40), sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4),
       reload_capacity=st.integers(1, 60), sparse=st.booleans(), seed=st.integers(0, 2**16))
def test_replay_buffer_save_and_load_round_trip(tmp_path, capacity, sizes, reload_capacity, sparse, seed):
    """Whatever the wrap and the fill, a saved buffer loads with the same rows in the same order (the
    newest ``reload_capacity`` of them into a smaller one), the same ``added`` count, and the metadata;
    a policy with mass outside its mask survives too."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(capacity)
    for n in sizes:
        buf.add(*_random_rows(rng, n, sparse))
    path = str(tmp_path / f"replay_{seed}_{capacity}.npz")
    buf.save(path, iteration=7)
    again, meta = ReplayBuffer.load(path, reload_capacity)
    assert meta == {"iteration": 7}
    assert again.added == buf.added and again.capacity == reload_capacity
    keep = min(buf.size, reload_capacity)
    assert again.size == keep
    for a, b in zip(again.newest(keep), buf.newest(keep)):
        np.testing.assert_array_equal(a, b)


def test_resume_continues_with_the_saved_replay_buffer(tmp_path, capsys):
    """A resumed run starts from the buffer of the checkpoint's iteration; with a buffer of another
    iteration (a run killed between the two writes) or none, it says so and starts empty."""
    train(tiny(tmp_path, eval_every=0, moves_per_iteration=60))
    run = tmp_path / "run"
    saved, meta = ReplayBuffer.load(str(run / "replay.npz"), 5000)
    assert meta == {"iteration": 2} and saved.size > 0
    capsys.readouterr()
    # new games start on resume: 150 moves finish some of them
    train(tiny(tmp_path, iterations=3, resume="auto", eval_every=0, moves_per_iteration=150))
    out = capsys.readouterr().out
    assert f"replay buffer: {saved.size} positions from {run / 'replay.npz'}" in out
    grown, meta = ReplayBuffer.load(str(run / "replay.npz"), 5000)
    assert meta == {"iteration": 3} and grown.added > saved.added
    # The rows saved at iteration 2 are the oldest rows of the buffer saved at iteration 3.
    for a, b in zip(grown.newest(grown.size), saved.newest(saved.size)):
        np.testing.assert_array_equal(a[:saved.size], b)

    saved.save(str(run / "replay.npz"), iteration=2)  # now older than the checkpoint (iteration 3)
    train(tiny(tmp_path, iterations=4, resume="auto", eval_every=0, moves_per_iteration=60))
    assert "is from iteration 2, the checkpoint from 3: starting with an empty one" in capsys.readouterr().out

    (run / "replay.npz").unlink()
    train(tiny(tmp_path, iterations=5, resume="auto", eval_every=0, moves_per_iteration=60, save_buffer=0))
    assert "no replay buffer at" in capsys.readouterr().out
    assert not (run / "replay.npz").exists(), "--save-buffer 0 writes none"


def test_training_reports_held_out_losses_on_the_newest_rows(tmp_path, capsys):
    train(tiny(tmp_path, iterations=2, eval_every=0, moves_per_iteration=120))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("iter")]
    assert len(lines) == 2
    assert all("nan" not in ln for ln in lines), "no loss is printed as nan"
    held = [m.groups() for m in (re.search(r"held out (\S+) / (\S+)\)", ln) for ln in lines) if m]
    assert held, "games finished, so some rows were held out"
    assert len(held) + sum("(no new rows to hold out)" in ln for ln in lines) == 2
    for p, v in held:
        assert 0 <= float(v) <= 4 and float(p) > 0
    train(tiny(tmp_path / "unfilled", iterations=1, eval_every=0, min_buffer=10**6))
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("iter")][-1]
    assert "filling the buffer to 1000000 before training" in line and "policy_loss" not in line


def test_replay_holdout_trains_on_the_old_rows_and_reports_the_new(tmp_path, capsys):
    from agents import replay_holdout

    train(tiny(tmp_path, eval_every=0, moves_per_iteration=80))
    path = str(tmp_path / "run" / "replay.npz")
    rows = replay_holdout.run(path, init="scratch", augment="hands", steps=6, batch_size=16, every=3,
                              width=32, blocks=1)
    assert [r["step"] for r in rows] == [0, 3, 6]
    assert all(0 <= r["heldout_value"] <= 4 and r["heldout_policy_reordered"] > 0 for r in rows)
    assert rows[-1]["heldout_value"] != rows[0]["heldout_value"], "training moved the network"
    assert '"augment": "hands"' in capsys.readouterr().out
    with pytest.raises(ValueError, match="augment"):
        replay_holdout.run(path, augment="lanes")
    with pytest.raises(ValueError, match="holdout"):
        replay_holdout.run(path, holdout=1.0)
    assert replay_holdout.main([path, "--init", str(tmp_path / "run" / "checkpoint.pt"), "--steps", "2",
                                "--batch-size", "8", "--every", "1"]) == 0
