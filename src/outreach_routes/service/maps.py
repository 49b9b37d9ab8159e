"""A run's pages as the service sends them: the map libraries from the service's own copies
(``/vendor/``, the npm copies ``make`` installs), never a CDN, and a Content-Security-Policy.

The week's maps are folium pages with inline scripts; until those become files, the policy
allows each inline script by its SHA-256, tiles from the tile server the page names, and
inline styles (folium sets many ``style`` attributes).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from .._assets import npm_file

__all__ = ["TILES", "TILE_ORIGIN", "VENDOR", "page_csp", "vendored"]

VENDOR = "/vendor/"
# The service's live maps (the board, /where) draw on the tiles the week's maps use (folium's
# "OpenStreetMap").
TILE_ORIGIN = "https://tile.openstreetmap.org"
TILES = TILE_ORIGIN + "/{z}/{x}/{y}.png"
_SCRIPT = re.compile(r'<script src="(https?://[^"]+)"></script>')
_STYLESHEET = re.compile(r'<link rel="stylesheet" href="(https?://[^"]+)"\s*/?>')
_INLINE = re.compile(r"<script>(.*?)</script>", re.S)
_TILES = re.compile(r'L\.tileLayer\(\s*"(https://[^"/]+)/')


def vendored(page: str, folder: Path | None) -> str:
    """``page`` with each CDN script and stylesheet loaded from ``/vendor/`` (the npm copy in
    ``folder``); one with no local copy is left out, as ``plan --offline`` does."""

    def local(url: str) -> str | None:
        path = npm_file(url, folder) if folder is not None else None
        return VENDOR + path.relative_to(folder).as_posix() if path is not None else None

    def script(match: re.Match[str]) -> str:
        url = local(match.group(1))
        return f'<script src="{url}"></script>' if url else ""

    def stylesheet(match: re.Match[str]) -> str:
        url = local(match.group(1))
        return f'<link rel="stylesheet" href="{url}">' if url else ""

    return _STYLESHEET.sub(stylesheet, _SCRIPT.sub(script, page))


def page_csp(page: str) -> str:
    """The policy for one of the run's pages: scripts from the service and the page's own
    inline scripts (by hash), tiles from the tile server it names, nothing else from outside."""
    hashes = sorted(
        {
            "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
            for code in _INLINE.findall(page)
        }
    )
    tiles = sorted({origin.replace("{s}", "*") for origin in _TILES.findall(page)})
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            "style-src 'self' 'unsafe-inline'",
            " ".join(["img-src 'self' data:", *tiles]),
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
