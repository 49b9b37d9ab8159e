"""How the weekly plan's `[routing]` settings trade `near_route` against `near_in_time` (issue 15).

Usage::

    .venv/bin/python benchmarks/routing_knobs.py [--config FILE] [--from 2021-01-04]
        [--to 2021-06-28] [--workers 2] [--set "repeat_discount=0.7 waiting_bonus=0.3"] ...

Runs the route backtest (weekly plans, on Dask) once with the config as it is and once per
``--set``, each a copy of the config beside it with those keys set: ``[routing]`` keys by name,
others as ``table.key`` (``--set "hotspots.half_life_days=1095"``), and a key of every team as
``teams.key`` (``--set "teams.dwell_min=10"``). Prints per variant the
planned routes' ``near_in_time`` and ``near_route``, with the
top-cell baseline's beside them (the same in every variant), and for each ``--set`` the paired
weekly difference of ``near_in_time`` from the config as it is, with its standard error: 26
weeks are few, and a difference within two standard errors is noise. About three minutes a
variant for 26 weeks on two workers.

With ``--nightly`` every variant is judged on the nightly re-plan instead (method
``nightly``: each night re-planned from the data before its shift, about six plans a week).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from outreach_routes.config import default_config_path
from outreach_routes.route_backtest import (
    paired_difference,
    route_backtest,
    summarise_routes,
    weekly_share,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=default_config_path())
    parser.add_argument("--from", dest="start", default="2021-01-04")
    parser.add_argument("--to", dest="end", default="2021-06-28")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", dest="variants", action="append", default=[])
    parser.add_argument("--nightly", action="store_true", help="judge the nightly re-plan")
    args = parser.parse_args()
    base = None
    for variant in ["", *args.variants]:
        started = time.perf_counter()
        with config_with(args.config, variant) as copy:
            frame = route_backtest(
                copy, args.start, args.end, workers=args.workers, nightly=args.nightly
            )
        city = summarise_routes(frame).query("team == 'all'").set_index("method")
        method = "nightly" if args.nightly else "planned"
        weekly = weekly_share(frame, method)
        paired = ""
        if base is None:
            base = weekly
        else:
            paired = f"; near_in_time against as configured {paired_difference(weekly, base)}"
        print(
            f"{variant or 'as configured':<45} near_in_time {method} "
            f"{city.at[method, 'near_in_time']:.4f} (top cells "
            f"{city.at['top_cells', 'near_in_time']:.4f}), near_route {method} "
            f"{city.at[method, 'near_route']:.3f} (top cells "
            f"{city.at['top_cells', 'near_route']:.3f}), response rate {method} "
            f"{city.at[method, 'response_rate']:.3f}{paired} "
            f"[{time.perf_counter() - started:.0f} s]",
            flush=True,
        )


@contextmanager
def config_with(config: Path, variant: str) -> Iterator[Path]:
    """A copy of ``config`` beside it (so its relative paths still resolve) with each
    ``key=value`` of ``variant`` set (:func:`_with_key`; ``""`` sets none), removed afterwards."""
    text = config.read_text("utf-8")
    for pair in variant.split():
        text = _with_key(text, *pair.split("=", 1))
    copy = config.with_name(f".variant-{os.getpid()}-{abs(hash(variant))}-{config.name}")
    copy.write_text(text, "utf-8")
    try:
        yield copy
    finally:
        copy.unlink()


def _with_key(text: str, key: str, value: str) -> str:
    """The config text with ``key = value`` in its table: ``[routing]`` for a plain key, or the
    one named before a dot (``hotspots.half_life_days``); the key's line replaced if the table
    has one, else put first in the table. ``teams.KEY`` sets KEY in every ``[[teams]]`` table
    that has it (``--set "teams.dwell_min=10"``)."""
    table, _, key = key.rpartition(".")
    if table == "teams":
        text, count = re.subn(rf"(?m)^{re.escape(key)}\s*=.*$", f"{key} = {value}", text)
        if not count:
            raise SystemExit(f"no [[teams]] table sets {key}: nothing to change")
        return text
    header = f"[{table or 'routing'}]\n"
    if header not in text:
        return f"{text}\n{header}{key} = {value}\n"
    start = text.index(header) + len(header)
    end = text.find("\n[", start)
    end = len(text) if end < 0 else end + 1
    body, count = re.subn(rf"(?m)^{re.escape(key)}\s*=.*$", f"{key} = {value}", text[start:end])
    return text[:start] + (body if count else f"{key} = {value}\n{body}") + text[end:]


if __name__ == "__main__":
    main()
