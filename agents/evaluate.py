"""Evaluation: play N seeded games between two agents, seats swapped and decks
rotated, and report win/draw/loss with Wilson 95% intervals (overall, per
deck, per seat); an Elo table across a set of agents.

An agent is a bot name (``random``, ``greedy``, ``mcts-N``, ``mcts-N-greedy``,
either MCTS form with ``-det``),
a checkpoint path, or a :class:`~agents.checkpoint.Policy`. Games are played
in one :class:`essence_wars.core.Batch`, so a policy makes one forward pass
per step for all live games: 1000 games against greedy take seconds.

Schedule: game ``g`` uses deck pair ``pairs[(g // 2) % len(pairs)]`` (every
ordered pair of the chosen decks, agent A's deck first) and deal seed
``seed + g // 2``; agent A sits in seat ``g % 2``. Games 2k and 2k+1 are the
same deal with the seats swapped.

>>> r = play_match("runs/ppo/checkpoint.pt", "greedy", games=1000)
>>> print(r.summary())
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from agents import keyed
from essence_wars import core

AgentSpec = Union[str, object]


# ---------------------------------------------------------------------------
# statistics


def result_for(seat: int, winner: Optional[int]) -> int:
    """A finished game's result for ``seat``: +1 a win, -1 a loss, 0 a draw (``winner`` None)."""
    return 0 if winner is None else (1 if winner == seat else -1)


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> Tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Record:
    """Wins, draws and losses from agent A's point of view."""

    wins: int = 0
    draws: int = 0
    losses: int = 0

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def win_rate(self) -> float:
        return self.wins / self.games if self.games else 0.0

    @property
    def score(self) -> float:
        """Wins plus half the draws, per game."""
        return (self.wins + 0.5 * self.draws) / self.games if self.games else 0.0

    def interval(self) -> Tuple[float, float]:
        """Wilson 95% interval of the win rate (draws count as not won)."""
        return wilson_interval(self.wins, self.games)

    def add(self, result: int) -> None:
        if result > 0:
            self.wins += 1
        elif result < 0:
            self.losses += 1
        else:
            self.draws += 1

    def line(self) -> str:
        lo, hi = self.interval()
        return (f"{self.win_rate:6.1%} win [{lo:.1%}, {hi:.1%}]  "
                f"W/D/L {self.wins}/{self.draws}/{self.losses}  ({self.games} games)")

    def as_dict(self) -> dict:
        lo, hi = self.interval()
        return {"games": self.games, "wins": self.wins, "draws": self.draws, "losses": self.losses,
                "win_rate": self.win_rate, "win_rate_ci95": [lo, hi], "score": self.score}


@dataclass
class MatchResult:
    """The games of agent A against agent B (every number from A's side)."""

    agent: str
    opponent: str
    total: Record = field(default_factory=Record)
    per_deck: Dict[str, Record] = field(default_factory=dict)
    per_seat: Dict[int, Record] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, result: int, seat: int, deck: str) -> None:
        self.total.add(result)
        self.per_deck.setdefault(deck, Record()).add(result)
        self.per_seat.setdefault(seat, Record()).add(result)

    def summary(self) -> str:
        lines = [f"{self.agent} vs {self.opponent}: {self.total.line()}  in {self.seconds:.1f}s"]
        for seat in sorted(self.per_seat):
            lines.append(f"  seat {seat}: {self.per_seat[seat].line()}")
        for deck in sorted(self.per_deck):
            lines.append(f"  {deck:18} {self.per_deck[deck].line()}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"agent": self.agent, "opponent": self.opponent, "seconds": self.seconds,
                **self.total.as_dict(),
                "per_seat": {str(k): v.as_dict() for k, v in sorted(self.per_seat.items())},
                "per_deck": {k: v.as_dict() for k, v in sorted(self.per_deck.items())}}


# ---------------------------------------------------------------------------
# agents


def _is_bot(spec: AgentSpec) -> bool:
    if not isinstance(spec, str):
        return False
    s = spec.strip().lower()
    return s in ("random", "greedy") or (s.startswith("mcts-") and s.split("-")[1].isdigit())


def resolve_agent(spec: AgentSpec, seed: int = 0, deterministic: bool = False):
    """A bot name (str) stays a str; a path becomes a Policy; a Policy stays itself."""
    if _is_bot(spec):
        return spec.strip().lower()
    if isinstance(spec, str) and spec.startswith("az:"):
        # An AlphaZero checkpoint searching at a budget: "az:PATH@SIMULATIONS[,rollout=W][,playout=P][,c_puct=C]
        # [,reuse=1]"; a
        # budget of 0 plays the network's most likely legal action with no search (the raw policy head).
        from agents.alphazero import PLAYOUTS, load_agent

        path, _, budget = spec[3:].rpartition("@") if "@" in spec else (spec[3:], "", "")
        sims, *options = budget.split(",") if budget else [""]
        if sims and not (sims.isascii() and sims.isdigit()):
            raise ValueError(f"az:PATH@SIMULATIONS needs a whole number of simulations (0: the network's own "
                             f"policy, no search), got {sims!r}")
        if sims and int(sims) == 0 and options:
            raise ValueError(f"{spec!r}: with 0 simulations there is no search, so no search option applies")
        rollout_weight, rollout_policy, c_puct, reuse = 0.0, None, None, False
        for opt in options:
            key, _, value = opt.partition("=")
            if key == "reuse":
                if value not in ("0", "1"):
                    raise ValueError(f"reuse=1 (keep each game's tree between decisions) or reuse=0, got "
                                     f"{value!r} in {spec!r}")
                reuse = value == "1"
                continue
            if key == "c_puct":
                try:
                    c_puct = float(value)
                except ValueError:
                    c_puct = float("nan")
                if not (0.0 < c_puct < float("inf")):  # NaN fails too
                    raise ValueError(f"c_puct=C needs a number C > 0 (the search's exploration constant), got "
                                     f"{value!r} in {spec!r}")
                continue
            if key == "playout":
                if value not in PLAYOUTS:
                    raise ValueError(f"playout=P needs one of {', '.join(PLAYOUTS)} (the playouts' policy; -det: "
                                     f"on a fresh deal of the undrawn cards), got {value!r} in {spec!r}")
                rollout_policy = value
                continue
            if key != "rollout":
                raise ValueError(f"unknown option {opt!r} in {spec!r}: the options are rollout=W (W in [0, 1], the "
                                 "weight of a playout in each leaf's value), playout=random|greedy[-det] (its policy), "
                                 "c_puct=C (the exploration constant, default 1.25) and reuse=1 (keep each "
                                 "game's tree between decisions)")
            try:
                rollout_weight = float(value)
            except ValueError:
                rollout_weight = float("nan")
            if not 0.0 <= rollout_weight <= 1.0:  # NaN fails too
                raise ValueError(f"rollout=W needs a number W in [0, 1], got {value!r} in {spec!r}")
        if rollout_policy is not None and rollout_weight == 0.0:
            raise ValueError(f"{spec!r}: playout={rollout_policy} needs rollout=W with W > 0 (without it no "
                             "playout is played)")
        extra = {} if c_puct is None else {"c_puct": c_puct}
        return load_agent(path, simulations=int(sims or 64), seed=seed, rollout_weight=rollout_weight,
                          rollout_policy=rollout_policy or "random", reuse=reuse, **extra)
    if isinstance(spec, str):
        from agents.checkpoint import load

        return load(spec if spec != "shipped" else None, deterministic=deterministic, seed=seed)
    if hasattr(spec, "act"):
        return spec
    raise TypeError(f"an agent is a bot name, a checkpoint path or a Policy, got {type(spec).__name__}")


def agent_name(spec: AgentSpec) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", type(spec).__name__)


def _schedule(games: int, decks: Sequence[str], seed: int):
    pairs = [(a, b) for a in decks for b in decks]
    for g in range(games):
        deck_a, deck_b = pairs[(g // 2) % len(pairs)]
        yield g, g % 2, deck_a, deck_b, seed + g // 2


# ---------------------------------------------------------------------------
# playing


class _Decisions:
    """Per-game decision counters of a chunk, for the keys of
    :mod:`agents.keyed`: an agent that takes keys draws its random numbers
    from (its seed, schedule game, decision number), so a game plays the
    same whichever chunk or worker it lands in."""

    def __init__(self, sched):
        self.games = np.array([g for g, *_ in sched], np.uint64)
        self.count = np.zeros(len(sched), np.uint64)

    def keys(self, idx: np.ndarray) -> np.ndarray:
        k = keyed.decision_keys(self.games[idx], self.count[idx])
        self.count[idx] += np.uint64(1)
        return k


def _act(agent, batch, out, idx, decisions: _Decisions) -> np.ndarray:
    """The agent's actions for games ``idx``: a search agent searches on the
    batch's games themselves, a policy reads their observations and masks.
    Agents that take keys get each game's decision keys."""
    kw = {"keys": decisions.keys(idx)} if getattr(agent, "takes_keys", False) else {}
    if hasattr(agent, "act_in_batch"):
        return agent.act_in_batch(batch, idx, **kw)
    return agent.act(out.obs[idx], out.masks[idx], **kw)


def _policy_vs_bot(policy, bot: str, sched, mode: str) -> List[int]:
    """Results (for the policy) of games in a batch where the bot plays inside the step."""
    n = len(sched)
    seats = [s for _, s, _, _, _ in sched]
    batch = core.Batch(n, opponent=bot, agent_seat=seats, mode=mode, autoreset=False)
    decisions = _Decisions(sched)
    try:
        for i, (_, seat, da, db, _) in enumerate(sched):
            batch.set_decks(*((da, db) if seat == 0 else (db, da)), mode, index=i)
        out = batch.reset(seeds=[s for *_, s in sched])
        results = np.zeros(n, np.int64)
        live = ~out.terminated.astype(bool)
        # A game can end during the reset (the bot moving first cannot end it in
        # practice, but never assume): those rows are terminated already.
        results[~live] = np.sign(out.rewards[~live]).astype(np.int64)
        while live.any():
            idx = np.flatnonzero(live)
            actions = _act(policy, batch, out, idx, decisions)
            batch.step_subset(idx, actions)
            ended = idx[out.terminated[idx].astype(bool)]
            results[ended] = np.sign(out.rewards[ended]).astype(np.int64)
            live[ended] = False
        return results.tolist()
    finally:
        batch.close()


def _policy_vs_policy(policy_a, policy_b, sched, mode: str) -> List[int]:
    """Results (for A) of self-play games; each step one forward pass per policy."""
    n = len(sched)
    batch = core.Batch(n, mode=mode, autoreset=False)
    decisions = _Decisions(sched)
    try:
        for i, (_, seat, da, db, _) in enumerate(sched):
            batch.set_decks(*((da, db) if seat == 0 else (db, da)), mode, index=i)
        out = batch.reset(seeds=[s for *_, s in sched])
        seat_a = np.array([s for _, s, _, _, _ in sched])
        results = np.zeros(n, np.int64)
        live = np.ones(n, bool)
        actions = np.zeros(n, np.int64)
        while live.any():
            idx = np.flatnonzero(live)
            a_turn = out.current_player[idx] == seat_a[idx]
            for who, sel in ((policy_a, idx[a_turn]), (policy_b, idx[~a_turn])):
                if sel.size:
                    actions[sel] = _act(who, batch, out, sel, decisions)
            batch.step_subset(idx, actions[idx])
            done = out.terminated[idx].astype(bool)
            ended = idx[done]
            # the reward is for the player who acted: A if it was A's turn
            sign = np.where(a_turn[done], 1, -1)
            results[ended] = sign * np.sign(out.rewards[ended]).astype(np.int64)
            live[ended] = False
        return results.tolist()
    finally:
        batch.close()


def _bot_vs_bot(bot_a: str, bot_b: str, sched, mode: str) -> List[int]:
    from essence_wars.bots import NativeBot

    results = []
    for g, seat, da, db, s in sched:
        bots = {seat: NativeBot(bot_a, seed=2 * s + 1), 1 - seat: NativeBot(bot_b, seed=2 * s + 2)}
        decks = (da, db) if seat == 0 else (db, da)
        with core.Game(s, decks[0], decks[1], mode) as game:
            while not game.is_done():
                game.step(bots[game.current_player()](game))
            results.append(result_for(seat, game.winner()))
    return results


def _play(a, b, part, mode: str) -> List[int]:
    """Results (for A) of the games ``part`` of a schedule, between resolved agents."""
    if isinstance(a, str) and isinstance(b, str):
        return _bot_vs_bot(a, b, part, mode)
    if isinstance(b, str):
        return _policy_vs_bot(a, b, part, mode)
    if isinstance(a, str):
        # Swap the roles (the bot plays inside the step), then flip the signs.
        swapped = [(g, 1 - s, db, da, sd) for g, s, da, db, sd in part]
        return [-r for r in _policy_vs_bot(b, a, swapped, mode)]
    return _policy_vs_policy(a, b, part, mode)


def _play_in_worker(agent: str, opponent: str, seed: int, deterministic: bool, part, mode: str) -> List[int]:
    """One chunk in a worker process: the agents resolved there, as in the parent."""
    a = resolve_agent(agent, seed=seed, deterministic=deterministic)
    b = resolve_agent(opponent, seed=seed + 1, deterministic=deterministic)
    if "torch" in sys.modules:  # a network per worker: one thread each, or they fight over the cores
        sys.modules["torch"].set_num_threads(1)
    return _play(a, b, part, mode)


def play_match(agent: AgentSpec, opponent: AgentSpec, games: int = 1000, decks: Optional[Sequence[str]] = None,
               seed: int = 0, mode: str = "attrition", chunk: int = 1000, progress: bool = False,
               deterministic: bool = False, workers: int = 1) -> MatchResult:
    """Plays ``games`` games of ``agent`` (A) against ``opponent`` (B).

    Seats alternate, deck pairs rotate over ``decks`` (default: all presets),
    deals are seeded from ``seed``; policies sample their actions from
    generators seeded from ``seed`` too (``deterministic=True`` plays the most
    likely action). Games run ``chunk`` at a time in one batch.

    With ``workers`` > 1 the chunks are played in that many processes (the
    agents must be given by name: bot names, paths, ``az:`` specs), and the
    chunk is at most a quarter of a worker's share, so the progress bar moves.
    The result is a function of ``seed`` and ``games`` alone, whatever the
    chunk size and the worker count: the deals and the bots are seeded per
    game, and the agents here (sampling policies, searches with playouts)
    draw their random numbers from their seed and each game's decision keys
    (:mod:`agents.keyed`). A third-party agent without ``takes_keys`` keeps
    its own generator, and its results then depend on the chunking.
    """
    import time

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if workers > 1 and not (isinstance(agent, str) and isinstance(opponent, str)):
        raise ValueError("workers > 1 needs both agents given by name (a bot name, a checkpoint path or an az: "
                         "spec), so that each worker process can load them")
    t0 = time.time()
    a = resolve_agent(agent, seed=seed, deterministic=deterministic)
    b = resolve_agent(opponent, seed=seed + 1, deterministic=deterministic)
    result = MatchResult(agent_name(agent), agent_name(opponent))
    decks = list(decks or core.list_decks())
    sched = list(_schedule(games, decks, seed))
    if workers > 1:
        chunk = max(1, min(chunk, -(-games // (4 * workers))))
    parts = [sched[start:start + chunk] for start in range(0, games, chunk)]
    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=games, desc=f"eval vs {result.opponent}", unit="game", leave=False)
        except ImportError:
            bar = None

    def record(part, res) -> None:
        for (g, seat, da, db, _), r in zip(part, res):
            result.add(r, seat, da)
        if bar is not None:
            bar.update(len(part))

    try:
        if workers == 1:
            for part in parts:
                record(part, _play(a, b, part, mode))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            from agents.interrupt import ignore_sigint

            pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=ignore_sigint)
            try:
                futures = [pool.submit(_play_in_worker, agent, opponent, seed, deterministic, part, mode)
                           for part in parts]
                for part, fut in zip(parts, futures):  # in schedule order
                    record(part, fut.result())
            except BaseException:
                # Ctrl-C or a failed chunk: the chunks still playing would take minutes, so stop the workers
                # (the executor has no terminate; its process table is the only handle on them)
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        if bar is not None:
            bar.close()
    result.seconds = time.time() - t0
    return result


# ---------------------------------------------------------------------------
# Elo


def fit_elo(names: Sequence[str], scores: Dict[Tuple[int, int], Tuple[float, int]], anchor: Optional[str] = None,
            iterations: int = 2000) -> Dict[str, float]:
    """Elo ratings by maximum likelihood (Bradley-Terry, minorise-maximise).

    ``scores[(i, j)] = (score of i against j, games)``. Each pair gets one
    virtual drawn game so that a clean sweep gives a finite rating. Ratings
    are shifted so that ``anchor`` (default: ``random`` if present) is 0, else
    so that their mean is 0.
    """
    k = len(names)
    w = np.zeros((k, k))
    n = np.zeros((k, k))
    for (i, j), (s, g) in scores.items():
        w[i, j] += s + 0.5
        w[j, i] += (g - s) + 0.5
        n[i, j] += g + 1
        n[j, i] += g + 1
    gamma = np.ones(k)
    for _ in range(iterations):
        new = np.empty(k)
        for i in range(k):
            denom = sum(n[i, j] / (gamma[i] + gamma[j]) for j in range(k) if j != i and n[i, j] > 0)
            new[i] = w[i].sum() / denom if denom > 0 else gamma[i]
        new /= np.exp(np.mean(np.log(new)))
        if np.max(np.abs(new - gamma)) < 1e-10:
            gamma = new
            break
        gamma = new
    elo = 400 * np.log10(gamma)
    anchor = anchor if anchor is not None else ("random" if "random" in names else None)
    shift = elo[list(names).index(anchor)] if anchor in names else elo.mean()
    return {name: float(e - shift) for name, e in zip(names, elo)}


def elo_table(agents: Sequence[AgentSpec], games: int = 200, seed: int = 0, decks: Optional[Sequence[str]] = None,
              mode: str = "attrition", progress: bool = False) -> Tuple[Dict[str, float], List[MatchResult]]:
    """Round robin of ``games`` games per pair, then :func:`fit_elo`."""
    names = [agent_name(a) for a in agents]
    resolved = [resolve_agent(a, seed=seed + i) for i, a in enumerate(agents)]
    scores, matches = {}, []
    for i in range(len(agents)):
        for j in range(i + 1, len(agents)):
            m = play_match(resolved[i], resolved[j], games=games, decks=decks, seed=seed, mode=mode,
                           progress=progress)
            m.agent, m.opponent = names[i], names[j]
            matches.append(m)
            scores[(i, j)] = (m.total.wins + 0.5 * m.total.draws, m.total.games)
            if progress:
                print(m.summary().splitlines()[0], flush=True)
    return fit_elo(names, scores), matches


# ---------------------------------------------------------------------------
# command line: essence-wars eval


def configure_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agent", default="shipped",
                   help="checkpoint path, 'shipped' (the packaged PPO checkpoint), az:PATH@N (an AlphaZero "
                        "network searching N simulations per move; N = 0 plays its policy head's most likely "
                        "legal action with no search; az:shipped@N is the packaged one; "
                        "az:PATH@N,rollout=W mixes a random playout into each leaf's value with weight W, and "
                        "az:PATH@N,rollout=W,playout=greedy the greedy bot's playout (playout=random-det or "
                        "greedy-det: on a fresh deal of the undrawn cards, blind to the deck order); ,c_puct=C sets "
                        "the search's exploration constant, default 1.25; ,reuse=1 keeps each game's tree between "
                        "decisions) "
                        "or a bot name (default: shipped)")
    p.add_argument("--opponent", nargs="+", default=["greedy"],
                   help="one or more opponents: bot names (random, greedy, mcts-N, mcts-N-greedy, either MCTS form "
                        "+ '-det': it does not see the deck order) or checkpoint paths")
    p.add_argument("--games", type=int, default=1000, help="games per opponent (seats swapped, decks rotated)")
    p.add_argument("--seed", type=int, default=0, help="seed of the deals and of the policies' sampling")
    p.add_argument("--decks", nargs="*", help="decks to rotate over (default: all presets)")
    p.add_argument("--mode", default="attrition", choices=["attrition", "essence_duel"])
    p.add_argument("--deterministic", action="store_true", help="policies play their most likely action")
    p.add_argument("--elo", action="store_true",
                   help="round robin of the agent and all opponents, then print an Elo table (random = 0)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes playing the games (chunks of games / (4 x workers)); agents given by name; "
                        "--elo plays in one process")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def run_eval(args: argparse.Namespace) -> int:
    if args.elo:
        agents = [args.agent] + list(args.opponent)
        elo, matches = elo_table(agents, games=args.games, seed=args.seed, decks=args.decks, mode=args.mode,
                                 progress=not args.json)
        if args.json:
            print(json.dumps({"elo": elo, "matches": [m.as_dict() for m in matches]}, indent=2))
        else:
            print("Elo (random = 0 when present):")
            for name, e in sorted(elo.items(), key=lambda kv: -kv[1]):
                print(f"  {e:8.1f}  {name}")
        return 0
    out = []
    for opp in args.opponent:
        m = play_match(args.agent, opp, games=args.games, decks=args.decks, seed=args.seed, mode=args.mode,
                       progress=not args.json, deterministic=args.deterministic, workers=args.workers)
        if args.json:
            out.append(m.as_dict())
        else:
            print(m.summary(), flush=True)
    if args.json:
        print(json.dumps(out if len(out) > 1 else out[0], indent=2))
    return 0
