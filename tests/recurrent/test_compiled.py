"""The compiled tier's loader: the cache, the switches and the fallbacks."""

import shutil
import warnings

import pytest

from seqlab.errors import BackendError
from seqlab.recurrent import compiled


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A loader that has loaded nothing yet, with its cache under tmp_path."""
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path))
    monkeypatch.setitem(compiled._state, "loaded", False)
    monkeypatch.setitem(compiled._state, "module", None)
    monkeypatch.setitem(compiled._state, "forced", None)
    return tmp_path


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler here")
def test_builds_where_a_compiler_exists():
    # The shared cache (make builds it): the machines that run the suite have g++.
    module = compiled.kernels()
    assert module is not None and module.abi() == compiled.ABI
    assert (compiled.build_dir() / f"seqlab_ext_{compiled.build_key()}.so").exists()


def test_switched_off_by_the_environment(fresh, monkeypatch):
    monkeypatch.setenv("SEQLAB_EXT", "0")
    monkeypatch.setattr(compiled, "_load", lambda *a: pytest.fail("must not build"))
    assert compiled.kernels() is None
    with compiled.use(True), pytest.raises(BackendError, match="SEQLAB_EXT=0"):
        compiled.kernels()


def test_no_compiler_warns_once_and_falls_back(fresh, monkeypatch):
    monkeypatch.setattr(compiled, "_compiler", lambda: None)
    with pytest.warns(compiled.CompiledKernelWarning, match="no C\\+\\+ compiler"):
        assert compiled.kernels() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compiled.kernels() is None  # no second warning


def test_failed_build_names_its_log(fresh, monkeypatch):
    def broken(directory, verbose):
        raise RuntimeError("Error building extension: g++: error: bad flag")

    monkeypatch.setattr(compiled, "_load", broken)
    with pytest.warns(compiled.CompiledKernelWarning, match="build.log") as caught:
        assert compiled.kernels() is None
    message = str(caught[0].message)
    assert "\n" not in message and f"rm -rf {fresh / 'ext'}" in message
    log = compiled.build_dir() / "build.log"
    assert "bad flag" in log.read_text()


def test_a_cache_that_does_not_load_is_rebuilt_once(fresh, monkeypatch):
    directory = compiled.build_dir()
    directory.mkdir(parents=True)
    stale = directory / f"seqlab_ext_{directory.name}.so"
    stale.write_bytes(b"not an ELF file")
    calls = []

    def load(d, verbose):
        calls.append(d.exists() and stale.exists())
        if len(calls) == 1:
            raise ImportError(f"{stale}: invalid ELF header")
        return type("Ops", (), {"abi": staticmethod(lambda: compiled.ABI)})

    monkeypatch.setattr(compiled, "_load", load)
    assert compiled.kernels() is not None
    assert calls == [True, False]  # the broken file was removed before the second build


def test_the_key_changes_with_the_sources(fresh, monkeypatch, tmp_path):
    before = compiled.build_key()
    src = tmp_path / "csrc"
    shutil.copytree(compiled.CSRC, src)
    (src / "module.cpp").write_text((src / "module.cpp").read_text() + "\n// changed\n")
    monkeypatch.setattr(compiled, "CSRC", src)
    assert compiled.build_key() != before


def test_use_restores_the_choice(fresh, monkeypatch):
    monkeypatch.setattr(compiled, "build", lambda: None)
    with compiled.use(False):
        assert compiled.kernels() is None
        with compiled.use(True), pytest.raises(BackendError, match="could not be built"):
            compiled.kernels()
    assert compiled._state["forced"] is None
