"""SLO declarations: read and validate the TOML file that declares them.

A data folder's `slos.toml` wins; without one, the shipped default file is
used. Every problem is reported with the file, the entry number and the field,
because a typo in an objective silently changes what pages people.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from dashboard.core.datadir import DataDir
from dashboard.core.errors import WarroomError

DEFAULT_SLO_FILE = Path(__file__).with_name("default_slos.toml")
DEFAULT_PERIOD_DAYS = 28
DEFAULT_MIN_REQUESTS = 20

METHODS = ("windows", "requests")
OPS = ("<=", ">=")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SloConfigError(WarroomError, ValueError):
    """A declaration the file's author has to fix; the message says where."""


@dataclass(frozen=True)
class SloDecl:
    """One declared objective.

    For method "windows", a window of `window` length is good when the signal,
    computed over that window, satisfies `op threshold`; `objective` is the
    share of judged windows that must be good.

    For method "requests", each request is an event: bad when it is one the
    rate counts (a refusal, an error) for op "<=", or one it does not count
    (no ticket deflected) for op ">=". The tolerated share of bad requests is
    the threshold (op "<=") or 1 - threshold (op ">="), so `objective` is
    derived, not declared.
    """

    name: str
    title: str
    signal: str
    op: str
    threshold: float
    method: str = "windows"
    objective: float = 0.99
    window: timedelta = timedelta(minutes=5)
    min_requests: int = DEFAULT_MIN_REQUESTS
    segment: dict[str, str] = field(default_factory=dict)

    @property
    def higher_is_bad(self) -> bool:
        return self.op == "<="

    @property
    def allowed_bad_fraction(self) -> float:
        """The error budget as a share of events (windows or requests)."""
        if self.method == "requests":
            return self.threshold if self.op == "<=" else 1.0 - self.threshold
        return 1.0 - self.objective

    @property
    def target(self) -> float:
        """Share of events that must be good."""
        return 1.0 - self.allowed_bad_fraction

    def meets(self, value: float) -> bool:
        return value <= self.threshold if self.op == "<=" else value >= self.threshold

    def describe(self) -> str:
        scope = ", ".join(f"{k}={v}" for k, v in sorted(self.segment.items()))
        if self.method == "requests":
            text = f"{self.target:.2%} of requests good ({self.signal} {self.op} {self.threshold:g})"
        else:
            minutes = int(self.window.total_seconds() // 60)
            text = (f"{self.objective:.2%} of {minutes}-minute windows with "
                    f"{self.signal} {self.op} {self.threshold:g}")
        return f"{text} on {scope}" if scope else text


@dataclass(frozen=True)
class SloConfig:
    slos: tuple[SloDecl, ...]
    period: timedelta = timedelta(days=DEFAULT_PERIOD_DAYS)
    source: Path | None = None

    def get(self, name: str) -> SloDecl:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(f"no SLO named {name!r}; declared: {[s.name for s in self.slos]}")


def parse_duration(text: str) -> timedelta:
    """'5m' -> 5 minutes; units s, m, h, d."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like '5m', '1h' or '28d'")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def slo_file_for(data: DataDir | None) -> Path:
    """The data folder's slos.toml (`DataDir.slos`) when it has one, else the shipped default."""
    if data is not None and data.slos.exists():
        return data.slos
    return DEFAULT_SLO_FILE


def load_slo_config(path: Path | None = None, known_signals: set[str] | None = None) -> SloConfig:
    path = Path(path) if path is not None else DEFAULT_SLO_FILE
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SloConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SloConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_slo_config(raw, source=path, known_signals=known_signals)


def parse_slo_config(raw: dict, source: Path | None = None,
                     known_signals: set[str] | None = None) -> SloConfig:
    where = str(source) if source else "SLO config"
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        raise SloConfigError(f"{where}: [defaults] must be a table")
    period_days = defaults.get("period_days", DEFAULT_PERIOD_DAYS)
    if not isinstance(period_days, (int, float)) or isinstance(period_days, bool) or period_days <= 0:
        raise SloConfigError(f"{where}: defaults.period_days must be a positive number, got {period_days!r}")
    entries = raw.get("slo")
    if not isinstance(entries, list) or not entries:
        raise SloConfigError(f"{where}: no [[slo]] entries declared")
    slos: list[SloDecl] = []
    for index, entry in enumerate(entries, start=1):
        slos.append(_parse_entry(entry, f"{where}: [[slo]] #{index}", known_signals))
    names = [s.name for s in slos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SloConfigError(f"{where}: duplicate SLO names {duplicates}")
    return SloConfig(tuple(slos), timedelta(days=period_days), source)


def _parse_entry(entry: object, where: str, known_signals: set[str] | None) -> SloDecl:
    if not isinstance(entry, dict):
        raise SloConfigError(f"{where}: must be a table")
    allowed = {"name", "title", "signal", "op", "threshold", "method", "objective",
               "window", "min_requests", "segment"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise SloConfigError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    for required in ("name", "signal", "op", "threshold"):
        if required not in entry:
            raise SloConfigError(f"{where}: field '{required}' is required")
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise SloConfigError(f"{where}: field 'name' must be letters, digits, - or _, got {name!r}")
    where = f"{where} ({name})"
    signal = entry["signal"]
    if not isinstance(signal, str) or (known_signals is not None and signal not in known_signals):
        hint = f"; known: {sorted(known_signals)}" if known_signals else ""
        raise SloConfigError(f"{where}: field 'signal' {signal!r} is not a known signal{hint}")
    op = entry["op"]
    if op not in OPS:
        raise SloConfigError(f"{where}: field 'op' must be one of {list(OPS)}, got {op!r}")
    threshold = entry["threshold"]
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise SloConfigError(f"{where}: field 'threshold' must be a number, got {threshold!r}")
    method = entry.get("method", "windows")
    if method not in METHODS:
        raise SloConfigError(f"{where}: field 'method' must be one of {list(METHODS)}, got {method!r}")
    if method == "requests":
        if "objective" in entry:
            raise SloConfigError(f"{where}: field 'objective' is derived from the threshold "
                                 "for method 'requests'; remove it")
        if not 0.0 < float(threshold) < 1.0:
            raise SloConfigError(f"{where}: field 'threshold' must be a fraction between 0 and 1 "
                                 f"for method 'requests', got {threshold!r}")
    objective = entry.get("objective", 0.99)
    if not isinstance(objective, (int, float)) or isinstance(objective, bool) or not 0.0 < objective < 1.0:
        raise SloConfigError(f"{where}: field 'objective' must be a fraction between 0 and 1 "
                             f"(e.g. 0.99), got {objective!r}")
    try:
        window = parse_duration(entry.get("window", "5m"))
    except ValueError as exc:
        raise SloConfigError(f"{where}: field 'window': {exc}") from None
    if window < timedelta(minutes=1):
        raise SloConfigError(f"{where}: field 'window' must be at least 1 minute")
    min_requests = entry.get("min_requests", DEFAULT_MIN_REQUESTS)
    if not isinstance(min_requests, int) or isinstance(min_requests, bool) or min_requests < 1:
        raise SloConfigError(f"{where}: field 'min_requests' must be a positive integer, got {min_requests!r}")
    segment = entry.get("segment", {})
    if not isinstance(segment, dict) or not all(isinstance(v, str) for v in segment.values()):
        raise SloConfigError(f"{where}: field 'segment' must be a table of column = \"value\", "
                             f"got {segment!r}")
    return SloDecl(
        name=name, title=str(entry.get("title", name)), signal=signal, op=op,
        threshold=float(threshold), method=method, objective=float(objective),
        window=window, min_requests=min_requests, segment=dict(segment),
    )
