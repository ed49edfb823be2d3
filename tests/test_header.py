"""The committed C header is what cbindgen generates from rust_core today."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from essence_wars._native import lib

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "include" / "essence_wars.h"


GUARD_END = "#endif /* ESSENCE_WARS_H */"

#: The header is two cbindgen runs, because cbindgen reads one source file per
#: run (parsing the whole crate would also export the engine's Rust constants):
#: the core API from ffi.rs, then the search API from ffi_search.rs, spliced in
#: before the include guard's #endif. Regenerate with:  python tests/test_header.py
SECTIONS = (("cbindgen.toml", "ffi.rs"), ("cbindgen_search.toml", "ffi_search.rs"))


def regenerate(out: Path) -> None:
    cbindgen = shutil.which("cbindgen")
    if cbindgen is None:
        if os.environ.get("CI"):
            pytest.fail("cbindgen is not installed (apt-get install cbindgen); CI must check the header")
        pytest.skip("cbindgen is not installed")
    parts = []
    for config, source in SECTIONS:
        part = out.with_name(out.name + "." + source + ".part")
        subprocess.run(
            [cbindgen, "--config", str(ROOT / "rust_core" / config), "--output", str(part),
             str(ROOT / "rust_core" / "src" / source)],
            check=True, capture_output=True,
        )
        parts.append(part.read_text(encoding="utf-8"))
        part.unlink()
    main, *extra = parts
    body = main.rstrip()
    assert body.endswith(GUARD_END), "the core section must end with the include guard"
    body = body[: -len(GUARD_END)].rstrip() + "\n"
    for section in extra:
        body += "\n" + section.rstrip() + "\n"
    out.write_text(body + "\n" + GUARD_END + "\n", encoding="utf-8")


def test_committed_header_is_not_stale(tmp_path):
    fresh = tmp_path / "essence_wars.h"
    regenerate(fresh)
    committed = HEADER.read_text(encoding="utf-8")
    if fresh.read_text(encoding="utf-8") != committed:
        pytest.fail(
            "include/essence_wars.h is stale: regenerate it with\n"
            "  python tests/test_header.py"
        )


def test_header_constants_match_the_library():
    text = HEADER.read_text(encoding="utf-8")
    assert f"#define EW_OBS_SIZE {lib.EW_OBS_SIZE}" in text
    assert lib.EW_OBS_SIZE == 326 and lib.EW_NUM_ACTIONS == 256
    for name in ("ew_game_new", "ew_game_step", "ew_batch_step", "ew_last_error", "EW_ERR_PANIC",
                 "ew_search_new", "ew_search_select", "ew_search_expand", "EwSearchConfig"):
        assert name in text


def test_cdef_source_strips_the_preprocessor():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ew_build", ROOT / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    cdef = build.cdef_source(HEADER.read_text(encoding="utf-8"))
    for line in cdef.splitlines():
        if line.startswith("#"):
            assert line.startswith("#define EW_"), line
    assert "__cplusplus" not in cdef and ": int32_t" not in cdef


if __name__ == "__main__":
    regenerate(HEADER)
    print(f"wrote {HEADER}")
