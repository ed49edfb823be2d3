"""SIGTERM as Ctrl-C for the trainers: :func:`sigterm_as_interrupt`.

A training job started from a script in the background (``nohup ... &``)
ignores SIGINT, and ``kill``, ``timeout`` and job schedulers (Slurm,
systemd, Kubernetes) stop a job with SIGTERM, whose default action ends the
process at once. Inside ``with sigterm_as_interrupt():`` SIGTERM raises
:class:`Terminated` instead, a :class:`KeyboardInterrupt`, so it takes the
path of Ctrl-C: the trainer writes its checkpoint (``agents/ppo.py``,
``agents/alphazero.py``) and stops.

- The handler is installed on entry and the previous one put back on exit,
  however the block ends.
- Only the main thread can install signal handlers, and Python runs them
  only there: in any other thread the context manager does nothing (SIGTERM
  keeps its current handler).
- The first SIGTERM raises :class:`Terminated`; further ones while the block
  is still running are ignored, so a repeated ``kill`` does not cut short
  the checkpoint being written on the way out (SIGKILL and Ctrl-C still do).
- Python runs the handler between bytecodes: a SIGTERM during a long call
  into C (a torch op, a batch of native search) raises when the call returns.
- The command lines exit with :attr:`Terminated.exit_status`, 143 (128 +
  SIGTERM, what a shell reports for a process ended by SIGTERM); Ctrl-C
  stays a plain :class:`KeyboardInterrupt` (130 in a shell).

It also works as a decorator: ``@sigterm_as_interrupt()``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

__all__ = ["Terminated", "sigterm_as_interrupt", "interrupt_name"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread inside :func:`sigterm_as_interrupt`."""

    signum = signal.SIGTERM
    #: the exit status of a command line stopped by SIGTERM (128 + 15)
    exit_status = 128 + signal.SIGTERM


def ignore_sigint() -> None:
    """For a worker process: Ctrl-C reaches the whole process group, and the parent handles it (it stops
    its workers itself), so the worker ignores it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def interrupt_name(exc: BaseException) -> str:
    """``"SIGTERM"`` for :class:`Terminated`, ``"Ctrl-C"`` for another KeyboardInterrupt (for messages)."""
    return "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs in the main thread, SIGTERM raises :class:`Terminated` (see the module doc)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum, frame):
        nonlocal raised
        if not raised:  # once: the way out (writing a checkpoint) is not interrupted by a second SIGTERM
            raised = True
            raise Terminated(f"terminated by signal {signum} (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        # None: the previous handler was not installed from Python; the default is the closest
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
