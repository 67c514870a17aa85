"""The app as its own process on a free loopback port, and when a browser page of it is drawn.

Used by the browser-wait benchmark (`warroom bench pages`) and by the browser
tests, so both measure and drive the app the same way a user's browser meets it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
REPO_ROOT = APP.parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data_root: Path, port: int | None = None, streamlit_args: tuple[str, ...] = (),
              log_dir: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run` on `data_root`; return the process and its URL once /_stcore/health answers."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           *streamlit_args, "--", "--data", str(data_root)]
    log = open((log_dir or data_root.parent) / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "WARROOM_DATA": str(data_root)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early: see {log.name}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not become healthy within 60 s")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


# Streamlit marks its root with the script's run state ("running", "notRunning", ...): the one sure
# sign that a page's script has finished (the minimal toolbar shows no status widget, and a slow
# query leaves the element count still for seconds while the script runs)
SCRIPT_DONE = "document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
# placeholders of elements not yet delivered: right after a navigation the root still reads notRunning
# (the new run has not started) while the previous page's layout shows as skeletons
NO_SKELETON = "!document.querySelector('[data-testid=\"stSkeleton\"]')"


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Streamlit is done when its script is not running and the main block has content, none of it a placeholder."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout)
    page.wait_for_function(
        f"() => {SCRIPT_DONE} && {NO_SKELETON}"
        " && document.querySelectorAll('[data-testid=\"stElementContainer\"]').length > 2",
        timeout=timeout)


def wait_until_settled(page, quiet_ms: int = 1000, timeout: float = 300_000) -> None:
    """Drawn (wait_for_app), then for `quiet_ms` no new element, no spinner, no placeholder and no script run:
    charts and lazy parts have arrived too."""
    wait_for_app(page, timeout)
    page.wait_for_function(
        """(quiet) => {
            const n = document.querySelectorAll('[data-testid="stElementContainer"]').length
                + document.querySelectorAll('.js-plotly-plot').length;
            const now = performance.now();
            const busy = !(""" + SCRIPT_DONE + """) || !(""" + NO_SKELETON + """)
                || document.querySelector('[data-testid="stSpinner"]');
            if (window.__warroomCount !== n || busy) {
                window.__warroomCount = n; window.__warroomSince = now; return false;
            }
            return now - window.__warroomSince >= quiet;
        }""", arg=quiet_ms, timeout=timeout, polling=100)
