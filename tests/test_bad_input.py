"""Bad input never crashes and nothing is lost: each case gives its expected message."""

from __future__ import annotations

import datetime as dt
import gzip
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import write_bundled_config

from outreach_routes import ConfigError, InputDataError, load_config, load_incidents
from outreach_routes.config import IncidentConfig, default_config_path

TZ = "America/New_York"
BUNDLED = default_config_path()
HEADER = "dc_key,date,lat,lng\n"
# Real rows of the bundled Philadelphia data (North Philadelphia, December 2022).
GOOD = [
    "202225073062,2022-12-31 00:13:00,39.995303,-75.13956",
    "202225072608,2022-12-28 18:04:00,39.998178,-75.11702",
    "202225073051,2022-12-30 22:15:00,40.005393,-75.15192",
]


@pytest.fixture(scope="module")
def area():
    config = load_config()
    return gpd.read_file(config.city.limits).to_crs(config.city.crs).union_all()


def write(tmp_path: Path, text: str | bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, area=None, **options):
    settings = {
        "path": path,
        "id_column": "dc_key",
        "date_column": "date",
        "lat_column": "lat",
        "lon_column": "lng",
    }
    settings.update(options)
    return load_incidents(
        IncidentConfig(**settings),
        crs="EPSG:32618",
        timezone=TZ,
        area=area,
        now=pd.Timestamp("2023-06-01", tz=TZ),
    )


def reasons(table) -> dict[int, str]:
    return table.rejects.set_index("row")["reason"].to_dict()


def test_empty_file(tmp_path):
    with pytest.raises(InputDataError, match=r"export.csv: the file is empty"):
        load(write(tmp_path, ""))


def test_header_only(tmp_path):
    with pytest.raises(InputDataError, match="has a header but no data rows"):
        load(write(tmp_path, HEADER))


def test_semicolons_are_sniffed(tmp_path):
    text = (HEADER + "\n".join(GOOD)).replace(",", ";")
    assert load(write(tmp_path, text)).rows_used == 3


def test_wrong_delimiter_is_named(tmp_path):
    text = (HEADER + "\n".join(GOOD)).replace(",", ";")
    with pytest.raises(InputDataError, match=r"single column.*set `delimiter = \";\"`"):
        load(write(tmp_path, text), delimiter=",")


def test_latin1_bytes_and_bom(tmp_path):
    text = "dc_key,date,lat,lng,street\n" + GOOD[0] + ",Côté Ave\n"
    assert load(write(tmp_path, text.encode("latin-1"))).rows_used == 1
    assert load(write(tmp_path, "\ufeff" + HEADER + GOOD[1], "bom.csv")).rows_used == 1


def test_zipped_and_gzipped_csv(tmp_path):
    text = HEADER + "\n".join(GOOD) + "\n"
    gz = tmp_path / "export.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert load(gz).rows_used == 3
    zipped = tmp_path / "export.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("shootings.csv", text)
    assert load(zipped).rows_used == 3


def test_missing_required_column(tmp_path):
    with pytest.raises(InputDataError, match=r"column `lat` \(`lat_column` in \[incidents\]\) not"):
        load(write(tmp_path, "dc_key,date,y,lng\n" + GOOD[0]))


def test_blank_and_non_numeric_coordinates_are_rejected(tmp_path):
    rows = [GOOD[0], "A1,2022-12-30 10:00:00,,-75.1", "A2,2022-12-30 10:00:00,north,-75.1"]
    table = load(write(tmp_path, HEADER + "\n".join(rows)))
    assert reasons(table) == {
        2: "no location: `lat` is empty",
        3: "no location: `lat` is not a number",
    }
    assert table.rows_read == table.rows_used + table.rows_rejected == 3


def test_swapped_latitude_and_longitude_are_swapped_back(tmp_path, area):
    swapped = "A9,2022-12-29 20:11:00,-75.148103,40.007185"
    table = load(write(tmp_path, HEADER + "\n".join([GOOD[0], swapped])), area=area)
    assert table.rows_used == 2
    assert any("1 row(s) had latitude and longitude swapped" in n for n in table.notes)
    assert area.contains(table.incidents.geometry).all()


def test_points_far_outside_the_study_area_are_rejected(tmp_path, area):
    pittsburgh = "B1,2022-12-29 20:11:00,40.4406,-79.9959"
    table = load(write(tmp_path, HEADER + "\n".join([GOOD[0], pittsburgh])), area=area)
    assert reasons(table) == {2: "more than 2000 m outside the city limits ([city] limits)"}


def test_projected_values_in_lat_lon_columns(tmp_path):
    rows = [
        "C1,2022-12-29 20:11:00,238835.0,2693400.1",
        "C2,2022-12-29 20:11:00,238893.6,2692954.0",
    ]
    with pytest.raises(InputDataError, match="look like projected coordinates; set `x_column`"):
        load(write(tmp_path, HEADER + "\n".join(rows)))


def test_projected_xy_without_crs(tmp_path):
    text = "dc_key,date,x,y\nC1,2022-12-29 20:11:00,2693400.1,238835.0\n"
    with pytest.raises(InputDataError, match="need `source_crs`"):
        load(write(tmp_path, text), lat_column=None, lon_column=None, x_column="x", y_column="y")


def test_projected_xy_with_crs_loads(tmp_path):
    text = "dc_key,date,x,y\nC1,2022-12-29 20:11:00,2693400.1,238835.0\n"
    table = load(
        write(tmp_path, text),
        lat_column=None,
        lon_column=None,
        x_column="x",
        y_column="y",
        source_crs="EPSG:2272",
    )
    assert table.rows_used == 1


def test_mixed_and_unreadable_dates(tmp_path):
    rows = [GOOD[0], "D1,12/29/2022 8:11 PM,39.9953,-75.1395", "D2,last tuesday,39.9953,-75.1395"]
    table = load(write(tmp_path, HEADER + "\n".join(rows)))
    assert reasons(table) == {3: "date in `date` is not readable"}
    times = table.incidents.set_index("incident_id")["occurred_at"]
    assert times["D1"] == pd.Timestamp("2022-12-29 20:11", tz=TZ)


def test_dates_in_the_future_are_rejected(tmp_path):
    rows = [GOOD[0], "E1,2031-01-01 10:00:00,39.9953,-75.1395"]
    table = load(write(tmp_path, HEADER + "\n".join(rows)))
    assert reasons(table) == {2: "date in `date` is in the future"}


def test_duplicate_incident_ids_when_rows_are_incidents(tmp_path):
    rows = [GOOD[0], GOOD[0].replace("00:13", "00:14")]
    table = load(write(tmp_path, HEADER + "\n".join(rows)), rows="incidents")
    assert reasons(table) == {2: "incident id in `dc_key` repeats an earlier row"}
    as_victims = load(write(tmp_path, HEADER + "\n".join(rows), "v.csv"))
    assert as_victims.incidents["victims"].tolist() == [2]


def test_every_row_rejected_is_one_clear_error(tmp_path):
    rows = ["F1,2022-12-29 20:11:00,,", "F2,2022-12-29 20:11:00,,"]
    with pytest.raises(
        InputDataError,
        match=r"no usable incidents: all 2 rows were rejected "
        r"\(2 x no location",
    ):
        load(write(tmp_path, HEADER + "\n".join(rows)))


def test_columns_are_detected_and_reported(tmp_path):
    text = "Incident,Occurred,Latitude,Longitude\n" + "\n".join(GOOD)
    config = IncidentConfig(path=write(tmp_path, text), id_column="Incident")
    table = load_incidents(config, crs="EPSG:32618", timezone=TZ)
    assert table.rows_used == 3
    assert "export.csv: dates read from column `Occurred`" in table.notes
    assert any(
        n.startswith("export.csv: latitude from `Latitude`, longitude from `Longitude` (x -75.")
        for n in table.notes
    )


def test_geojson_export_with_other_names(tmp_path):
    frame = pd.read_csv(Path(__file__).parent / "data" / "philly_victims_sample.csv", dtype=str)
    frame = frame.dropna(subset=["lat"])
    frame["lat"] = frame["lat"].astype(float)
    frame["lng"] = frame["lng"].astype(float)
    points = gpd.GeoDataFrame(
        frame.rename(columns={"date": "DISPATCH_DATE_TIME"}).drop(columns=["lat", "lng"]),
        geometry=gpd.points_from_xy(frame["lng"], frame["lat"]),
        crs="EPSG:4326",
    )
    path = tmp_path / "shootings.geojson"
    points.to_file(path)
    table = load_incidents(
        IncidentConfig(path=path, id_column="dc_key"),
        crs="EPSG:32618",
        timezone=TZ,
        now=pd.Timestamp("2023-06-01", tz=TZ),
    )
    assert table.rows_read == table.rows_used + table.rows_rejected == len(points)
    assert any("DISPATCH_DATE_TIME" in n for n in table.notes)


def test_shift_shorter_than_one_stop(tmp_path):
    path = write_bundled_config(tmp_path, **{'shift_end = "23:00"': 'shift_end = "18:10"'})
    with pytest.raises(ConfigError, match=r"the shift \(10 min\) is shorter than one stop"):
        load_config(path)


def test_two_teams_with_the_same_name(tmp_path):
    path = write_bundled_config(
        tmp_path, **{'name = "Team 22 North Central"': 'name = "Team 25 Fairhill"'}
    )
    with pytest.raises(ConfigError, match="the name 'Team 25 Fairhill' is used twice"):
        load_config(path)


def test_invalid_request_polygon_is_named(tmp_path):
    from outreach_routes import load_requests

    bowtie = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":'
        '"Polygon","coordinates":[[[-75.14,40.0],[-75.13,40.01],[-75.13,40.0],'
        '[-75.14,40.01],[-75.14,40.0]]]},"properties":{"request_id":"X1","priority":3,'
        '"requester":"a","note":"b","valid_from":"2023-01-01","valid_to":"2023-01-31"}}]}'
    )
    path = write(tmp_path, bowtie, "requests.geojson")
    with pytest.raises(InputDataError, match=r"request X1: the polygon is invalid \(Self-inter"):
        load_requests(
            path,
            crs="EPSG:32618",
            week_start=pd.Timestamp("2023-01-02").date(),
            week_end=pd.Timestamp("2023-01-08").date(),
        )


def test_a_request_outside_every_territory_but_swapped_is_called_swapped():
    """Philadelphia's numbers are both latitudes (39.99, -75.13): written the wrong way round a
    request lands in Antarctica's seas, outside every territory; the reason says it is swapped."""
    from pyproj import Transformer
    from shapely import Point

    from outreach_routes.pipeline import week_start_for
    from outreach_routes.stops import _swapped_hint
    from outreach_routes.teams import load_teams

    config = load_config(default_config_path())
    teams, _, _ = load_teams(config, week_start=week_start_for(dt.date(2023, 1, 2), "UTC"))
    to_city = Transformer.from_crs("EPSG:4326", config.city.crs, always_xy=True)
    written = Point(to_city.transform(39.99500, -75.13100))  # lon = 39.995, lat = -75.131
    hint = _swapped_hint(written, config.city.crs, teams)
    assert hint.startswith("; its lat and lon look swapped: as lat = 39.995, lon = -75.131")
    assert hint.endswith("'s territory")
    right = Point(to_city.transform(-75.13100, 39.99500))
    assert _swapped_hint(right, config.city.crs, teams) == ""
