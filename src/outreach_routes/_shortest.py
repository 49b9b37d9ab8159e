"""Walking distances for the service: Dijkstra compiled with Numba, outside the GIL.

The service answers `where` on threads while check-ins arrive on others. scipy's Dijkstra holds
the GIL for its whole search (3.6 ms on Philadelphia's 24,518 corners), so every other request
waits for it; under load (``benchmarks/serve_load.py``) that wait was most of `where`'s time.
This one releases the GIL (``nogil``) and stops as soon as the teams asked about are reached.
It imports only numpy and Numba; the one-off `where` command keeps its pure-Python heap
(:func:`outreach_routes.schedule.walking_metres`), which has no compile to wait for.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["dijkstra"]


def dijkstra(
    start: np.ndarray, to: np.ndarray, metres: np.ndarray, source: int, stop_at: np.ndarray
) -> np.ndarray:
    """Metres on foot from node ``source`` over a graph in compressed rows (node ``i``'s
    neighbours are ``to[start[i]:start[i + 1]]`` at ``metres[...]``), to every node the search
    settled; ``inf`` elsewhere. The search stops once every node of ``stop_at`` is settled (an
    empty ``stop_at``: never), so those are exact."""
    return _dijkstra(start, to, metres, np.int64(source), stop_at.astype(np.int64))


@njit(nogil=True, cache=True)
def _dijkstra(start, to, metres, source, stop_at):  # pragma: no cover (compiled)
    n = len(start) - 1
    dist = np.full(n, np.inf)
    settled = np.zeros(n, dtype=np.bool_)
    wanted = np.zeros(n, dtype=np.bool_)
    left = 0
    for node in stop_at:
        if not wanted[node]:
            wanted[node] = True
            left += 1
    # a binary heap of (metres, node), stale entries skipped when popped
    heap_d = np.empty(len(to) + 1)
    heap_n = np.empty(len(to) + 1, dtype=np.int64)
    size = 1
    heap_d[0], heap_n[0] = 0.0, source
    dist[source] = 0.0
    while size:
        here, node = heap_d[0], heap_n[0]
        size -= 1
        last_d, last_n = heap_d[size], heap_n[size]
        k = 0
        while 2 * k + 1 < size:  # sift the last entry down from the root
            c = 2 * k + 1
            if c + 1 < size and heap_d[c + 1] < heap_d[c]:
                c += 1
            if heap_d[c] >= last_d:
                break
            heap_d[k], heap_n[k] = heap_d[c], heap_n[c]
            k = c
        heap_d[k], heap_n[k] = last_d, last_n
        if settled[node]:
            continue
        settled[node] = True
        if wanted[node]:
            left -= 1
            if left == 0:
                break
        for e in range(start[node], start[node + 1]):
            there = here + metres[e]
            other = to[e]
            if there < dist[other]:
                dist[other] = there
                k = size  # sift up
                size += 1
                while k > 0 and heap_d[(k - 1) // 2] > there:
                    heap_d[k], heap_n[k] = heap_d[(k - 1) // 2], heap_n[(k - 1) // 2]
                    k = (k - 1) // 2
                heap_d[k], heap_n[k] = there, other
    for node in range(n):
        if not settled[node]:
            dist[node] = np.inf
    return dist
