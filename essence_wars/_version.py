"""The package version. Single source of truth: ``rust_core/Cargo.toml``.

setup.py reads it from there for the distribution's metadata, and the
compiled library reports the same string (``ew_version()``), which is what
``essence_wars.__version__`` is.
"""

from essence_wars._native import ffi as _ffi, lib as _lib

__version__: str = _ffi.string(_lib.ew_version()).decode()
