"""Running SQL on ClickHouse: in-process (chDB) or on a server (clickhouse-connect), results as Polars.

Returns an engine with `query(sql, params) -> pl.DataFrame`, `command(sql)` and
`insert_parquet(table, path)`, the same on both transports: the SQL is identical,
only how it travels differs. Parameters are ClickHouse's typed placeholders
(`{name:Type}`); `bind` turns the query files' `$name` into them, the type read
from the Python value, so a value never becomes part of the SQL text.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dashboard.core.telemetry.store_config import Credentials, StoreConfig, StoreConfigError, credentials

PARAM_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
DATETIME = "DateTime64(6, 'UTC')"


def param_type(value) -> str:
    """The ClickHouse type a Python parameter is sent as."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, datetime):
        return DATETIME
    if isinstance(value, str):
        return "String"
    if isinstance(value, (list, tuple)):
        inner = {param_type(v) for v in value}
        if len(inner) > 1:
            raise ValueError(f"a list parameter mixes types: {sorted(inner)}")
        return f"Array({inner.pop() if inner else 'String'})"
    raise ValueError(f"no ClickHouse type for a parameter of type {type(value).__name__}")


def param_text(value) -> str:
    """A parameter in ClickHouse's text format (what chDB and the HTTP interface parse)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_quoted(v) for v in value) + "]"
    return str(value)


def _quoted(value) -> str:
    text = param_text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def bind(sql: str, params: dict | None) -> str:
    """`$name` -> `{name:Type}` for every parameter given; an unknown `$name` is an error."""
    params = params or {}

    def placeholder(m: re.Match) -> str:
        name = m.group(1)
        if name not in params:
            raise ValueError(f"SQL names ${name}, which is not among the parameters given")
        return "{" + name + ":" + param_type(params[name]) + "}"

    return PARAM_RE.sub(placeholder, sql)


class ChdbEngine:
    """ClickHouse in this process, its tables in a folder (chDB allows one session per process)."""

    _active: tuple[Path, object] | None = None  # (folder, session): the one chDB session of this process
    _guard = threading.RLock()  # one statement at a time, and no switch of folder during one

    def __init__(self, path: Path):
        self.path = Path(path).resolve()
        with self._guard:
            self._session()

    def _session(self):
        """This engine's session, reopened when another folder's took its place (its tables stay on disk)."""
        from chdb import session

        cls = type(self)
        if cls._active is None or cls._active[0] != self.path:
            if cls._active is not None:
                cls._active[1].close()
                cls._active = None
            self.path.mkdir(parents=True, exist_ok=True)
            cls._active = (self.path, session.Session(str(self.path)))
        return cls._active[1]

    def _run(self, sql: str, params: dict | None, fmt: str):
        bound = bind(sql, params)
        texts = {k: param_text(v) for k, v in (params or {}).items()}
        with self._guard:
            return self._session().query(bound, fmt, params=texts)

    def query(self, sql: str, params: dict | None = None) -> pl.DataFrame:
        return _frame(self._run(sql, params, "ArrowTable"))

    def command(self, sql: str, params: dict | None = None) -> None:
        self._run(sql, params, "CSV")

    def insert_parquet(self, table: str, path: Path, columns: list[str]) -> None:
        listed = ", ".join(quote(c) for c in columns)
        source = "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"
        # the rollups' materialized views run side by side, on two insert threads: one file of 1.6M
        # requests went in 16.8 s instead of 24.3 s (docs/BENCHMARKS.md, "10M requests on both engines")
        self.command(f"INSERT INTO {quote(table)} ({listed}) SELECT {listed} FROM file({source}, Parquet) "
                     "SETTINGS parallel_view_processing = 1, max_insert_threads = 2")

    def insert_frame(self, table: str, frame: pl.DataFrame) -> None:
        """Insert rows a writer accepted (a release event, a committed ingest) through a Parquet file."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="warroom-ch-") as folder:
            path = Path(folder) / "rows.parquet"
            frame.write_parquet(path)
            self.insert_parquet(table, path, frame.columns)


class HttpEngine:
    """A ClickHouse server over HTTP(S) through clickhouse-connect: the same SQL and typed parameters."""

    def __init__(self, config: StoreConfig, creds: Credentials | None = None):
        import clickhouse_connect

        creds = creds or credentials()
        try:
            self._client = clickhouse_connect.get_client(
                host=config.host, port=config.port, database=config.database, secure=config.secure,
                username=creds.user, password=creds.password)
        except Exception as exc:  # an unreachable server or refused login: one line for the user
            raise StoreConfigError(f"{config.describe()}: cannot connect: {str(exc).splitlines()[0]}") from None
        self._lock = threading.Lock()

    def query(self, sql: str, params: dict | None = None) -> pl.DataFrame:
        with self._lock:
            table = self._client.query_arrow(bind(sql, params), parameters=params or {})
        return _frame(table)

    def command(self, sql: str, params: dict | None = None) -> None:
        with self._lock:
            self._client.command(bind(sql, params), parameters=params or {})

    def insert_parquet(self, table: str, path: Path, columns: list[str]) -> None:
        import pyarrow.parquet as pq

        self.insert_frame(table, _frame(pq.read_table(path, columns=columns)))

    def insert_frame(self, table: str, frame: pl.DataFrame) -> None:
        with self._lock:
            self._client.insert_arrow(table, frame.to_arrow())


def _frame(table) -> pl.DataFrame:
    """An Arrow table as Polars (a table, never a single column, so always a DataFrame), its
    timestamps in "UTC" as the DuckDB store's are (ClickHouse may name the zone Etc/UTC)."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    zoned = [name for name, dtype in frame.schema.items()
             if isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC")]
    if zoned:
        frame = frame.with_columns(pl.col(zoned).dt.convert_time_zone("UTC"))
    return frame


def quote(name: str) -> str:
    """A ClickHouse identifier in backquotes."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def open_engine(config: StoreConfig):
    if config.engine == "chdb":
        assert config.path is not None
        return ChdbEngine(config.path)
    if config.engine == "clickhouse":
        return HttpEngine(config)
    raise StoreConfigError(f"store {config.describe()} is not a ClickHouse store")
