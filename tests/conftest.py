"""Shared fixtures: one real weekly plan on the bundled data, written by the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "philadelphia"


@pytest.fixture(scope="session")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled week planned through the command line, as `make run` does."""
    out = tmp_path_factory.mktemp("plan") / "out"
    result = subprocess.run(
        [sys.executable, "-m", "outreach_routes", "plan", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def plan_json(plan_dir: Path) -> dict:
    return json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
