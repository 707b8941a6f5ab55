"""Shared test fixtures: where ../shared lives, and the skip reason when it does not."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ATHENA_SHARED", ROOT.parent / "shared")).resolve()
FIXTURES = SHARED / "fixtures" / "okx"
REAL_DATA = SHARED / "data" / "real"

NO_SHARED = "../shared is not beside this checkout (the fixtures and real data are read from it)"


@pytest.fixture
def okx_fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(NO_SHARED)
    return FIXTURES


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(NO_SHARED)
    return REAL_DATA


def load_fixture(name: str) -> Any:
    """One OKX fixture: a .json file as an object, a .jsonl file as a list of objects."""
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(NO_SHARED)
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())
