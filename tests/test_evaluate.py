"""Evaluation: Wilson intervals, seeded seat-swapped schedules, batched policy games, Elo, the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from essence_wars import core  # noqa: E402

from agents.evaluate import Record, fit_elo, play_match, wilson_interval  # noqa: E402


class UniformPolicy:
    """A batched policy without torch: uniform over the legal actions."""

    name = "uniform"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, obs, masks):
        assert obs.shape[1] == core.OBS_SIZE and masks.shape[1] == core.NUM_ACTIONS
        return (self.rng.random(masks.shape) * masks.astype(bool)).argmax(1)


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(80, 100)
    assert abs(lo - 0.7112) < 1e-3 and abs(hi - 0.8666) < 1e-3
    assert wilson_interval(0, 10)[0] < 1e-12 and wilson_interval(10, 10)[1] > 1 - 1e-12
    r = Record(wins=800, draws=10, losses=190)
    assert r.games == 1000 and r.win_rate == 0.8 and abs(r.score - 0.805) < 1e-12


def test_bot_match_is_seeded_seat_swapped_and_deck_rotated():
    decks = core.list_decks()
    a = play_match("greedy", "random", games=144, seed=5)
    b = play_match("greedy", "random", games=144, seed=5)
    assert a.as_dict()["per_deck"] == b.as_dict()["per_deck"]
    assert a.total.games == 144
    assert a.per_seat[0].games == a.per_seat[1].games == 72
    assert set(a.per_deck) == set(decks) and all(r.games == 24 for r in a.per_deck.values())
    assert a.total.win_rate > 0.85  # greedy beats random (the rules promise >= 95%)


def test_batched_policy_games_and_role_swap():
    ab = play_match(UniformPolicy(1), "greedy", games=200, seed=2)
    ba = play_match("greedy", UniformPolicy(1), games=200, seed=2)
    assert ab.total.games == ba.total.games == 200
    assert ab.total.win_rate < 0.2 and ba.total.win_rate > 0.8
    pp = play_match(UniformPolicy(3), UniformPolicy(4), games=400, seed=2)
    assert pp.total.games == 400 and 0.35 < pp.total.score < 0.65


def test_workers_play_the_same_games():
    # bots and a deterministic policy: each game's result depends on its deal alone, so the
    # split over processes changes nothing
    one = play_match("mcts-5", "greedy", games=24, seed=3)
    two = play_match("mcts-5", "greedy", games=24, seed=3, workers=2)
    assert one.as_dict()["per_deck"] == two.as_dict()["per_deck"] and two.total.games == 24
    pytest.importorskip("torch")
    # and a sampling policy: its numbers come from (seed, game, decision), not from its row in a batch
    for deterministic in (True, False):
        one = play_match("shipped", "greedy", games=24, seed=4, deterministic=deterministic)
        two = play_match("shipped", "greedy", games=24, seed=4, deterministic=deterministic, workers=2)
        assert one.as_dict()["per_deck"] == two.as_dict()["per_deck"]
        assert one.as_dict()["per_seat"] == two.as_dict()["per_seat"]


def _per_game(a, b, games: int, chunk: int, seed: int = 7):
    """Per-game results of resolved agents a and b, the schedule played ``chunk`` games at a time."""
    from agents import evaluate

    sched = list(evaluate._schedule(games, core.list_decks(), seed))
    return [r for start in range(0, games, chunk) for r in evaluate._play(a, b, sched[start:start + chunk], "attrition")]


def test_sampled_games_do_not_depend_on_the_chunking():
    """Each game's result is the same whether it is played in one batch or in
    chunks of 5 or 1 (what --workers changes): for a sampling policy against
    a bot and against another sampling policy, in either seat, and for a
    search with random playouts. A shared generator failed this."""
    torch = pytest.importorskip("torch")
    from agents.checkpoint import make_policy
    from agents.evaluate import resolve_agent
    from agents.networks import ActorCritic

    torch.manual_seed(0)
    plain = make_policy(ActorCritic(hidden=16, layers=1), seed=11)
    after = resolve_agent("shipped", seed=12)
    search = resolve_agent("az:shipped@4,rollout=0.5", seed=13)
    for a, b, games in ((plain, "greedy", 24), ("random", after, 24), (plain, after, 24), (search, "random", 12)):
        whole = _per_game(a, b, games, games)
        assert _per_game(a, b, games, 5) == whole
        assert _per_game(a, b, games, 1) == whole
    # a different seed gives other games (the numbers do depend on the seed)
    other = make_policy(ActorCritic(hidden=16, layers=1), seed=12)
    other.network.load_state_dict(plain.network.state_dict())
    assert _per_game(plain, plain, 24, 24) != _per_game(other, other, 24, 24)


def test_workers_need_agents_by_name():
    with pytest.raises(ValueError, match="by name"):
        play_match(UniformPolicy(1), "greedy", games=4, workers=2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            play_match("random", "greedy", games=4, workers=bad)
    pytest.importorskip("torch")
    with pytest.raises(FileNotFoundError):
        play_match("random", "no/such/checkpoint.pt", games=4, workers=2)  # in the parent, before any process


def test_elo_fit_recovers_a_known_gap():
    # random scores 24% against b: b is ~200 Elo above random (anchored at 0).
    elo = fit_elo(["random", "b"], {(0, 1): (240.0, 1000)})
    assert elo["random"] == 0.0
    assert 185 < elo["b"] < 215
    three = fit_elo(["a", "b", "c"], {(0, 1): (750, 1000), (1, 2): (750, 1000), (0, 2): (900, 1000)})
    assert three["a"] > three["b"] > three["c"]


def test_eval_cli_with_a_checkpoint(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from agents.checkpoint import save_checkpoint
    from agents.networks import ActorCritic
    import agents.commands  # noqa: F401  (registers train and eval)
    from essence_wars import cli

    path = tmp_path / "ck.pt"
    torch.manual_seed(0)
    save_checkpoint(path, ActorCritic(hidden=16, layers=1))
    assert cli.main(["eval", "--agent", str(path), "--opponent", "random", "greedy", "--games", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["opponent"] for o in out] == ["random", "greedy"]
    assert all(o["games"] == 40 and len(o["win_rate_ci95"]) == 2 for o in out)
    assert cli.main(["eval", "--agent", "greedy", "--opponent", "random", str(path), "--games", "20", "--elo"]) == 0
    assert "Elo" in capsys.readouterr().out
