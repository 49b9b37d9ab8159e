"""The notebook runs top to bottom on the bundled data and shows the maps inline."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_weekly_plan.ipynb"


def test_weekly_plan_notebook_executes_and_shows_maps(tmp_path):
    outputs = executed_outputs(NOTEBOOK.name, tmp_path)
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    maps = [h for h in html if "leaflet" in h.lower()]
    assert len(maps) == 2  # the overview and a team map
    text = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "rows read 13690" in text
    assert "index.html" in text and "plan.json" in text


def executed_outputs(name: str, folder: Path) -> list:
    """Run a notebook of notebooks/ top to bottom; its code cells' outputs, none an error."""
    nb = nbformat.read(NOTEBOOK.parent / name, as_version=4)
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs


def test_backtest_notebook_executes_with_its_plot_and_map(tmp_path):
    outputs = executed_outputs("02_backtest.ipynb", tmp_path)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the weekly series
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("leaflet" in h.lower() for h in html)  # the flagged-cells map
    text = "".join(str(o.get("text", "")) for o in outputs)
    assert "model - count_all at 5% of the city:" in text
    assert "model ahead of count_all in" in text and "of 7 years" in text  # 2016-2022
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # and the years


def test_route_backtest_notebook_executes_with_its_series_table_and_map(tmp_path):
    outputs = executed_outputs("03_route_backtest.ipynb", tmp_path)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the weekly series
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("leaflet" in h.lower() for h in html)  # the missed shootings
    assert any("Team 25 Fairhill" in h for h in html)  # the per-team table
    text = "".join(str(o.get("text", "")) for o in outputs)
    assert "2 weeks, 42 rows" in text and "within 150 m of a planned route" in text
    # The analyst's view of the hours: one plot per kind, and the shift windows' shares.
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
    assert any("18:00-23:00" in h and "Team 22 North Central" in h for h in html)


def test_dosage_notebook_executes_and_says_its_check_ins_are_simulated(tmp_path):
    outputs = executed_outputs("04_dosage.ipynb", tmp_path)
    assert any("image/png" in o.get("data", {}) for o in outputs)  # dosage against next week
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("shootings_next_week" in h for h in html)
    text = "".join(str(o.get("text", "")) for o in outputs)
    assert "12 weeks from 2022-03-07" in text and "simulated check-ins" in text
    assert "correlation of minutes" in text and "within hotspots" in text
