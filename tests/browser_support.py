"""Open the project's HTML maps in headless Chromium, offline.

Playwright drives Debian's ``/usr/bin/chromium``. Every request a folium map makes to a CDN is
answered from the npm copies in ``assets/node_modules``; map tiles get a blank PNG; assets
with no npm copy get an empty response. Nothing leaves the machine.

Run as a script to take a screenshot: ``python tests/browser_support.py out/index.html shot.png``.
"""

from __future__ import annotations

import mimetypes
import re
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Route, sync_playwright

from outreach_routes._assets import npm_file

CHROMIUM = "/usr/bin/chromium"
NODE_MODULES = Path(__file__).resolve().parents[1] / "assets" / "node_modules"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _blank_png(size: int = 256, rgb: tuple[int, int, int] = (242, 239, 233)) -> bytes:
    """A plain tile the colour of an empty map, so routes stand out in screenshots."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


BLANK_PNG = _blank_png()
_TILE = re.compile(r"tile|/\d+/\d+/\d+(@2x)?\.png")
mimetypes.add_type("font/woff2", ".woff2")


def content_type(name: str, default: str) -> str:
    return mimetypes.guess_type(name)[0] or default


@dataclass
class PageReport:
    """What happened while a page loaded."""

    errors: list[str] = field(default_factory=list)
    served_from_npm: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_page(
    playwright,
    path: Path,
    *,
    width: int = 1280,
    height: int = 900,
    block_all: bool = False,
    init_script: str | None = None,
):
    """Launch Chromium, open a local HTML file offline, and return (browser, page, report).

    With ``block_all``, every request but the page itself is refused and listed in
    ``report.blocked``: nothing is served from npm copies, tiles or anywhere else.
    ``init_script`` runs before any of the page's own scripts.
    """
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": height})
    if init_script:
        page.add_init_script(init_script)
    report = PageReport()
    page.on("pageerror", lambda exc: report.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and report.errors.append(msg.text))

    def on_dialog(dialog) -> None:
        report.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page_url = path.resolve().as_uri()

    def handle(route: Route) -> None:
        url = route.request.url
        if block_all and url != page_url:
            report.blocked.append(url)
            route.abort()
            return
        if url.startswith("file://"):
            route.continue_()
            return
        local = npm_file(url, NODE_MODULES)
        if local is not None:
            report.served_from_npm.append(url)
            route.fulfill(
                status=200,
                body=local.read_bytes(),
                content_type=content_type(local.name, "application/octet-stream"),
            )
        elif _TILE.search(url):
            route.fulfill(status=200, body=BLANK_PNG, content_type="image/png")
        else:
            report.emptied.append(url)
            kind = content_type(url.split("?")[0], "text/plain")
            route.fulfill(status=200, body=b"", content_type=kind)

    page.route("**/*", handle)
    page.goto(page_url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    return browser, page, report


def screenshot(path: Path, png: Path, *, width: int = 1280, height: int = 900) -> PageReport:
    """Save a screenshot of a local HTML file, rendered offline."""
    with sync_playwright() as p:
        browser, page, report = open_page(p, path, width=width, height=height)
        page.screenshot(path=str(png))
        browser.close()
    return report


def map_name(path: Path) -> str:
    """The JavaScript name folium gave the page's map."""
    return re.search(r"var (map_[0-9a-f]+) = L\.map\(", path.read_text("utf-8")).group(1)


if __name__ == "__main__":
    size = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (1280, 900)
    result = screenshot(Path(sys.argv[1]), Path(sys.argv[2]), width=size[0], height=size[1])
    print("errors:", result.errors)
    print("emptied:", result.emptied)
