"""The README's screenshots, taken in headless Chromium from a plan's output folder.

Usage::

    .venv/bin/outreach-routes plan --offline --out /tmp/plan
    .venv/bin/python scripts/screenshots.py /tmp/plan docs/img

Writes ``overview.png`` (1280 x 800, the time slider at 20:30 on the first night) and
``team.png`` (the first team's map on a 390 x 844 phone).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser_support import open_page
from playwright.sync_api import sync_playwright


def main() -> None:
    plan_dir, images = Path(sys.argv[1]), Path(sys.argv[2])
    images.mkdir(parents=True, exist_ok=True)
    slug = json.loads((plan_dir / "plan.json").read_text("utf-8"))["teams"][0]["slug"]
    with sync_playwright() as p:
        browser, page, report = open_page(p, plan_dir / "index.html", width=1280, height=800)
        page.eval_on_selector(
            "#plan-time", "e => { e.value = 30; e.dispatchEvent(new Event('input')); }"
        )
        page.screenshot(path=str(images / "overview.png"))
        browser.close()
        team = plan_dir / "teams" / f"{slug}.html"
        browser, page, team_report = open_page(p, team, width=390, height=844)
        page.screenshot(path=str(images / "team.png"))
        browser.close()
    errors = report.errors + team_report.errors
    if errors:
        sys.exit(f"script errors in the maps: {errors}")


if __name__ == "__main__":
    main()
