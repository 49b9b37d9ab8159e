"""Teams planned on routing worker processes (issue 20): the same plan, whatever their number."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from outreach_routes import load_config, plan_document, plan_week
from outreach_routes._io import dumps_json
from outreach_routes._teamweek import Workers


def test_the_plan_is_byte_identical_on_one_two_or_three_processes():
    config = load_config()
    small = replace(config, teams=config.teams[:3])
    documents = {}
    for workers in (1, 2, 3):
        routing = replace(small.routing, workers=workers)
        plan = plan_week(replace(small, routing=routing), skill=False)
        documents[workers] = dumps_json(plan_document(plan))
    assert documents[1] == documents[2] == documents[3]
    assert '"stop_id"' in documents[1]  # a real plan, with stops


def test_workers_start_ahead_and_are_gone_once_used():
    pool = Workers(3)  # this process and two workers
    assert len(pool.procs) == 2
    running = list(pool.procs)
    assert all(p.poll() is None for p in running)
    assert pool.solve([]) == []
    assert pool.procs == [] and all(p.returncode is not None for p in running)
    assert Workers(1).procs == []


def test_a_worker_imports_numpy_and_numba_only():
    # (Numba itself imports scipy's top package, not its sparse graphs or spatial trees.)
    heavy = ("pandas", "geopandas", "shapely", "osmnx", "networkx", "sklearn", "folium")
    heavy += ("pyproj", "scipy.sparse", "scipy.spatial", "outreach_routes.routing")
    code = (
        "import sys, outreach_routes._teamweek; "
        f"print(sorted(m for m in sys.modules if m in {heavy!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_failing_worker_is_reported_not_hung():
    from outreach_routes._teamweek import Knobs, Night, TeamWeek

    knobs = Knobs(10, 1, 0.6, 120.0, 0.5, 0.5, 5.0, 0.0)
    broken = TeamWeek(
        travel=np.zeros((2, 3)),  # not square: the solver cannot walk it
        service=np.zeros(2),
        prize=np.array([0.0, 1.0]),
        core=np.zeros(2, bool),
        grown_prize=np.array([0.0, 1.0]),
        grown_core=np.zeros(2, bool),
        hourly=None,
        first_response=2,
        nights=(Night(index=0, start_min=1080, shift_minutes=300.0, seed=0),),
        knobs=knobs,
    )
    good = replace(broken, travel=np.ones((2, 2)))
    with pytest.raises(RuntimeError, match="routing worker failed") as failed:
        Workers(2).solve([[good], [broken]])
    assert "could not be broadcast" in str(failed.value)  # the worker's own message comes too
