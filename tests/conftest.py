import os
from pathlib import Path

import pytest

# No test may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_TGVE = REPO.parent / "shared" / "data" / "tgve"


@pytest.fixture
def shared_tgve() -> Path:
    """The real TGVE prompts and 12 clips beside the checkout; absent on a user's fresh clone."""
    if not (SHARED_TGVE / "configs").is_dir():
        pytest.skip("../shared/data/tgve is absent (only present on the project's machines)")
    return SHARED_TGVE


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    # Embedding caches must not leak between tests or into the user's home.
    monkeypatch.setenv("EVE_BENCH_CACHE", str(tmp_path / "eve_bench_cache"))
