"""The pinned load generator (oha), shared by bench/run.py and scripts/soak.py (stdlib only).

The version is stated here once; `ensure_oha` installs it with `cargo install` into the bench
cache the first time and does nothing after that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

HOME = Path.home()
CACHE = Path(os.environ.get("BENCH_CACHE_DIR", str(HOME / ".cache" / "switchboard-bench")))
CARGO_BIN = HOME / ".cargo" / "bin"
# Pinned, so runs on different machines and days compare.
OHA_VERSION = "1.16.0"
OHA_ROOT = CACHE / "oha"


def binary_path(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in (Path("/usr/sbin"), CARGO_BIN):
        if (d / name).exists():
            return str(d / name)
    return None


def tool_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out[1] if len(out) > 1 else ""


def oha_path() -> str | None:
    """The pinned oha: from PATH or ~/.cargo/bin if it is that version, else our own install."""
    for candidate in (binary_path("oha"), str(OHA_ROOT / "bin" / "oha")):
        if candidate and Path(candidate).exists() and tool_version(candidate) == OHA_VERSION:
            return candidate
    return None


def ensure_oha(log: Callable[[str], None], allow_install: bool = True) -> str | None:
    """None when the pinned oha is there (installing it if allowed), else the reason it is not."""
    if oha_path():
        return None
    if not allow_install:
        return f"oha {OHA_VERSION} not installed (installs disabled)"
    log(f"installing oha {OHA_VERSION} with `cargo install` into {OHA_ROOT} (first time only; "
        "takes several minutes)")
    try:
        result = subprocess.run(
            ["cargo", "install", "oha", "--version", OHA_VERSION, "--locked", "--root", str(OHA_ROOT)],
            capture_output=True, text=True, timeout=3600,
            env=dict(os.environ, PATH=f"{CARGO_BIN}:{os.environ.get('PATH', '')}"))
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cargo install oha {OHA_VERSION} failed: {e}"
    if result.returncode != 0 or not oha_path():
        return f"cargo install oha {OHA_VERSION} failed: {result.stderr.strip()[-300:]}"
    return None
