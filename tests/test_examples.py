"""The examples run end to end: PettingZoo with two random agents, and the
terminal game against the greedy bot (non-interactive, scripted and on a
real pseudo-terminal)."""

from __future__ import annotations

import importlib.util
import io
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from conftest import ROOT

EXAMPLES = ROOT / "examples"


def run(script: str, *args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], stdin=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def load(script: str):
    spec = importlib.util.spec_from_file_location(script.replace(".py", ""), EXAMPLES / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pettingzoo_random():
    result = run("pettingzoo_random.py", "--games", "3", "--seed", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4
    for line in lines[:3]:
        assert ("wins after" in line or "draw after" in line) and "rewards: player_0" in line
    assert lines[-1].startswith("result: player_0 won") and "of 3 games" in lines[-1]
    assert run("pettingzoo_random.py", "--games", "3", "--seed", "5").stdout == result.stdout  # seeded


def test_pettingzoo_random_renders():
    result = run("pettingzoo_random.py", "--games", "1", "--render")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Essence Wars | attrition") > 10


@pytest.mark.parametrize("args", [(), ("--auto",), ("--auto", "--seat", "1", "--seed", "3", "--deck", "obsidion_burst")])
def test_play_vs_greedy_runs_without_a_terminal(args):
    result = run("play_vs_greedy.py", *args)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if "--auto" not in args:
        assert "standard input is not a terminal" in out
    assert "Your legal actions:" in out and "end your turn" in out
    assert "Game over after" in out and ("You won!" in out or "You lost." in out or "Draw." in out)
    assert run("play_vs_greedy.py", *args).stdout == out  # seeded: the same game again


def test_read_choice_validates_input():
    example = load("play_vs_greedy.py")
    answers = iter(["", "abc", "0", "99", "-1", " 3 "])
    out = io.StringIO()
    assert example.read_choice(5, lambda prompt: next(answers), out) == 2
    assert out.getvalue().count("Please type a number from 1 to 5") == 5
    assert example.read_choice(5, lambda prompt: "q", out) is None

    def eof(prompt):
        raise EOFError

    assert example.read_choice(5, eof, out) is None


def test_play_with_scripted_answers():
    example = load("play_vs_greedy.py")
    out = io.StringIO()
    reward = example.play(seed=2, ask=lambda prompt: "1", out=out)  # always the first legal action
    assert reward in (-1.0, 0.0, 1.0)
    assert "Game over after" in out.getvalue()
    answers = iter(["7000", "q"])
    out = io.StringIO()
    assert example.play(seed=2, ask=lambda prompt: next(answers), out=out) is None
    assert "Please type a number" in out.getvalue() and "You left the game." in out.getvalue()


def test_play_vs_greedy_on_a_terminal():
    """On a real (pseudo-)terminal the script waits for input and validates it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "play_vs_greedy.py"), "--seed", "1"],
                            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, close_fds=True)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, count: int = 1, timeout: float = 30.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while seen.count(marker) < count:
            assert time.monotonic() < deadline, f"timed out waiting for {marker!r}; got {seen[-500:]!r}"
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break

    try:
        read_until(b"Your move [1-")
        os.write(master, b"banana\n")
        read_until(b"Please type a number")
        os.write(master, b"1\n")
        read_until(b"Your move [1-", count=3)
        os.write(master, b"q\n")
        read_until(b"You left the game.")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"standard input is not a terminal" not in seen
