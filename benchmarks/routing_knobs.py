"""How the weekly plan's `[routing]` settings trade `near_route` against `near_in_time` (issue 15).

Usage::

    .venv/bin/python benchmarks/routing_knobs.py [--config FILE] [--from 2021-01-04]
        [--to 2021-06-28] [--workers 2] [--set "repeat_discount=0.7 waiting_bonus=0.3"] ...

Runs the route backtest (weekly plans, on Dask) once with the config as it is and once per
``--set``, each a copy of the config beside it with those ``[routing]`` keys put first in the
table. Prints per variant the planned routes' ``near_in_time`` and ``near_route``, with the
top-cell baseline's beside them (the same in every variant), and for each ``--set`` the paired
weekly difference of ``near_in_time`` from the config as it is, with its standard error: 26
weeks are few, and a difference within two standard errors is noise. About three minutes a
variant for 26 weeks on two workers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from outreach_routes.config import default_config_path
from outreach_routes.route_backtest import route_backtest, summarise_routes, weekly_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=default_config_path())
    parser.add_argument("--from", dest="start", default="2021-01-04")
    parser.add_argument("--to", dest="end", default="2021-06-28")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", dest="variants", action="append", default=[])
    args = parser.parse_args()
    text = args.config.read_text("utf-8")
    base = None
    for variant in ["", *args.variants]:
        lines = "".join(f"{pair.strip()}\n" for pair in variant.split() if pair.strip())
        routing = "[routing]\n" + lines
        changed = text.replace("[routing]\n", routing, 1) if "[routing]\n" in text else (
            text + "\n" + routing
        )  # fmt: skip
        copy = args.config.with_name(f".knobs-{abs(hash(variant))}-{args.config.name}")
        copy.write_text(changed, "utf-8")
        started = time.perf_counter()
        try:
            frame = route_backtest(copy, args.start, args.end, workers=args.workers)
        finally:
            copy.unlink()
        city = summarise_routes(frame).query("team == 'all'").set_index("method")
        weekly = weekly_share(frame, "planned")
        paired = ""
        if base is None:
            base = weekly
        else:
            diff = (weekly - base).dropna()
            paired = (
                f"; near_in_time against as configured {diff.mean():+.4f} a week "
                f"(standard error {diff.std(ddof=1) / len(diff) ** 0.5:.4f})"
            )
        print(
            f"{variant or 'as configured':<45} near_in_time planned "
            f"{city.at['planned', 'near_in_time']:.4f} (top cells "
            f"{city.at['top_cells', 'near_in_time']:.4f}), near_route planned "
            f"{city.at['planned', 'near_route']:.3f} (top cells "
            f"{city.at['top_cells', 'near_route']:.3f}){paired} "
            f"[{time.perf_counter() - started:.0f} s]",
            flush=True,
        )


if __name__ == "__main__":
    main()
