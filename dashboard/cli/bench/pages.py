"""`warroom bench pages`: how long a person waits for each page in a real browser, cold and warm.

Starts the app on a free loopback port over a data folder and opens every page
in headless Chromium (Debian's, through Playwright; the e2e extra). A page's
wait runs from navigation to the moment its last element arrived: no element
still running and no new element or chart for a quiet second (the quiet second
itself is not counted). The first visit after the app starts is the cold wait
(empty caches: what the first person after a deploy or new telemetry waits);
then each page is opened `--repeat` more times and the median is the warm wait.
Prints JSON; the figures go in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from dashboard.cli import UserError, add_data_arg

PAGES = (("summary", ""), ("explorer", "explorer"), ("root-cause", "root-cause"), ("war-room", "war-room"),
         ("postmortem", "postmortem"), ("slos", "slos"))


def register_pages_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "pages", help="seconds a person waits for each page in headless Chromium, cold and warm",
        description=__doc__.split("\n\n")[1])
    add_data_arg(p)
    p.add_argument("--repeat", type=int, default=5, help="warm visits per page; their median is reported")
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    p.set_defaults(func=run)


def page_waits(data_root: Path, repeat: int, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    from dashboard.cli.app_process import start_app, stop_app, wait_until_settled

    logs = Path(tempfile.mkdtemp(prefix="warroom-bench-pages-"))
    proc, url = start_app(data_root, log_dir=logs)
    waits: dict[str, list[float]] = {name: [] for name, _ in PAGES}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_context(viewport={"width": 1440, "height": 2000}).new_page()
            for _ in range(1 + repeat):
                for name, path in PAGES:
                    page.goto(f"{url}/{path}")
                    wait_until_settled(page)
                    # performance.now() counts from this navigation: the moment the last element arrived
                    waits[name].append(page.evaluate("() => window.__warroomSince") / 1000)
            browser.close()
    finally:
        stop_app(proc)
        shutil.rmtree(logs, ignore_errors=True)
    return {name: {"cold_s": round(w[0], 2), "warm_median_s": round(statistics.median(w[1:]), 2) if w[1:] else None,
                   "warm_max_s": round(max(w[1:]), 2) if w[1:] else None} for name, w in waits.items()}


def run(args: argparse.Namespace) -> int:
    from dashboard.core.datadir import DataDir, resolve_data_dir

    data = DataDir(resolve_data_dir(args.data))
    if not Path(args.chromium).exists():
        raise UserError(f"no Chromium at {args.chromium}: `make test` installs Debian's (or give --chromium)")
    if not any(data.requests.glob("*.parquet")):
        raise UserError(f"{data.root}: no telemetry to open pages on (run `warroom demo` first)")
    result = {"command": f"warroom bench pages --repeat {args.repeat}", "data": data.root.name,
              "pages": page_waits(data.root, args.repeat, args.chromium)}
    print(json.dumps(result, indent=2))
    print("waits are from navigation to the last element drawn; cold = first visit after the app started",
          file=sys.stderr)
    return 0
