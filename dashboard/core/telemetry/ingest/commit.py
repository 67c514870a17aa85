"""How an ingest's files become part of the store together: the accepted rows' file is the commit.

An ingest writes up to two files: its rejected rows (quarantine/<kind>-<name>)
and its accepted rows (<kind>/<name>). Each is renamed into place atomically,
but a process killed between the two renames would leave one without the
other: rerunning then quarantines the same bad rows twice (950 rows for 475
bad inputs). So the quarantine file is first written under a pending name
that says which process writes it; the accepted file is renamed into place
(the commit); then the pending file is renamed to its own name.

`settle_pending` runs before every ingest reads the store: a pending file of a
dead writer whose accepted file exists is completed (it belongs to a committed
ingest), one without is removed (the ingest never happened). An ingest whose
rows were all rejected has no accepted file: its pending rename is the commit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dashboard.core.datadir import DataDir, remove_leftovers, writer_alive

# .requests-ingest-20250218T161500-0a1b2c3d.parquet.<pid>.pending
PENDING = re.compile(r"^\.((requests|releases)-(.+\.parquet))\.(\d+)\.pending$")


def pending_quarantine(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}.pending")


def publish(pending: Path, final: Path) -> None:
    os.replace(pending, final)


def settle_pending(data: DataDir) -> dict[str, int]:
    """Complete or remove what killed ingests left behind; counts of each (and stale temporaries removed)."""
    counts = {"completed": 0, "removed": 0, "temporaries": 0}
    for folder in (data.requests, data.releases, data.quarantine):
        counts["temporaries"] += len(remove_leftovers(folder))
    if not data.quarantine.is_dir():
        return counts
    with os.scandir(data.quarantine) as entries:
        found = [(e.name, m) for e in entries if (m := PENDING.match(e.name))]
    for name, match in found:
        final_name, kind, accepted_name, pid = match.group(1), match.group(2), match.group(3), int(match.group(4))
        if pid == os.getpid() or writer_alive(pid):
            continue
        accepted = (data.requests if kind == "requests" else data.releases) / accepted_name
        try:
            if accepted.exists():
                os.replace(data.quarantine / name, data.quarantine / final_name)
                counts["completed"] += 1
            else:
                (data.quarantine / name).unlink()
                counts["removed"] += 1
        except FileNotFoundError:  # another ingest settled it first
            continue
    return counts
