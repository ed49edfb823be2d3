"""SIGTERM takes the path of Ctrl-C in the trainers (agents/interrupt.py).

The helper on its own (handler installed and restored, raising inside the
block, once only, a no-op off the main thread), then per trainer a tiny run
in a subprocess stopped with SIGTERM once it has printed an iteration: it
exits 143, says it saved, and leaves a checkpoint that loads and that a
resumed run continues from. POSIX only (SIGTERM to a process).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to a process: POSIX")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # agents/ lives beside essence_wars/ in the source tree
    sys.path.insert(0, str(ROOT))

from agents.interrupt import Terminated, interrupt_name, sigterm_as_interrupt  # noqa: E402


def _sigterm_self_and_wait() -> None:
    """Sends SIGTERM to this process and gives the handler ample time to run; fails if it did not raise."""
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.01)  # the Python handler runs in the main thread between bytecodes
    pytest.fail("SIGTERM did not raise inside sigterm_as_interrupt()")


# ---------------------------------------------------------------------------
# the helper


@pytest.fixture
def recorder():
    """A Python SIGTERM handler that records its calls, installed for the test (so a stray SIGTERM
    cannot end pytest), and the previous handler put back after."""
    calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_raises_terminated_inside_and_the_previous_handler_comes_back(recorder):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as info:
        with sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) is not before
            _sigterm_self_and_wait()
    assert isinstance(info.value, KeyboardInterrupt), "it must take the Ctrl-C path"
    assert info.value.exit_status == 143 and info.value.signum == signal.SIGTERM
    assert interrupt_name(info.value) == "SIGTERM" and interrupt_name(KeyboardInterrupt()) == "Ctrl-C"
    assert signal.getsignal(signal.SIGTERM) is before
    assert recorder == []
    os.kill(os.getpid(), signal.SIGTERM)  # the restored handler gets the next one
    deadline = time.monotonic() + 10
    while not recorder and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recorder == [signal.SIGTERM]


@pytest.mark.parametrize("how", ["normally", "by an exception"])
def test_the_handler_is_restored_however_the_block_ends(recorder, how):
    before = signal.getsignal(signal.SIGTERM)
    if how == "normally":
        with sigterm_as_interrupt():
            pass
    else:
        with pytest.raises(ValueError, match="inside"):
            with sigterm_as_interrupt():
                raise ValueError("raised inside the block")
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_default_handler_is_restored_too():
    """SIG_DFL before: SIG_DFL after (the case of a plain ``python -m agents.ppo``)."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_second_sigterm_does_not_interrupt_the_way_out(recorder):
    """After the first SIGTERM (the checkpoint is being written), more are ignored until the block ends."""
    with sigterm_as_interrupt():
        with pytest.raises(Terminated):
            _sigterm_self_and_wait()
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(20):
            time.sleep(0.01)  # would raise here if the handler raised again
    assert recorder == [], "ignored, not passed on"


def test_works_as_a_decorator(recorder):
    @sigterm_as_interrupt()
    def work():
        _sigterm_self_and_wait()

    with pytest.raises(Terminated):
        work()
    with pytest.raises(Terminated):  # a fresh handler per call
        work()
    assert recorder == []


def test_a_no_op_off_the_main_thread(recorder):
    seen = {}

    def body():
        try:
            with sigterm_as_interrupt():
                seen["inside"] = signal.getsignal(signal.SIGTERM)
            seen["after"] = signal.getsignal(signal.SIGTERM)
        except BaseException as e:  # signal.signal would raise ValueError here
            seen["error"] = e

    before = signal.getsignal(signal.SIGTERM)
    t = threading.Thread(target=body)
    t.start()
    t.join(30)
    assert "error" not in seen, seen.get("error")
    assert seen["inside"] is before and seen["after"] is before


# ---------------------------------------------------------------------------
# the trainers, end to end


class _Run:
    """A trainer started as ``python -m agents.commands train ...`` in a subprocess, its output
    (stdout and stderr together) read line by line by a thread."""

    def __init__(self, argv):
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "agents.commands", "train", *argv], cwd=str(ROOT),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.output = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.proc.stdout.close()

    def wait_for(self, pattern: str, timeout: float = 120.0) -> re.Match:
        """The first output line matching ``pattern``; fails if the process ends or the time runs out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and not self.reader.is_alive() and self.lines.empty():
                    pytest.fail(f"the trainer exited ({self.proc.returncode}) before {pattern!r}:\n"
                                + "".join(self.output))
                continue
            self.output.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        pytest.fail(f"no {pattern!r} within {timeout} s:\n" + "".join(self.output))

    def terminate_and_wait(self, timeout: float = 120.0) -> str:
        """SIGTERM, then the exit status and the rest of the output."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("the trainer did not exit after SIGTERM:\n" + "".join(self.output))
        self.reader.join(30)
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture
def start():
    runs = []

    def _start(argv):
        runs.append(_Run(argv))
        return runs[-1]

    yield _start
    for r in runs:  # a failed test leaves no trainer behind
        r.kill()


def _saved_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith("SIGTERM: saved checkpoint")]
    assert len(lines) == 1, output
    return lines[0]


def test_ppo_saves_a_checkpoint_on_sigterm_and_resumes_from_it(tmp_path, start):
    pytest.importorskip("torch")
    # The smallest run of tests/test_ppo.py, endless (100M steps), without periodic checkpoints: the
    # only checkpoint is the one SIGTERM writes.
    tiny = dict(env="batch", num_envs=8, num_steps=16, hidden=32, layers=1, league_every=1, eval_every=0,
                final_eval_games=0, progress=False, run_dir=str(tmp_path))
    argv = ["ppo", "--timesteps", "100000000", "--save-every", "0", "--exp-name", "term"]
    for k, v in tiny.items():
        flag = "--" + k.replace("_", "-")
        argv += [flag if v else "--no-" + k.replace("_", "-")] if isinstance(v, bool) else [flag, str(v)]
    run = start(argv)
    import torch  # while the trainer starts

    from agents import ppo
    from agents.checkpoint import load, load_checkpoint

    run.wait_for(r"^iter 1/\d+ step 128 ")  # one whole iteration: it is training
    ckpt = tmp_path / "term" / "checkpoint.pt"
    assert not ckpt.exists()
    output = run.terminate_and_wait()
    assert run.proc.returncode == Terminated.exit_status == 143, output
    assert "Traceback" not in output, output
    assert f"saved checkpoint {ckpt}" in _saved_line(output)

    state = load_checkpoint(ckpt)
    iteration, step = state["iteration"], state["global_step"]
    assert iteration >= 1 and step == 128 * iteration, "the last whole iteration"
    policy = load(ckpt)  # loads for play (the default network scores afterstates: it plays a game)
    from essence_wars import core

    with core.Game(3) as game:
        assert game.action_mask()[policy.act_game(game)]

    # --resume continues the step and iteration counters
    resumed = ppo.train(ppo.Args(**tiny, exp_name="resumed", save_every=1, total_timesteps=128 * (iteration + 1),
                                 resume=str(ckpt)))
    assert resumed["iterations"] == iteration + 1 and resumed["global_step"] == step + 128
    again = load_checkpoint(resumed["checkpoint"])
    assert again["iteration"] == iteration + 1 and again["global_step"] == step + 128


def _children(pid: int) -> list:
    """The pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("workers", [0, 2])
def test_alphazero_saves_a_checkpoint_on_sigterm_and_resumes_from_it(tmp_path, start, workers):
    pytest.importorskip("torch")
    # tests/test_alphazero.py's toy sizes, 100k iterations, no periodic checkpoints (only SIGTERM's);
    # with self-play workers, SIGTERM to the trainer also stops them
    tiny = dict(num_games=8, moves_per_iteration=40, simulations=8, min_buffer=16, train_steps=3, batch_size=32,
                width=32, blocks=1, eval_every=0, buffer_size=5000, selfplay_workers=workers)
    run_dir = tmp_path / "run"
    argv = ["alphazero", "--run-dir", str(run_dir), "--iterations", "100000", "--checkpoint-every", "0"]
    for k, v in tiny.items():
        argv += ["--" + k.replace("_", "-"), str(v)]
    run = start(argv)
    from agents import alphazero  # while the trainer starts

    run.wait_for(r"^iter\s+1\s+positions\s+\d+")  # one whole iteration: it is training
    ckpt = run_dir / "checkpoint.pt"
    assert not ckpt.exists()
    helpers = _children(run.proc.pid)
    assert len(helpers) >= workers, helpers  # the workers (and spawn's resource tracker)
    output = run.terminate_and_wait()
    assert run.proc.returncode == Terminated.exit_status == 143, output
    assert "Traceback" not in output, output
    assert f"saved checkpoint {ckpt}" in _saved_line(output)
    deadline = time.time() + 10
    while any(_alive(p) for p in helpers) and time.time() < deadline:
        time.sleep(0.1)
    assert not [p for p in helpers if _alive(p)], "no self-play worker outlives the trainer"

    saved = alphazero.read_checkpoint(str(ckpt))
    iteration, positions = saved["state"]["iteration"], saved["state"]["positions"]
    assert iteration >= 1 and positions > 0
    alphazero.load_network(str(ckpt))  # loads for play

    # --resume continues the iteration counter
    out = alphazero.train(alphazero.Args(**tiny, run_dir=str(tmp_path / "resumed"), iterations=iteration + 1,
                                         checkpoint_every=1, resume=str(ckpt)))
    assert out["state"]["iteration"] == iteration + 1 and out["state"]["positions"] > positions
    again = alphazero.read_checkpoint(out["checkpoint"])["state"]
    assert again["iteration"] == iteration + 1
