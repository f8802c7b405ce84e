import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_async(coroutine):
    """Run a coroutine to its end in a thread of its own: the browser tests' session-wide Playwright keeps
    an event loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session", autouse=True)
def datasets():
    """MNIST and Fashion-MNIST on disk before any test runs: from ENCDEC_DATA_DIR (default ./data),
    fetched once through torchvision when missing and downloads are allowed (ENCDEC_DOWNLOAD=0
    forbids them, as CI does); otherwise the run stops with one line saying what to set."""
    from encdec.data import DATASETS, DataError, load_dataset

    for name in DATASETS:
        try:
            load_dataset(name)
        except DataError as e:
            pytest.exit(f"{e}", returncode=4)


@pytest.fixture(autouse=True)
def user_home(tmp_path, monkeypatch):
    """Each test gets its own empty user model store."""
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def mnist():
    import encdec
    return encdec.load_dataset("mnist")
