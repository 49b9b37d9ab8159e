from __future__ import annotations

import geopandas as gpd
import networkx as nx
import pytest
import shapely
from conftest import CITIES

from outreach_routes import graph_from_centerlines, load_config, load_network, walkable_centerlines

UTM = "EPSG:32618"


def line(*xy):
    return shapely.LineString(xy)


@pytest.fixture
def toy_streets() -> gpd.GeoDataFrame:
    """A 3 x 3 block grid of local streets, an arterial, an expressway and a toll bridge."""
    rows = []
    for i in range(4):  # local grid, 100 m blocks
        for j in range(3):
            rows.append(("Local", line((j * 100, i * 100), ((j + 1) * 100, i * 100))))
            rows.append(("Local", line((i * 100, j * 100), (i * 100, (j + 1) * 100))))
    # An arterial block between two arterial corners: isolated, but only 100 m long.
    rows.append(("PennDOT", line((300, 300), (300, 400))))
    rows.append(("PennDOT", line((300, 400), (300, 500))))
    rows.append(("PennDOT", line((300, 500), (200, 500))))
    rows.append(("Local", line((200, 500), (200, 300))))
    # An expressway passing by: 1.5 km touching no local street, joined by a ramp.
    rows.append(("PennDOT", line((-200, -100), (500, -100))))
    rows.append(("PennDOT", line((500, -100), (1300, -100))))
    rows.append(("Federal Aid Route", line((-200, -100), (-200, -50))))
    rows.append(("Toll Bridges", line((300, 0), (300, -400))))
    classes, geoms = zip(*rows, strict=True)
    return gpd.GeoDataFrame({"NETWORK": classes}, geometry=list(geoms), crs=UTM)


def test_rule_drops_toll_bridges_and_long_isolated_chains(toy_streets):
    kept, by_class, limited = walkable_centerlines(
        toy_streets,
        class_column="NETWORK",
        drop_classes=("Toll Bridges",),
        local_classes=("Local",),
        limited_access_min_m=1000,
    )
    assert by_class == 1
    assert limited == 3  # the two expressway segments and the ramp joined to them
    assert "Toll Bridges" not in set(kept["NETWORK"])
    assert (kept["NETWORK"] == "PennDOT").sum() == 3  # the short arterial run stays


def test_graph_is_two_way_and_keeps_the_largest_piece(toy_streets):
    toy = toy_streets[toy_streets["NETWORK"] != "Toll Bridges"]
    graph = graph_from_centerlines(toy, crs=UTM)
    # The expressway and its ramp form a separate piece and are left out.
    assert graph.number_of_nodes() == 16 + 3  # the grid and the arterial loop
    for u, v, data in graph.edges(data=True):
        assert graph.has_edge(v, u)
        assert data["length"] == pytest.approx(data["geometry"].length)
        start = shapely.Point(data["geometry"].coords[0])
        assert start.distance(shapely.Point(graph.nodes[u]["x"], graph.nodes[u]["y"])) < 0.2


def test_bundled_network_is_one_walkable_piece():
    config = load_config()
    graph, report = load_network(config.network, crs=config.city.crs)
    assert nx.is_weakly_connected(graph)
    assert report.segments_read == 40_342
    assert report.dropped_by_class == 55
    assert 500 < report.dropped_limited_access < 2000
    assert graph.graph["crs"] == config.city.crs
    assert 20_000 < graph.number_of_nodes() < 30_000


@pytest.mark.parametrize("name", ["West-Oakland.osm.bz2", "West-Oakland.osm.pbf"])
def test_openstreetmap_extracts_load(name):
    """A real OSM extract (West Oakland), as XML and as PBF, gives the same walking graph."""
    from pathlib import Path

    from outreach_routes.config import NetworkConfig

    path = Path(__file__).parent / "data" / name
    graph, report = load_network(NetworkConfig(path=path), crs="EPSG:32610")
    assert nx.is_strongly_connected(graph)
    assert report.source == name
    assert report.segments_read == 66  # ways; 35 of them are not streets
    assert report.dropped_kinds["building"] == 23 and report.dropped_kinds["railway"] == 2
    assert graph.number_of_nodes() == 45
    assert any(isinstance(d.get("name"), str) for *_, d in graph.edges(data=True))
    for u, v in graph.edges():
        assert graph.has_edge(v, u)


def test_graphml_round_trip(tmp_path):
    from pathlib import Path

    import osmnx as ox

    from outreach_routes.config import NetworkConfig

    source = Path(__file__).parent / "data" / "West-Oakland.osm.bz2"
    graph, _ = load_network(NetworkConfig(path=source), crs="EPSG:32610")
    saved = tmp_path / "walk.graphml"
    ox.save_graphml(graph, saved)
    again, report = load_network(NetworkConfig(path=saved), crs="EPSG:32610")
    assert again.number_of_nodes() == graph.number_of_nodes()
    assert report.dropped_disconnected == 0


def test_download_offline_fails_fast_with_the_fix(monkeypatch):
    import socket
    import time

    from outreach_routes import InputDataError
    from outreach_routes.config import NetworkConfig

    def refuse(*_args, **_kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    started = time.perf_counter()
    with pytest.raises(InputDataError, match=r"looks offline.*set \[network\] path"):
        load_network(NetworkConfig(place="Minneapolis, Minnesota"), crs="EPSG:32615")
    assert time.perf_counter() - started < 5


def test_centerlines_without_class_use_name_and_speed_rules():
    from conftest import CITIES

    from outreach_routes.config import NetworkConfig

    config = load_config(CITIES["minneapolis"])
    graph, report = load_network(config.network, crs=config.city.crs)
    names = {d.get("name") for *_, d in graph.edges(data=True)}
    assert "WEST BROADWAY" in names and "LAKE" in names
    assert not [n for n in names if isinstance(n, str) and (" TO " in n or n.startswith("INTER"))]
    assert report.dropped_by_class > 300
    bad = NetworkConfig(path=config.network.path, name_column="street_name")
    with pytest.raises(ValueError, match=r"`name_column` = 'street_name' of \[network\] not found"):
        load_network(bad, crs=config.city.crs)


def test_centerline_graph_is_what_osmnx_builds_and_its_frames_what_osmnx_gives():
    """The one-pass build of a centerline graph (network._graph_with_frames) holds what
    osmnx.graph_from_gdfs makes of the same frames, and the frames kept for graph_frames are,
    in order, what osmnx.graph_to_gdfs returns for the graph."""
    import osmnx as ox
    import pandas as pd

    from outreach_routes.network import graph_frames

    config = load_config(CITIES["minneapolis"])
    graph, _ = load_network(config.network, crs=config.city.crs)
    nodes, edges = graph_frames(graph)
    rebuilt = ox.convert.graph_from_gdfs(nodes, edges, graph_attrs=dict(graph.graph))
    assert dict(graph.nodes(data=True)) == dict(rebuilt.nodes(data=True))
    theirs = {(u, v, k): d for u, v, k, d in rebuilt.edges(keys=True, data=True)}
    assert len(theirs) == graph.number_of_edges()
    for u, v, k, ours in graph.edges(keys=True, data=True):
        other = theirs[u, v, k]
        assert list(ours) == list(other)
        assert ours["geometry"].equals(other["geometry"])
        assert ours["length"] == other["length"] and ours.get("name") == other.get("name")
    ox_nodes, ox_edges = ox.graph_to_gdfs(graph)
    pd.testing.assert_frame_equal(edges[sorted(edges)], ox_edges[sorted(ox_edges)])
    pd.testing.assert_frame_equal(nodes[sorted(nodes)], ox_nodes[sorted(ox_nodes)])
