"""How soon the command line answers, as whole processes (issue 16).

Usage::

    .venv/bin/python benchmarks/cli_start.py [--plan DIR] [--runs 5]

Times ``outreach-routes --help`` and ``outreach-routes where --plan DIR --at ... --near ...``
(a point, then a corner by name where the network has street names) as a user runs them, each
``--runs`` times, and prints the medians. Targets: ``--help`` under 1 s, ``where`` under 1.5 s
on a 2-core machine. Without ``--plan`` it plans the bundled Minneapolis week first (not
timed), whose streets have names.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINNEAPOLIS = Path(__file__).resolve().parents[1] / "data" / "minneapolis" / "plan.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    command = [
        shutil.which("outreach-routes") or str(Path(sys.executable).parent / "outreach-routes")
    ]
    plan = args.plan
    if plan is None:
        plan = Path(tempfile.mkdtemp()) / "out"
        subprocess.run([*command, "plan", "--config", str(MINNEAPOLIS), "--out", str(plan),
                        "--quiet"], check=True)  # fmt: skip
    document = json.loads((plan / "plan.json").read_text("utf-8"))
    route = document["teams"][0]
    stop = route["stops"][len(route["stops"]) // 2]
    at = stop["arrive"][:16]
    cases = {
        "--help": ["--help"],
        "where, a point": ["where", "--plan", str(plan), "--at", at, "--near",
                           f"{stop['lat']},{stop['lon']}"],
    }  # fmt: skip
    if stop.get("corner"):
        cases["where, a corner by name"] = ["where", "--plan", str(plan), "--at", at, "--near",
                                            stop["corner"]]  # fmt: skip
    for name, extra in cases.items():
        seconds = []
        for _ in range(args.runs):
            started = time.perf_counter()
            result = subprocess.run([*command, *extra], capture_output=True, text=True)
            seconds.append(time.perf_counter() - started)
            if result.returncode != 0:
                sys.exit(f"{name} failed: {result.stderr.strip()}")
        print(f"{name:<26}{statistics.median(seconds):>7.2f} s median of {args.runs}")


if __name__ == "__main__":
    main()
