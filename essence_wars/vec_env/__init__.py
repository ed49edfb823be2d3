"""``essence_wars.vec_env``: the shared-memory multiprocessing vector env.

>>> from essence_wars.vec_env import make
>>> envs = make(1024, num_workers=2, opponent="greedy", seed=0)   # doctest: +SKIP
>>> obs, info = envs.reset()                                      # doctest: +SKIP
>>> obs, rew, term, trunc, info = envs.step(actions)              # doctest: +SKIP

A real :class:`gymnasium.vector.VectorEnv`. Worker processes each own a
contiguous shard of the games and one native batch, and write observations,
masks, rewards and flags straight into one ``multiprocessing.shared_memory``
block holding R slots (the ring); the learner reads them as NumPy views.
Step t writes slot ``(t + 1) % R``, so the views of the previous R-1 results
stay valid. ``docs/VEC_ENV.md`` is the full contract: spaces, autoreset
modes, seeding, EnvPool-style ``step_wait(batch_size=k)``, the validity of
returned views, faults, and the measured hand-off.

The Gymnasium-facing class is imported on first use, so a worker process
(which only imports ``essence_wars.vec_env._worker``) does not pay for
importing Gymnasium.
"""

from __future__ import annotations

__all__ = ["SharedMemoryVectorEnv", "make", "WorkerError", "WorkerDiedError", "WorkerTimeoutError", "OBS_BOUND"]


def __getattr__(name: str):
    if name in __all__:
        from essence_wars.vec_env import _vector

        return getattr(_vector, name)
    raise AttributeError(f"module 'essence_wars.vec_env' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
