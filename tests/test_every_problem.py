"""One run names every problem of a config, and bad rows never sink the good ones (#14).

Built on the hand-made OSM test city (``tests/data/osm-city``): small enough that `validate` and
`plan` run in seconds, with the message of each problem checked for its file, key and fix.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import CITIES, minneapolis_config, run_cli

from outreach_routes import load_incidents
from outreach_routes.config import IncidentConfig

CITY = Path(__file__).parent / "data" / "osm-city"
# A pair of projected coordinates in a message, like "(563490, 4185474)".
PROJECTED = re.compile(r"(?<![\d.])-?\d{5,}(?:\.\d+)?,\s*-?\d{5,}")


def _city(tmp_path: Path, *, incidents: str | None = None, extra: str = "") -> Path:
    """A copy of the OSM test city, with its incidents file and config changed."""
    folder = tmp_path / "city"
    shutil.copytree(CITY, folder)
    if incidents is not None:
        (folder / "incidents.csv").write_text(incidents, encoding="utf-8")
    config = folder / "plan.toml"
    config.write_text(config.read_text("utf-8") + extra, encoding="utf-8")
    return config


def _errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def test_validate_lists_five_independent_problems_and_plan_stops_on_the_same(tmp_path):
    # Incidents: a date column no name detects, and projected values in the lat/lon columns.
    incidents = "incident_id,when_shot,latitude,longitude\n" + "".join(
        f"P{i},2022-06-{i + 1:02d} 22:00,{563490 + 10 * i},{4185474 + 10 * i}\n" for i in range(5)
    )
    config = _city(
        tmp_path,
        incidents=incidents,
        extra="""
[requests]
path = "requests.csv"

[[teams]]
name = "Typo Team"
territory = "Beat 9"
base = [37.8000, -122.2700]
nights = ["fri"]

[[teams]]
name = "Far Team"
territory = "Beat 1"
base = [37.9000, -122.1000]
nights = ["sat"]
""",
    )
    (config.parent / "requests.csv").write_text(
        "request_id,prority,requester,note,valid_from,valid_to,lat,lon\n"
        "R1,3,Block club,Corner store,2022-01-01,2023-12-31,37.8005,-122.2695\n",
        encoding="utf-8",
    )
    result = run_cli("validate", "--config", str(config))
    assert result.returncode == 2, result.stderr
    errors = _errors(result)
    assert len(errors) == 5, "\n".join(errors)
    text = "\n".join(errors)
    assert "incidents.csv: no date column found among `incident_id`, `when_shot`" in text
    assert "name it with `date_column` in [incidents]" in text
    assert "incidents.csv: `latitude`/`longitude` hold values like 563490, 4185474" in text
    assert "set `x_column`, `y_column` and `source_crs`" in text
    assert "team 'Typo Team': territory 'Beat 9' is not in column `beat` of beats.geojson" in text
    assert "it holds Beat 1" in text
    assert re.search(
        r"team 'Far Team': base 37\.90000, -122\.10000 lies [\d,]+ m outside territory 'Beat 1'",
        text,
    )
    assert "requests.csv: requests need the field `priority`; the file has `prority`" in text
    assert "rename it `priority`" in text

    planned = run_cli("plan", "--config", str(config), "--out", str(tmp_path / "out"))
    assert planned.returncode == 2, planned.stderr
    assert _errors(planned) == errors
    assert not (tmp_path / "out").exists()


BAD_LATITUDES = {
    2: ("", "no location: `latitude` is empty"),
    3: ("NA", "no location: `latitude` is empty"),
    4: ("abc", "no location: `latitude` is not a number"),
    5: ("1e400", "no location: `latitude` is not a finite number"),
    6: ("-inf", "no location: `latitude` is not a finite number"),
}


def test_bad_latitudes_reject_their_rows_and_the_good_rows_plan(tmp_path):
    good = (CITY / "incidents.csv").read_text("utf-8").splitlines()
    header, rows = good[0], good[1:]
    # Rows 2-6 of the file get a bad latitude; every other row stays as it was.
    for row, (value, _) in BAD_LATITUDES.items():
        fields = rows[row - 1].split(",")
        fields[2] = value
        rows[row - 1] = ",".join(fields)
    config = _city(tmp_path, incidents="\n".join([header, *rows]) + "\n")
    result = run_cli("plan", "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    rejects = pd.read_csv(out / "rejects.csv", keep_default_na=False)
    assert dict(zip(rejects["row"], rejects["reason"], strict=True)) == {
        row: reason for row, (_, reason) in BAD_LATITUDES.items()
    }
    plan = json.loads((out / "plan.json").read_text("utf-8"))
    assert plan["rows_read"] == len(rows) == 32
    assert plan["rows_rejected"] == len(BAD_LATITUDES)
    assert plan["rows_used"] == plan["rows_read"] - plan["rows_rejected"] == 27
    assert "projected" not in result.stderr


def test_non_finite_values_are_no_evidence_of_projected_coordinates(tmp_path):
    path = tmp_path / "shootings.csv"
    path.write_text(
        "incident_id,date,x,y\n"
        "A,2022-06-01 22:00,-122.2700,37.8000\n"
        "B,2022-06-02 22:00,-inf,1e400\n"
        "C,2022-06-03 22:00,-122.2690,37.8010\n",
        encoding="utf-8",
    )
    config = IncidentConfig(path=path, id_column="incident_id")
    table = load_incidents(config, crs="EPSG:32610", timezone="America/Los_Angeles")
    assert table.rows_used == 2
    assert table.rejects["reason"].tolist() == ["no location: `y` is not a finite number"]
    assert any("longitude from `x`, latitude from `y` (x -122.27" in n for n in table.notes)


def _twin_tables(tmp_path: Path, *, sniff: bool):
    rows = (CITY / "incidents.csv").read_text("utf-8").splitlines()
    comma = tmp_path / "comma.csv"
    comma.write_text("\n".join(rows) + "\n", encoding="utf-8")
    semicolon = tmp_path / "semicolon.csv"
    semicolon.write_text(
        "\n".join(r.replace(",", ";").replace(".", ",") for r in rows) + "\n", encoding="utf-8"
    )
    options = {"id_column": "incident_id", "rows": "incidents"}
    semicolon_options = {} if sniff else {"decimal": ",", "delimiter": ";"}
    return [
        load_incidents(
            IncidentConfig(path=path, **options, **more),
            crs="EPSG:32610",
            timezone="America/Los_Angeles",
        )
        for path, more in ((comma, {}), (semicolon, semicolon_options))
    ]


@pytest.mark.parametrize("sniff", [True, False], ids=["sniffed", "decimal-set"])
def test_decimal_commas_load_like_their_comma_twin(tmp_path, sniff):
    plain, commas = _twin_tables(tmp_path, sniff=sniff)
    assert commas.rows_used == plain.rows_used == 32
    a, b = plain.incidents, commas.incidents
    assert a["incident_id"].tolist() == b["incident_id"].tolist()
    assert (a.geometry.distance(b.geometry) < 1e-6).all()
    said = any("use decimal commas (like 39,97)" in n for n in commas.notes)
    assert said == sniff


def test_decimal_setting_is_checked(tmp_path):
    config = _city(tmp_path)
    text = config.read_text("utf-8").replace('id_column = "incident_id"', 'decimal = "·"\n', 1)
    config.write_text(
        text.replace("[incidents]", '[incidents]\nid_column = "incident_id"'), "utf-8"
    )
    result = run_cli("validate", "--config", str(config))
    assert result.returncode == 2
    assert '[incidents] `decimal` = \'·\': use "." (39.97) or "," (39,97)' in result.stderr


def test_no_message_gives_projected_coordinates(tmp_path, minneapolis_dir):
    """Corner reports of both bundled cities, `validate` and `where`, give places as lat, lon."""
    messages = []
    for config in CITIES.values():
        result = run_cli("validate", "--config", str(config))
        assert result.returncode == 0, result.stderr
        messages += result.stderr.splitlines()
    # Corners outside every territory, outside the team's, or never meeting, in Minneapolis.
    requests = tmp_path / "requests.csv"
    requests.write_text(
        "request_id,priority,requester,note,valid_from,valid_to,intersection,team\n"
        "T1,5,Block club,Downtown,2018-03-01,2018-05-31,3rd St N & 1st Ave N,\n"
        "T2,5,Block club,Other team,2018-03-01,2018-05-31,Lake St & Chicago Ave,North Camden\n"
        "T3,5,Block club,Never meet,2018-03-01,2018-05-31,Lake St & Lowry Ave N,\n",
        encoding="utf-8",
    )
    config = minneapolis_config(tmp_path, requests)
    result = run_cli("validate", "--config", str(config))
    corner_notes = [m for m in result.stderr.splitlines() if "will not be served" in m]
    assert len(corner_notes) == 3, result.stderr
    messages += corner_notes
    assert re.search(
        r"T1 will not be served: .*they meet at 44\.\d{5}, -93\.\d{5}; 44\.\d{5}, -93\.\d{5}",
        result.stderr,
    )
    assert "inside any territory (no `team` given: every territory searched)" in result.stderr
    assert re.search(
        r"T2 will not be served: .*inside team North Camden's territory", result.stderr
    )
    for near in ("3rd St N & 1st Ave N", "Lake St & Lowry Ave N"):
        where = run_cli("where", "--plan", str(minneapolis_dir), "--near", near)
        assert where.returncode == 2, where.stderr
        assert re.search(r"44\.\d{5}, -93\.\d{5}", where.stderr), where.stderr
        messages += where.stderr.splitlines()
    bad = [m for m in messages if PROJECTED.search(m)]
    assert bad == []
