"""The weekly batch job: dated runs in one folder, safe to rerun, loud when it fails.

``outreach-routes plan --runs-dir DIR`` plans a week and writes it to ``DIR/<ISO week>/`` (for
example ``DIR/2023-W01/``), with a change report against the latest earlier week. Only when
everything is written does ``DIR/latest`` move to it (a symlink, or ``latest.html`` redirecting
there where symlinks are not available), and ``DIR/index.html`` list it. A failed run leaves
``latest`` and every earlier week as they were; its log stays in ``DIR/logs/``. A lock file
refuses a second run while one is writing.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import InputDataError
from ._io import write_text_atomic

if TYPE_CHECKING:
    from .pipeline import Plan

# The pipeline and the pages are imported where a run needs them: the service reads the
# folder layout from here (latest_run) and must not load the planning libraries.

__all__ = [
    "RunLocked",
    "iso_week",
    "latest_before",
    "latest_run",
    "planned_weeks",
    "run_lock",
    "run_week",
    "runs_index",
]

WEEK_FOLDER = re.compile(r"^\d{4}-W\d{2}$")
LOCK = ".lock"


class RunLocked(RuntimeError):
    """Another run is writing the same runs folder."""


def iso_week(day: dt.date) -> str:
    """``2026-W48``: the ISO week holding ``day``, as run folders are named."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def run_week(
    config: str | Path | None,
    runs_dir: str | Path,
    *,
    week_of: dt.date | None = None,
    offline: bool = False,
    assets: Path | None = None,
    progress: Callable[[str], None] | None = None,
    night: dt.date | None = None,
) -> tuple[Plan, Path]:
    """Plan a week into ``runs_dir/<ISO week>/`` and point ``latest`` at it.

    With ``night``, re-plan that week's run from that night on (``plan --night``).

    Returns the plan and its folder. Raises :class:`RunLocked` when another run holds the
    lock, and whatever the pipeline raises otherwise (then nothing visible has changed).
    """
    from .pipeline import plan_week, write_plan
    from .report import missed_last_week

    runs = Path(runs_dir).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    with run_lock(runs), _log_file(runs) as log:
        say = _both(log, progress)
        try:
            revised = read_plan_json(runs / iso_week(night)) if night else None
            plan = plan_week(
                config,
                week_of=week_of,
                progress=say,
                night=night,
                previous=revised,
                followup=functools.partial(missed_last_week, runs),
                reuse=runs / iso_week(night) if night else None,
            )
            week = iso_week(plan.week_start.date())
            folder = runs / week
            previous = latest_before(runs, week)
            say(f"writing {folder}" + (f", compared with {previous.name}" if previous else ""))
            write_plan(plan, folder, offline=offline, assets=assets, previous=previous)
            _point_latest(runs, week)
            write_text_atomic(runs / "index.html", runs_index(runs))
            say(f"done: {folder}")
        except BaseException as exc:
            log.error("run failed: %s: %s", type(exc).__name__, exc)
            raise
        shutil.copyfile(_log_path(log), folder / "run.log")
    return plan, folder


def read_plan_json(folder: Path) -> dict | None:
    """The ``plan.json`` in ``folder``, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((folder / "plan.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None


def runs_index(runs: Path) -> str:
    """``index.html`` of a runs folder: every week with its headline figures and links."""
    from .render import html_page, safe_text
    from .schedule import corner_visits

    rows = []
    city = "outreach routes"
    for folder in sorted(_weeks(runs), reverse=True):
        try:
            doc = json.loads((folder / "plan.json").read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if not rows:  # the newest week names the city
            city = f"{doc['city']} outreach routes"
        skill = doc.get("forecast_skill") or {}
        hit = f"{skill['hit_rate']:.0%}" if skill else "&ndash;"
        stops = sum(corner_visits(r) for r in doc["teams"])
        km = sum(r["walk_km"] for r in doc["teams"])
        name = folder.name
        rows.append(
            f'<tr><td><a href="{name}/index.html">{name}</a></td><td>{doc["week_of"]}</td>'
            f"<td>{len({r['team'] for r in doc['teams']})}</td><td>{len(doc['teams'])}</td>"
            f"<td>{stops}</td><td>{km:.0f}</td><td>{len(doc['hotspots']['features'])}</td>"
            f"<td>{doc['incidents']}</td><td>{hit}</td><td>{len(doc['unserved_requests'])}</td>"
            f'<td><a href="{name}/changes.html">changes</a> &middot; '
            f'<a href="{name}/contacts.html">contacts</a></td></tr>'
        )
    body = f"""<h1>{safe_text(city)}: weekly plans</h1>
<p><a href="latest/index.html">Latest plan</a></p>
<table><thead><tr><th>Week</th><th>Monday</th><th>Teams</th><th>Routes</th><th>Stops</th>
<th>km</th><th>Hotspots</th><th>Incidents</th><th>Hit rate (26 wk)</th><th>Requests waiting</th>
<th></th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""
    style = "td { text-align: right; } td:first-child, td:last-child { text-align: left; }"
    return html_page(f"{safe_text(city)}: weekly plans", body, style)


def latest_run(runs: Path) -> Path | None:
    """The week folder ``runs/latest`` points at; where there is no such link (a failed
    symlink leaves ``latest.html``), the newest week with a plan; None before the first."""
    link = runs / "latest"
    if link.is_dir():
        return link.resolve()
    weeks = planned_weeks(runs)
    return weeks[-1] if weeks else None


def _weeks(runs: Path) -> Iterator[Path]:
    return (p for p in runs.iterdir() if p.is_dir() and WEEK_FOLDER.match(p.name))


def planned_weeks(runs: Path) -> list[Path]:
    """The week folders holding a plan, oldest first."""
    return sorted(p for p in _weeks(runs) if (p / "plan.json").is_file())


def latest_before(runs: Path, week: str) -> Path | None:
    """The newest week folder with a plan before ``week`` (an ISO week name), or None."""
    earlier = [p for p in planned_weeks(runs) if p.name < week]
    return earlier[-1] if earlier else None


def _point_latest(runs: Path, week: str) -> None:
    """Move ``latest`` to ``week`` in one rename; a redirect page where symlinks fail."""
    tmp = runs / f".latest.{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(week, tmp, target_is_directory=True)
        os.replace(tmp, runs / "latest")
    except OSError:
        tmp.unlink(missing_ok=True)
        write_text_atomic(
            runs / "latest.html",
            f'<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" '
            f'content="0; url={week}/index.html"><a href="{week}/index.html">{week}</a>\n',
        )


@contextmanager
def run_lock(runs: Path) -> Iterator[None]:
    """Hold the runs folder's lock while the block runs: one writer at a time (the weekly and
    nightly jobs, the dosage report). Raises :class:`RunLocked` when a live process holds it."""
    path = runs / LOCK
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None:
                raise RunLocked(
                    f"{runs}: another run (process {holder}) is writing here; wait for it to "
                    f"finish, or if no such run is going, delete {path}"
                ) from None
            path.unlink(missing_ok=True)  # left by a run that died: take it over
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()} {stamp}\n")
        break
    else:  # pragma: no cover - another run took the stale lock in between
        raise RunLocked(f"{runs}: another run took the lock; try again")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _holder(path: Path) -> int | None:
    """The process holding the lock, or None when it is no longer running."""
    try:
        pid = int(path.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


@contextmanager
def _log_file(runs: Path) -> Iterator[logging.Logger]:
    logs = runs / "logs"
    logs.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = logs / f"run-{stamp}-{os.getpid()}.log"
    logger = logging.getLogger(f"outreach_routes.run.{os.getpid()}.{stamp}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        handler.close()
        logger.removeHandler(handler)


def _log_path(logger: logging.Logger) -> Path:
    return Path(next(h for h in logger.handlers if isinstance(h, logging.FileHandler)).baseFilename)


def _both(logger: logging.Logger, progress: Callable[[str], None] | None):
    def say(message: str) -> None:
        logger.info(message)
        if progress is not None:
            progress(message)

    return say


def check_out_and_runs(out: Path | None, runs_dir: Path | None) -> None:
    """``--out`` and ``--runs-dir`` are two ways to say where: one at a time."""
    if out is not None and runs_dir is not None:
        raise InputDataError(
            "give --out (one folder, replaced each run) or --runs-dir (a dated folder per "
            "week), not both"
        )
