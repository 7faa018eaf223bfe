import multiprocessing
import os
import sys
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]
EVALDATA = (REPO.parent / "shared" / "evaldata").resolve()
DEMO = REPO / "resources" / "demo"


@pytest.fixture
def evaldata() -> Path:
    """The shared evaluation recordings; skips the test where they are absent."""
    if not EVALDATA.is_dir():
        pytest.skip(f"evaluation data not found at {EVALDATA} (see ../shared/evaldata/README.md)")
    return EVALDATA


@pytest.fixture(autouse=True)
def no_leftover_workers():
    """Fail a test that leaves worker processes or non-daemon threads running."""
    before = set(threading.enumerate())
    yield
    children = multiprocessing.active_children()
    for p in children:
        p.kill()
        p.join(5)
    assert not children, f"test left worker processes running: {children}"
    extra = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not extra, f"test left threads running: {extra}"
