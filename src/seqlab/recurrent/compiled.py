"""The compiled tier: the recurrent kernels' time loops in C++, built once into a cache.

A step driven from Python pays a few µs per ATen op (``benchmarks/step_floor.py``), about as
much as the arithmetic of a small step. The C++ sources in ``csrc/`` run the same loops as the
Python kernels (``lstm.py``, ``gru.py``, ``rnn.py``): the per-step ``h Uᵀ`` through ATen's GEMM
and each step's gate arithmetic fused into one pass. The Python kernels stay the specification
and the fallback; the tests run both tiers against autograd.

The extension is compiled with ``torch.utils.cpp_extension`` (g++ and ninja) the first time a
kernel asks for it, or by ``make`` (:func:`main`), into
``$SEQLAB_CACHE/ext/<key>`` (default ``~/.cache/seqlab``); the key hashes the sources, torch's
and Python's versions, the compiler flags and the CPU, so a change to any of them builds anew.

- ``SEQLAB_EXT=0`` forces the Python path.
- No compiler, or a build that fails: one warning naming the cause (and the build log), then
  the Python path; nothing is fatal.
- A cache that does not load (an interrupted build, a stale file): rebuilt once; if that fails
  too, the warning gives the command that clears it.
"""

import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import torch

from ..errors import BackendError

CSRC = Path(__file__).with_name("csrc")
# The calling convention the Python side expects (module.cpp's ``abi()``).
ABI = 1
CFLAGS = ["-O3", "-march=native", "-fopenmp"]

_lock = threading.Lock()
_state: dict = {"loaded": False, "module": None, "forced": None}


class CompiledKernelWarning(UserWarning):
    """The compiled kernels could not be used; the Python kernels run instead."""


def sources() -> list[Path]:
    return sorted([*CSRC.glob("*.cpp"), *CSRC.glob("*.h")])


def _cpu_fingerprint() -> str:
    """The CPU's model and flags: ``-march=native`` code must not run on another CPU."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        wanted = [ln for ln in lines if ln.startswith(("model name", "flags"))][:2]
        return "\n".join(wanted)
    except OSError:
        return platform.processor() or platform.machine()


def cache_root() -> Path:
    return Path(os.environ.get("SEQLAB_CACHE", Path.home() / ".cache" / "seqlab")) / "ext"


def build_key() -> str:
    h = hashlib.sha256()
    for path in sources():
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for part in (torch.__version__, sys.version, " ".join(CFLAGS), _cpu_fingerprint()):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def build_dir() -> Path:
    return cache_root() / build_key()


def _warn(message: str) -> None:
    warnings.warn(message, CompiledKernelWarning, stacklevel=3)


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++")


def _load(directory: Path, verbose: bool) -> ModuleType:
    from torch.utils import cpp_extension

    directory.mkdir(parents=True, exist_ok=True)
    # ninja from the environment's own bin (the PyPI wheel) when it is not on PATH.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), bin_dir])
    cpp_extension.load(
        name=f"seqlab_ext_{directory.name}",
        sources=[str(p) for p in sources() if p.suffix == ".cpp"],
        extra_cflags=CFLAGS,
        extra_ldflags=["-fopenmp"],
        build_directory=str(directory),
        verbose=verbose,
        is_python_module=False,  # operators registered into torch.ops.seqlab
    )
    return torch.ops.seqlab


def _built(directory: Path) -> bool:
    return any(directory.glob("seqlab_ext_*.so"))


def build(verbose: bool = False, quiet: bool = False) -> ModuleType | None:
    """Compiles (or finds in the cache) and loads the extension; ``None`` with one warning
    when it cannot be had. A progress line goes to stderr when a compilation starts."""
    if os.environ.get("SEQLAB_EXT", "1") == "0":
        return None
    if _compiler() is None:
        _warn(
            "no C++ compiler found (looked for $CXX, c++ and g++): the recurrent kernels run "
            "their Python loops; install g++ for the compiled ones, or set SEQLAB_EXT=0 to "
            "silence this"
        )
        return None
    directory = build_dir()
    log = directory / "build.log"
    for attempt in range(2):
        if not _built(directory) and not quiet:
            print(
                f"seqlab: compiling the recurrent kernels into {directory} "
                "(once, about a minute) ...",
                file=sys.stderr,
                flush=True,
            )
        try:
            module = _load(directory, verbose)
        except (RuntimeError, OSError, ImportError, subprocess.CalledProcessError) as exc:
            if attempt == 0 and _built(directory):
                # A .so that does not load: a stale or broken cache. Start it over once.
                shutil.rmtree(directory, ignore_errors=True)
                continue
            directory.mkdir(parents=True, exist_ok=True)
            log.write_text(f"{type(exc).__name__}: {exc}\n")
            _warn(
                f"the recurrent kernels' C++ build failed (log: {log}): their Python loops "
                f"run instead; `rm -rf {cache_root()}` clears the build cache, "
                "SEQLAB_EXT=0 silences this"
            )
            return None
        if module.abi() != ABI:
            _warn(
                f"the compiled kernels in {directory} have ABI {module.abi()}, not {ABI}: "
                f"their Python loops run instead; `rm -rf {cache_root()}` clears the build cache"
            )
            return None
        return module
    return None


def kernels() -> ModuleType | None:
    """The compiled operators (``torch.ops.seqlab``: ``kernels().lstm_forward(...)``), built
    on first use, or ``None`` where the Python path runs
    (``SEQLAB_EXT=0``, no compiler, a failed build, or :func:`use` ``(False)``)."""
    forced = _state["forced"]
    if forced is False:
        return None
    if not _state["loaded"]:
        with _lock:
            if not _state["loaded"]:
                _state["module"] = build()
                _state["loaded"] = True
    if forced is True and _state["module"] is None:
        raise BackendError(
            "the compiled kernels were asked for but could not be built or loaded (see the "
            "warning above); install g++ and unset SEQLAB_EXT=0"
        )
    return _state["module"]


def kernels_for(x: torch.Tensor) -> ModuleType | None:
    """:func:`kernels` where the compiled loops take tensors like ``x`` (CPU, float32 or
    float64), else ``None``: the Python kernels run (CUDA keeps its own path)."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return None
    return kernels()


def available() -> bool:
    """Whether the compiled kernels can run here (builds them if need be)."""
    with use(None):
        return kernels() is not None


@contextlib.contextmanager
def use(compiled: bool | None) -> Iterator[None]:
    """Inside the block the kernels take the compiled tier (``True``; an error if it cannot
    be had), the Python loops (``False``) or the default choice (``None``)."""
    before = _state["forced"]
    _state["forced"] = compiled
    try:
        yield
    finally:
        _state["forced"] = before


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="seqlab.recurrent.compiled",
        description="Build the recurrent kernels' C++ extension into the cache (or find it).",
    )
    parser.add_argument("--verbose", action="store_true", help="show the compiler's commands")
    args = parser.parse_args()
    if os.environ.get("SEQLAB_EXT", "1") == "0":
        print("SEQLAB_EXT=0: the compiled kernels are turned off; nothing to build")
        return 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CompiledKernelWarning)
        module = build(verbose=args.verbose)
    if module is None:
        for w in caught:
            print(f"seqlab: {w.message}", file=sys.stderr)
        return 0  # not fatal: the Python kernels run
    print(f"seqlab: compiled recurrent kernels ready in {build_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
