"""The walking graph of a centerline file: the one-pass build against osmnx's.

Usage::

    .venv/bin/python benchmarks/graph_build.py [--config FILE] [--repeat N]

``network.graph_from_centerlines`` builds the MultiDiGraph in one pass from the frames it made
and keeps those frames for ``network.graph_frames``. The osmnx way is
``osmnx.convert.graph_from_gdfs`` (row by row, each value checked for nulls) and then
``osmnx.graph_to_gdfs`` to get the frames back for the territories. Prints the median seconds
of each over ``--repeat`` runs on the bundled Philadelphia streets (or ``--config``'s).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import osmnx as ox

from outreach_routes import load_config
from outreach_routes.network import _graph_with_frames, graph_frames, load_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config(args.config)
    graph, _ = load_network(config.network, crs=config.city.crs)
    nodes, edges = graph_frames(graph)
    crs = config.city.crs

    def ours() -> None:
        _graph_with_frames(nodes, edges, crs)

    def osmnx_way() -> None:
        built = ox.convert.graph_from_gdfs(nodes, edges, graph_attrs={"crs": crs})
        ox.graph_to_gdfs(built)

    print(f"{graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges ({crs})")
    for name, build in (("one pass (ours)", ours), ("osmnx from_gdfs + to_gdfs", osmnx_way)):
        seconds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            build()
            seconds.append(time.perf_counter() - started)
        print(f"{name:<28}{statistics.median(seconds):>8.2f} s median of {args.repeat}")


if __name__ == "__main__":
    main()
