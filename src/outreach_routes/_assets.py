"""Local copies of the JavaScript and CSS folium maps load from CDNs.

The Makefile installs them with npm into ``assets/node_modules`` (the versions folium asks
for, pinned in ``assets/package-lock.json``). ``plan --offline`` inlines them into every map;
the browser tests serve them in place of the CDN.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from ._errors import InputDataError

__all__ = ["assets_dir", "inline_assets", "npm_file"]

ASSETS_ENV = "OUTREACH_ROUTES_ASSETS"
# CDN address -> file in node_modules.
_NPM_RULES = [
    (re.compile(r"cdn\.jsdelivr\.net/npm/(@?[^@/]+(?:/[^@/]+)?)@[^/]+/(.+)$"), r"\1/\2"),
    (re.compile(r"code\.jquery\.com/jquery-[\d.]+\.min\.js$"), "jquery/dist/jquery.min.js"),
    (
        re.compile(r"cdnjs\.cloudflare\.com/ajax/libs/jquery/[\d.]+/jquery\.min\.js$"),
        "jquery/dist/jquery.min.js",
    ),
    (re.compile(r"cdnjs\.cloudflare\.com/ajax/libs/d3/[\d.]+/d3\.min\.js$"), "d3/d3.min.js"),
    (
        re.compile(r"Leaflet\.awesome-markers/[\d.]+/(leaflet\.awesome-markers\.js)$"),
        r"drmonty-leaflet-awesome-markers/js/\1",
    ),
    (
        re.compile(r"Leaflet\.awesome-markers/[\d.]+/(leaflet\.awesome-markers\.css)$"),
        r"drmonty-leaflet-awesome-markers/css/\1",
    ),
]
_SCRIPT = re.compile(r'<script src="(https?://[^"]+)"></script>')
_STYLESHEET = re.compile(r'<link rel="stylesheet" href="(https?://[^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")
_DATA_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".gif": "image/gif",
}


def assets_dir(path: str | Path | None = None) -> Path:
    """The ``node_modules`` folder to take assets from: ``path``, else ``$OUTREACH_ROUTES_ASSETS``,
    else ``assets/node_modules`` of the source checkout."""
    chosen = path or os.environ.get(ASSETS_ENV)
    folder = Path(chosen) if chosen else Path(__file__).resolve().parents[2] / "assets"
    if folder.name != "node_modules" and (folder / "node_modules").is_dir():
        folder = folder / "node_modules"
    if not (folder / "leaflet").is_dir():
        raise InputDataError(
            f"offline maps need local copies of the map libraries; none in {folder}. Run "
            "`npm ci` in the project's assets/ folder (make test does), or pass --assets DIR "
            f"(a node_modules folder), or set {ASSETS_ENV}"
        )
    return folder


def npm_file(url: str, folder: Path) -> Path | None:
    """The local copy of a CDN asset, or None when there is none."""
    address = url.split("?")[0].split("#")[0]
    for pattern, target in _NPM_RULES:
        match = pattern.search(address)
        if match:
            path = folder / match.expand(target)
            return path if path.is_file() else None
    return None


def inline_assets(page: str, folder: Path) -> str:
    """``page`` with its CDN scripts and stylesheets written inline from ``folder``.

    Images and woff2 fonts that stylesheets point at become data URIs; an asset with no local
    copy (folium links a few that only style icons the maps do not use) is left out, so the
    page makes no network request at all.
    """

    def script(match: re.Match[str]) -> str:
        path = npm_file(match.group(1), folder)
        if path is None:
            return ""
        code = path.read_text("utf-8").replace("</script", "<\\/script")
        if path.name == "leaflet.js":
            code += _default_icon(path.parent / "images")
        return f"<script>{code}</script>"

    def stylesheet(match: re.Match[str]) -> str:
        path = npm_file(match.group(1), folder)
        if path is None:
            return ""
        css = _CSS_URL.sub(lambda m: _css_url(m.group(2), path.parent), path.read_text("utf-8"))
        return "<style>" + css.replace("</style", "<\\/style") + "</style>"

    page = _SCRIPT.sub(script, page)
    return _STYLESHEET.sub(stylesheet, page)


def _default_icon(images: Path) -> str:
    """Leaflet finds its default marker images next to its stylesheet; inline, they must be
    given as data URIs (folium draws each marker with the default icon before its own)."""
    urls = {
        f"{name}Url": _css_url(f"{file}.png", images)[4:-1]
        for name, file in (
            ("icon", "marker-icon"),
            ("iconRetina", "marker-icon-2x"),
            ("shadow", "marker-shadow"),
        )
    }
    options = ", ".join(f'{key}: "{value}"' for key, value in urls.items())
    return (
        '\nL.Icon.Default.prototype.options.imagePath = "";\n'
        f"L.Icon.Default.mergeOptions({{{options}}});\n"
    )


def _css_url(target: str, base: Path) -> str:
    if target.startswith("data:"):
        return f"url({target})"
    path = (base / target.split("?")[0].split("#")[0]).resolve()
    kind = _DATA_TYPES.get(path.suffix)
    if kind is None or not path.is_file():
        return "url(data:,)"  # formats a browser never needs when woff2 is there
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"url(data:{kind};base64,{data})"
