"""`warroom incident ...` round trips through dashboard.cli.main on a throwaway data folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.demo.engine import conform

START = datetime(2025, 2, 18, 15, 0, tzinfo=UTC)


def requests(first_minute: int, minutes: int, per_minute: int, refusal: float, seed: int) -> pl.DataFrame:
    """Paid English request rows with a given refusal rate (everything else plausible and constant)."""
    rng = np.random.default_rng(seed)
    n = minutes * per_minute
    ts = [START + timedelta(minutes=first_minute + i // per_minute, seconds=(i % per_minute) * 60 / per_minute)
          for i in range(n)]
    cols = {
        "ts": ts, "request_id": [f"r{seed}-{i}" for i in range(n)], "service": ["support-bot"] * n,
        "user_id": [f"u{i % 500}" for i in range(n)], "region": ["us-east"] * n, "tier": ["paid"] * n,
        "language": ["en"] * n, "channel": ["web"] * n, "app_version": ["api-v18"] * n,
        "model_version": ["support-3.2"] * n, "prompt_version": ["prompt-v6"] * n,
        "index_version": ["kb-2025-02-01"] * n, "router_policy": ["small-first-then-large"] * n,
        "policy_version": ["guard-v12"] * n, "latency_ms": rng.gamma(4, 200, n), "ttft_ms": rng.gamma(4, 50, n),
        "input_tokens": [900] * n, "output_tokens": [200] * n, "cost_usd": [0.006] * n,
        "task_success": rng.random(n) < 0.42, "quality_score": [0.8] * n, "user_feedback": [None] * n,
        "refused": rng.random(n) < refusal, "policy_violation": [False] * n, "guardrail_blocked": [False] * n,
        "error_type": [None] * n, "tool_calls": [1] * n, "tool_errors": [0] * n, "fallback_used": [False] * n,
    }
    return conform(pl.DataFrame(cols))  # the contract's columns; those not given (trace ids) as nulls


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["incident", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def data(tmp_path) -> DataDir:
    return DataDir(tmp_path / "data")


def test_round_trip_without_telemetry(data, capsys):
    d = ["--data", str(data.root)]
    code, out, _ = run(capsys, "open", *d, "--title", "Refusals up", "--type", "quality_regression",
                       "--severity", "SEV2", "--as", "ana", "--segment", "tier=paid", "--json",
                       "--at", "2025-02-18T14:14:00Z")
    assert code == 0
    opened = json.loads(out)
    assert (opened["id"], opened["status"], opened["severity"], opened["commander"]) == (
        "INC-1", "investigating", "SEV2", "ana")
    assert opened["soak"]["status"] == "not_started"

    assert run(capsys, "post", "INC-1", *d, "--audience", "support", "--message", "on it", "--as", "lena")[0] == 0
    assert run(capsys, "assign", "INC-1", "tech_lead", "bo", *d, "--as", "ana")[0] == 0
    assert run(capsys, "severity", "INC-1", "SEV1", *d, "--as", "ana", "--reason", "wider")[0] == 0
    assert run(capsys, "status", "INC-1", "mitigating", *d, "--as", "ana")[0] == 0

    code, _, err = run(capsys, "close", "INC-1", *d, "--as", "ana")
    assert code == 2 and "cannot be resolved yet" in err and "no verification metrics" in err
    # a post depends on nothing anyone saw: an old version does not refuse it
    assert run(capsys, "post", "INC-1", *d, "--audience", "support", "--message", "x", "--as", "lena",
               "--expect-version", "2")[0] == 0
    code, _, err = run(capsys, "status", "INC-1", "identified", *d, "--as", "ana", "--expect-version", "2")
    assert code == 2
    assert "changed since you loaded it (version 2, now 6: role assigned, severity set, status changed)" in err
    code, _, err = run(capsys, "status", "INC-9", "identified", *d, "--as", "ana")
    assert code == 2 and "no incident 'INC-9'" in err
    # without --as the author is still named: the OS user running the command
    assert run(capsys, "post", "INC-1", *d, "--audience", "support", "--message", "no claim")[0] == 0
    from dashboard.core.incident.roles import os_user
    from dashboard.core.incident.service import Incidents

    last = Incidents.for_data_dir(data).events("INC-1")[-1]
    assert last.actor == f"{os_user()} (cli)" and last.identity == {"via": "cli", "role": "admin",
                                                                     "subject": os_user()}
    claimed = Incidents.for_data_dir(data).events("INC-1")[1]
    assert claimed.actor == f"{os_user()} (cli)" and claimed.identity["claims"] == {"as": "lena"}

    # typing the commander's name gives nothing: a CLI user with the responder role cannot override
    (data.root / "roles.toml").write_text(f'[cli]\n"{os_user()}" = "responder"\n')
    for name in ("bo", "ana"):
        code, _, err = run(capsys, "close", "INC-1", *d, "--as", name, "--override", "fixed upstream")
        assert code == 2 and "only the incident commander (ana) or an admin" in err
        code, _, err = run(capsys, "assign", "INC-1", "commander", "bo", *d, "--as", name)
        assert code == 2 and "only the incident commander (ana) or an admin can hand over command" in err
    (data.root / "roles.toml").write_text(f'[cli]\n"{os_user()}" = "viewer"\n')
    code, _, err = run(capsys, "post", "INC-1", *d, "--audience", "support", "--message", "x")
    assert code == 2 and "is viewer: writing to an incident needs the responder role" in err
    (data.root / "roles.toml").unlink()  # back to the default: the OS user owns the data folder, admin

    assert run(capsys, "close", "INC-1", *d, "--as", "ana", "--override", "fixed upstream")[0] == 0

    code, out, _ = run(capsys, "list", *d, "--json")
    [row] = json.loads(out)
    assert {k: row[k] for k in ("id", "title", "status", "severity", "commander", "closed_via")} == {
        "id": "INC-1", "title": "Refusals up", "status": "resolved", "severity": "SEV1", "commander": "ana",
        "closed_via": "override"}
    assert row["soak"]["status"] == "not_started"
    code, out, _ = run(capsys, "show", "INC-1", *d)
    assert f"{os_user()} (cli) as ana: !! Close override by {os_user()} (cli): fixed upstream" in out
    assert "bo is tech lead" in out


def test_close_is_gated_on_the_soak_measured_from_telemetry(data, capsys):
    d = ["--data", str(data.root)]
    atomic_write_parquet(requests(0, 40, 60, refusal=0.04, seed=1), data.requests / "part-1.parquet")
    assert run(capsys, "open", *d, "--title", "Refusals up", "--as", "ana",
               "--segment", "tier=paid", "--segment", "language=en")[0] == 0
    code, out, _ = run(capsys, "verify", "INC-1", *d, "--as", "ana", "--metric", "refusal_rate<=0.06",
                       "--metric", "task_success_rate>=0.30", "--start-soak", "--at", "2025-02-18T15:05:00Z",
                       "--json")
    assert code == 0
    soak = json.loads(out)["soak"]
    assert soak["status"] == "soaking" and soak["time_left_minutes"] == 26  # 34 complete minutes held
    assert [m["current_sample_size"] for m in soak["metrics"]] == [600, 600]
    code, _, err = run(capsys, "close", "INC-1", *d, "--as", "ana")
    assert code == 2 and "26 min left" in err

    # telemetry keeps arriving: the soak completes and the same close goes through
    atomic_write_parquet(requests(40, 30, 60, refusal=0.04, seed=2), data.requests / "part-2.parquet")
    code, out, _ = run(capsys, "close", "INC-1", *d, "--as", "ana", "--json")
    assert code == 0
    closed = json.loads(out)
    assert closed["status"] == "resolved" and closed["closed_via"] == "soak"
    assert closed["soak"]["status"] == "passed"
    # events were stamped on the data's clock, not the wall clock
    code, out, _ = run(capsys, "show", "INC-1", *d, "--json")
    assert json.loads(out)["record"]["resolved_at"].startswith("2025-02-18T16:09")


def test_verify_rejects_bad_metrics(data, capsys):
    d = ["--data", str(data.root)]
    run(capsys, "open", *d, "--title", "t", "--as", "ana")
    code, _, err = run(capsys, "verify", "INC-1", *d, "--as", "ana", "--metric", "refusal_rate=0.06")
    assert code == 2 and "expected SIGNAL<=THRESHOLD" in err
    code, _, err = run(capsys, "verify", "INC-1", *d, "--as", "ana", "--metric", "latency_ms<=900")
    assert code == 2 and "cannot be a verification metric" in err
    code, _, err = run(capsys, "open", *d, "--title", "t", "--as", "ana", "--segment", "tier")
    assert code == 2 and "expected COLUMN=VALUE" in err


# --- the hash chain and concurrent CLI writers --------------------------------------

def test_audit_reports_the_first_broken_link(data, capsys):
    import sqlite3

    d = ["--data", str(data.root)]
    assert run(capsys, "open", *d, "--title", "Refusals up", "--as", "ana")[0] == 0
    for k in range(3):
        assert run(capsys, "post", "INC-1", *d, "--audience", "support", "--message", f"m{k}", "--as", "ana")[0] == 0
    code, out, _ = run(capsys, "audit", "INC-1", *d)
    assert code == 0 and out.startswith("INC-1: 4 events, chain intact, head ")
    conn = sqlite3.connect(data.incidents_db)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET payload = '{\"audience\":\"support\",\"message\":\"all fine\"}' WHERE seq = 3")
    conn.commit()
    conn.close()
    code, out, _ = run(capsys, "audit", "--all", *d, "--json")
    [report] = json.loads(out)
    assert code == 1 and (report["intact"], report["broken_at"]) == (False, 3)
    code, _, err = run(capsys, "audit", *d)
    assert code == 2 and "one incident id, or --all" in err


def _cli_in_child(argv: list[str], barrier, results) -> None:
    import contextlib
    import io

    err = io.StringIO()
    barrier.wait()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    results.put((argv[2], code, err.getvalue()))


def _race(argvs: list[list[str]]) -> list[tuple[str, int, str]]:
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(len(argvs)), ctx.Queue()
    procs = [ctx.Process(target=_cli_in_child, args=(a, barrier, results)) for a in argvs]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return out


def test_the_cli_retries_a_lost_race_only_while_the_change_is_still_valid(data, capsys):
    d = ["--data", str(data.root)]
    assert run(capsys, "open", *d, "--title", "Refusals up", "--as", "ana", "--at", "2025-02-18T15:00:00Z")[0] == 0
    # four different severities at once: each is still valid after the others, so all land (in some order)
    outcomes = _race([["incident", "severity", "INC-1", level, *d, "--as", f"w{i}", "--reason", level,
                       "--at", "2025-02-18T15:01:00Z"] for i, level in enumerate(("SEV1", "SEV2", "SEV3", "SEV4"))])
    assert [code for _, code, _ in outcomes] == [0, 0, 0, 0], outcomes
    from dashboard.core.incident.service import Incidents

    kinds = [e.kind for e in Incidents.for_data_dir(data).events("INC-1")]
    assert kinds.count("severity_set") == 4
    # the same status change four times: one lands; the others, retried, are no longer valid and say why
    outcomes = _race([["incident", "status", "INC-1", "identified", *d, "--as", f"w{i}",
                       "--at", "2025-02-18T15:02:00Z"] for i in range(4)])
    codes = sorted(code for _, code, _ in outcomes)
    assert codes == [0, 2, 2, 2], outcomes
    assert all("already identified" in err for _, code, err in outcomes if code == 2), outcomes


def test_open_and_verify_refuse_unknown_signals_segments_and_values(demo_data_copy, capsys):
    from dashboard.cli import main

    at = ["--data", str(demo_data_copy.root), "--as", "Priya Raman"]
    for extra, expected in ((["--segment", "nosuchcol=x"], "unknown segment 'nosuchcol'"),
                            (["--segment", "region=eu-wst"], "did you mean 'eu-west'?"),
                            (["--signal", "no_such_signal"], "unknown signal 'no_such_signal'")):
        code = main(["incident", "open", "--title", "typo", *extra, *at])
        err = capsys.readouterr().err
        assert code == 2 and expected in err and "nothing was written" in err, err
    code = main(["incident", "verify", "INC-5", "--metric", "refusal_rate<=0.05", "--segment", "tier=gold", *at])
    assert code == 2 and "segment tier='gold'" in capsys.readouterr().err


def test_investigate_with_a_filter_matching_no_request_says_so_and_exits_2(demo_data, capsys):
    from dashboard.cli import main

    code = main(["investigate", "--signal", "refusal_rate", "--filter", "region=eu-wst",
                 "--data", str(demo_data.root)])
    err = capsys.readouterr().err
    assert code == 2 and "matches no request" in err and "eu-west" in err


def test_correct_amends_a_bad_scope_checked_like_open_and_keeps_the_old_one(demo_data_copy, capsys):
    from dashboard.core.incident.service import Incidents

    incidents = Incidents.for_data_dir(demo_data_copy)
    bad = incidents.open("Priya Raman", "Refusals up", segments={"nosuchcol": "x"}, signals=["refusal_rate"]).id
    d = ["--data", str(demo_data_copy.root)]
    code, _, err = run(capsys, "correct", bad, *d, "--segment", "region=eu-wst", "--reason", "typo")
    assert code == 2 and "did you mean 'eu-west'?" in err and "nothing was written" in err, err
    with pytest.raises(SystemExit) as exit_:  # argparse: a required option missing
        run(capsys, "correct", bad, *d, "--title", "x")
    assert exit_.value.code == 2 and "--reason" in capsys.readouterr().err
    code, out, _ = run(capsys, "correct", bad, *d, "--segment", "region=eu-west", "--segment", "tier=paid",
                       "--reason", "the scope named a column that does not exist", "--json")
    assert code == 0, out
    assert json.loads(out)["segments"] == {"region": "eu-west", "tier": "paid"}
    code, out, _ = run(capsys, "show", bad, *d)
    assert "Corrected segments nosuchcol=x → region=eu-west, tier=paid: the scope named a column" in out
    code, _, err = run(capsys, "correct", bad, *d, "--segment", "region=eu-west", "--segment", "tier=paid",
                       "--reason", "again")
    assert code == 2 and "changes nothing" in err
    assert incidents.events(bad)[0].payload.segments == {"nosuchcol": "x"}
    code, out, _ = run(capsys, "audit", bad, *d)
    assert code == 0
