import os, shutil, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Ray on a busy 2-core machine (CI runs two pytest workers beside other jobs): give the raylet longer than Ray's
# default 60 s to register before ray.init gives up; every test's subprocesses inherit it
os.environ.setdefault('RAY_raylet_start_wait_time_s', '300')
os.environ.setdefault('RAY_USAGE_STATS_ENABLED', '0')

@pytest.fixture
def nasbook_cmd():
    "The installed `nasbook` console script."
    exe = shutil.which('nasbook', path=str(BIN)) or shutil.which('nasbook')
    assert exe, "the nasbook console script is not installed (run `make install`)"
    return exe

def fashion_available():
    from nasbook.data import find_fashion_source, data_root
    return find_fashion_source(data_root()) is not None

def require_fashion():
    """Real-data tests need Fashion-MNIST. CI installs it (.ci/run), so there a missing copy is a failure;
    on a person's machine the test is skipped with the reason and the fix."""
    if fashion_available(): return
    msg = ("Fashion-MNIST is not on this machine: install Debian's `dataset-fashion-mnist` "
           "(files in /usr/share/datasets/fashion-mnist) or set NASBOOK_FASHION_MNIST to a folder with its IDX files")
    if os.environ.get('CI'): pytest.fail(msg)
    pytest.skip(msg)
