"""Which telemetry store a data folder uses: --store strings, the [store] section, credentials, parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.cli import main
from dashboard.core.telemetry.clickhouse import bind, param_text, param_type
from dashboard.core.telemetry.store_config import (
    StoreConfig,
    StoreConfigError,
    credentials,
    from_config,
    parse_store,
    store_config,
)


def test_store_strings():
    assert parse_store("duckdb") == StoreConfig()
    assert parse_store("chdb:ch", base=Path("/d")) == StoreConfig("chdb", path=Path("/d/ch"))
    assert parse_store("chdb:/abs/ch", base=Path("/d")).path == Path("/abs/ch")
    server = parse_store("clickhouse://ch.internal:9000/warroom")
    assert (server.engine, server.host, server.port, server.database, server.secure) == (
        "clickhouse", "ch.internal", 9000, "warroom", False)
    assert parse_store("clickhouses://ch.internal").port == 8443
    assert parse_store("clickhouse://ch.internal").describe() == "clickhouse://ch.internal:8123/default"


@pytest.mark.parametrize("text, says", [
    ("clickhouse://admin:secret@ch:8123/db", "must not carry a user or password"),
    ("clickhouse://admin@ch:8123/db", "must not carry a user or password"),
    ("clickhouse://ch:8123/db?password=x", "no query string"),
    ("clickhouse://ch:notaport/db", "port"),
    ("clickhouse:///db", "names no host"),
    ("clickhouse://ch/db;drop", "letters, digits and _"),
    ("chdb:", "needs a folder"),
    ("postgres://x", "not a store"),
])
def test_bad_store_strings_name_the_problem(text, says):
    with pytest.raises(StoreConfigError, match=says):
        parse_store(text)


def test_config_section(tmp_path):
    assert from_config(tmp_path) == StoreConfig()  # no warroom.toml: DuckDB
    (tmp_path / "warroom.toml").write_text('[incidents]\nurl = "postgresql://x/y"\n')
    assert from_config(tmp_path) == StoreConfig()
    (tmp_path / "warroom.toml").write_text('[store]\nengine = "chdb"\npath = "ch"\n')
    assert from_config(tmp_path) == StoreConfig("chdb", path=tmp_path / "ch")
    (tmp_path / "warroom.toml").write_text('[store]\nengine = "clickhouse"\nurl = "clickhouse://ch:8123/w"\n')
    assert from_config(tmp_path).host == "ch"
    assert store_config(tmp_path, "duckdb") == StoreConfig()  # --store wins over the file


@pytest.mark.parametrize("text, says", [
    ('[store]\nengine = "oracle"\n', "engine 'oracle'"),
    ('[store]\nengine = "clickhouse"\n', "needs url"),
    ('[store]\nengine = "clickhouse"\nurl = "clickhouse://u:p@ch/w"\n', "must not carry a user"),
    ('[store]\nengine = "chdb"\npassword = "x"\n', "unknown key"),
    ('[store]\nengine = "chdb"\npath = 3\n', "path must be a string"),
    ("[store\n", "cannot read the config"),
])
def test_bad_config_names_file_and_key(tmp_path, text, says):
    (tmp_path / "warroom.toml").write_text(text)
    with pytest.raises(StoreConfigError, match=says) as caught:
        from_config(tmp_path)
    assert "warroom.toml" in str(caught.value)


def test_credentials_only_from_the_environment():
    assert credentials({}) == credentials({"WARROOM_CLICKHOUSE_USER": "  "})
    assert credentials({}).user == "default"
    c = credentials({"WARROOM_CLICKHOUSE_USER": "reader", "WARROOM_CLICKHOUSE_PASSWORD": "pw"})
    assert (c.user, c.password) == ("reader", "pw")


def test_parameters_travel_typed_never_in_the_text():
    t = datetime(2025, 2, 12, 10, 30, 5, 123456, tzinfo=UTC)
    sql = bind("SELECT 1 WHERE ts >= $start AND region IN $regions AND n = $n", {
        "start": t, "regions": ["eu", "o'brien"], "n": 3})
    assert sql == ("SELECT 1 WHERE ts >= {start:DateTime64(6, 'UTC')} AND region IN {regions:Array(String)} "
                   "AND n = {n:Int64}")
    assert "o'brien" not in sql
    assert param_text(t) == "2025-02-12 10:30:05.123456"
    assert param_text(["eu", "o'brien"]) == "['eu','o\\'brien']"
    assert param_type(True) == "Bool" and param_type(1.5) == "Float64"
    with pytest.raises(ValueError, match="not among the parameters"):
        bind("SELECT $missing", {})


def test_cli_refuses_a_url_with_a_password(tmp_path, capsys):
    code = main(["store", "migrate", "--data", str(tmp_path), "--store", "clickhouse://u:pw@ch:8123/w"])
    assert code == 2
    err = capsys.readouterr().err
    assert "must not carry a user or password" in err and "pw" not in err.replace("password", "")
    assert main(["store", "migrate", "--data", str(tmp_path)]) == 2  # DuckDB needs no migration
