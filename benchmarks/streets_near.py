"""How long choosing a base takes: ``streets --near`` the first time (the walking network built
from the street file) and the second (read back from the network cache), issue 33.

Usage::

    .venv/bin/python benchmarks/streets_near.py [--runs 3] [CONFIG ...]

For each config (by default the Portland OSM fixture and the two bundled cities), runs
``outreach-routes streets --config CONFIG --near LAT,LON`` (at its first team's base) and
``outreach-routes validate --config CONFIG`` as a user does, each in a fresh cache folder: once
cold, then ``--runs`` times warm, and prints the cold time and the warm median.
Target: the warm call within a few seconds (it was 18-24 s on a 1.4 MB extract before the
cache). The last line is the headline: the slowest warm median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [
    ROOT / "tests" / "data" / "portland" / "plan.toml",
    ROOT / "data" / "minneapolis" / "plan.toml",
    ROOT / "data" / "philadelphia" / "plan.toml",
]


def timed(command: list[str], env: dict[str, str]) -> float | None:
    """Seconds the command took, None when it failed (a network without street names)."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=False, capture_output=True)
    return time.perf_counter() - started if done.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path, default=CONFIGS)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    program = shutil.which("outreach-routes") or str(
        Path(sys.executable).parent / "outreach-routes"
    )
    slowest = 0.0
    for config in args.configs:
        lat, lon = tomllib.loads(config.read_text("utf-8"))["teams"][0]["base"]
        commands = {
            "streets --near": [
                program,
                "streets",
                "--config",
                str(config),
                "--near",
                f"{lat},{lon}",
            ],
            "validate": [program, "validate", "--config", str(config)],
        }
        for name, command in commands.items():
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "XDG_CACHE_HOME": cache}
                cold = timed(command, env)
                if cold is None:
                    print(f"{config.parent.name:<13} {name:<15} fails (no street names)")
                    continue
                warm = statistics.median(
                    timed(command, env) or float("nan") for _ in range(args.runs)
                )
            slowest = max(slowest, warm)
            print(
                f"{config.parent.name:<13} {name:<15} first {cold:5.1f} s, "
                f"then {warm:5.1f} s (median of {args.runs})"
            )
    print(f"validate and streets --near with the network cached: {slowest:.1f} s at most")


if __name__ == "__main__":
    main()
