import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Tests never touch the network: MNIST and Fashion-MNIST come from ENCDEC_DATA_DIR (default ./data).
os.environ["ENCDEC_DOWNLOAD"] = "0"


@pytest.fixture(autouse=True)
def user_home(tmp_path, monkeypatch):
    """Each test gets its own empty user model store."""
    monkeypatch.setenv("ENCDEC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="session")
def mnist():
    import encdec
    return encdec.load_dataset("mnist")
