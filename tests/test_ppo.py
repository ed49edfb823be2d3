"""PPO: masking, GAE, reward attribution per seat, checkpoints, resume, learning.

Fast on purpose (CI): the learning test trains for ~20-40 s on 2 cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
# One intra-op thread: on a small shared CI machine a second torch thread that
# waits for a busy core makes these tests many times slower.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # agents/ lives beside essence_wars/ in the source tree
    sys.path.insert(0, str(ROOT))

from essence_wars import core  # noqa: E402

import agents  # noqa: E402
from agents import ppo  # noqa: E402
from agents.batch_env import BatchVecEnv  # noqa: E402
from agents.checkpoint import Policy, load_checkpoint, make_policy, save_checkpoint  # noqa: E402
from agents.evaluate import play_match  # noqa: E402
from agents.networks import (ActorCritic, afterstate_rows, chosen_afterstate_rows, masked_entropy,  # noqa: E402
                             masked_logits)


def _positions(n_envs: int = 64, steps: int = 60, seed: int = 3):
    """Real observations and masks from random self-play games."""
    env = BatchVecEnv(n_envs, opponent=None, seed=seed)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    all_obs, all_masks = [], []
    for _ in range(steps):
        all_obs.append(obs["observation"].copy())
        all_masks.append(obs["action_mask"].copy())
        m = obs["action_mask"]
        obs, *_ = env.step((rng.random(m.shape) * m).argmax(1))
    env.close()
    return np.concatenate(all_obs), np.concatenate(all_masks)


# ---------------------------------------------------------------------------
# masking


@pytest.mark.parametrize("head", ["features", "mlp", "none"])
def test_masking_never_samples_an_illegal_action(head):
    obs, masks = _positions()
    torch.manual_seed(0)
    net = ActorCritic(hidden=32, layers=1, action_features=head == "features", action_mlp=head == "mlp")
    # Make illegal actions as tempting as possible: a huge bias on every action.
    with torch.no_grad():
        net.actor_out.bias.fill_(50.0)
        net.actor_out.bias[255] = -50.0
    o, m = torch.from_numpy(obs), torch.from_numpy(masks)
    for _ in range(5):
        action, logp, entropy, _ = net.get_action_and_value(o, m)
        assert m[torch.arange(len(action)), action].all()
        assert torch.isfinite(logp).all() and torch.isfinite(entropy).all()
    policy = Policy(net, seed=1)
    for _ in range(5):
        a = policy.act(obs, masks)
        assert masks[np.arange(len(a)), a].all()
    assert masks[0, policy(obs[0], masks[0].astype(np.int8))]
    probs = policy.probabilities(obs, masks)
    assert np.all(probs[~masks] == 0.0)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_legal_action_head_scores_exactly_the_legal_actions():
    """The legal-action head adds its score to legal actions only; the score of a legal action
    does not depend on which other actions are legal; and it trains (gradients reach both layers)."""
    obs, masks = _positions(16, 20)
    torch.manual_seed(2)
    net = ActorCritic(hidden=32, layers=1, action_mlp=True)
    with torch.no_grad():
        net.legal_head.out.weight.normal_()  # make its scores visible next to the trunk's logits
    o, m = torch.from_numpy(obs), torch.from_numpy(masks)
    x = net.obs_rms.normalize(o)
    base = net.actor_out(net.actor_trunk(x))
    with_mask = net.actor_logits(o, x, m)
    every = net.actor_logits(o, x)  # no mask: every action that can ever be legal
    assert torch.equal(with_mask[~m], base[~m])
    assert (with_mask[m] != base[m]).float().mean() > 0.99
    torch.testing.assert_close(with_mask[m], every[m])
    assert torch.equal(every[:, 135:255], base[:, 135:255]), "reserved actions are never scored"
    net.get_logits(o, m).logsumexp(-1).sum().backward()
    assert net.legal_head.fc2.weight.grad.abs().sum() > 0 and net.legal_head.hand.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="one action head"):
        ActorCritic(action_features=True, action_mlp=True)


def test_entropy_is_over_legal_actions_only():
    mask = torch.zeros(2, 256, dtype=torch.bool)
    mask[0, [3, 7, 255]] = True
    mask[1, 255] = True
    logits = masked_logits(torch.zeros(2, 256), mask)
    ent = masked_entropy(logits, mask)
    np.testing.assert_allclose(ent.numpy(), [np.log(3), 0.0], atol=1e-6)


# ---------------------------------------------------------------------------
# GAE and reward attribution


def test_gae_against_a_hand_computed_example():
    # One env, 5 steps: L, O, O, L(game ends on its move, +1), L (new game).
    gamma, lam = 0.9, 0.8
    rewards = np.array([[0], [0], [0], [1], [0]], np.float32)
    dones = np.array([[0], [0], [0], [1], [0]], bool)
    learner = np.array([[1], [0], [0], [1], [1]], bool)
    values = np.array([[0.5], [9.0], [9.0], [0.2], [0.3]], np.float32)  # opponent values are ignored
    next_value = np.array([0.4], np.float32)
    adv, ret = ppo.compute_gae(rewards, dones, learner, values, next_value, gamma, lam)
    d4 = 0 + gamma * 0.4 - 0.3               # step 4: bootstraps from next_value
    a4 = d4
    d3 = 1 - 0.2                              # step 3: terminal, reward +1
    a3 = d3
    d0 = 0 + gamma * 0.2 - 0.5                # step 0: next decision point is step 3
    a0 = d0 + gamma * lam * a3
    np.testing.assert_allclose(adv[:, 0], [a0, 0, 0, a3, a4], rtol=1e-6)
    np.testing.assert_allclose(ret[:, 0], [a0 + 0.5, 0, 0, a3 + 0.2, a4 + 0.3], rtol=1e-6)


def _play_until(predicate, max_seeds: int = 400):
    """A random self-play game (actor, reward, done per step) whose outcome satisfies predicate."""
    for seed in range(max_seeds):
        rng = np.random.default_rng(seed)
        with core.Game(seed, "symbiote_aggro", "symbiote_aggro") as g:
            steps = []
            while not g.is_done():
                actor = g.current_player()
                legal = g.legal_actions()
                r, done = g.step(int(legal[rng.integers(len(legal))]))
                steps.append((actor, r, done))
            if predicate(g.winner(), steps[-1][0]):
                return g.winner(), steps
    raise AssertionError("no such game found")


@pytest.mark.parametrize("winner", [1, 0])
def test_reward_sign_per_seat(winner):
    # A game won by `winner` on its own move: for the other seat's learner the
    # game ends on the opponent's move, and its last transition must still get -1.
    _, steps = _play_until(lambda w, last: w == winner and last == winner)
    actors = np.array([a for a, _, _ in steps])
    rewards = np.array([[r] for _, r, _ in steps], np.float32)
    dones = np.array([[d] for _, _, d in steps], bool)
    assert actors[-1] == winner
    for seat in (0, 1):
        expected = 1.0 if seat == winner else -1.0
        mine = (actors == seat)[:, None]
        r_learner = ppo.learner_rewards(rewards, mine, np.array([False]))
        # gamma = 1, lambda = 0, zero values: each learner step's advantage is its reward.
        adv, _ = ppo.compute_gae(r_learner, dones, mine, np.zeros_like(rewards), np.zeros(1, np.float32), 1.0, 0.0)
        learner_steps = np.flatnonzero(mine[:, 0])
        assert adv[learner_steps[-1], 0] == expected, f"seat {seat}"
        assert np.all(adv[learner_steps[:-1], 0] == 0)
        assert adv[~mine[:, 0], 0].sum() == 0  # opponent steps never enter the batch


def test_bot_env_rewards_are_the_learners_own():
    rewards = np.array([1.0, -1.0, 1.0], np.float32)
    bot = np.array([True, True, False])
    acted = np.array([True, True, False])  # third: opponent's winning move in a policy env
    np.testing.assert_array_equal(ppo.learner_rewards(rewards, acted, bot), [1.0, -1.0, -1.0])


# ---------------------------------------------------------------------------
# checkpoints and resume


@pytest.mark.parametrize("name", sorted(ppo.POTENTIALS))
def test_shaping_potentials_are_zero_sum_and_bounded(name):
    """phi of a position is minus phi of the same position seen from the other seat (the
    trainer negates phi when the opponent is to move), and stays small next to a win's +1."""
    potential = ppo.POTENTIALS[name]
    rng = np.random.default_rng(3)
    decks = core.list_decks()
    seen = []
    for seed in range(30):
        with core.Game(seed=seed, deck0=decks[seed % 6], deck1=decks[(seed // 6) % 6]) as g:
            for k in range(int(rng.integers(0, 120))):
                if g.is_done():
                    break
                g.step(g.greedy_action(seed=k) if k % 2 else g.random_action(seed=k))
            mine, theirs = g.observe(seat=0), g.observe(seat=1)
            assert potential(mine) == pytest.approx(-potential(theirs), abs=1e-5)
            both = potential(np.stack([mine, theirs]))
            assert both.shape == (2,) and both[0] == pytest.approx(-both[1], abs=1e-5)
            seen.append(abs(float(potential(mine))))
    assert max(seen) < 4.0 and max(seen) > 0.0


def test_material_potential_counts_the_board():
    """A creature more on my side raises phi by its value: 2 + 1.3 attack + 1 health (+ keywords) over 30."""
    obs = np.zeros(326, np.float32)
    base = float(ppo.material_potential(obs))
    lane = obs.copy()
    lane[116 + 19 * 2 + 0], lane[116 + 19 * 2 + 1], lane[116 + 19 * 2 + 3] = 0.3, 0.2, 1.0  # a 3/2 with Guard
    assert float(ppo.material_potential(lane)) - base == pytest.approx((2 + 1.3 * 3 + 2 + 1.0) / 30, abs=1e-5)
    theirs = obs.copy()
    theirs[211 + 19 * 4 + 0], theirs[211 + 19 * 4 + 1] = 0.3, 0.2
    assert float(ppo.material_potential(theirs)) - base == pytest.approx(-(2 + 1.3 * 3 + 2) / 30, abs=1e-5)


def test_checkpoint_round_trip_gives_identical_probabilities(tmp_path):
    obs, masks = _positions(16, 20)
    torch.manual_seed(1)
    net = ActorCritic(hidden=64, layers=2)
    net.obs_rms.update(torch.from_numpy(obs))  # a non-trivial normaliser must travel too
    opt = torch.optim.Adam(net.parameters())
    path = tmp_path / "ck.pt"
    save_checkpoint(path, net, opt, {"hidden": 64}, global_step=123, iteration=4)
    loaded = agents.load(path)
    before = Policy(net).probabilities(obs, masks)
    after = loaded.probabilities(obs, masks)
    np.testing.assert_array_equal(before, after)
    state = load_checkpoint(path)
    assert state["global_step"] == 123 and state["optimizer"] is not None and state["config"]["hidden"] == 64


def _tiny_args(tmp_path, **kw) -> ppo.Args:
    base = dict(num_envs=8, num_steps=16, total_timesteps=256, eval_every=0, final_eval_games=0, save_every=1,
                progress=False, run_dir=str(tmp_path), exp_name="tiny", hidden=32, layers=1, league_every=1,
                env="batch")
    base.update(kw)
    return ppo.Args(**base)


def test_resume_continues_the_step_counter(tmp_path):
    first = ppo.train(_tiny_args(tmp_path))
    assert first["global_step"] == 256 and first["iterations"] == 2
    ck = Path(first["checkpoint"])
    second = ppo.train(_tiny_args(tmp_path, exp_name="tiny2", total_timesteps=512, resume=str(ck)))
    assert second["global_step"] == 512 and second["iterations"] == 4
    state = load_checkpoint(second["checkpoint"])
    assert state["global_step"] == 512 and len(state["league"]) >= 2


# ---------------------------------------------------------------------------
# learning


@pytest.mark.parametrize("afterstate", [0, 64], ids=["mlp", "afterstate"])
def test_short_run_clearly_beats_the_untrained_policy_against_random(tmp_path, afterstate):
    torch.manual_seed(0)
    untrained = make_policy(ActorCritic(hidden=128, layers=2, afterstate=afterstate), seed=0, name="untrained")
    before = play_match(untrained, "random", games=800, seed=99)
    # Mostly random opponents, a small network: the cheapest setting that learns clearly (the
    # afterstate head learns faster per step and costs more per step, hence fewer steps).
    args = ppo.Args(num_envs=32, num_steps=64, total_timesteps=120_000 if not afterstate else 40_960,
                    frac_greedy=0.0, frac_random=0.75, eval_every=0, final_eval_games=0, save_every=0,
                    progress=False, run_dir=str(tmp_path), exp_name="learn", hidden=128, layers=2,
                    action_features=False, afterstate=afterstate, learning_rate=1e-3, num_minibatches=4,
                    env="batch", seed=3)
    summary = ppo.train(args)
    after = play_match(agents.load(summary["checkpoint"], seed=0), "random", games=800, seed=99)
    lo_after, _ = after.total.interval()
    _, hi_before = before.total.interval()
    print(before.total.line(), "->", after.total.line())
    assert lo_after > hi_before + 0.05, (before.total.line(), after.total.line())


# ---------------------------------------------------------------------------
# the afterstate head


def test_afterstate_rows_selects_each_positions_block_in_order():
    counts = torch.tensor([2, 0, 3, 1])  # blocks: [0,1], [], [2,3,4], [5]
    assert afterstate_rows(counts, torch.tensor([2, 0])).tolist() == [2, 3, 4, 0, 1]
    assert afterstate_rows(counts, torch.tensor([3, 1, 3])).tolist() == [5, 5]
    assert afterstate_rows(counts, torch.tensor([1])).numel() == 0


def _afterstate_positions(n: int = 12, steps: int = 15, seed: int = 5):
    """Positions of random self-play games in a batch, with their afterstates (one block per game)."""
    batch = core.Batch(n, opponent=None, autoreset=True, seed=seed)
    out = batch.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        m = out.masks.astype(bool)
        batch.step((rng.random(m.shape) * m).argmax(1), out=out)
    a_obs, a_res, counts = batch.afterstates()
    return batch, out.obs.copy(), out.masks.astype(bool), a_obs, a_res, counts


def test_afterstate_head_scores_each_legal_action_by_where_it_leads():
    batch, obs, masks, a_obs, a_res, counts = _afterstate_positions()
    try:
        assert counts.tolist() == masks.sum(1).tolist()
        torch.manual_seed(4)
        net = ActorCritic(hidden=32, layers=1, afterstate=16)
        with torch.no_grad():
            net.after_head.net[-1].weight.normal_()  # make its scores visible next to the trunk's logits
        o, m = torch.from_numpy(obs), torch.from_numpy(masks)
        after = (torch.from_numpy(a_obs), torch.from_numpy(a_res))
        x = net.obs_rms.normalize(o)
        base = net.actor_out(net.actor_trunk(x))
        logits = net.actor_logits(o, x, m, after)
        assert torch.equal(logits[~m], base[~m])
        # A legal action's extra score is the head's value of its own afterstate.
        pos, act = m.nonzero(as_tuple=True)
        own = net.after_head.net(torch.cat([net.obs_rms.normalize(after[0]), after[1][:, None]], 1)).squeeze(-1)
        torch.testing.assert_close(logits[pos, act] - base[pos, act], own)
        # Only the legal actions can be sampled, and gradients reach the head.
        action, logp, entropy, _ = net.get_action_and_value(o, m, after=after)
        assert m[torch.arange(len(action)), action].all() and torch.isfinite(logp).all()
        net.get_logits(o, m, after).logsumexp(-1).sum().backward()
        assert net.after_head.net[0].weight.grad.abs().sum() > 0
        with pytest.raises(ValueError, match="afterstates"):
            net.actor_logits(o, x, m)
        with pytest.raises(ValueError, match="afterstate rows"):
            net.actor_logits(o, x, m, (after[0][1:], after[1][1:]))
    finally:
        batch.close()


def test_chosen_afterstate_rows_are_where_the_taken_actions_lead():
    batch, obs, masks, a_obs, a_res, counts = _afterstate_positions(10, 12, seed=9)
    try:
        rng = np.random.default_rng(2)
        actions = (rng.random(masks.shape) * masks).argmax(1)  # a random legal action per game
        rows = chosen_afterstate_rows(torch.from_numpy(masks), torch.from_numpy(actions)).numpy()
        for i in range(len(actions)):
            with batch.game(i) as g:
                mover = g.current_player()
                reward, _ = g.step(int(actions[i]))
                np.testing.assert_array_equal(a_obs[rows[i]], g.observe(seat=mover))
                assert a_res[rows[i]] == reward
    finally:
        batch.close()


def test_afterstate_value_output_is_trained_towards_the_return(tmp_path):
    """--afterstate-value-coef gives the head a value output on its hidden features; training moves it
    (and logs its loss), checkpoints keep it, and asking for it without the head is a clear error."""
    batch, obs, masks, a_obs, a_res, counts = _afterstate_positions(6, 8)
    batch.close()
    plain = ActorCritic(hidden=32, layers=1, afterstate=16)
    with pytest.raises(ValueError, match="no value output"):
        plain.after_head.values(torch.from_numpy(a_obs), torch.from_numpy(a_res))
    with pytest.raises(ValueError, match="afterstate > 0"):
        ActorCritic(hidden=32, layers=1, afterstate_value=True)
    kw = dict(afterstate=16, afterstate_value_coef=1.0, seed=3)
    first = ppo.train(_tiny_args(tmp_path, **kw))
    assert load_checkpoint(first["checkpoint"])["network"]["afterstate_value"] is True
    before = agents.load(first["checkpoint"]).network.after_head.value_out.weight.detach().clone()
    second = ppo.train(_tiny_args(tmp_path, exp_name="tiny2", total_timesteps=512, resume=first["checkpoint"], **kw))
    after = agents.load(second["checkpoint"]).network.after_head.value_out.weight.detach()
    # Only the auxiliary loss reaches value_out (the policy never reads it), so a change is its doing.
    assert (after - before).abs().max() > 1e-4
    events = list(Path(first["checkpoint"]).parent.glob("events.*"))
    assert events and any(b"afterstate_value_loss" in e.read_bytes() for e in events)


def test_afterstate_policy_round_trip_and_play(tmp_path):
    """An afterstate checkpoint loads as a policy that needs the game: the same probabilities through
    act_in_batch and act_game, legal actions in every form, a clear error from the observation-only
    forms, and it plays as a Gymnasium env opponent and in essence-wars eval."""
    from essence_wars.env import EssenceWarsEnv

    from agents.checkpoint import AfterstatePolicy

    batch, obs, masks, a_obs, a_res, counts = _afterstate_positions(8, 10)
    try:
        torch.manual_seed(1)
        net = ActorCritic(hidden=32, layers=1, afterstate=16)
        net.obs_rms.update(torch.from_numpy(obs))
        path = tmp_path / "after.pt"
        save_checkpoint(path, net, None, {}, global_step=7, iteration=1)
        policy = agents.load(path, deterministic=True)
        assert isinstance(policy, AfterstatePolicy) and policy.network.afterstate == 16
        after = (torch.from_numpy(a_obs), torch.from_numpy(a_res))
        expected = net.get_logits(torch.from_numpy(obs), torch.from_numpy(masks), after).argmax(-1).numpy()
        np.testing.assert_array_equal(policy.act_in_batch(batch, np.arange(8)), expected)
        for i in range(8):
            with batch.game(i) as g:
                assert policy.act_game(g) == expected[i]
        with pytest.raises(TypeError, match="needs the game"):
            policy.act(obs, masks)
        with pytest.raises(TypeError, match="needs the game"):
            policy(obs[0], masks[0])
    finally:
        batch.close()
    env = EssenceWarsEnv(opponent=agents.load(path, seed=3), agent_seat=1)
    try:
        ob, info = env.reset(seed=2)
        done = False
        while not done:
            mask = ob["action_mask"]
            ob, _, term, trunc, info = env.step(int(np.flatnonzero(mask)[0]))
            done = term or trunc
    finally:
        env.close()
    res = play_match(str(path), "random", games=20, seed=4)
    assert res.total.games == 20


def test_afterstate_training_runs_evaluates_and_resumes(tmp_path):
    first = ppo.train(_tiny_args(tmp_path, afterstate=16, eval_every=1, eval_games=4))
    assert first["global_step"] == 256
    second = ppo.train(_tiny_args(tmp_path, exp_name="tiny2", total_timesteps=512, resume=first["checkpoint"]))
    assert second["global_step"] == 512
    state = load_checkpoint(second["checkpoint"])
    assert state["network"]["afterstate"] == 16 and len(state["league"]) >= 2
    with pytest.raises(ValueError, match="--env batch"):
        ppo.train(_tiny_args(tmp_path, exp_name="tiny3", afterstate=16, env="vec"))


def test_the_shipped_checkpoint_loads_and_plays_well():
    """agents.load() with no path is the packaged checkpoint: an afterstate policy that beats the
    random bot clearly (97.7% over 1000 games when shipped; 200 games here, lower bound > 85%)."""
    from agents.checkpoint import SHIPPED, AfterstatePolicy

    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 5_000_000, "a few MB at most"
    policy = agents.load()
    assert isinstance(policy, AfterstatePolicy)
    assert load_checkpoint(SHIPPED)["optimizer"] is None, "exported without the optimiser"
    res = play_match("shipped", "random", games=200, seed=7)
    assert res.total.interval()[0] > 0.85, res.total.line()
