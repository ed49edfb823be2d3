"""The layout of the shared-memory ring: one flat block, NumPy views over it.

One block holds, in order (every array 64-byte aligned, so no two arrays
share a cache line and every row slice a worker writes is C-contiguous):

- ``ctrl``: one 256-byte record per worker, uint64 fields. The first cache
  line is written by the learner only (the command), the second by the
  worker only (its answer and heartbeat), so the two sides never write the
  same line.
- ``errors``: one 4 KiB text buffer per worker (the message of a failure).
- ``reset_seeds`` ``[N] uint64``: per-env seeds of a seeded reset.
- ``subset_ids`` ``[N] uint32``: the env ids of a subset step; worker ``w``
  reads its local ids from rows ``lo_w .. lo_w + count`` (its own rows).
- then ``R`` slots, each array laid out as ``[R, N, ...]`` so that slot ``k``
  is one contiguous ``[N, ...]`` block and a shard ``[lo, hi)`` of it is
  contiguous too: ``obs`` float32 ``[N, 326]``, ``masks`` uint8 ``[N, 256]``,
  ``rewards`` float32, ``terminated``, ``truncated``, ``current_player``,
  ``illegal``, ``agent_seat`` (uint8), ``actions`` int64 (the actions that
  produced the slot), and ``final_obs`` float32 ``[N, 326]`` (same-step
  autoreset only).

The same layout serves ``num_workers=0`` over anonymous memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from essence_wars.core import NUM_ACTIONS, OBS_SIZE

ALIGN = 64

# ctrl fields (uint64). Learner line: 0..7; worker line: 8..15; 16..31 spare.
CMD_SEQ = 0  # learner: sequence number of the command (written last)
CMD = 1  # learner: the command (below)
SLOT = 2  # learner: the ring slot to write
COUNT = 3  # learner: number of ids of a subset step
SEEDED = 4  # learner: 1 when a reset carries seeds in reset_seeds
DONE_SEQ = 8  # worker: the last command finished
STATUS = 9  # worker: STATUS_OK or STATUS_ERROR for DONE_SEQ
HEARTBEAT = 10  # worker: incremented by its heartbeat thread
PID = 11  # worker: its pid
ERRLEN = 12  # worker: bytes of the message in errors[w]
CTRL_FIELDS = 32

# Commands.
CMD_INIT = 0  # (implicit) the worker built its shard and attached the ring
CMD_RESET = 1
CMD_STEP = 2
CMD_STEP_SUBSET = 3
CMD_CLOSE = 4

STATUS_OK = 0
STATUS_ERROR = 1

ERR_BYTES = 4096

# name: (dtype, row shape) of the per-slot arrays.
SLOT_FIELDS: Dict[str, Tuple[np.dtype, Tuple[int, ...]]] = {
    "obs": (np.dtype(np.float32), (OBS_SIZE,)),
    "masks": (np.dtype(np.uint8), (NUM_ACTIONS,)),
    "rewards": (np.dtype(np.float32), ()),
    "terminated": (np.dtype(np.uint8), ()),
    "truncated": (np.dtype(np.uint8), ()),
    "current_player": (np.dtype(np.uint8), ()),
    "illegal": (np.dtype(np.uint8), ()),
    "agent_seat": (np.dtype(np.uint8), ()),
    "actions": (np.dtype(np.int64), ()),
    "final_obs": (np.dtype(np.float32), (OBS_SIZE,)),
}


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(frozen=True)
class RingLayout:
    """Offsets of every array in the block; picklable, so workers rebuild the same views."""

    num_envs: int
    num_workers: int
    ring_slots: int
    final_obs: bool

    def _arrays(self):
        """(name, dtype, shape) of every array, in block order."""
        n, r, w = self.num_envs, self.ring_slots, max(self.num_workers, 1)
        out = [
            ("ctrl", np.dtype(np.uint64), (w, CTRL_FIELDS)),
            ("errors", np.dtype(np.uint8), (w, ERR_BYTES)),
            ("reset_seeds", np.dtype(np.uint64), (n,)),
            ("subset_ids", np.dtype(np.uint32), (n,)),
        ]
        for name, (dtype, row) in SLOT_FIELDS.items():
            if name == "final_obs" and not self.final_obs:
                continue
            out.append((name, dtype, (r, n) + row))
        return out

    @property
    def size(self) -> int:
        """Bytes of the whole block."""
        total = 0
        for _name, dtype, shape in self._arrays():
            total = _aligned(total) + dtype.itemsize * int(np.prod(shape))
        return _aligned(total)

    def views(self, buf) -> Dict[str, np.ndarray]:
        """Writable NumPy views of every array over ``buf`` (a writable buffer of :attr:`size` bytes).

        Every view hangs off one ``np.frombuffer`` array, which holds a live export of
        the buffer: while any view exists, the mapping cannot be closed under it
        (``SharedMemory.close()`` raises ``BufferError`` instead of unmapping). Views
        built with ``np.ndarray(buffer=memoryview)`` would not hold one, and closing
        the segment would leave them dangling.
        """
        base = np.frombuffer(buf, dtype=np.uint8, count=self.size)
        out = {}
        offset = 0
        for name, dtype, shape in self._arrays():
            offset = _aligned(offset)
            nbytes = dtype.itemsize * int(np.prod(shape))
            out[name] = base[offset: offset + nbytes].view(dtype).reshape(shape)
            offset += nbytes
        if not self.final_obs:
            out["final_obs"] = None
        return out


def release_shm(shm) -> None:
    """Closes a ``SharedMemory`` mapping, unless views of it are still alive.

    With live views (arrays returned with ``copy=False``, or a process exiting
    with its views still referenced) ``close()`` raises ``BufferError``: then the
    descriptor is closed and the object forgets the mapping, which is unmapped
    when the last view goes (the name is unlinked separately, so nothing is left
    in /dev/shm either way), and ``SharedMemory.__del__`` finds nothing to close.
    """
    try:
        shm.close()
    except BufferError:
        fd = getattr(shm, "_fd", -1)
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
            shm._fd = -1
        shm._mmap = None
        shm._buf = None
