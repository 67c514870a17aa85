"""Which telemetry store a data folder uses: DuckDB over its Parquet files, or ClickHouse.

Returns a `StoreConfig` from `--store` (the CLI's and the app's argument) or else
the `[store]` section of the data folder's `warroom.toml`:

    [store]
    engine = "duckdb"                                 # the default
    engine = "chdb"        path = "clickhouse"        # in-process ClickHouse, its files in a folder
    engine = "clickhouse"  url = "clickhouse://ch.internal:8123/warroom"

`--store duckdb`, `--store chdb:PATH`, `--store clickhouse://host:port/db`
(`clickhouses://` for TLS) say the same. Credentials come only from the
environment (WARROOM_CLICKHOUSE_USER, WARROOM_CLICKHOUSE_PASSWORD): a URL carrying
a user or password is refused, so a password never sits in a config file, a shell
history or the app's address bar.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dashboard.core.errors import WarroomError

CONFIG_FILE = "warroom.toml"  # the data folder's config (also read by the incident store)
USER_ENV = "WARROOM_CLICKHOUSE_USER"
PASSWORD_ENV = "WARROOM_CLICKHOUSE_PASSWORD"
ENGINES = ("duckdb", "chdb", "clickhouse")
DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT = 8123, 8443
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class StoreConfigError(WarroomError, ValueError):
    """A store setting the user can fix: one line naming where it came from."""


@dataclass(frozen=True)
class StoreConfig:
    engine: str = "duckdb"
    path: Path | None = None  # chdb: the folder ClickHouse keeps its tables in
    host: str | None = None  # clickhouse: the server
    port: int | None = None
    database: str = "default"
    secure: bool = False

    def describe(self) -> str:
        """The store without secrets (for logs and the app's status line)."""
        if self.engine == "chdb":
            return f"chdb:{self.path}"
        if self.engine == "clickhouse":
            return f"clickhouse{'s' if self.secure else ''}://{self.host}:{self.port}/{self.database}"
        return "duckdb"


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = ""


def parse_store(text: str, base: Path | None = None, where: str = "--store") -> StoreConfig:
    """`duckdb`, `chdb:PATH` (relative to `base`) or `clickhouse[s]://host[:port][/db]`."""
    text = text.strip()
    if text == "duckdb":
        return StoreConfig()
    if text.startswith("chdb:"):
        return _chdb(text[len("chdb:"):], base, where)
    if text.startswith(("clickhouse://", "clickhouses://")):
        return _server(text, where)
    raise StoreConfigError(f"{where}: {text!r} is not a store; expected duckdb, chdb:PATH or clickhouse://host:port/db")


def _chdb(path: str, base: Path | None, where: str) -> StoreConfig:
    if not path.strip():
        raise StoreConfigError(f"{where}: chdb needs a folder, as in chdb:PATH")
    folder = Path(path).expanduser()
    if base is not None and not folder.is_absolute():
        folder = base / folder
    return StoreConfig("chdb", path=folder)


def _server(url: str, where: str) -> StoreConfig:
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise StoreConfigError(f"{where}: a ClickHouse URL must not carry a user or password; "
                               f"set {USER_ENV} and {PASSWORD_ENV} instead")
    if parts.query or parts.fragment:
        raise StoreConfigError(f"{where}: a ClickHouse URL takes no query string (host, port and database only)")
    if not parts.hostname:
        raise StoreConfigError(f"{where}: {url!r} names no host")
    try:
        port = parts.port
    except ValueError:
        raise StoreConfigError(f"{where}: {url!r}: the port is not a number from 1 to 65535") from None
    secure = parts.scheme == "clickhouses"
    database = parts.path.strip("/") or "default"
    if not set(database) <= NAME_CHARS:
        raise StoreConfigError(f"{where}: database {database!r}: use letters, digits and _ only")
    return StoreConfig("clickhouse", host=parts.hostname, port=port or (DEFAULT_HTTPS_PORT if secure else
                                                                           DEFAULT_HTTP_PORT),
                       database=database, secure=secure)


def from_config(root: Path) -> StoreConfig:
    """The `[store]` section of `root/warroom.toml` (DuckDB when there is none)."""
    path = root / CONFIG_FILE
    if not path.exists():
        return StoreConfig()
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StoreConfigError(f"{path}: cannot read the config: {exc}") from None
    section = config.get("store")
    if section is None:
        return StoreConfig()
    where = f"{path} [store]"
    if not isinstance(section, dict):
        raise StoreConfigError(f"{where}: must be a table")
    unknown = set(section) - {"engine", "path", "url"}
    if unknown:
        raise StoreConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: engine, path, url")
    engine = section.get("engine", "duckdb")
    if engine not in ENGINES:
        raise StoreConfigError(f"{where}: engine {engine!r}: expected one of {', '.join(ENGINES)}")
    for key in ("path", "url"):
        if key in section and not isinstance(section[key], str):
            raise StoreConfigError(f"{where}: {key} must be a string")
    if engine == "duckdb":
        return StoreConfig()
    if engine == "chdb":
        return _chdb(section.get("path", ""), root, f"{where} path")
    if "url" not in section:
        raise StoreConfigError(f"{where}: engine clickhouse needs url = \"clickhouse://host:port/db\"")
    url = section["url"]
    if not url.startswith(("clickhouse://", "clickhouses://")):
        raise StoreConfigError(f"{where} url: expected clickhouse://host:port/db or clickhouses://...")
    return _server(url, f"{where} url")


def store_config(root: Path, override: str | None = None) -> StoreConfig:
    """`--store` when given, else the data folder's config."""
    if override:
        return parse_store(override, base=root)
    return from_config(root)


def credentials(environ: dict | None = None) -> Credentials:
    """The ClickHouse user and password from the environment (user `default` when unset)."""
    env = os.environ if environ is None else environ
    return Credentials(env.get(USER_ENV, "").strip() or "default", env.get(PASSWORD_ENV, ""))
