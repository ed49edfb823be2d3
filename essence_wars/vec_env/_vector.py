"""``SharedMemoryVectorEnv``: the Gymnasium vector env over the shared-memory ring.

See the package docstring (``essence_wars.vec_env``) and ``docs/VEC_ENV.md``
for the contract; this file is the learner's side of it.
"""

from __future__ import annotations

import mmap
import multiprocessing as mp
import operator
import os
import secrets
import signal
import time
import weakref
from multiprocessing import shared_memory
from typing import Any, List, Optional, Sequence, Union

import numpy as np
from gymnasium import spaces
from gymnasium.error import AlreadyPendingCallError, ClosedEnvironmentError, NoAsyncCallError, ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from essence_wars import core
from essence_wars.env import bot_name, check_deck  # the same deck and bot rules as the single env
from essence_wars.vec_env import _ring as R
from essence_wars.vec_env import _handoff
from essence_wars.vec_env._handoff import HANDOFFS, LearnerSide, Spinner
from essence_wars.vec_env._shard import RANDOM, ShardConfig, ShardRunner

__all__ = ["SharedMemoryVectorEnv", "make", "WorkerError", "WorkerDiedError", "WorkerTimeoutError", "OBS_BOUND"]

#: Bound of the observation Box, the same as ``essence_wars.env`` (every feature is a
#: 16-bit engine field divided by a scale of at least 3; in play values stay in about [-1, 2]).
OBS_BOUND = float(2**15) / 3.0
#: How often a blocked learner checks that its workers are alive (seconds).
WATCH_INTERVAL = 0.05
#: How long a worker may take to start (import, attach, build its shard).
START_TIMEOUT = 60.0
#: How long close() waits for workers to exit on their own before terminating them.
CLOSE_TIMEOUT = 1.0

_MODES = ("attrition", "essence_duel")
_U64 = (1 << 64) - 1
_sched_yield = getattr(os, "sched_yield", lambda: None)
_I64_MAX = (1 << 63) - 1


class WorkerError(RuntimeError):
    """A worker failed; the vector env cannot be used any more (``close()`` it)."""

    def __init__(self, message: str, worker: Optional[int] = None, exitcode: Optional[int] = None):
        super().__init__(message)
        self.worker = worker
        self.exitcode = exitcode


class WorkerDiedError(WorkerError):
    """A worker process exited (crashed or was killed)."""


class WorkerTimeoutError(WorkerError, TimeoutError):
    """A worker showed no sign of life (no heartbeat) for ``timeout`` seconds: hung or stopped."""


# ---------------------------------------------------------------------------
# Argument checks.


def _check_int(value, what: str, lo: int, hi: Optional[int] = None) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, got bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}") from None
    if v < lo or (hi is not None and v > hi):
        bound = f"{lo} <= {what}" + (f" <= {hi}" if hi is not None else "")
        raise ValueError(f"{what} must satisfy {bound}, got {v}")
    return v


def _check_opponent(opponent) -> Optional[str]:
    if opponent is None:
        return None
    name = bot_name(opponent) if isinstance(opponent, str) else None
    if name is None:
        raise ValueError(f"unknown opponent {opponent!r}; valid: None (self-play), 'random', 'greedy', "
                         "'mcts-N', 'mcts-N-greedy', 'mcts-N-random', any MCTS form + '-det'")
    return name


def _check_seat(seat):
    if isinstance(seat, str) and seat == RANDOM:
        return RANDOM
    if isinstance(seat, (bool, np.bool_)) or not isinstance(seat, (int, np.integer)) or int(seat) not in (0, 1):
        raise ValueError(f"agent_seat must be 0, 1 or 'random', got {seat!r}")
    return int(seat)


def _per_env(value, n: int, what: str, check) -> tuple:
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != n:
            raise ValueError(f"{what} must be one value or a list of one per env ({n}), got {len(value)}")
        return tuple(check(v) for v in value)
    v = check(value)
    return (v,) * n


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


# ---------------------------------------------------------------------------
# Resources and their release (shared by close(), garbage collection and exit).


class _Resources:
    """Everything that must be released; no reference to the env, so GC can finalize it."""

    def __init__(self):
        self.owner = os.getpid()
        self.procs: List[Any] = []
        self.ctrl: Optional[np.ndarray] = None
        self.hand: Optional[LearnerSide] = None
        self.shm: Optional[shared_memory.SharedMemory] = None
        self.unlinked = False
        self.runner: Optional[ShardRunner] = None

    def unlink(self) -> None:
        if self.shm is not None and not self.unlinked:
            self.unlinked = True
            try:
                self.shm.unlink()
            except FileNotFoundError:
                pass


def _shutdown(res: _Resources) -> None:
    """Stops the workers and frees the ring. Idempotent; a no-op in forked children."""
    if os.getpid() != res.owner:
        return
    procs, res.procs = res.procs, []
    if procs and res.ctrl is not None:
        for w, p in enumerate(procs):
            if p.exitcode is None:
                try:
                    res.ctrl[w, R.CMD] = R.CMD_CLOSE
                    res.ctrl[w, R.CMD_SEQ] += 1
                    res.hand.signal(w)
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.exitcode is None:
                p.terminate()
        for p in procs:
            if p.exitcode is None:
                p.join(0.2)
            if p.exitcode is None:
                p.kill()  # also ends a stopped (SIGSTOP) worker
                p.join(1.0)
        for p in procs:
            try:
                p.close()
            except ValueError:
                pass
    if res.hand is not None:
        res.hand.close()
        res.hand = None
    if res.runner is not None:
        res.runner.close()
        res.runner = None
    res.ctrl = None
    if res.shm is not None:
        res.unlink()
        R.release_shm(res.shm)
        res.shm = None


# ---------------------------------------------------------------------------
# The env.


class SharedMemoryVectorEnv(VectorEnv):
    """``num_envs`` Essence Wars games stepped by worker processes into a shared-memory ring.

    A :class:`gymnasium.vector.VectorEnv`. Each sub-env is exactly an
    :class:`essence_wars.env.EssenceWarsEnv` reset with ``seed + i`` (same
    spaces, rewards, final observations, seeding); see ``docs/VEC_ENV.md``.

    Args:
        num_envs: number of games N.
        num_workers: worker processes, each owning a contiguous shard of envs;
            0 runs the same ring in-process (no processes).
        ring_slots: R, slots of the ring. Arrays returned with ``copy=False`` stay
            valid until R more results (reset or step) have been requested, so
            a rollout of up to R-1 steps needs no copy.
        deck, opponent_deck: a preset name, a list of 30 card ids, or ``"random"``
            (a preset drawn per episode from the env's generator).
        mode: ``"attrition"`` or ``"essence_duel"``.
        opponent: ``None`` (self-play: the caller plays both seats), ``"random"``,
            ``"greedy"``, ``"mcts-N"``; or a list with one per env.
        agent_seat: 0, 1 or ``"random"`` (drawn per episode); or one per env.
        autoreset_mode: ``"next_step"`` (Gymnasium's default) or ``"same_step"``
            (the final observation in ``info["final_obs"]``).
        illegal_action: ``"lose"`` (the episode ends as a loss, ``info["illegal_action"]``)
            or ``"raise"`` (``ValueError`` naming the env and action; no env changed).
        seed: the run's seed, used by the first ``reset()`` without a seed.
        start_method: ``"fork"``, ``"spawn"``, ``"forkserver"`` or None (the platform's default).
        copy: False returns read-only views into the ring; True returns copies.
        timeout: seconds a worker may show no sign of life before a call raises.
        batch_size: EnvPool-style: ``step_wait`` returns the first ``batch_size``
            envs that are ready (``info["env_id"]``); default N.
        handoff: the wake-up mechanism (``"hybrid"``, ``"semaphore"``, ``"pipe"``,
            ``"spin"``); the default was chosen by measurement (docs/VEC_ENV.md).
        spin_us: the spin budget of ``"hybrid"`` and ``"spin"``, in microseconds.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        *,
        num_workers: int = 0,
        ring_slots: int = 4,
        deck: Union[str, Sequence[int]] = "argentum_control",
        opponent_deck: Union[str, Sequence[int]] = "symbiote_aggro",
        mode: str = "attrition",
        opponent: Union[None, str, Sequence[Optional[str]]] = "random",
        agent_seat: Union[int, str, Sequence[Union[int, str]]] = 0,
        autoreset_mode: Union[str, AutoresetMode] = "next_step",
        illegal_action: str = "lose",
        seed: Optional[int] = None,
        start_method: Optional[str] = None,
        copy: bool = False,
        timeout: float = 5.0,
        batch_size: Optional[int] = None,
        handoff: str = "hybrid",
        spin_us: float = 100.0,
    ):
        self._res = _Resources()
        self._finalizer = weakref.finalize(self, _shutdown, self._res)
        self.closed = True  # until construction succeeds
        self._broken: Optional[BaseException] = None

        n = self.num_envs = _check_int(num_envs, "num_envs", 1, 1 << 24)
        self.num_workers = _check_int(num_workers, "num_workers", 0, n)
        self.ring_slots = _check_int(ring_slots, "ring_slots", 1, 1 << 16)
        self.batch_size = n if batch_size is None else _check_int(batch_size, "batch_size", 1, n)
        if isinstance(autoreset_mode, AutoresetMode):
            autoreset_mode = {AutoresetMode.NEXT_STEP: "next_step", AutoresetMode.SAME_STEP: "same_step"}.get(
                autoreset_mode, autoreset_mode)
        if autoreset_mode not in ("next_step", "same_step"):
            raise ValueError(f"autoreset_mode must be 'next_step' or 'same_step', got {autoreset_mode!r}")
        self._same_step = autoreset_mode == "same_step"
        if illegal_action not in ("raise", "lose"):
            raise ValueError(f"illegal_action must be 'raise' or 'lose', got {illegal_action!r}")
        self.illegal_action = illegal_action
        if not isinstance(mode, str) or mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if seed is not None:
            seed = _check_int(seed, "seed", 0, _U64)
        self._seed = seed
        if start_method is not None and start_method not in mp.get_all_start_methods():
            raise ValueError(f"start_method must be None or one of {mp.get_all_start_methods()}, got {start_method!r}")
        if not isinstance(copy, (bool, np.bool_)):
            raise TypeError(f"copy must be a bool, got {type(copy).__name__}")
        self.copy = bool(copy)
        if isinstance(timeout, (bool, np.bool_)) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        if handoff not in HANDOFFS:
            raise ValueError(f"handoff must be one of {HANDOFFS}, got {handoff!r}")
        if isinstance(spin_us, (bool, np.bool_)) or not isinstance(spin_us, (int, float)) or spin_us < 0:
            raise ValueError(f"spin_us must be a number >= 0, got {spin_us!r}")
        self.handoff = handoff
        spin = 0.0 if handoff == "semaphore" else float(spin_us) * 1e-6

        self.opponents = _per_env(opponent, n, "opponent", _check_opponent)
        self.agent_seats = _per_env(agent_seat, n, "agent_seat", _check_seat)
        cfg = ShardConfig(
            deck=check_deck(deck, "deck"), opponent_deck=check_deck(opponent_deck, "opponent_deck"), mode=mode,
            opponents=self.opponents, seats=self.agent_seats, illegal=illegal_action, same_step=self._same_step,
        )
        for name in sorted({o for o in self.opponents if o is not None}):
            core.Batch(1, opponent=name).close()  # the engine's own check of the bot name

        # -- Gymnasium attributes ------------------------------------------
        self.metadata = {
            "render_modes": [],
            "autoreset_mode": AutoresetMode.SAME_STEP if self._same_step else AutoresetMode.NEXT_STEP,
        }
        self.render_mode = None
        self.single_observation_space = spaces.Dict({
            "observation": spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(core.OBS_SIZE,), dtype=np.float32),
            "action_mask": spaces.Box(0, 1, shape=(core.NUM_ACTIONS,), dtype=np.int8),
        })
        self.single_action_space = spaces.Discrete(core.NUM_ACTIONS)
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)

        # -- the ring ---------------------------------------------------------
        W = self.num_workers
        self._layout = layout = R.RingLayout(n, W, self.ring_slots, self._same_step)
        res = self._res
        if W == 0:
            buf = mmap.mmap(-1, layout.size)
        else:
            name = f"ew_vec_{os.getpid()}_{secrets.token_hex(6)}"
            res.shm = shared_memory.SharedMemory(name=name, create=True, size=layout.size)
            buf = res.shm.buf
        v = self._views = layout.views(buf)
        self._ctrl = res.ctrl = v["ctrl"]
        self._bounds = np.array([w * n // max(W, 1) for w in range(max(W, 1) + 1)], dtype=np.int64)
        self._obs_flat = v["obs"].reshape(-1, core.OBS_SIZE)
        self._masks_flat = v["masks"].reshape(-1, core.NUM_ACTIONS)
        # Read-only views handed to the caller, one set per slot, made once.
        self._ro = [{
            "obs": _readonly(v["obs"][k]),
            "mask_i8": _readonly(v["masks"][k].view(np.int8)),
            "mask_bool": _readonly(v["masks"][k].view(np.bool_)),
            "rewards": _readonly(v["rewards"][k]),
            "terminated": _readonly(v["terminated"][k].view(np.bool_)),
            "truncated": _readonly(v["truncated"][k].view(np.bool_)),
            "current_player": _readonly(v["current_player"][k]),
            "illegal": _readonly(v["illegal"][k].view(np.bool_)),
            "agent_seat": _readonly(v["agent_seat"][k]),
            "final_obs": _readonly(v["final_obs"][k]) if self._same_step else None,
        } for k in range(self.ring_slots)]
        self._has_opponent = _readonly(np.array([o is not None for o in self.opponents], dtype=bool))
        self._any_opponent = bool(self._has_opponent.any())
        self._all_true = _readonly(np.ones(n, dtype=bool))
        self._zero_mask = _readonly(np.zeros(core.NUM_ACTIONS, dtype=np.int8))
        self._arange = np.arange(n)
        self._mark = np.zeros(n, dtype=bool)  # scratch of the duplicate check

        # -- learner state -----------------------------------------------------
        self._tick = -1  # slot of result number t is t % R
        self._cur = None  # slot of the last full (all-env) result
        self._started = False
        self._sync_slot: Optional[int] = None  # a full step is in flight into this slot
        self._held = np.zeros(n, dtype=bool)  # the learner holds env's latest result
        self._env_slot = np.zeros(n, dtype=np.int64)  # slot of each env's latest result
        self._autoreset = np.zeros(n, dtype=bool)  # next_step: env's next action is ignored
        self._queued_actions = np.zeros(n, dtype=np.int64)
        self._queued: List[List[np.ndarray]] = [[] for _ in range(max(W, 1))]
        self._inflight: List[Optional[tuple]] = [None] * max(W, 1)  # (ids or None, slot)
        self._ready: List[np.ndarray] = []  # finished, not yet returned, in finishing order
        self._num_ready = 0
        self._last_ids: Optional[np.ndarray] = None  # envs of the last result (None: all, in order)
        self._last_slot = 0
        self._spinner = Spinner(spin)
        self._outstanding = np.zeros(max(W, 1), dtype=bool)  # a command sent, its completion not yet consumed
        self._runner: Optional[ShardRunner] = None

        try:
            if W == 0:
                self.start_method = None
                self._runner = res.runner = ShardRunner(cfg, v, 0, n, self.ring_slots)
            else:
                self._start_workers(cfg, spin, start_method)
        except BaseException:
            self._views = self._ro = self._ctrl = self._obs_flat = self._masks_flat = self._runner = None
            self._finalizer()
            raise
        self.closed = False

    # -- workers ---------------------------------------------------------------

    def _start_workers(self, cfg: ShardConfig, spin: float, start_method: Optional[str]) -> None:
        from essence_wars.vec_env._worker import worker_main

        res = self._res
        ctx = mp.get_context(start_method)
        self.start_method = ctx.get_start_method()
        res.hand = LearnerSide(self.handoff, ctx, self.num_workers, self._ctrl)
        self._ctrl[:, R.DONE_SEQ] = np.uint64(_U64)  # "nothing done yet", distinct from command 0
        for w in range(self.num_workers):
            lo, hi = int(self._bounds[w]), int(self._bounds[w + 1])
            p = ctx.Process(
                target=worker_main, name=f"ew-vec-worker-{w}", daemon=True,
                args=(w, res.shm.name, self._layout, cfg, lo, hi, res.hand.worker_args[w], spin, os.getpid()),
            )
            p.start()
            res.procs.append(p)
        res.hand.after_start()
        self._hb_value = np.zeros(self.num_workers, dtype=np.uint64)
        self._hb_time = np.zeros(self.num_workers)
        # Every worker reports once it has attached the ring and built its shard.
        self._outstanding[:] = True
        self._wait(range(self.num_workers), None, START_TIMEOUT, "starting")
        # Everyone has it mapped: remove the name now, so that nothing can be left in
        # /dev/shm, even if this process is killed with SIGKILL (Linux keeps the mappings).
        res.unlink()

    @property
    def worker_pids(self) -> List[int]:
        """The pids of the worker processes (empty with ``num_workers=0``)."""
        return [p.pid for p in self._res.procs]

    def _describe(self, w: int) -> str:
        lo, hi = int(self._bounds[w]), int(self._bounds[w + 1])
        pid = self._res.procs[w].pid if w < len(self._res.procs) else "?"
        return f"worker {w} (pid {pid}, envs {lo}..{hi - 1})"

    def _fail(self, exc: BaseException) -> BaseException:
        self._broken = exc
        return exc

    def _check_worker(self, w: int, now: float, limit: float, what: str) -> None:
        p = self._res.procs[w]
        code = p.exitcode
        if code is not None:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            if code < 0:
                try:
                    how += f" ({signal.Signals(-code).name})"
                except ValueError:
                    pass
            raise self._fail(WorkerDiedError(f"{self._describe(w)} {how} while {what}", w, code))
        hb = self._ctrl[w, R.HEARTBEAT]
        if hb != self._hb_value[w]:
            self._hb_value[w] = hb
            self._hb_time[w] = now
        elif now - self._hb_time[w] > limit:
            raise self._fail(WorkerTimeoutError(
                f"{self._describe(w)} showed no sign of life for {now - self._hb_time[w]:.1f} s while {what} "
                f"(timeout={limit:g} s): it is hung or stopped", w, None))

    def _wait(self, workers, need: Optional[int], limit: float, what: str) -> List[int]:
        """Waits until ``need`` (None: all) of ``workers`` that have a command outstanding
        finished it; returns those, in finishing order. Raises if one dies, fails, or
        shows no sign of life for ``limit`` seconds.

        A completion is recorded (``_outstanding``) the moment its signal is consumed, so
        a wait interrupted (Ctrl-C) and called again loses nothing."""
        hand = self._res.hand
        outstanding = self._outstanding
        pending = [w for w in workers if outstanding[w]]
        need = len(pending) if need is None else min(need, len(pending))
        done: List[int] = []
        start = time.perf_counter()
        spin_end = start + self._spinner.spin_for()
        now_m = time.monotonic()
        for w in pending:
            self._hb_value[w] = self._ctrl[w, R.HEARTBEAT]
            self._hb_time[w] = now_m
        last_check = now_m
        # The hybrid hand-off (chosen by measurement: _handoff.py, docs/VEC_ENV.md):
        # poll the workers' semaphores while the recent waits were short, yielding
        # the core between polls, then block on the "any worker done" hint.
        while len(done) < need:
            found = hand.poll(pending)
            if found:
                for w in found:
                    outstanding[w] = False
                    pending.remove(w)
                    done.append(w)
                for w in found:
                    if self._ctrl[w, R.STATUS] != R.STATUS_OK:
                        length = int(self._ctrl[w, R.ERRLEN])
                        msg = bytes(self._views["errors"][w, :length]).decode("utf-8", "replace")
                        raise self._fail(WorkerError(f"{self._describe(w)} failed while {what}: {msg}", w))
                continue
            if time.perf_counter() < spin_end:
                if _handoff.SPIN_YIELD:
                    _sched_yield()
                continue
            hand.block(pending, WATCH_INTERVAL)
            now_m = time.monotonic()
            if now_m - last_check >= WATCH_INTERVAL:
                last_check = now_m
                for w in pending:
                    self._check_worker(w, now_m, limit, what)
        self._spinner.record(time.perf_counter() - start)
        return done

    def _command(self, w: int, cmd: int, slot: int, count: int = 0, seeded: bool = False) -> None:
        c = self._ctrl[w]
        c[R.CMD] = cmd
        c[R.SLOT] = slot
        c[R.COUNT] = count
        c[R.SEEDED] = seeded
        c[R.CMD_SEQ] += 1
        self._outstanding[w] = True
        self._res.hand.signal(w)

    # -- state checks ------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedEnvironmentError("this SharedMemoryVectorEnv is closed; create a new one")
        if self._broken is not None:
            raise RuntimeError(f"this SharedMemoryVectorEnv is unusable after an earlier failure "
                               f"({self._broken}); close() it and create a new one") from self._broken

    def _next_slot(self) -> int:
        self._tick += 1
        return self._tick % self.ring_slots

    def _in_flight(self) -> bool:
        return self._sync_slot is not None or any(x is not None for x in self._inflight) or self._num_ready > 0 \
            or any(self._queued)

    # -- actions -----------------------------------------------------------------

    def _actions(self, actions, ids: Optional[np.ndarray]) -> np.ndarray:
        """The actions as int64 ``[k]``, checked; raises before anything changes."""
        k = self.num_envs if ids is None else ids.size
        a = actions
        if type(a) is not np.ndarray:
            if isinstance(a, (str, bytes)):
                raise TypeError(f"actions must be a sequence of {k} integers, got {type(a).__name__}")
            try:
                a = np.asarray(a)
            except (TypeError, ValueError) as e:
                raise TypeError(f"actions must be a sequence of {k} integers: {e}") from None
        if a.shape != (k,):
            raise ValueError(f"actions must have shape ({k},) (one per env{' id' if ids is not None else ''}), "
                             f"got shape {a.shape}")
        kind = a.dtype.kind
        if kind == "i":
            a = a.astype(np.int64, copy=False)
        elif kind == "u":
            if a.dtype.itemsize == 8:
                a = np.where(a > _I64_MAX, np.uint64(_U64), a).astype(np.int64)  # huge -> -1 (out of range)
            else:
                a = a.astype(np.int64)
        elif kind == "f":
            integral = np.isfinite(a) & (a == np.trunc(a))
            if not integral.all():
                i = int(np.flatnonzero(~integral)[0])
                env = i if ids is None else int(ids[i])
                raise ValueError(f"env {env}: action {a[i].item()!r} is not an integer (actions must be integral)")
            a = np.where((a >= -(2.0**63)) & (a < 2.0**63), a, -1).astype(np.int64)
        elif kind == "O":
            out = np.empty(k, dtype=np.int64)
            for i, x in enumerate(a):
                if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
                    env = i if ids is None else int(ids[i])
                    raise TypeError(f"env {env}: action {x!r} is not an integer")
                x = int(x)
                out[i] = x if -(1 << 63) <= x <= _I64_MAX else -1
            a = out
        else:
            raise TypeError(f"actions must be integers, got dtype {a.dtype}")
        if self.illegal_action == "raise":
            self._check_legal(a, ids)
        return a

    def _check_legal(self, a: np.ndarray, ids: Optional[np.ndarray]) -> None:
        ignored = self._autoreset if ids is None else self._autoreset[ids]  # next_step: ignored anyway
        out_of_range = (a < 0) | (a > 255)
        if not self._same_step:
            out_of_range &= ~ignored
        if out_of_range.any():
            i = int(np.flatnonzero(out_of_range)[0])
            env = i if ids is None else int(ids[i])
            err = core.IllegalActionError(f"env {env}: action {int(a[i])} is out of range 0..255; "
                                          "no env was stepped", int(a[i]), None, env)
            raise err
        n = self.num_envs
        envs = self._arange if ids is None else ids
        cols = np.clip(a, 0, 255)
        if ids is None and self._last_ids is None:
            legal = self._views["masks"][self._cur][envs, cols] != 0
        else:
            legal = self._masks_flat[self._env_slot[envs] * n + envs, cols] != 0
        if not self._same_step:
            legal |= ignored
        if not legal.all():
            i = int(np.flatnonzero(~legal)[0])
            env = int(envs[i])
            row = self._masks_flat[int(self._env_slot[env]) * self.num_envs + env]
            num_legal = int(np.count_nonzero(row))
            raise core.IllegalActionError(
                f"env {env}: action {int(a[i])} ({core.describe_action(int(a[i]))}) is not legal now; "
                f"{num_legal} action(s) are legal; no env was stepped", int(a[i]), num_legal, env)

    # -- Gymnasium API -----------------------------------------------------------

    def reset(self, *, seed: Union[None, int, Sequence[int]] = None, options: Optional[dict] = None):
        """Deals every env a new episode. Returns ``(observations, infos)``.

        ``seed``: an int seeds env i with ``seed + i`` (as ``SyncVectorEnv``), a list
        gives one seed per env; None continues every env's generator (the first
        reset without a seed uses the constructor's ``seed``, or fresh entropy).
        """
        self._check_open()
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; none are supported")
        n = self.num_envs
        if seed is None and not self._started:
            if self._seed is None:
                self._seed = int(np.random.SeedSequence().entropy) % (_U64 - n)
            seed = self._seed
        seeds = None
        if seed is not None:
            if isinstance(seed, (list, tuple, np.ndarray)):
                if len(seed) != n:
                    raise ValueError(f"seed must be an int or a list of one seed per env ({n}), got {len(seed)}")
                seeds = [_check_int(s, "seed[i]", 0, _U64) for s in seed]
            else:
                s = _check_int(seed, "seed", 0, _U64 - n + 1)
                seeds = [s + i for i in range(n)]
        self._drain()
        if seeds is not None:
            self._views["reset_seeds"][:] = np.array(seeds, dtype=np.uint64)
        slot = self._next_slot()
        if self._runner is not None:
            self._runner.reset(slot, seeds is not None)
        else:
            for w in range(self.num_workers):
                self._command(w, R.CMD_RESET, slot, seeded=seeds is not None)
            self._wait(range(self.num_workers), None, self.timeout, "resetting")
        self._started = True
        self._cur = slot
        self._env_slot[:] = slot
        self._held[:] = True
        self._autoreset[:] = False
        return self._full_result(slot, reset=True)

    def step(self, actions):
        """Steps every env: ``(observations, rewards, terminations, truncations, infos)``."""
        self.step_async(actions)
        return self.step_wait()

    def step_async(self, actions, env_ids: Optional[Sequence[int]] = None) -> None:
        """Sends ``actions`` (one per env, or one per id of ``env_ids``) and returns at once.

        Without ``env_ids`` every env is stepped (all must be held: returned by the
        last reset/step_wait). With ``env_ids`` (EnvPool style) only those envs,
        which must have been returned by ``step_wait`` since they were last sent.
        """
        self._check_open()
        if not self._started:
            raise ResetNeeded("call reset() before step() / step_async()")
        if self._sync_slot is not None:
            raise AlreadyPendingCallError("step_async was already called; call step_wait first", "step")
        n = self.num_envs
        if env_ids is None:
            if not self._held.all():
                raise ValueError(f"{int(n - self._held.sum())} env(s) are still in flight (EnvPool mode): "
                                 "pass env_ids=info['env_id'] with the actions of the envs step_wait returned")
            a = self._actions(actions, None)
            if self.batch_size == n and not self._in_flight():
                self._dispatch_all(a)
                return
            ids = np.arange(n)
        else:
            ids = self._env_ids(env_ids)
            a = self._actions(actions, ids)
        self._dispatch_subset(ids, a)

    def step_wait(self, timeout: Optional[float] = None, batch_size: Optional[int] = None):
        """Waits for the results sent by :meth:`step_async`.

        Returns ``(observations, rewards, terminations, truncations, infos)`` for all
        envs, or (EnvPool style, ``batch_size`` here or in the constructor) for the
        first ``batch_size`` envs that finished, whose ids are in ``infos["env_id"]``.
        ``timeout`` overrides the constructor's liveness timeout for this call.
        """
        self._check_open()
        limit = self.timeout if timeout is None else float(timeout)
        k = self.batch_size if batch_size is None else _check_int(batch_size, "batch_size", 1, self.num_envs)
        if self._sync_slot is not None and k == self.num_envs:
            slot = self._sync_slot
            if self._runner is None:
                self._wait(range(self.num_workers), None, limit, "stepping")
            self._sync_slot = None
            self._cur = slot
            self._env_slot[:] = slot
            self._held[:] = True
            result = self._full_result(slot, reset=False)
            np.logical_or(result[2], result[3], out=self._autoreset)
            return result
        if self._sync_slot is not None:
            self._sync_to_pool()
        if not self._in_flight():
            raise NoAsyncCallError("step_wait needs a step_async first", "step")
        unheld = self.num_envs - int(self._held.sum())
        if k > unheld:
            raise ValueError(f"batch_size={k} but only {unheld} env(s) were sent with step_async")
        while self._num_ready < k:
            busy = [w for w, x in enumerate(self._inflight) if x is not None]
            done = [w for w in busy if not self._outstanding[w]]  # (an interrupted wait consumed them)
            for w in done or self._wait(busy, 1, limit, "stepping"):
                self._finished(w)
        return self._pool_result(k)

    def action_masks(self) -> np.ndarray:
        """The legal actions of the last result's envs: bool ``[N, 256]`` (EnvPool mode:
        ``[batch, 256]``, rows in ``info["env_id"]`` order). The MaskablePPO convention.

        In ``next_step`` mode an env whose next action will be ignored (its last
        result was terminal) reports every action as allowed.
        """
        self._check_open()
        if not self._started:
            raise ResetNeeded("call reset() before action_masks()")
        if self._last_ids is None:
            m = self._ro[self._last_slot]["mask_bool"]
            ignored = self._autoreset
        else:
            ids = self._last_ids
            m = self._masks_flat[self._env_slot[ids] * self.num_envs + ids].view(np.bool_)
            ignored = self._autoreset[ids]
        if not self._same_step and ignored.any():
            m = m.copy()
            m[ignored] = True
        elif self.copy or self._last_ids is not None:
            m = m.copy()
        return m

    def close(self, **kwargs: Any) -> None:
        """Stops the workers and frees the ring. Safe to call twice; also runs at garbage
        collection and at interpreter exit."""
        if not self.closed:
            # Our own views go first, so the mapping can close unless the caller holds some.
            self._views = self._ro = self._ctrl = self._obs_flat = self._masks_flat = None
            self._runner = None
        self._finalizer()
        self.closed = True

    def close_extras(self, **kwargs: Any) -> None:
        self._finalizer()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.num_workers} worker(s)"
        return f"SharedMemoryVectorEnv(num_envs={self.num_envs}, {state})"

    # -- dispatch ------------------------------------------------------------------

    def _env_ids(self, env_ids) -> np.ndarray:
        ids = np.asarray(env_ids)
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError(f"env_ids must be a non-empty 1-d sequence of env ids, got shape {ids.shape}")
        if ids.dtype.kind not in "iu":
            raise TypeError(f"env_ids must be integers, got dtype {ids.dtype}")
        ids = ids.astype(np.int64)
        bad = (ids < 0) | (ids >= self.num_envs)
        if bad.any():
            raise ValueError(f"env id {int(ids[np.flatnonzero(bad)[0]])} is out of range 0..{self.num_envs - 1}")
        mark = self._mark
        mark[ids] = True
        distinct = int(np.count_nonzero(mark))
        mark[ids] = False
        if distinct != ids.size:
            raise ValueError("env_ids has duplicates")
        not_held = ~self._held[ids]
        if not_held.any():
            raise ValueError(f"env {int(ids[np.flatnonzero(not_held)[0]])} is still in flight: send an env's "
                             "action only after step_wait returned it")
        return ids

    def _dispatch_all(self, a: np.ndarray) -> None:
        slot = self._next_slot()
        np.copyto(self._views["actions"][slot], a)
        self._held[:] = False
        self._sync_slot = slot
        if self._runner is not None:
            try:
                self._runner.step(slot)
            except Exception as e:
                raise self._fail(e)
        else:
            for w in range(self.num_workers):
                self._command(w, R.CMD_STEP, slot)

    def _sync_to_pool(self) -> None:
        """A full step_async followed by a partial step_wait: track it per worker."""
        slot, self._sync_slot = self._sync_slot, None
        if self._runner is not None:
            self._env_slot[:] = slot
            self._ready.append(np.arange(self.num_envs))
            self._num_ready += self.num_envs
        else:
            for w in range(self.num_workers):
                self._inflight[w] = (None, slot)

    def _dispatch_subset(self, ids: np.ndarray, a: np.ndarray) -> None:
        self._held[ids] = False
        if self._runner is not None:
            order = np.argsort(ids, kind="stable")
            ids, a = ids[order], a[order]
            slot = self._next_slot()
            self._views["actions"][slot][ids] = a
            self._views["subset_ids"][: ids.size] = ids
            try:
                self._runner.step(slot, ids.size)
            except Exception as e:
                raise self._fail(e)
            self._env_slot[ids] = slot
            self._ready.append(ids)
            self._num_ready += ids.size
            return
        self._queued_actions[ids] = a
        owner = np.searchsorted(self._bounds, ids, side="right") - 1
        for w in np.unique(owner).tolist():
            self._queued[w].append(ids[owner == w])
            if self._inflight[w] is None:
                self._send_queued(w)

    def _send_queued(self, w: int) -> None:
        ids = np.sort(np.concatenate(self._queued[w]))
        self._queued[w] = []
        slot = self._next_slot()
        lo = int(self._bounds[w])
        self._views["actions"][slot][ids] = self._queued_actions[ids]
        self._views["subset_ids"][lo: lo + ids.size] = ids - lo
        self._inflight[w] = (ids, slot)
        self._command(w, R.CMD_STEP_SUBSET, slot, ids.size)

    def _finished(self, w: int) -> None:
        ids, slot = self._inflight[w]
        self._inflight[w] = None
        if ids is None:
            ids = np.arange(int(self._bounds[w]), int(self._bounds[w + 1]))
        self._env_slot[ids] = slot
        self._ready.append(ids)
        self._num_ready += ids.size
        if self._queued[w]:
            self._send_queued(w)

    def _drain(self) -> None:
        """Finishes everything in flight (before a reset); results are discarded."""
        if self._sync_slot is not None:
            if self._runner is None:
                self._wait(range(self.num_workers), None, self.timeout, "finishing a step")
            self._sync_slot = None
        while any(x is not None for x in self._inflight):
            busy = [w for w, x in enumerate(self._inflight) if x is not None]
            done = [w for w in busy if not self._outstanding[w]]
            for w in done or self._wait(busy, 1, self.timeout, "finishing a step"):
                self._finished(w)
        self._queued = [[] for _ in self._queued]
        self._ready = []
        self._num_ready = 0

    # -- results -------------------------------------------------------------------

    def _info(self, cp, illegal, seat, has_opp, all_true, reset: bool) -> dict:
        info = {"current_player": cp, "_current_player": all_true}
        if not reset:
            info["illegal_action"] = illegal
            info["_illegal_action"] = all_true
        if self._any_opponent:
            info["agent_seat"] = seat
            info["_agent_seat"] = has_opp
        return info

    def _final(self, info: dict, term: np.ndarray, final_rows, rows: Optional[np.ndarray]) -> None:
        """same_step: the Gymnasium 1.x ``final_obs`` / ``final_info`` entries (row ``i``
        of the result is ``final_rows[rows[i]]``, or ``final_rows[i]`` when ``rows`` is None).

        As in ``SyncVectorEnv``, a terminated env's step info (``illegal_action``)
        moves to ``final_info``; ``info`` holds what its reset reported."""
        if not term.any():
            return
        final_obs = np.full(term.size, None, dtype=object)
        for i in np.flatnonzero(term).tolist():
            row = final_rows[i if rows is None else rows[i]]
            final_obs[i] = {"observation": row.copy() if self.copy else row, "action_mask": self._zero_mask}
        mask = term.copy()
        illegal = info["illegal_action"]
        info["final_obs"] = final_obs
        info["_final_obs"] = mask
        info["final_info"] = {"illegal_action": illegal & mask, "_illegal_action": mask}
        info["_final_info"] = mask
        info["illegal_action"] = illegal & ~mask
        info["_illegal_action"] = ~mask

    def _full_result(self, slot: int, reset: bool):
        ro = self._ro[slot]
        self._last_ids = None
        self._last_slot = slot
        if self.copy:
            obs = {"observation": ro["obs"].copy(), "action_mask": ro["mask_i8"].copy()}
            info = self._info(ro["current_player"].copy(), ro["illegal"].copy(), ro["agent_seat"].copy(),
                              self._has_opponent.copy(), self._all_true.copy(), reset)
            rew, term, trunc = ro["rewards"].copy(), ro["terminated"].copy(), ro["truncated"].copy()
        else:
            obs = {"observation": ro["obs"], "action_mask": ro["mask_i8"]}
            info = self._info(ro["current_player"], ro["illegal"], ro["agent_seat"], self._has_opponent,
                              self._all_true, reset)
            rew, term, trunc = ro["rewards"], ro["terminated"], ro["truncated"]
        if reset:
            return obs, info
        if self._same_step:
            self._final(info, term, ro["final_obs"], None)
        elif self._autoreset.any():  # rows that were reset by this step report no step info
            info["_illegal_action"] = ~self._autoreset
        return obs, rew, term, trunc, info

    def _pool_result(self, k: int):
        ready = np.concatenate(self._ready) if len(self._ready) > 1 else self._ready[0]
        ids, rest = ready[:k], ready[k:]
        self._ready = [rest] if rest.size else []
        self._num_ready -= k
        n = self.num_envs
        lo = int(ids[0])
        slot = int(self._env_slot[lo])
        if (not self.copy and int(ids[-1]) - lo == k - 1 and (k == 1 or bool((np.diff(ids) == 1).all()))
                and bool((self._env_slot[ids] == slot).all())):
            # One contiguous block of one slot (e.g. a whole worker shard): views, no gather.
            ro, rows = self._ro[slot], slice(lo, lo + k)
            obs = {"observation": ro["obs"][rows], "action_mask": ro["mask_i8"][rows]}
            rew, term, trunc = ro["rewards"][rows], ro["terminated"][rows], ro["truncated"][rows]
            cp, illegal, seat = ro["current_player"][rows], ro["illegal"][rows], ro["agent_seat"][rows]
            final, final_rows = (ro["final_obs"][rows], None) if self._same_step else (None, None)
        else:
            flat = self._env_slot[ids] * n + ids
            v = self._views
            obs = {"observation": np.take(self._obs_flat, flat, axis=0),
                   "action_mask": np.take(self._masks_flat, flat, axis=0).view(np.int8)}
            rew = v["rewards"].reshape(-1)[flat]
            term = v["terminated"].reshape(-1)[flat].view(np.bool_)
            trunc = v["truncated"].reshape(-1)[flat].view(np.bool_)
            cp, illegal = v["current_player"].reshape(-1)[flat], v["illegal"].reshape(-1)[flat].view(np.bool_)
            seat = v["agent_seat"].reshape(-1)[flat]
            final, final_rows = ((v["final_obs"].reshape(-1, core.OBS_SIZE), flat) if self._same_step
                                 else (None, None))
        all_true = np.ones(k, dtype=bool)
        info = self._info(cp, illegal, seat, self._has_opponent[ids], all_true, reset=False)
        info["env_id"] = ids.copy()
        info["_env_id"] = all_true
        if self._same_step:
            self._final(info, term, final, final_rows)
        else:
            was_reset = self._autoreset[ids]
            if was_reset.any():
                info["_illegal_action"] = ~was_reset
        self._held[ids] = True
        self._autoreset[ids] = term | trunc
        self._last_ids = ids
        return obs, rew, term, trunc, info


def make(num_envs: int = 8, **kwargs: Any) -> SharedMemoryVectorEnv:
    """``SharedMemoryVectorEnv(num_envs, **kwargs)``: see its docstring."""
    return SharedMemoryVectorEnv(num_envs, **kwargs)
