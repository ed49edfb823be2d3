"""Expert data from the rollout MCTS bot, and the network distilled from it (agents/expert.py)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents import expert  # noqa: E402
from agents.expert import Args, generate, load_data, play_game  # noqa: E402
from essence_wars import core  # noqa: E402

DECKS = core.list_decks()


def small(tmp_path, **kw) -> Args:
    base = dict(run_dir=str(tmp_path / "run"), bot="mcts-12", games=6, workers=1, width=32, blocks=1, epochs=2,
                batch_size=64)
    base.update(kw)
    return Args(**base)


def test_a_game_gives_consistent_targets():
    rows = play_game("mcts-12", 3, 5, DECKS, "attrition")
    n = len(rows["z"])
    assert n > 10 and rows["obs"].shape == (n, core.OBS_SIZE) and (rows["game"] == 5).all()
    assert np.allclose(rows["policy"].sum(1), 1.0)
    assert not rows["policy"][~rows["masks"]].any(), "visits only on legal actions"
    assert (rows["masks"].sum(1) > 1).all(), "forced moves are not recorded"
    assert ((rows["q"] >= -1) & (rows["q"] <= 1)).all()
    assert set(np.unique(rows["z"])) <= {-1.0, 0.0, 1.0}
    if rows["winner"] >= 0:
        # both players moved, so the results of their positions have both signs
        assert set(np.unique(rows["z"])) == {-1.0, 1.0}
    again = play_game("mcts-12", 3, 5, DECKS, "attrition")
    for k in expert._COLUMNS:
        assert np.array_equal(rows[k], again[k]), k
    other = play_game("mcts-12", 3, 6, DECKS, "attrition")
    assert len(other["z"]) != n or not np.array_equal(other["obs"], rows["obs"])


def test_the_data_does_not_depend_on_the_worker_count(tmp_path):
    one = generate(small(tmp_path, games=4, workers=1), str(tmp_path / "a.npz"), progress=False)
    two = generate(small(tmp_path, games=4, workers=2), str(tmp_path / "b.npz"), progress=False)
    for k in expert._COLUMNS:
        assert np.array_equal(one[k], two[k]), k
    assert list(np.unique(one["game"])) == [0, 1, 2, 3]
    loaded = load_data(str(tmp_path / "b.npz"))
    assert loaded["meta"]["games"] == 4 and loaded["meta"]["bot"] == "mcts-12"
    assert loaded["meta"]["p0_wins"] + loaded["meta"]["p1_wins"] + loaded["meta"]["draws"] == 4
    assert np.array_equal(loaded["policy"], one["policy"])
    # Several files concatenate in order, their games kept apart.
    both = expert.load_many(f"{tmp_path / 'a.npz'},{tmp_path / 'b.npz'}")
    assert len(both["z"]) == 2 * len(one["z"]) and both["meta"]["games"] == 8
    assert list(np.unique(both["game"])) == list(range(8))
    for k in ("obs", "policy", "q"):
        assert np.array_equal(both[k], np.concatenate([one[k], two[k]])), k
    assert expert.load_many(str(tmp_path / "a.npz"))["meta"]["games"] == 4
    with pytest.raises(FileNotFoundError, match="no expert data"):
        expert.load_many(f"{tmp_path / 'a.npz'},{tmp_path / 'missing.npz'}")


def test_a_time_limit_keeps_a_prefix_of_the_games(tmp_path):
    full = generate(small(tmp_path, games=5), str(tmp_path / "full.npz"), progress=False)
    cut = generate(small(tmp_path, games=5, time_limit=1e-9), str(tmp_path / "cut.npz"), progress=False)
    games = np.unique(cut["game"])
    assert list(games) == [0], "the first finished game is kept, no more are started"
    keep = full["game"] == 0
    for k in expert._COLUMNS:
        assert np.array_equal(cut[k], full[k][keep]), k


def test_ctrl_c_keeps_the_finished_games(tmp_path, monkeypatch):
    real = expert.play_game

    def interrupted_at_game_2(bot, seed, index, decks, mode):
        if index == 2:
            raise KeyboardInterrupt
        return real(bot, seed, index, decks, mode)

    monkeypatch.setattr(expert, "play_game", interrupted_at_game_2)
    path = tmp_path / "cut.npz"
    with pytest.raises(KeyboardInterrupt):
        generate(small(tmp_path, games=5), str(path), progress=False)
    kept = load_data(str(path))
    assert kept["meta"]["games"] == 2 and list(np.unique(kept["game"])) == [0, 1]


def test_bad_settings_fail_before_any_game(tmp_path):
    for bad in ("greedy", "random", "mcts-0", "minimax"):
        with pytest.raises(ValueError):
            generate(small(tmp_path, bot=bad), str(tmp_path / "x.npz"), progress=False)
    with pytest.raises(core.UnknownDeckError):
        generate(small(tmp_path, decks="no_such_deck"), str(tmp_path / "x.npz"), progress=False)
    with pytest.raises(ValueError, match="games"):
        generate(small(tmp_path, games=0), str(tmp_path / "x.npz"), progress=False)
    with pytest.raises(ValueError, match="workers"):
        generate(small(tmp_path, workers=0), str(tmp_path / "x.npz"), progress=False)
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(FileNotFoundError, match="no expert data"):
        expert.train(small(tmp_path, data=str(tmp_path / "missing.npz")), progress=False)
    np.savez(tmp_path / "other.npz", obs=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not expert data"):
        load_data(str(tmp_path / "other.npz"))
    data = generate(small(tmp_path, games=1), str(tmp_path / "y.npz"), progress=False)
    with pytest.raises(ValueError, match="q_weight"):
        expert.distill(small(tmp_path, q_weight=1.5), data, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        expert.distill(small(tmp_path, epochs=0), data, progress=False)
    for coefs in (dict(policy_coef=-1.0), dict(value_coef=-0.5), dict(policy_coef=0.0, value_coef=0.0)):
        with pytest.raises(ValueError, match="policy_coef and value_coef"):
            expert.distill(small(tmp_path, **coefs), data, progress=False)


def greedy_teacher_data(games: int, seed: int = 0) -> dict:
    """Positions of random-vs-greedy games labelled with the greedy bot's move (one-hot): a teacher
    that is a deterministic function of the position, so a network can learn it from few rows."""
    cols = {k: [] for k in expert._COLUMNS}
    rng = np.random.default_rng(seed)
    for i in range(games):
        d0, d1 = rng.choice(DECKS, 2)
        with core.Game(seed=seed * 1000 + i, deck0=str(d0), deck1=str(d1)) as g:
            while not g.is_done():
                mask = g.action_mask()
                target = g.greedy_action(seed=0)
                if mask.sum() > 1:
                    cols["obs"].append(g.observe())
                    cols["masks"].append(mask)
                    cols["policy"].append(np.eye(core.NUM_ACTIONS, dtype=np.float32)[target])
                    cols["z"].append(0.0)
                    cols["q"].append(0.0)
                    cols["game"].append(i)
                g.step(int(target if rng.random() < 0.5 else g.random_action(int(rng.integers(1 << 30)))))
    return {k: np.array(v, np.float32 if k in ("obs", "policy", "z", "q") else None) for k, v in cols.items()}


def test_distillation_learns_a_teacher_on_held_out_games(tmp_path):
    data = greedy_teacher_data(60)
    out = expert.distill(small(tmp_path, epochs=8, width=64, lr=3e-3), data, progress=False)
    best = min(out["history"], key=lambda h: h["policy_loss"] + h["value_loss"])
    assert out["best_epoch"] == best["epoch"]
    # every 20th game is held out: positions the network never trained on
    assert best["agreement"] > out["before"]["agreement"] + 0.12, out
    assert best["policy_kl"] < out["before"]["policy_kl"] - 0.1, out
    ckpt = torch.load(out["checkpoint"], weights_only=False)
    assert ckpt["state"]["epoch"] == out["best_epoch"] and ckpt["kind"] == "expert"


def test_value_only_distillation_learns_the_value_and_keeps_the_best_value_epoch(tmp_path):
    data = greedy_teacher_data(40)
    # A per-position value target a network can learn: the life difference, squashed.
    data["q"] = np.tanh(4 * (data["obs"][:, 3] - data["obs"][:, 10])).astype(np.float32)
    out = expert.distill(small(tmp_path, epochs=5, width=64, lr=3e-3, policy_coef=0.0, q_weight=1.0), data,
                         progress=False)
    best = min(out["history"], key=lambda h: h["value_loss"])
    assert out["best_epoch"] == best["epoch"]  # chosen by the value loss alone
    assert best["value_loss"] < 0.5 * out["before"]["value_loss"], out


def test_the_distilled_checkpoint_is_an_alphazero_one(tmp_path):
    from agents import alphazero, evaluate

    out = expert.train(small(tmp_path, games=3, workers=2, epochs=1), progress=False)
    ckpt = torch.load(out["checkpoint"], weights_only=False)
    assert ckpt["state"]["data"]["games"] == 3 and ckpt["state"]["data"]["bot"] == "mcts-12"
    # it plays with search, and self-play can start from it
    agent = evaluate.resolve_agent(f"az:{out['checkpoint']}@4")
    assert evaluate.play_match(agent, "random", games=2, seed=1).total.games == 2
    run = alphazero.train(alphazero.Args(run_dir=str(tmp_path / "az"), iterations=1, num_games=4,
                                         moves_per_iteration=10, simulations=4, min_buffer=8, train_steps=1,
                                         batch_size=8, eval_every=0, init=out["checkpoint"]))
    assert run["state"]["iteration"] == 1


def test_cli_registers_train_expert(tmp_path):
    from agents import commands
    from essence_wars import cli

    assert "expert" in commands.TRAINERS
    ns = cli.build_parser().parse_args(["train", "expert", "--bot", "mcts-50", "--games", "3",
                                        "--run-dir", str(tmp_path)])
    assert ns.algorithm == "expert" and ns.bot == "mcts-50" and ns.games == 3
