"""How large a score's notes are drawn on a phone (390 CSS px) and a laptop (1280 px), by verovio page width.

Starts `tunesmith serve` (a fresh database), writes tunes with the shipped model
on seeds the tests do not use, and in headless chromium engraves each on pages
of several widths into the front page's score box, measuring the staff's line
spacing in CSS pixels, the lines (systems) of music, and whether the score fits
the screen. What app.js does (SCORE_SCALE) was chosen from this table. Then the tune
pages as app.js draws them, with the surprise map off and on.

    python benchmarks/phone_score.py [--seeds 101 102 103]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from machine import cpu_name  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from test_web_browser import chromium, serving  # noqa: E402

WIDTHS = (2100, 1700, 1400, 1200, 1050, 950, 850, 750)
# Staff line spacing: the gap between two lines of the first staff, as drawn (verovio draws the five lines
# as the first five paths of g.staff).
MEASURE = """async ([abc, units]) => {
  const r = await fetch('/api/render', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                        body: JSON.stringify({abc, width: units})});
  const sheet = document.querySelector('article.featured .sheet');
  sheet.innerHTML = (await r.json()).svg;
  const lines = [...sheet.querySelectorAll('g.staff')[0].querySelectorAll(':scope > path')].slice(0, 5)
    .map(p => p.getBoundingClientRect().top).sort((a, b) => a - b);
  const svg = sheet.querySelector('svg').getBoundingClientRect();
  return {space: (lines[4] - lines[0]) / 4, systems: sheet.querySelectorAll('g.system').length,
          right: svg.right, viewport: window.innerWidth, height: svg.height};
}"""

TUNE_PAGE = """() => {
  const sheet = document.querySelector('article.tune .sheet');
  const lines = [...sheet.querySelector('g.staff').querySelectorAll(':scope > path')].slice(0, 5)
    .map(p => p.getBoundingClientRect().top).sort((a, b) => a - b);
  return {space: (lines[4] - lines[0]) / 4, systems: sheet.querySelectorAll('g.system').length,
          box: sheet.clientWidth, units: Number(sheet.dataset.pageUnits || 2100)};
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp), Path(tmp) / "no-runs") as base, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True)
        import json
        import urllib.request

        tunes, urls = [], []
        for seed in args.seeds:
            request = urllib.request.Request(base + "/api/generate", json.dumps({"n": 1, "seed": seed}).encode(),
                                             {"Content-Type": "application/json"})
            tune = json.loads(urllib.request.urlopen(request, timeout=120).read())["tunes"][0]
            tunes.append(tune["abc"])
            urls.append(tune["url"])
        print(f"{cpu_name()}; seeds {args.seeds}; staff space in CSS px (mean), lines of music (mean), fits?")
        for viewport in (1280, 390):
            page = browser.new_page(viewport={"width": viewport, "height": 900})
            page.goto(base + "/")
            box = page.evaluate("document.querySelector('article.featured .sheet').clientWidth")
            print(f"viewport {viewport} px, score box {box} px")
            for units in WIDTHS:
                found = [page.evaluate(MEASURE, [abc, units]) for abc in tunes]
                fits = all(f["right"] <= f["viewport"] for f in found)
                print(f"  page {units:5d} units (scale {box * 2.5 / units:.2f}): staff space "
                      f"{statistics.mean(f['space'] for f in found):5.2f} px, "
                      f"{statistics.mean(f['systems'] for f in found):4.1f} lines, "
                      f"height {statistics.mean(f['height'] for f in found):5.0f} px, fits {fits}")
            # The tune pages as app.js draws them (engraved again for a narrow box).
            found = []
            for url in urls:
                page.goto(base + url)
                page.wait_for_load_state("networkidle")
                found.append(page.evaluate(TUNE_PAGE))
            print(f"  tune pages as drawn: box {found[0]['box']} px, page {found[0]['units']} units, staff space "
                  f"{statistics.mean(f['space'] for f in found):5.2f} px, "
                  f"{statistics.mean(f['systems'] for f in found):4.1f} lines")
            # The same pages with the surprise map on (static/surprise.js asks /api/surprise for the box's page).
            found = []
            for url in urls:
                page.goto(base + url)
                page.wait_for_load_state("networkidle")
                page.click("article.tune button.surprise-toggle")
                page.wait_for_function("() => document.querySelectorAll('article.tune .sheet g.surprise').length",
                                       timeout=60_000)
                found.append(page.evaluate(TUNE_PAGE))
            print(f"  surprise map as drawn: page {found[0]['units']} units, staff space "
                  f"{statistics.mean(f['space'] for f in found):5.2f} px, "
                  f"{statistics.mean(f['systems'] for f in found):4.1f} lines")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
