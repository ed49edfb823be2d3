"""AlphaZero for Essence Wars: self-play with the batched neural MCTS in Rust
(:class:`essence_wars.search.Search`), a replay buffer, and a residual MLP
policy-value network trained on (observation, visit distribution, result).

Reads top to bottom: :class:`Args` (every hyperparameter), :class:`SelfPlay`
(many games at once, one forward pass per search round for all of them),
:class:`ReplayBuffer`, :func:`train` (the loop: self-play, learn, evaluate,
checkpoint), the search agent for evaluation (:func:`load_agent`), and the
command line (``essence-wars train alphazero``). Design and numbers:
``docs/ALPHAZERO.md``.

Value targets are the game result for the player to move at each recorded
position (+1 win, -1 loss, 0 draw): a turn is several actions by the same
player, and the network always sees the position from the mover's side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import sys
import time
import traceback
from multiprocessing.connection import wait as wait_for
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from agents import keyed
from agents.evaluate import result_for
from agents.interrupt import Terminated, ignore_sigint, interrupt_name, sigterm_as_interrupt
from agents.symmetry import permute_hands
from essence_wars import core
from essence_wars.search import ROLLOUT_POLICIES, Search, SearchConfig

OBS_SIZE, NUM_ACTIONS = core.OBS_SIZE, core.NUM_ACTIONS

#: The playouts' names: a policy of ``essence_wars.search.ROLLOUT_POLICIES``, and with ``-det`` the
#: same policy on a fresh deal of the undrawn cards (``SearchConfig.rollout_determinized``).
PLAYOUTS = ROLLOUT_POLICIES + tuple(f"{p}-det" for p in ROLLOUT_POLICIES)


def playout_config(name: str) -> dict:
    """The ``SearchConfig`` fields of a playout name of :data:`PLAYOUTS`."""
    if name not in PLAYOUTS:
        raise ValueError(f"playout must be one of {', '.join(PLAYOUTS)}, got {name!r}")
    policy, det, _ = name.partition("-det")
    return {"rollout_policy": policy, "rollout_determinized": bool(det)}


#: The network shipped with the package (``az:shipped@N`` in ``essence-wars eval``;
#: trained by the command in docs/ALPHAZERO.md, exported by :func:`export_network`).
SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "alphazero_essence_wars.pt")


@dataclass
class Args:
    """AlphaZero hyperparameters (the CLI exposes each as --kebab-case)."""

    run_dir: str = field(default="runs/alphazero", metadata={"help": "checkpoints, TensorBoard logs"})
    seed: int = field(default=1, metadata={"help": "seeds deals, search noise and torch"})
    iterations: int = field(default=1000, metadata={"help": "self-play + training iterations"})
    time_limit: float = field(default=0.0, metadata={"help": "stop after this many seconds (0: no limit)"})
    num_games: int = field(default=128, metadata={"help": "self-play games in flight (search trees)"})
    moves_per_iteration: int = field(default=32, metadata={"help": "search moves per game per iteration"})
    simulations: int = field(default=64, metadata={"help": "simulations per move in self-play"})
    full_search_prob: float = field(default=1.0, metadata={"help": "playout cap randomisation: the share of moves "
                                                                    "searched with --simulations (recorded for "
                                                                    "training); the others use --fast-simulations, "
                                                                    "without root noise, and are played only"})
    fast_simulations: int = field(default=16, metadata={"help": "simulations of the fast moves "
                                                               "(with --full-search-prob < 1)"})
    c_puct: float = field(default=1.25, metadata={"help": "PUCT exploration constant"})
    dirichlet_alpha: float = field(default=0.3, metadata={"help": "root noise concentration"})
    dirichlet_fraction: float = field(default=0.25, metadata={"help": "root noise weight"})
    leaves_per_tree: int = field(default=1, metadata={"help": "leaves per tree per round (virtual loss if > 1)"})
    selfplay_workers: int = field(default=0, metadata={"help": "self-play worker processes (0: self-play in the "
                                                              "learner's process). With N >= 1 the --num-games "
                                                              "games are split over N workers that play while the "
                                                              "learner trains, one iteration behind its weights"})
    rollout_weight: float = field(default=0.0, metadata={"help": "self-play search only: weight in [0, 1] of a "
                                                                "playout in each leaf's value (SearchConfig."
                                                                "rollout_weight; 0 is AlphaZero). Evaluation always "
                                                                "searches with the network alone"})
    rollout_policy: str = field(default="random", metadata={"help": "self-play search only: the playouts' policy "
                                                                   "with --rollout-weight > 0, random or greedy "
                                                                   "(the greedy bot's actions, about six times "
                                                                   "dearer); with -det (random-det, greedy-det) "
                                                                   "each playout deals the undrawn cards afresh, "
                                                                   "so it does not see the hidden deck order"})
    temperature_actions: int = field(default=30, metadata={"help": "actions per game sampled at T=1, then T=0"})
    decks: str = field(default="", metadata={"help": "comma-separated decks to sample (default: all presets)"})
    mode: str = field(default="attrition", metadata={"help": "attrition or essence_duel"})
    buffer_size: int = field(default=200_000, metadata={"help": "replay buffer capacity (positions)"})
    batch_size: int = field(default=512, metadata={"help": "training minibatch"})
    train_steps: int = field(default=64, metadata={"help": "gradient steps per iteration"})
    min_buffer: int = field(default=2_000, metadata={"help": "positions before training starts"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    value_coef: float = field(default=1.0, metadata={"help": "weight of the value loss"})
    q_weight: float = field(default=0.0, metadata={"help": "value target = (1 - q_weight) * game result + q_weight * "
                                                          "the root's search value (both for the player to move); "
                                                          "0 is plain AlphaZero"})
    lr_schedule: str = field(default="constant", metadata={"help": "constant, or cosine: from --lr down to "
                                                                  "--lr-min over --iterations"})
    lr_min: float = field(default=1e-4, metadata={"help": "final learning rate of the cosine schedule"})
    augment: str = field(default="", metadata={"help": "'hands': each sampled training row has both hands "
                                                      "randomly reordered (agents/symmetry.py: the rules ignore "
                                                      "hand order, so the value target stands); '': none"})
    width: int = field(default=256, metadata={"help": "network width"})
    blocks: int = field(default=4, metadata={"help": "residual blocks"})
    eval_every: int = field(default=10, metadata={"help": "evaluate every N iterations (0: never)"})
    eval_games: int = field(default=100, metadata={"help": "games per opponent in evaluation"})
    eval_simulations: int = field(default=64, metadata={"help": "search simulations per move in evaluation"})
    eval_opponents: str = field(default="random,greedy", metadata={"help": "comma-separated bots"})
    checkpoint_every: int = field(default=5, metadata={"help": "checkpoint every N iterations"})
    save_buffer: int = field(default=1, metadata={"help": "1: write the replay buffer to run_dir/replay.npz with "
                                                         "each checkpoint (about 1.3 KB per position: 270 MB "
                                                         "for 200k), so --resume continues with it; 0: do not "
                                                         "(a resumed run refills it)"})
    resume: str = field(default="", metadata={"help": "checkpoint to resume from ('auto': run_dir/checkpoint.pt)"})
    init: str = field(default="", metadata={"help": "start a new run from the weights of this checkpoint or export "
                                                   "('shipped': the packaged network), with a fresh optimiser and "
                                                   "counters; its shape replaces --width/--blocks (--grow-blocks "
                                                   "adds depth). A run that "
                                                   "resumes ignores it"})
    grow_blocks: int = field(default=0, metadata={"help": "with --init: append this many residual blocks that "
                                                         "start as the identity (PolicyValueNet.grown), so the "
                                                         "deeper network begins exactly as strong as the initial "
                                                         "one"})
    torch_threads: int = field(default=1, metadata={"help": "torch CPU threads (0: torch's default; more than 1 "
                                                           "oversubscribes a shared 2-core machine)"})


# ---------------------------------------------------------------------------
# Replay buffer.


class ReplayBuffer:
    """A ring of (observation, legal mask, visit distribution, result) rows."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.obs = np.zeros((capacity, OBS_SIZE), np.float32)
        self.masks = np.zeros((capacity, NUM_ACTIONS), np.bool_)
        self.policy = np.zeros((capacity, NUM_ACTIONS), np.float32)
        self.value = np.zeros(capacity, np.float32)
        self.size = 0
        self.next = 0
        self.added = 0  # rows ever added

    def add(self, obs: np.ndarray, masks: np.ndarray, policy: np.ndarray, value: np.ndarray) -> None:
        for start in range(0, len(obs), self.capacity):
            o, m, p, v = (x[start:start + self.capacity] for x in (obs, masks, policy, value))
            n = len(o)
            idx = (self.next + np.arange(n)) % self.capacity
            self.obs[idx], self.masks[idx], self.policy[idx], self.value[idx] = o, m, p, v
            self.next = (self.next + n) % self.capacity
            self.size = min(self.capacity, self.size + n)
            self.added += n

    def newest(self, n: int):
        """The last ``min(n, size)`` rows added, oldest first."""
        n = min(n, self.size)
        idx = (self.next - n + np.arange(n)) % self.capacity
        return self.obs[idx], self.masks[idx], self.policy[idx], self.value[idx]

    def sample(self, n: int, rng: np.random.Generator):
        idx = rng.integers(0, self.size, n)
        return self.obs[idx], self.masks[idx], self.policy[idx], self.value[idx]

    def save(self, path: str, **meta) -> None:
        """Writes the rows, oldest first, to ``path`` (an uncompressed ``.npz``: ~1.3 KB per row, written in
        well under a second for 200k rows; zlib took 50x longer for a 2.4x smaller file). Masks are packed
        to bits and the policy is stored at the legal actions only (a visit distribution is zero elsewhere;
        a row with mass outside its mask makes the whole policy column dense, so nothing is lost). ``meta``
        (numbers) is stored beside them; :meth:`load` returns it. Atomic: a temporary file, then a rename."""
        obs, masks, policy, value = self.newest(self.size)
        if np.any(policy[~masks]):
            pol = {"policy": policy}
        else:
            pol = {"policy_legal": policy[masks]}
        tmp = path + ".tmp.npz"
        np.savez(tmp, obs=obs, masks=np.packbits(masks, axis=1), value=value, added=self.added,
                 **pol, **{f"meta_{k}": v for k, v in meta.items()})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str, capacity: Optional[int] = None) -> tuple:
        """(buffer, meta) from a file of :meth:`save`; with a smaller ``capacity``, the newest rows (None:
        exactly the rows of the file)."""
        with np.load(path) as f:
            obs, value = f["obs"], f["value"]
            masks = np.unpackbits(f["masks"], axis=1, count=NUM_ACTIONS).astype(bool)
            if "policy" in f:
                policy = f["policy"]
            else:
                policy = np.zeros(masks.shape, np.float32)
                policy[masks] = f["policy_legal"]
            meta = {k[5:]: f[k].item() for k in f.files if k.startswith("meta_")}
            added = int(f["added"])
        if obs.shape[1:] != (OBS_SIZE,) or len({len(obs), len(masks), len(value)}) != 1:
            raise ValueError(f"{path}: not a replay buffer of {OBS_SIZE}-float observations")
        buf = cls(max(1, len(obs)) if capacity is None else capacity)
        buf.add(obs, masks, policy, value)
        buf.added = added
        return buf, meta


# ---------------------------------------------------------------------------
# Self-play.


class SelfPlay:
    """``num_games`` games in flight, each with its own search tree.

    :meth:`play` makes ``moves`` search moves in every game: per move, rounds
    of (``select``, one forward pass over all leaves, ``expand``), then the
    visit distribution is recorded and an action chosen (T=1 for the first
    ``temperature_actions`` actions of a game, then T=0). Finished games
    give their positions to the buffer with the final result for the player
    to move at each, and a new game starts in their slot.
    """

    def __init__(self, args: Args, evaluate, seed: int):
        self.args = args
        self.evaluate = evaluate
        self.decks = [d for d in args.decks.split(",") if d] or core.list_decks()
        self.rng = np.random.default_rng(seed)
        playout = playout_config(args.rollout_policy)
        cfg = SearchConfig(simulations=args.simulations, c_puct=args.c_puct, dirichlet_alpha=args.dirichlet_alpha,
                           dirichlet_fraction=args.dirichlet_fraction, leaves_per_tree=args.leaves_per_tree,
                           rollout_weight=args.rollout_weight, **playout)
        self.search = Search(args.num_games, cfg, seed=seed)
        self.full_config = cfg
        self.fast_config = SearchConfig(simulations=args.fast_simulations, c_puct=args.c_puct,
                                        dirichlet_fraction=0.0, leaves_per_tree=args.leaves_per_tree,
                                        rollout_weight=args.rollout_weight, **playout)
        self.fast_moves = 0
        self.next_seed = seed * 1_000_003
        self.actions_in_game = np.zeros(args.num_games, np.int64)
        self.trajectories: List[list] = [[] for _ in range(args.num_games)]
        for i in range(args.num_games):
            self._new_game(i)
        self.games_finished = 0
        self.results = {"p0_wins": 0, "p1_wins": 0, "draws": 0}
        self.game_lengths: List[int] = []

    def _new_game(self, i: int) -> None:
        d0, d1 = self.rng.choice(self.decks, 2)
        self.search.new_game(i, str(d0), str(d1), self.args.mode, seed=self.next_seed)
        self.next_seed += 1
        self.actions_in_game[i] = 0
        self.trajectories[i] = []

    def play(self, moves: int, buffer: ReplayBuffer) -> int:
        """Plays ``moves`` moves in every game; returns the positions recorded (searched in full)."""
        s = self.search
        positions = 0
        for _ in range(moves):
            # Playout cap randomisation (KataGo): a full search gives a policy target worth
            # recording; a cheap one just moves the games on, so more games (value targets)
            # finish per unit of compute.
            full = self.args.full_search_prob >= 1.0 or self.rng.random() < self.args.full_search_prob
            if self.args.full_search_prob < 1.0:
                s.config = self.full_config if full else self.fast_config
            obs, masks, players, _ = s.root_state()
            s.run(self.evaluate)
            visits = s.root_visits()
            root_values = s.root_values()
            sampled = s.choose(1.0).copy()
            greedy = s.choose(0.0)
            actions = np.where(self.actions_in_game < self.args.temperature_actions, sampled, greedy)
            legal = masks.sum(1)
            if not full:
                self.fast_moves += 1
            for i in np.flatnonzero((legal > 1) & full):
                total = visits[i].sum()
                if total > 0:
                    self.trajectories[i].append((obs[i].copy(), masks[i].astype(bool), visits[i] / total,
                                                 int(players[i]), float(root_values[i])))
            positions += int(((legal > 1) & full).sum())
            acting = players.copy()
            rewards, done = s.apply(actions)
            self.actions_in_game += 1
            for i in np.flatnonzero(done):
                r = float(rewards[i])
                winner = None if r == 0 else (int(acting[i]) if r > 0 else 1 - int(acting[i]))
                self._finish(i, winner, buffer)
        return positions

    def close(self) -> None:
        self.search.close()

    def _finish(self, i: int, winner: Optional[int], buffer: ReplayBuffer) -> None:
        traj = self.trajectories[i]
        if traj:
            obs = np.stack([t[0] for t in traj])
            masks = np.stack([t[1] for t in traj])
            pol = np.stack([t[2] for t in traj])
            z = np.array([result_for(t[3], winner) for t in traj], np.float32)
            if self.args.q_weight:
                q = np.array([t[4] for t in traj], np.float32)
                z = (1.0 - self.args.q_weight) * z + self.args.q_weight * q
            buffer.add(obs, masks, pol, z)
        self.games_finished += 1
        self.game_lengths.append(int(self.actions_in_game[i]))
        key = "draws" if winner is None else f"p{winner}_wins"
        self.results[key] += 1
        self._new_game(i)


class _Rows:
    """Collects the rows a worker's :class:`SelfPlay` finishes (the buffer interface: ``add``)."""

    def __init__(self):
        self.parts: List[tuple] = []

    def add(self, obs, masks, policy, value) -> None:
        self.parts.append((obs, masks, policy, value))

    def take(self) -> Optional[tuple]:
        parts, self.parts = self.parts, []
        return tuple(np.concatenate(col) for col in zip(*parts)) if parts else None


def _selfplay_worker(conn, args: dict, network: dict, seed: int) -> None:
    """A self-play worker process: ``("play", moves, weights)`` -> ``("ok", positions, rows, stats)``.

    Started by :class:`SelfPlayPool` with ``spawn``. It ignores SIGINT (a Ctrl-C reaches the whole process
    group; the learner handles it and stops the workers) and reports any exception as ``("error", text)``.
    """
    ignore_sigint()
    selfplay = None
    try:
        import torch

        from agents.az_network import Evaluator, PolicyValueNet

        torch.set_num_threads(1)
        net = PolicyValueNet(**network)
        selfplay = SelfPlay(Args(**args), Evaluator(net), seed)
        rows = _Rows()
        while True:
            msg = conn.recv()
            if msg[0] == "close":
                break
            _, moves, weights = msg
            net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
            lengths_before = len(selfplay.game_lengths)
            positions = selfplay.play(moves, rows)
            stats = {"games_finished": selfplay.games_finished, "fast_moves": selfplay.fast_moves,
                     "results": dict(selfplay.results), "game_lengths": selfplay.game_lengths[lengths_before:]}
            conn.send(("ok", positions, rows.take(), stats))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the learner has gone or is stopping us
    except BaseException:
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        if selfplay is not None:
            selfplay.close()
        conn.close()


class SelfPlayPool:
    """:class:`SelfPlay` in ``workers`` processes, overlapped with training (``--selfplay-workers``).

    The ``args.num_games`` games are split over the workers (worker ``w`` plays with seed ``seed + w``).
    :meth:`play` has the interface of :meth:`SelfPlay.play`: it waits for the batch of moves the workers
    are playing, adds their finished games to the buffer (worker 0's rows first, so a run is the same
    whatever the timing), and at once sends the network's current weights with the next request, so the
    workers play while the learner trains. The positions of iteration ``i`` are therefore played with
    the weights of iteration ``i - 2`` (``i - 1`` in-process): one iteration of lag, as in distributed
    AlphaZero. The first call plays one batch in full before returning.

    A worker that dies or raises makes :meth:`play` raise ``RuntimeError`` naming it; :meth:`close`
    (idempotent; also on error) stops and joins every worker. The workers are started with ``spawn``,
    so a script that makes a pool (or calls :func:`train` with ``selfplay_workers``) needs the usual
    ``if __name__ == "__main__":`` guard; the command line has it.
    """

    def __init__(self, args: Args, net, seed: int, workers: int):
        if workers < 1 or workers > args.num_games:
            raise ValueError(f"selfplay_workers must be between 1 and num_games ({args.num_games}), got {workers}")
        self.net = net
        self.game_lengths: List[int] = []
        # each worker's latest counters (its SelfPlay's totals): the pool's are their sums
        self._stats: List[dict] = [{"games_finished": 0, "fast_moves": 0,
                                    "results": {"p0_wins": 0, "p1_wins": 0, "draws": 0}} for _ in range(workers)]
        self._pending: Optional[int] = None  # the moves of the request the workers are playing
        self._procs, self._conns = [], []
        ctx = mp.get_context("spawn")  # torch is not fork-safe once it has threads
        sizes = [args.num_games // workers + (w < args.num_games % workers) for w in range(workers)]
        try:
            for w, n in enumerate(sizes):
                here, there = ctx.Pipe()
                p = ctx.Process(target=_selfplay_worker, name=f"alphazero-selfplay-{w}", daemon=True,
                                args=(there, dataclasses.asdict(dataclasses.replace(args, num_games=n)),
                                      net.config(), seed + w))
                p.start()
                there.close()
                self._procs.append(p)
                self._conns.append(here)
        except BaseException:
            self.close()
            raise

    @property
    def games_finished(self) -> int:
        return sum(s["games_finished"] for s in self._stats)

    @property
    def fast_moves(self) -> int:
        return sum(s["fast_moves"] for s in self._stats)

    @property
    def results(self) -> dict:
        return {k: sum(s["results"][k] for s in self._stats) for k in self._stats[0]["results"]}

    def _request(self, moves: int) -> None:
        # send() pickles at once, so views of the live tensors are safe to pass
        weights = {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}
        for w, conn in enumerate(self._conns):
            try:
                conn.send(("play", moves, weights))
            except OSError as e:
                raise self._dead(w) from e
        self._pending = moves

    @staticmethod
    def _failed(w: int, report: str) -> RuntimeError:
        return RuntimeError(f"self-play worker {w} failed:\n{report}")

    def _dead(self, w: int) -> RuntimeError:
        """The error for worker ``w`` gone: its own report if it sent one before exiting."""
        conn, p = self._conns[w], self._procs[w]
        try:
            if conn.poll() and (msg := conn.recv())[0] == "error":
                return self._failed(w, msg[1])
        except (EOFError, OSError):
            pass
        p.join(timeout=1.0)
        return RuntimeError(f"self-play worker {w} (pid {p.pid}) died (exit code {p.exitcode})")

    def _receive(self, w: int):
        """Worker ``w``'s answer to the pending request; its error report or its death raises."""
        conn, proc = self._conns[w], self._procs[w]
        wait_for([conn, proc.sentinel])  # a message, or the worker has exited
        try:
            msg = conn.recv() if conn.poll() else None
        except (EOFError, OSError):
            msg = None
        if msg is None:
            raise self._dead(w)
        if msg[0] == "error":
            raise self._failed(w, msg[1])
        return msg

    def play(self, moves: int, buffer: ReplayBuffer) -> int:
        """Collects the pending batch of moves (requesting one first if none is pending), sends the next."""
        if self._pending is None:
            self._request(moves)
        positions = 0
        for w in range(len(self._conns)):
            _, n, rows, stats = self._receive(w)
            positions += n
            if rows is not None:
                buffer.add(*rows)
            self.game_lengths.extend(stats.pop("game_lengths"))
            self._stats[w] = stats
        self._pending = None
        self._request(moves)
        return positions

    def close(self) -> None:
        for conn in self._conns:
            if self._pending is None:  # an idle worker stops cleanly; a busy one is terminated below
                try:
                    conn.send(("close",))
                except OSError:
                    pass
        for p in self._procs:
            p.join(timeout=5.0 if self._pending is None else 0.0)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5.0)
            if p.is_alive():
                p.kill()
                p.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns, self._pending = [], [], None


# ---------------------------------------------------------------------------
# The search as an agent (evaluation).


class SearchAgent:
    """A trained network with search: an agent for evaluation at any budget.

    - :meth:`act_in_batch` ``(batch, indices) -> actions``: searches the games
      ``indices`` of a :class:`essence_wars.core.Batch` (one tree each), the
      fast path used by :func:`play_match`.
    - :meth:`act` ``(obs, masks, games=None) -> actions``: with ``games`` (a
      list of :class:`essence_wars.core.Game`) it searches them; without, or
      with ``simulations == 0``, it plays the network's most likely legal
      action (the interface of ``agents.evaluate``, which passes only
      observations; see docs/ALPHAZERO.md for the one-line harness change
      that gives it games).

    With ``simulations == 0`` both methods play the policy head's most likely
    legal action (``az:PATH@0`` in ``essence-wars eval``): how strong the
    network is without search.

    With ``reuse`` (``az:PATH@N,reuse=1``), :meth:`act_in_batch` keeps one
    tree per game of the batch (tree ``i`` for game ``i``) and carries its
    statistics from one decision to the next when the tree holds the new
    position: the next action of our own turn, or the position after the
    opponent's turn when the search explored it (self-play re-roots the
    same way). Each decision still runs ``simulations`` new simulations.
    The position decides what is kept (``Search.set_roots_from_batch(...,
    keep=True)``), so a tree never lends statistics to another game.

    Given ``keys`` (one per game: the harness's
    :func:`agents.keyed.decision_keys`), each game's tree is reseeded from
    the agent's seed and its key before the search, so the playouts of
    ``rollout=W`` (the only random part: no noise, temperature 0) depend on
    the game and the decision alone, not on the tree it landed in.
    """

    takes_keys = True

    def __init__(self, net, simulations: int = 64, name: str = "alphazero", device: str = "cpu",
                 max_trees: int = 1024, seed: int = 0, c_puct: float = 1.25, rollout_weight: float = 0.0,
                 rollout_policy: str = "random", reuse: bool = False):
        from agents.az_network import Evaluator

        self.net = net
        self.evaluate = Evaluator(net, device)
        self.simulations = int(simulations)
        self.name = f"{name}-{self.simulations}" + (f"-rollout{rollout_weight:g}" if rollout_weight else "") + (
            f"-{rollout_policy}" if rollout_weight and rollout_policy != "random" else "") + (
            f"-cpuct{c_puct:g}" if c_puct != 1.25 else "") + ("-reuse" if reuse else "")
        self.max_trees = max_trees
        self.reuse = bool(reuse)
        self.config = SearchConfig(simulations=max(1, self.simulations), c_puct=c_puct, dirichlet_fraction=0.0,
                                   reuse_tree=self.reuse, rollout_weight=rollout_weight,
                                   **playout_config(rollout_policy))
        self.seed = seed
        self._search: Optional[Search] = None

    def _tree_count(self, n: int) -> Search:
        if self._search is None or self._search.num_trees < n:
            if self._search is not None:
                self._search.close()
            self._search = Search(max(n, 1), self.config, seed=self.seed)
        return self._search

    def _policy(self, obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        logits, _ = self.evaluate(obs, masks)
        logits = np.where(masks.astype(bool), logits, -np.inf)
        return logits.argmax(1).astype(np.int64)

    def _search_roots(self, s: Search, n: int) -> np.ndarray:
        for i in range(n, s.num_trees):
            s.set_root(i, None)
        s.run(self.evaluate)
        return s.choose(0.0)[:n].copy()

    def _seed_trees(self, s: Search, trees: np.ndarray, keys: Optional[np.ndarray]) -> None:
        if keys is None or not self.config.rollout_weight:
            return
        for t, seed in zip(trees.tolist(), keyed.seeds(self.seed, keys).tolist()):
            s.seed_tree(t, seed)

    def act_in_batch(self, batch: core.Batch, indices: Sequence[int],
                     keys: Optional[np.ndarray] = None) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        if keys is not None:
            keys = keyed.check(keys, idx.size)
        if self.simulations == 0:  # no search: the policy head alone, on the batch's observations
            out = batch.observe()
            return self._policy(out.obs[idx], out.masks[idx])
        if self.reuse:
            # Tree i follows game i. Trees of games not in idx keep their
            # statistics and sit idle: their last search is complete, so
            # run() has nothing to do for them.
            s = self._tree_count(batch.num_games)
            s.set_roots_from_batch(batch, idx, idx, keep=True)
            self._seed_trees(s, idx, keys)
            s.run(self.evaluate)
            return s.choose(0.0)[idx].copy()
        out = np.zeros(len(idx), np.int64)
        for start in range(0, len(idx), self.max_trees):
            part = idx[start:start + self.max_trees]
            s = self._tree_count(len(part))
            s.set_roots_from_batch(batch, np.arange(len(part)), part)
            self._seed_trees(s, np.arange(len(part)), None if keys is None else keys[start:start + len(part)])
            out[start:start + len(part)] = self._search_roots(s, len(part))
        return out

    def act(self, obs: np.ndarray, masks: np.ndarray, games: Optional[Sequence[core.Game]] = None) -> np.ndarray:
        obs = np.asarray(obs, np.float32).reshape(-1, OBS_SIZE)
        masks = np.asarray(masks).reshape(-1, NUM_ACTIONS)
        if games is None or self.simulations == 0:
            return self._policy(obs, masks)
        s = self._tree_count(len(games))
        for i, g in enumerate(games):
            s.set_root(i, g)
        return self._search_roots(s, len(games))

    def __call__(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        return int(self.act(observation[None], action_mask[None])[0])


def is_checkpoint(ckpt) -> bool:
    """True for a loaded AlphaZero checkpoint or export (its network has residual ``blocks``)."""
    return isinstance(ckpt, dict) and "model" in ckpt and "blocks" in (ckpt.get("network") or {})


def read_checkpoint(path: str, device: str = "cpu") -> dict:
    """A training checkpoint or an export as a dict (``"shipped"``: :data:`SHIPPED`), or a clear error."""
    import torch

    path = SHIPPED if path == "shipped" else path
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no AlphaZero checkpoint at {path!r}")
    ckpt = torch.load(path, map_location=device, weights_only=False)
    if not is_checkpoint(ckpt):
        raise ValueError(f"{path!r} is not an AlphaZero checkpoint (no 'model' and residual 'network' entries)")
    return ckpt


def load_network(path: str, device: str = "cpu"):
    """The network of a checkpoint (a training checkpoint or an export; ``"shipped"``: :data:`SHIPPED`)."""
    from agents.az_network import PolicyValueNet

    ckpt = read_checkpoint(path, device)
    net = PolicyValueNet(**ckpt["network"])
    net.load_state_dict(ckpt["model"])
    net.eval()
    return net


def export_network(src: str, dst: str = SHIPPED) -> str:
    """Copies a training checkpoint without the optimiser state and the RNG (for shipping):
    the weights, the network's shape, the training arguments and counters."""
    import torch

    ckpt = read_checkpoint(src)
    out = {k: ckpt[k] for k in ("model", "network", "args", "state") if k in ckpt}
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save(out, dst)
    return dst


def load_agent(path: str, simulations: int = 64, device: str = "cpu", seed: int = 0,
               rollout_weight: float = 0.0, rollout_policy: str = "random", c_puct: float = 1.25,
               reuse: bool = False) -> SearchAgent:
    """The network of an AlphaZero checkpoint with a search of ``simulations`` per move (and, with
    ``rollout_weight`` > 0, a playout by ``rollout_policy`` mixed into each leaf's value:
    ``SearchConfig.rollout_weight``), exploring with ``c_puct``, keeping each game's tree from one
    decision to the next with ``reuse`` (see :class:`SearchAgent`)."""
    return SearchAgent(load_network(path, device), simulations=simulations, device=device, seed=seed,
                       name=os.path.splitext(os.path.basename(path))[0], rollout_weight=rollout_weight,
                       rollout_policy=rollout_policy, c_puct=c_puct, reuse=reuse)


def play_match(agent: SearchAgent, opponent: str, games: int = 100, decks: Optional[Sequence[str]] = None,
               seed: int = 0, mode: str = "attrition"):
    """``agent`` (searching) against a built-in bot, with the shared harness's
    schedule (seats swapped, decks rotated, seeded deals) and result type
    (:class:`agents.evaluate.MatchResult`). The bot plays inside the batch step."""
    from agents import evaluate

    t0 = time.time()
    decks = list(decks or core.list_decks())
    sched = list(evaluate._schedule(games, decks, seed))
    seats = [s for _, s, _, _, _ in sched]
    result = evaluate.MatchResult(agent.name, opponent)
    batch = core.Batch(len(sched), opponent=opponent, agent_seat=seats, mode=mode, autoreset=False)
    try:
        for i, (_, seat, da, db, _) in enumerate(sched):
            batch.set_decks(*((da, db) if seat == 0 else (db, da)), mode, index=i)
        out = batch.reset(seeds=[s for *_, s in sched])
        results = np.zeros(len(sched), np.int64)
        live = ~out.terminated.astype(bool)
        results[~live] = np.sign(out.rewards[~live]).astype(np.int64)
        while live.any():
            idx = np.flatnonzero(live)
            actions = agent.act_in_batch(batch, idx)
            batch.step_subset(idx, actions)
            ended = idx[out.terminated[idx].astype(bool)]
            results[ended] = np.sign(out.rewards[ended]).astype(np.int64)
            live[ended] = False
    finally:
        batch.close()
    for (g, seat, da, db, _), r in zip(sched, results.tolist()):
        result.add(r, seat, da)
    result.seconds = time.time() - t0
    return result


# ---------------------------------------------------------------------------
# Training.


def _save(path: str, net, optimizer, args: Args, state: dict) -> None:
    import torch

    tmp = path + ".tmp"
    torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "network": net.config(),
                "args": dataclasses.asdict(args), "state": state,
                "torch_rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, path)


def _resume_buffer(path: str, capacity: int, iteration: int) -> Optional[ReplayBuffer]:
    """The replay buffer saved with the checkpoint of ``iteration``, or None (said why) to start empty.
    The buffer and the checkpoint are written one after the other, so a run killed between the two leaves
    a buffer of another iteration: that one is not used. Games that were in flight are not saved (a
    resumed run starts new ones)."""
    if not os.path.exists(path):
        print(f"no replay buffer at {path}: starting with an empty one", flush=True)
        return None
    buffer, meta = ReplayBuffer.load(path, capacity)
    if meta.get("iteration") != iteration:
        print(f"the replay buffer at {path} is from iteration {meta.get('iteration')}, the checkpoint from "
              f"{iteration}: starting with an empty one", flush=True)
        return None
    print(f"replay buffer: {buffer.size} positions from {path}", flush=True)
    return buffer


def _losses(net, obs, masks, policy, value, with_log_probs: bool = False):
    """(policy cross-entropy against the visit distribution over legal actions, value MSE) on numpy rows;
    with ``with_log_probs``, also the log-probabilities over the legal actions (from the same forward pass)."""
    import torch
    import torch.nn.functional as F

    o, m, p, z = (torch.from_numpy(np.ascontiguousarray(x)) for x in (obs, masks, policy, value))
    logits, v = net(o)
    logp = F.log_softmax(logits.masked_fill(~m, -1e9), dim=1)
    losses = (-(p * logp).sum(1).mean(), F.mse_loss(v, z))
    return (*losses, logp) if with_log_probs else losses


def learning_rate(args: Args, iteration: int) -> float:
    """The learning rate of ``iteration`` (1-based) under ``args.lr_schedule``."""
    if args.lr_schedule == "constant":
        return args.lr
    if args.lr_schedule == "cosine":
        frac = min(1.0, max(0.0, (iteration - 1) / max(1, args.iterations - 1)))
        return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1.0 + np.cos(np.pi * frac))
    raise ValueError(f"unknown lr_schedule {args.lr_schedule!r}: constant or cosine")


@sigterm_as_interrupt()
def train(args: Args) -> dict:
    """The training loop; returns the final state (iteration, positions, last eval).

    Ctrl-C or SIGTERM (:mod:`agents.interrupt`) writes the checkpoint (of the last whole iteration), says so
    and re-raises: KeyboardInterrupt, or :class:`~agents.interrupt.Terminated` (the command line exits 143).
    """
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from agents.az_network import Evaluator, PolicyValueNet

    learning_rate(args, 1)  # rejects an unknown schedule before any work
    if not 0.0 < args.full_search_prob <= 1.0:
        raise ValueError(f"full_search_prob must be in (0, 1], got {args.full_search_prob}")
    if args.fast_simulations < 1:
        raise ValueError(f"fast_simulations must be at least 1, got {args.fast_simulations}")
    if not 0.0 <= args.q_weight <= 1.0:
        raise ValueError(f"q_weight must be in [0, 1], got {args.q_weight}")
    if args.augment not in ("", "hands"):
        raise ValueError(f"augment must be '' or 'hands', got {args.augment!r}")
    if not 0.0 <= args.rollout_weight <= 1.0:
        raise ValueError(f"rollout_weight must be in [0, 1], got {args.rollout_weight}")
    if args.rollout_policy not in PLAYOUTS:
        raise ValueError(f"rollout_policy must be one of {', '.join(PLAYOUTS)}, got {args.rollout_policy!r}")
    if args.grow_blocks < 0 or (args.grow_blocks and not args.init):
        raise ValueError(f"grow_blocks must be >= 0 and needs --init (the network to grow), got {args.grow_blocks}"
                         + ("" if args.init else " without --init"))
    if not 0 <= args.selfplay_workers <= args.num_games:
        raise ValueError(f"selfplay_workers must be between 0 and num_games ({args.num_games}), "
                         f"got {args.selfplay_workers}")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.run_dir, exist_ok=True)
    ckpt_path = os.path.join(args.run_dir, "checkpoint.pt")
    net = PolicyValueNet(args.width, args.blocks)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    state = {"iteration": 0, "positions": 0, "games": 0, "gradient_steps": 0, "elapsed": 0.0, "evals": []}
    resume = ckpt_path if args.resume == "auto" else args.resume
    if resume and os.path.exists(resume):
        ckpt = torch.load(resume, map_location="cpu", weights_only=False)
        net = PolicyValueNet(**ckpt["network"])
        net.load_state_dict(ckpt["model"])
        optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        optimizer.load_state_dict(ckpt["optimizer"])
        state = ckpt["state"]
        torch.set_rng_state(ckpt["torch_rng"])
        print(f"resumed from {resume} at iteration {state['iteration']} ({state['positions']} positions)", flush=True)
    elif args.resume and args.resume != "auto":
        raise ValueError(f"no checkpoint at {args.resume}")
    elif args.init:
        net = load_network(args.init)  # the loop sets eval/train mode itself
        if args.grow_blocks:
            print(f"growing {args.init} by {args.grow_blocks} identity block(s)", flush=True)
            net = net.grown(args.grow_blocks)
        optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        print(f"initialised from {args.init} ({net.config()})", flush=True)
    writer = SummaryWriter(args.run_dir)
    writer.add_text("args", json.dumps(dataclasses.asdict(args), indent=1))
    # A resumed run continues with fresh deals and noise (seeded by the iteration).
    seed = args.seed + 7919 * state["iteration"]
    if args.selfplay_workers:
        selfplay = SelfPlayPool(args, net, seed, args.selfplay_workers)
    else:
        selfplay = SelfPlay(args, Evaluator(net), seed)
    buffer = ReplayBuffer(args.buffer_size)
    replay_path = os.path.join(args.run_dir, "replay.npz")
    if resume and os.path.exists(resume):
        buffer = _resume_buffer(os.path.join(os.path.dirname(resume), "replay.npz"), args.buffer_size,
                                state["iteration"]) or buffer
    rng = np.random.default_rng(args.seed + state["iteration"])
    opponents = [o for o in args.eval_opponents.split(",") if o]
    start_time = time.time()
    last_batch = None
    last = {}
    interrupted = None
    try:
        while state["iteration"] < args.iterations:
            if args.time_limit and time.time() - start_time > args.time_limit:
                print("time limit reached", flush=True)
                break
            it = state["iteration"] + 1
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(args, it)
            t0 = time.time()
            net.eval()
            added_before = buffer.added
            positions = selfplay.play(args.moves_per_iteration, buffer)
            t_play = time.time() - t0
            state["positions"] += positions
            # In-process: positions per second of the self-play phase. With workers, self-play overlaps
            # training and evaluation, so: per second of wall clock since the previous batch arrived.
            now = time.time()
            play_seconds = now - last_batch if args.selfplay_workers and last_batch is not None else t_play
            sps = positions / max(play_seconds, 1e-9)
            last_batch = now
            writer.add_scalar("charts/SPS", sps, state["positions"])
            writer.add_scalar("charts/buffer_size", buffer.size, state["positions"])
            writer.add_scalar("charts/games_finished", selfplay.games_finished + state["games"], state["positions"])
            if selfplay.game_lengths:
                writer.add_scalar("charts/game_length", float(np.mean(selfplay.game_lengths[-100:])), state["positions"])
            # Held-out losses: the rows that just arrived, before any gradient step on them. The training
            # losses below are on rows the network may have seen many times; a training value loss well
            # under the held-out one is the value head memorising games (all positions of a game share
            # one result) rather than learning positions.
            fresh = buffer.added - added_before
            heldout = "(no new rows to hold out)"
            if fresh:
                with torch.no_grad():
                    h_p, h_v = _losses(net, *buffer.newest(fresh))
                h_p_loss, h_v_loss = h_p.item(), h_v.item()
                writer.add_scalar("losses/heldout_policy_loss", h_p_loss, state["positions"])
                writer.add_scalar("losses/heldout_value_loss", h_v_loss, state["positions"])
                heldout = f"(held out {h_p_loss:.3f} / {h_v_loss:.3f})"
            t1 = time.time()
            train_losses = f"filling the buffer to {args.min_buffer} before training"
            if buffer.size >= args.min_buffer:
                net.train()
                pl, vl = [], []
                for _ in range(args.train_steps):
                    obs, masks, policy, value = buffer.sample(args.batch_size, rng)
                    if args.augment == "hands":
                        obs, masks, policy = permute_hands(obs, masks, policy, rng)
                    policy_loss, value_loss = _losses(net, obs, masks, policy, value)
                    loss = policy_loss + args.value_coef * value_loss
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                    optimizer.step()
                    pl.append(policy_loss.item())
                    vl.append(value_loss.item())
                state["gradient_steps"] += args.train_steps
                p_loss, v_loss = float(np.mean(pl)), float(np.mean(vl))
                writer.add_scalar("losses/policy_loss", p_loss, state["positions"])
                writer.add_scalar("losses/value_loss", v_loss, state["positions"])
                train_losses = f"policy_loss {p_loss:.3f}  value_loss {v_loss:.3f}"
                writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], state["positions"])
            t_train = time.time() - t1
            state["iteration"] = it
            state["elapsed"] += time.time() - t0
            print(f"iter {it:4d}  positions {state['positions']:8d}  games {state['games'] + selfplay.games_finished:6d}"
                  f"  SPS {sps:7.1f}  buffer {buffer.size:7d}  {train_losses}  {heldout}"
                  f"  ({'waiting for self-play' if args.selfplay_workers else 'self-play'} {t_play:.1f}s, train {t_train:.1f}s)",
                  flush=True)
            if args.eval_every and it % args.eval_every == 0:
                last = _evaluate(net, args, opponents, writer, state)
            if args.checkpoint_every and it % args.checkpoint_every == 0:
                state_to_save = dict(state, games=state["games"] + selfplay.games_finished)
                if args.save_buffer:
                    buffer.save(replay_path, iteration=it)
                _save(ckpt_path, net, optimizer, args, state_to_save)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: the checkpoint below, then the interrupt goes on
        interrupted = e
        raise
    finally:
        state["games"] += selfplay.games_finished
        if args.save_buffer:
            buffer.save(replay_path, iteration=state["iteration"])
        _save(ckpt_path, net, optimizer, args, state)
        selfplay.close()
        writer.close()
        if interrupted is not None:
            print(f"{interrupt_name(interrupted)}: saved checkpoint {ckpt_path} (iteration {state['iteration']}, "
                  f"{state['positions']} positions); continue with --resume {ckpt_path}", flush=True)
    print(f"saved {ckpt_path}", flush=True)
    return {"state": state, "eval": last, "checkpoint": ckpt_path}


def _evaluate(net, args: Args, opponents: Sequence[str], writer, state: dict) -> dict:
    agent = SearchAgent(net, simulations=args.eval_simulations, seed=args.seed)
    out = {}
    for opp in opponents:
        m = play_match(agent, opp, games=args.eval_games, seed=10_000 + state["iteration"], mode=args.mode)
        out[opp] = m.total.as_dict()
        writer.add_scalar(f"eval/win_rate_vs_{opp}", m.total.win_rate, state["positions"])
        writer.add_scalar(f"eval/score_vs_{opp}", m.total.score, state["positions"])
        print("  eval: " + m.summary().splitlines()[0], flush=True)
    state["evals"].append({"iteration": state["iteration"], "positions": state["positions"], "results": out})
    if agent._search is not None:
        agent._search.close()
    return out


# ---------------------------------------------------------------------------
# Command line: essence-wars train alphazero [...]


def configure(p: argparse.ArgumentParser) -> None:
    """Adds every :class:`Args` field as ``--kebab-case``, plus the evaluation-only mode."""
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, type=type(f.default), default=f.default, help=f.metadata.get("help", ""))
    p.add_argument("--evaluate", metavar="CHECKPOINT", default="",
                   help="only evaluate this checkpoint (search with --eval-simulations) against --eval-opponents")
    p.add_argument("--json", action="store_true", help="with --evaluate: print the results as JSON")


def run(ns: argparse.Namespace) -> int:
    args = Args(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(Args)})
    if getattr(ns, "evaluate", ""):
        agent = load_agent(ns.evaluate, simulations=args.eval_simulations, seed=args.seed)
        results = []
        for opp in [o for o in args.eval_opponents.split(",") if o]:
            m = play_match(agent, opp, games=args.eval_games, seed=args.seed, mode=args.mode)
            results.append(m.as_dict())
            if not ns.json:
                print(m.summary(), flush=True)
        if ns.json:
            print(json.dumps(results, indent=2))
        return 0
    try:
        train(args)
    except Terminated as e:  # the checkpoint is written
        return e.exit_status
    return 0



if __name__ == "__main__":
    from agents import commands

    sys.exit(commands.cli.main())
