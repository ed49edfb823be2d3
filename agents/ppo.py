"""PPO for Essence Wars, with invalid-action masking and a league of opponents.

Reads top to bottom (CleanRL style): hyperparameters, rollout helpers (reward
attribution, GAE over the learner's own decision points), then ``train``.

    essence-wars train ppo                       # short default budget, a few minutes
    essence-wars train ppo --timesteps 20000000  # a full run
    python -m agents.ppo --help                  # the same, without the CLI

How a rollout works
-------------------
``num_envs`` games run in one vector env (``essence_wars.vec_env`` when it is
installed, else the in-process :class:`agents.batch_env.BatchVecEnv`), each
with a fixed kind of opponent:

- bot envs (``greedy``, ``random``): the bot plays inside the env step; every
  step is a learner decision and the reward is from the learner's seat.
- policy envs (``opponent=None``): the learner process plays both seats. Per
  episode it draws the learner's seat and the other seat's player: the current
  policy (self-play) or a frozen snapshot from the league pool. Only the
  learner's steps become PPO transitions.

A turn is several actions by one player, so in policy envs a learner step is
followed by zero or more opponent steps. The learner's reward for a step is
every reward from its own seat until its next decision (self-play rewards are
"for the player who acted", so an opponent's winning move is -1 for the
learner); the "next state" for GAE is the learner's next decision point, and
when the game ends on the opponent's move the learner's last transition gets
the final result. :func:`learner_rewards` and :func:`compute_gae` do this.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from agents.interrupt import Terminated, interrupt_name, sigterm_as_interrupt


@dataclass
class Args:
    # experiment
    exp_name: str = "ppo"
    """name of the run (the run directory is run_dir/exp_name unless --run-dir is a full path)"""
    seed: int = 1
    """seed of everything: torch, numpy, deals, seats, decks, opponents"""
    torch_threads: int = 1
    """torch intra-op threads. 1 by default: on a shared 2-core machine a second torch thread that has to
    wait for a busy core made training 10x slower in our measurements; use 2 on an idle machine"""
    run_dir: str = "runs"
    """where runs are written: run_dir/exp_name/{checkpoint.pt, events...}"""
    track: bool = False
    """log to Weights & Biases too (needs wandb installed; offline unless WANDB_MODE says otherwise)"""
    wandb_project: str = "essence-wars"
    """the W&B project"""
    progress: bool = True
    """show a progress bar with SPS and the latest win rate"""

    # environment
    total_timesteps: int = 400_000
    """total env steps (all seats) of the run; the default is the short budget (about 4 minutes on 2 cores)"""
    num_envs: int = 128
    """parallel games"""
    num_steps: int = 128
    """steps per env per rollout"""
    env: str = "auto"
    """vector env: auto (essence_wars.vec_env if present, else batch), vec, or batch (in-process)"""
    num_workers: int = 0
    """worker processes of essence_wars.vec_env (0: in-process)"""
    mode: str = "attrition"
    """game mode: attrition or essence_duel"""

    # opponents
    frac_greedy: float = 0.375
    """fraction of envs whose opponent is the greedy bot"""
    frac_random: float = 0.125
    """fraction of envs whose opponent is the random bot"""
    league_prob: float = 0.5
    """in the remaining (policy) envs: probability that an episode's opponent is a frozen past snapshot
    instead of the current policy"""
    league_every: int = 10
    """add a snapshot of the current policy to the league pool every this many iterations"""
    league_size: int = 5
    """most snapshots kept in the pool (the oldest leaves first)"""

    # algorithm
    learning_rate: float = 5e-4
    """Adam learning rate"""
    anneal_lr: bool = True
    """linearly anneal the learning rate to 0 over total_timesteps"""
    gamma: float = 0.995
    """discount per learner decision"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    num_minibatches: int = 16
    """minibatches per epoch"""
    update_epochs: int = 4
    """epochs per rollout"""
    norm_adv: bool = True
    """normalise advantages per minibatch"""
    clip_coef: float = 0.2
    """surrogate clipping coefficient"""
    clip_vloss: bool = True
    """clip the value loss too"""
    ent_coef: float = 0.01
    """entropy coefficient (entropy over the legal actions)"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """gradient clipping norm"""
    target_kl: Optional[float] = None
    """stop the epochs early when the approximate KL exceeds this"""
    shaping_coef: float = 0.5
    """potential-based shaping: adds coef * (gamma * phi(s') - phi(s)) to each learner step, phi at
    the learner's decision points and 0 after the game (it does not change the optimal policy, only
    speeds up credit assignment)"""
    potential: str = "life"
    """phi of the shaping: "life" = (my life - opponent's life) / 30; "material" = life, board
    (creatures, attack, health, keywords) and cards in hand, own minus opponent's, weighted like the
    greedy bot's evaluation and divided by 30"""
    hidden: int = 256
    """hidden units per layer"""
    layers: int = 2
    """hidden layers of the actor and of the critic"""
    action_features: bool = False
    """score each action also from the observation slice it names (card, lanes, slots), with weights
    shared across hand positions and lanes (agents.networks.ActionFeatureHead; the default before the
    afterstate head, which learns faster at the same cost)"""
    action_mlp: bool = False
    """instead of --action-features: a two-layer score of each legal action over what it names
    (agents.networks.LegalActionHead); cheaper, since it scores only the legal actions"""
    afterstate: int = 128
    """width of the afterstate head (0: none): each legal action is also scored by a two-layer MLP over
    the observation after playing it on a copy of the game (agents.networks.AfterstateHead; the greedy
    bot's one-ply view, no search beyond it). Needs the in-process env (--env batch or auto)"""
    afterstate_value_coef: float = 0.0
    """with the afterstate head: give it a value output too, trained (with this coefficient) towards the
    return of the action taken, from that action's afterstate; 0: no value output (the default, as in the
    shipped checkpoint)"""

    # evaluation and checkpoints
    eval_every: int = 10
    """evaluate against greedy every this many iterations (0: never)"""
    eval_games: int = 200
    """games per periodic evaluation"""
    final_eval_games: int = 1000
    """games per opponent of the final evaluation against random and greedy (0: skip)"""
    save_every: int = 10
    """write the checkpoint every this many iterations"""
    resume: Optional[str] = None
    """resume from this checkpoint (weights, optimiser, normaliser, league, step counter)"""


# ---------------------------------------------------------------------------
# Reward attribution and GAE over the learner's own decision points.


def learner_rewards(rewards: np.ndarray, learner_acted: np.ndarray, bot_env: np.ndarray) -> np.ndarray:
    """Each step's reward from the learner's seat.

    In a bot env the env already reports rewards from the learner's seat. In a
    policy env the reward is for the player who acted, so a step taken by the
    opponent counts with the opposite sign (the game is zero-sum): the
    opponent winning on its own move is -1 for the learner.
    """
    return np.where(bot_env | learner_acted, rewards, -rewards).astype(np.float32)


def life_potential(obs: np.ndarray) -> np.ndarray:
    """phi = (my life - opponent's life) / 30, for the player to move (offsets 3 and 10 of the observation)."""
    return (obs[..., 3] - obs[..., 10]).astype(np.float32)


# Per-lane weights of material_potential over a lane's 19 features (docs/OBSERVATION.md): attack and
# health are stored / 10, then the 16 keywords; the creature's presence is added separately. The
# numbers are the greedy bot's (rust_core/src/bots/greedy.rs, WEIGHTS), in life points.
_LANE_WEIGHTS = np.array([1.3 * 10, 1.0 * 10, 0.0,
                          1.0, 1.0, 1.5, 0.5, 0.0, 2.0, 1.0, 0.5, 1.5, 1.0, 1.0, 1.0, 0.0, 1.0, 2.0, 1.0],
                         np.float32)


def material_potential(obs: np.ndarray) -> np.ndarray:
    """phi = a material count for the player to move, own minus opponent's, / 30.

    0.8 per point of life, per creature 2 + 1.3 per attack + 1 per health + its keywords' values,
    0.7 per card in hand: the greedy bot's main weights, read from the observation only. Bounded
    (|phi| stays below about 3), and a function of the position alone, as potential-based
    shaping needs.
    """
    obs = np.asarray(obs, np.float32)
    lanes_me = obs[..., 116:211].reshape(obs.shape[:-1] + (5, 19))
    lanes_foe = obs[..., 211:306].reshape(obs.shape[:-1] + (5, 19))

    def board(lanes):
        present = (lanes[..., 1] > 0).astype(np.float32)
        return (present * (2.0 + lanes @ _LANE_WEIGHTS)).sum(-1)

    life = 0.8 * 30.0 * (obs[..., 3] - obs[..., 10])
    hand = 0.7 * 10.0 * (obs[..., 8] - obs[..., 14])
    return ((life + board(lanes_me) - board(lanes_foe) + hand) / 30.0).astype(np.float32)


POTENTIALS = {"life": life_potential, "material": material_potential}


def compute_gae(rewards: np.ndarray, dones: np.ndarray, learner: np.ndarray, values: np.ndarray,
                next_value: np.ndarray, gamma: float, gae_lambda: float, potentials: Optional[np.ndarray] = None,
                next_potential: Optional[np.ndarray] = None, shaping_coef: float = 0.0
                ) -> Tuple[np.ndarray, np.ndarray]:
    """Advantages and returns ``[T, N]`` of the learner's steps (0 elsewhere).

    ``rewards[t]`` are from the learner's seat (:func:`learner_rewards`),
    ``dones[t]`` says the game ended with step t, ``learner[t]`` that step t
    was the learner's decision, ``values[t]`` the value of the learner's
    position at step t, ``next_value`` the learner's value of the position
    after the last step. Walking backwards, rewards collect until the previous
    learner step, which then uses them and the value of the learner's *next
    decision point* (not the next env step); a game that ends cuts the chain
    and its final reward goes to the learner's last step of that game, whoever
    made the last move.

    With ``shaping_coef`` > 0, each learner step also gets the potential-based
    term ``coef * (gamma * phi(next decision point) - phi(now))`` (phi = 0
    after the game ends), from ``potentials[t]`` (phi at step t's position,
    learner's view) and ``next_potential`` (phi after the last step).
    """
    T, N = rewards.shape
    advantages = np.zeros((T, N), np.float32)
    pending = np.zeros(N, np.float32)  # rewards since the next learner step
    next_val = next_value.astype(np.float32).copy()
    next_nonterminal = np.ones(N, np.float32)
    last_gae = np.zeros(N, np.float32)
    shaping = shaping_coef != 0.0 and potentials is not None
    next_phi = next_potential.astype(np.float32).copy() if shaping else None
    for t in reversed(range(T)):
        done = dones[t].astype(bool)
        pending = np.where(done, rewards[t], pending + rewards[t])
        next_nonterminal = np.where(done, 0.0, next_nonterminal)
        mine = learner[t].astype(bool)
        reward = pending
        if shaping:
            reward = pending + shaping_coef * (gamma * next_phi * next_nonterminal - potentials[t])
            next_phi = np.where(mine, potentials[t], next_phi)
        delta = reward + gamma * next_val * next_nonterminal - values[t]
        gae = delta + gamma * gae_lambda * next_nonterminal * last_gae
        advantages[t] = np.where(mine, gae, 0.0)
        last_gae = np.where(mine, gae, last_gae)
        next_val = np.where(mine, values[t], next_val)
        next_nonterminal = np.where(mine, 1.0, next_nonterminal)
        pending = np.where(mine, 0.0, pending)
    returns = np.where(learner, advantages + values, 0.0).astype(np.float32)
    return advantages, returns


# ---------------------------------------------------------------------------
# The environment and its opponents.


def opponent_kinds(args: Args) -> List[Optional[str]]:
    """Per env: "greedy", "random" (bot envs) or None (policy envs), interleaved."""
    n_greedy = int(round(args.frac_greedy * args.num_envs))
    n_random = int(round(args.frac_random * args.num_envs))
    kinds = ["greedy"] * n_greedy + ["random"] * n_random
    kinds += [None] * (args.num_envs - len(kinds))
    return kinds[: args.num_envs]


def make_env(args: Args, kinds: Sequence[Optional[str]]):
    """The vector env: essence_wars.vec_env when present (or asked for), else the batch adapter."""
    use_vec = args.env == "vec"
    if args.afterstate:
        # The afterstates are computed from the games themselves, which live in the learner process only
        # with the in-process env (the vector env's workers send observations and masks, not games).
        if use_vec:
            raise ValueError("--afterstate needs the in-process env: use --env batch (or auto)")
    elif args.env == "auto":
        try:
            from essence_wars import vec_env

            use_vec = hasattr(vec_env, "make")
        except ImportError:
            use_vec = False
    if use_vec:
        from essence_wars import vec_env

        return vec_env.make(args.num_envs, num_workers=args.num_workers, ring_slots=3, deck="random",
                            opponent_deck="random", mode=args.mode, opponent=list(kinds), agent_seat="random",
                            autoreset_mode="same_step", illegal_action="raise", seed=args.seed, copy=False), "vec"
    from agents.batch_env import BatchVecEnv

    return BatchVecEnv(args.num_envs, deck="random", opponent_deck="random", mode=args.mode, opponent=list(kinds),
                       agent_seat="random", ring_slots=3, seed=args.seed), "batch"


# ---------------------------------------------------------------------------
# Training.


def train(args: Args) -> dict:
    """Runs PPO; returns a summary dict (final step, time, per-iteration timings, last win rates, checkpoint path).

    Ctrl-C or SIGTERM (:mod:`agents.interrupt`) writes the checkpoint of the last whole iteration, says so
    and re-raises: KeyboardInterrupt, or :class:`~agents.interrupt.Terminated` (the command line exits 143).
    """
    on_interrupt: list = []  # _train puts there the function that writes an interrupted run's checkpoint
    with sigterm_as_interrupt():
        try:
            return _train(args, on_interrupt)
        except KeyboardInterrupt as e:
            done = on_interrupt[0]() if on_interrupt else "stopped before training started: no checkpoint written"
            print(f"{interrupt_name(e)}: {done}", flush=True)
            raise


def _train(args: Args, on_interrupt: list) -> dict:
    """The body of :func:`train`."""
    import torch
    import torch.nn as nn
    import torch.optim as optim

    from agents.checkpoint import load_checkpoint, make_policy, save_checkpoint, upgrade_state_dict
    from agents.evaluate import play_match
    from agents.networks import ActorCritic, afterstate_rows, chosen_afterstate_rows, masked_entropy

    if args.potential not in POTENTIALS:
        raise ValueError(f"unknown potential {args.potential!r}: choose one of {', '.join(POTENTIALS)}")
    potential = POTENTIALS[args.potential]
    torch.distributions.Distribution.set_default_validate_args(False)
    torch.set_num_threads(args.torch_threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    run_path = Path(args.run_dir) / args.exp_name
    run_path.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_path / "checkpoint.pt"

    # -- agent, optimiser, resume ---------------------------------------------
    # --action-mlp replaces the default --action-features head
    agent = ActorCritic(hidden=args.hidden, layers=args.layers,
                        action_features=args.action_features and not args.action_mlp, action_mlp=args.action_mlp,
                        afterstate=args.afterstate, afterstate_value=args.afterstate_value_coef > 0)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    global_step, start_iteration = 0, 0
    league: List[ActorCritic] = []
    if args.resume:
        state = load_checkpoint(args.resume)
        agent = ActorCritic(**state["network"])
        agent.load_state_dict(upgrade_state_dict(state["model"], agent.layers))
        optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
        if state.get("optimizer"):
            optimizer.load_state_dict(state["optimizer"])
        global_step, start_iteration = state["global_step"], state["iteration"]
        for sd in state.get("league", []):
            snap = ActorCritic(**state["network"])
            snap.load_state_dict(upgrade_state_dict(sd, agent.layers))
            league.append(snap.eval())
        print(f"resumed from {args.resume} at step {global_step} (iteration {start_iteration})", flush=True)

    # -- logging ----------------------------------------------------------------
    from torch.utils.tensorboard import SummaryWriter

    if args.track:
        try:
            import wandb

            os.environ.setdefault("WANDB_MODE", "offline")
            wandb.init(project=args.wandb_project, name=args.exp_name, config=dataclasses.asdict(args),
                       sync_tensorboard=True, dir=str(run_path))
        except ImportError:
            print("wandb is not installed: logging to TensorBoard only", file=sys.stderr)
    writer = SummaryWriter(str(run_path))
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(
        f"|{k}|{v}|" for k, v in dataclasses.asdict(args).items()))

    # -- env ------------------------------------------------------------------
    N, T = args.num_envs, args.num_steps
    kinds = opponent_kinds(args)
    bot_env = np.array([k is not None for k in kinds])
    env, env_kind = make_env(args, kinds)
    obs, info = env.reset(seed=args.seed + start_iteration)
    # Policy envs: the learner's seat and the opponent (-1 = current policy,
    # k = league[k]) are drawn per episode.
    learner_seat = rng.integers(0, 2, N)
    opp_id = np.full(N, -1)

    def draw_opponents(envs: np.ndarray) -> None:
        learner_seat[envs] = rng.integers(0, 2, envs.size)
        use_league = (rng.random(envs.size) < args.league_prob) & (len(league) > 0)
        opp_id[envs] = np.where(use_league, rng.integers(0, max(1, len(league)), envs.size), -1)

    draw_opponents(np.flatnonzero(~bot_env))

    # -- rollout storage ------------------------------------------------------
    obs_buf = torch.zeros((T, N, 326))
    mask_buf = torch.zeros((T, N, 256), dtype=torch.bool)
    act_buf = torch.zeros((T, N), dtype=torch.long)
    logp_buf = torch.zeros((T, N))
    val_buf = np.zeros((T, N), np.float32)
    rew_buf = np.zeros((T, N), np.float32)
    done_buf = np.zeros((T, N), bool)
    learner_buf = np.zeros((T, N), bool)
    # With the afterstate head: each step's afterstates (one block of rows per env, its legal actions in
    # ascending order; a block's size is its mask's sum), to rebuild any minibatch's blocks in the update.
    scores_after = agent.after_head is not None
    after_steps: List[Tuple["torch.Tensor", "torch.Tensor"]] = []

    batch_per_iter = N * T
    num_iterations = max(1, args.total_timesteps // batch_per_iter)
    recent = {"greedy": [], "random": [], "self": [], "league": []}
    last_eval = {}
    start_time = time.time()
    steps_at_start = global_step
    # Wall clock of each iteration (rollout, GAE, update, logging, eval, checkpoint) and of its rollout
    # and update, returned in the summary so a benchmark can leave start-up out (benchmarks/bench_training.py).
    timings = {"iteration_seconds": [], "rollout_seconds": [], "update_seconds": []}
    t_iteration = time.time()
    bar = None
    if args.progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=num_iterations * batch_per_iter, initial=min(global_step, num_iterations * batch_per_iter),
                       unit="step", unit_scale=True, dynamic_ncols=True, desc=f"ppo ({env_kind} env)")
        except ImportError:
            bar = None
    print(f"PPO: {N} envs ({int(bot_env.sum())} bot, {int((~bot_env).sum())} policy), {T} steps, "
          f"{num_iterations} iterations, {env_kind} env, run dir {run_path}", flush=True)

    def evaluate(opponent: str, games: int, seed: int):
        return play_match(make_policy(copy.deepcopy(agent).eval(), seed=seed, name="ppo"), opponent, games=games,
                          seed=seed, mode=args.mode)

    def checkpoint(iteration: int, step: Optional[int] = None) -> None:
        save_checkpoint(ckpt_path, agent, optimizer, dataclasses.asdict(args),
                        global_step if step is None else step, iteration, league=[s.state_dict() for s in league])

    # An interrupted run saves the counters of its last whole iteration (one cut short is done again on
    # resume) with the current weights, which an update cut short may have moved part of the way.
    whole = [start_iteration, global_step]

    def save_interrupted() -> str:
        checkpoint(*whole)
        writer.close()
        return (f"saved checkpoint {ckpt_path} (iteration {whole[0]}, step {whole[1]}); "
                f"continue with --resume {ckpt_path}")

    on_interrupt.append(save_interrupted)

    iteration = start_iteration
    while iteration < num_iterations:
        iteration += 1
        if args.anneal_lr:
            frac = max(0.0, 1.0 - (iteration - 1) / num_iterations)
            optimizer.param_groups[0]["lr"] = frac * args.learning_rate
        agent.eval()
        t_rollout = time.time()
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)
        after_steps.clear()

        # -- rollout: read each step straight from the env's ring --------------
        # The ring's views are read-only by design; torch only reads them here
        # (they are copied into the rollout buffers at once), so its warning
        # about non-writable arrays does not apply.
        for t in range(T):
            o = torch.from_numpy(np.asarray(obs["observation"], dtype=np.float32))
            m = torch.from_numpy(np.asarray(obs["action_mask"]).astype(bool, copy=False))
            current = np.asarray(info["current_player"])
            mine = bot_env | (current == learner_seat)
            obs_buf[t].copy_(o)
            mask_buf[t].copy_(m)
            after = None
            if scores_after:
                a_obs, a_res, _ = env.afterstates()
                after = (torch.from_numpy(a_obs), torch.from_numpy(a_res))
                after_steps.append(after)
            with torch.no_grad():
                x = agent.obs_rms.normalize(o)
                logits = torch.where(m, agent.actor_logits(o, x, m, after), torch.full((N, 256), -1e9))
                logp_all = torch.log_softmax(logits, -1)
                action = torch.multinomial(logp_all.exp(), 1).squeeze(-1)
                value = agent.critic(x).squeeze(-1)
            # Frozen league opponents move in their envs (the current policy's
            # own sample stands for the self-play opponent).
            theirs = ~mine
            if theirs.any():
                for k in np.unique(opp_id[theirs]):
                    if k < 0:
                        continue
                    sel = np.flatnonzero(theirs & (opp_id == k))
                    sel_t = torch.from_numpy(sel)
                    sub = None
                    if scores_after:
                        rows = afterstate_rows(m.sum(1), sel_t)
                        sub = (after[0][rows], after[1][rows])
                    with torch.no_grad():
                        action[sel_t] = league[k].act(o[sel_t], m[sel_t], after=sub)
            act_buf[t] = action
            logp_buf[t] = logp_all.gather(1, action[:, None]).squeeze(1)
            val_buf[t] = value.numpy()
            learner_buf[t] = mine

            obs, reward, terminated, truncated, info = env.step(action.numpy())
            done = np.logical_or(terminated, truncated)
            rew_buf[t] = learner_rewards(np.asarray(reward, np.float32), mine, bot_env)
            done_buf[t] = done
            global_step += N
            if done.any():
                for i in np.flatnonzero(done):
                    kind = kinds[i] or ("self" if opp_id[i] < 0 else "league")
                    recent[kind].append(float(rew_buf[t, i]))
                policy_done = np.flatnonzero(done & ~bot_env)
                if policy_done.size:
                    draw_opponents(policy_done)

        # -- bootstrap and GAE over the learner's decision points ------------
        with torch.no_grad():
            o = torch.from_numpy(np.asarray(obs["observation"], dtype=np.float32))
            next_value = agent.get_value(o).numpy()
        # The value is for the player to move; when that is the opponent, the
        # learner's value is its negation (zero-sum).
        current = np.asarray(info["current_player"])
        learner_next = bot_env | (current == learner_seat)
        next_value = np.where(learner_next, next_value, -next_value)
        next_phi = potential(np.asarray(obs["observation"]))
        next_phi = np.where(learner_next, next_phi, -next_phi)
        advantages, returns = compute_gae(rew_buf, done_buf, learner_buf, val_buf, next_value,
                                          args.gamma, args.gae_lambda, potential(obs_buf.numpy()),
                                          next_phi, args.shaping_coef)
        rollout_time = time.time() - t_rollout

        # -- PPO update on the learner's transitions only -----------------------
        agent.train()
        t_update = time.time()
        sel = torch.from_numpy(np.flatnonzero(learner_buf.reshape(-1)))
        b_obs = obs_buf.reshape(-1, 326)[sel]
        b_masks = mask_buf.reshape(-1, 256)[sel]
        b_actions = act_buf.reshape(-1)[sel]
        b_logprobs = logp_buf.reshape(-1)[sel]
        b_advantages = torch.from_numpy(advantages.reshape(-1))[sel]
        b_returns = torch.from_numpy(returns.reshape(-1))[sel]
        b_values = torch.from_numpy(val_buf.reshape(-1))[sel]
        if scores_after:
            all_after_obs = torch.cat([a for a, _ in after_steps])
            all_after_res = torch.cat([r for _, r in after_steps])
            all_masks = mask_buf.reshape(-1, 256)
            all_counts = all_masks.sum(1)
            if agent.afterstate_value:
                b_chosen = chosen_afterstate_rows(all_masks, act_buf.reshape(-1))[sel]
        batch_size = sel.numel()
        clipfracs = []
        for epoch in range(args.update_epochs):
            # exactly num_minibatches near-equal minibatches (the learner's share
            # of a rollout varies, so the batch size is rarely a multiple)
            for mb in torch.tensor_split(torch.randperm(batch_size), args.num_minibatches):
                x = agent.obs_rms.normalize(b_obs[mb])
                mb_after = None
                if scores_after:
                    rows = afterstate_rows(all_counts, sel[mb])
                    mb_after = (all_after_obs[rows], all_after_res[rows])
                logits = torch.where(b_masks[mb], agent.actor_logits(b_obs[mb], x, b_masks[mb], mb_after),
                                     torch.full((mb.numel(), 256), -1e9))
                logp_all = torch.log_softmax(logits, -1)
                newlogprob = logp_all.gather(1, b_actions[mb][:, None]).squeeze(1)
                entropy = masked_entropy(logits, b_masks[mb])
                newvalue = agent.critic(x).squeeze(-1)
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > args.clip_coef).float().mean().item())
                mb_adv = b_advantages[mb]
                if args.norm_adv:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio,
                                    -mb_adv * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)).mean()
                if args.clip_vloss:
                    v_unclipped = (newvalue - b_returns[mb]) ** 2
                    v_clipped = b_values[mb] + torch.clamp(newvalue - b_values[mb], -args.clip_coef, args.clip_coef)
                    v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - b_returns[mb]) ** 2).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef
                if agent.afterstate_value:
                    rows = b_chosen[mb]
                    after_value = agent.after_head.values(agent.obs_rms.normalize(all_after_obs[rows]),
                                                          all_after_res[rows])
                    after_v_loss = 0.5 * ((after_value - b_returns[mb]) ** 2).mean()
                    loss = loss + args.afterstate_value_coef * after_v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
            if args.target_kl is not None and approx_kl > args.target_kl:
                break
        # The normaliser moves after the update, so the log-probs stored during
        # the rollout stay exact for the whole update.
        agent.obs_rms.update(b_obs)
        update_time = time.time() - t_update

        y_pred, y_true = b_values.numpy(), b_returns.numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y

        # -- league, logging, evaluation, checkpoint --------------------------
        if args.league_every and iteration % args.league_every == 0:
            league.append(copy.deepcopy(agent).eval())
            if len(league) > args.league_size:
                league.pop(0)
                opp_id[opp_id >= len(league)] = -1  # envs whose snapshot left play self until their next episode
        sps = int((global_step - steps_at_start) / (time.time() - start_time))
        writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], global_step)
        writer.add_scalar("charts/SPS", sps, global_step)
        writer.add_scalar("charts/learner_transitions", batch_size, global_step)
        writer.add_scalar("charts/rollout_seconds", rollout_time, global_step)
        writer.add_scalar("charts/update_seconds", update_time, global_step)
        writer.add_scalar("losses/value_loss", v_loss.item(), global_step)
        if agent.afterstate_value:
            writer.add_scalar("losses/afterstate_value_loss", after_v_loss.item(), global_step)
        writer.add_scalar("losses/policy_loss", pg_loss.item(), global_step)
        writer.add_scalar("losses/entropy", entropy_loss.item(), global_step)
        writer.add_scalar("losses/approx_kl", approx_kl.item(), global_step)
        writer.add_scalar("losses/clipfrac", float(np.mean(clipfracs)), global_step)
        writer.add_scalar("losses/explained_variance", explained_var, global_step)
        for kind, results in recent.items():
            if results:
                r = np.array(results)
                writer.add_scalar(f"charts/episodic_win_rate_{kind}", float((r > 0).mean()), global_step)
                writer.add_scalar(f"charts/episodic_return_{kind}", float(r.mean()), global_step)
        train_greedy = np.mean(np.array(recent["greedy"]) > 0) if recent["greedy"] else float("nan")
        for kind in recent:
            recent[kind] = []

        if args.eval_every and (iteration % args.eval_every == 0 or iteration == num_iterations):
            res = evaluate("greedy", args.eval_games, seed=10_000 + iteration)
            last_eval["greedy"] = res.total.win_rate
            writer.add_scalar("charts/win_rate_vs_greedy", res.total.win_rate, global_step)
            lo, hi = res.total.interval()
            writer.add_scalar("charts/win_rate_vs_greedy_ci_low", lo, global_step)
        if args.save_every and (iteration % args.save_every == 0 or iteration == num_iterations):
            checkpoint(iteration)
        whole[:] = iteration, global_step  # done before its progress line: an interrupt from now on saves it

        postfix = {"SPS": sps, "train_vs_greedy": f"{train_greedy:.2f}"}
        if "greedy" in last_eval:
            postfix["eval_vs_greedy"] = f"{last_eval['greedy']:.2f}"
        if bar is not None:
            bar.update(batch_per_iter)
            bar.set_postfix(postfix, refresh=False)
        else:
            print(f"iter {iteration}/{num_iterations} step {global_step} " +
                  " ".join(f"{k}={v}" for k, v in postfix.items()), flush=True)
        now = time.time()
        timings["iteration_seconds"].append(now - t_iteration)
        timings["rollout_seconds"].append(rollout_time)
        timings["update_seconds"].append(update_time)
        t_iteration = now

    if bar is not None:
        bar.close()
    checkpoint(iteration)
    wall = time.time() - start_time
    summary = {"global_step": global_step, "iterations": iteration, "seconds": wall,
               "sps": (global_step - steps_at_start) / max(wall, 1e-9), "checkpoint": str(ckpt_path),
               "steps_per_iteration": batch_per_iter, **timings}
    print(f"trained to step {global_step} in {wall / 60:.1f} min "
          f"({summary['sps']:.0f} env steps/s end to end); checkpoint {ckpt_path}", flush=True)

    if args.final_eval_games:
        for opponent in ("random", "greedy"):
            res = evaluate(opponent, args.final_eval_games, seed=123_456)
            print(res.summary().splitlines()[0], flush=True)
            summary[f"win_rate_vs_{opponent}"] = res.total.win_rate
            summary[f"win_rate_vs_{opponent}_ci95"] = res.total.interval()
            writer.add_scalar(f"charts/final_win_rate_vs_{opponent}", res.total.win_rate, global_step)
    writer.close()
    if hasattr(env, "close"):
        env.close()
    if args.track:
        try:
            import wandb

            wandb.finish()
        except ImportError:
            pass
    return summary


# ---------------------------------------------------------------------------
# Command line: the fields of Args become --options (with --timesteps as an
# alias of --total-timesteps).


def _field_help(cls) -> dict:
    """The docstring under each dataclass field (the CleanRL/tyro convention)."""
    import ast
    import inspect

    helps = {}
    try:
        tree = ast.parse(inspect.getsource(cls))
    except (OSError, TypeError):
        return helps
    body = tree.body[0].body
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            helps[node.target.id] = str(nxt.value.value)
    return helps


def configure(p: argparse.ArgumentParser) -> None:
    helps = _field_help(Args)
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        names = [flag, "--timesteps"] if f.name == "total_timesteps" else [flag]
        h = f"{helps.get(f.name, '')} (default: {f.default})"
        if f.type in ("bool", bool):
            p.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default, help=h)
        else:
            typ = {"int": int, "float": float, "str": str, "Optional[float]": float, "Optional[str]": str}.get(
                f.type if isinstance(f.type, str) else f.type.__name__, str)
            p.add_argument(*names, dest=f.name, type=typ, default=f.default, help=h)


def run(ns: argparse.Namespace) -> int:
    args = Args(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(Args)})
    try:
        train(args)
    except Terminated as e:  # the checkpoint is written
        return e.exit_status
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m agents.ppo", description=__doc__.splitlines()[0])
    configure(parser)
    sys.exit(run(parser.parse_args()))
