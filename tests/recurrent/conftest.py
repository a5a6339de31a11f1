import shutil

import pytest

from seqlab.recurrent import compiled

TIERS = ["python", "compiled"]


@pytest.fixture(params=TIERS)
def tier(request):
    """Runs a test once on the Python kernels and once on the compiled ones. Where no C++
    compiler exists the compiled run is skipped; where one does, it must build
    (test_compiled.py checks that it does)."""
    if request.param == "compiled" and shutil.which("g++") is None and not compiled.available():
        pytest.skip("no C++ compiler: the compiled kernels cannot be built here")
    with compiled.use(request.param == "compiled"):
        yield request.param
