"""Compiled kernels: C sources built with the machine's C compiler on first use, cached, and
loaded with ctypes. Where no compiler is present (or the build fails) ``load`` returns None and
callers keep to their PyTorch path; the reason is logged once."""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)
SOURCES = Path(__file__).resolve().parent
FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-pthread", "-fno-math-errno"]
_loaded: dict[str, ctypes.CDLL | None] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    root = os.environ.get("SYNTH_KERNEL_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "synth", "kernels")
    return Path(root)


def _compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def load(name: str) -> ctypes.CDLL | None:
    """The shared library built from ``<name>.c`` (built now if it is not in the cache)."""
    with _lock:
        if name not in _loaded:
            _loaded[name] = _build_and_load(name)
        return _loaded[name]


def _build_and_load(name: str) -> ctypes.CDLL | None:
    if os.environ.get("SYNTH_NO_KERNELS"):
        return None
    compiler = _compiler()
    if compiler is None:
        log.warning("no C compiler found: synth uses its slower PyTorch generation path")
        return None
    source = SOURCES / f"{name}.c"
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    key = hashlib.sha256(source.read_bytes() + " ".join(FLAGS).encode() + version.encode()).hexdigest()[:16]
    target = cache_dir() / f"{name}-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so")
        os.close(fd)
        result = subprocess.run([compiler, *FLAGS, "-o", tmp, str(source), "-lm"], capture_output=True, text=True)
        if result.returncode != 0:
            Path(tmp).unlink(missing_ok=True)
            log.warning("building %s failed, using the PyTorch path:\n%s", source.name, result.stderr[-2000:])
            return None
        os.replace(tmp, target)  # atomic: concurrent builders each install a complete file
    try:
        return ctypes.CDLL(str(target))
    except OSError as exc:
        log.warning("loading %s failed (%s), using the PyTorch path", target, exc)
        return None
