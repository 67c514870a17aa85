"""Langfuse's usage_details and cost_details maps: tokens and cost per generation.

`parse_maps` reads a column of maps in any of the shapes an export holds them
(JSON text, ClickHouse's {'input':10} text, JSON objects, Parquet maps) and marks
the rows whose value is not a map; `usage_tokens` and `total_cost` read one map.
Langfuse books input details (input_cached_tokens, ...) apart from "input", so
input_tokens adds them back and the cached part is returned on its own.
"""

from __future__ import annotations

import json
import re

import polars as pl

INPUT_KEYS = ("input", "input_tokens", "prompt_tokens", "promptTokens")
OUTPUT_KEYS = ("output", "output_tokens", "completion_tokens", "completionTokens")
_CACHED = re.compile(r"cache(d)?_?read|cached")


def parse_maps(series: pl.Series) -> tuple[list[dict | None], pl.Series]:
    """Each row's map (None when absent) and a mask of rows whose value is not a map."""
    values = series.to_list()
    bad = [False] * len(values)
    out: list[dict | None] = []
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
        elif isinstance(value, dict):  # struct
            out.append({k: v for k, v in value.items() if v is not None})
        elif isinstance(value, list):  # Parquet map: list of {key, value}
            try:
                out.append({item["key"]: item["value"] for item in value if item is not None})
            except (KeyError, TypeError):
                out.append(None)
                bad[i] = True
        else:
            parsed = _parse_map_text(str(value))
            bad[i] = parsed is None and str(value).strip() not in ("", "null")
            out.append(parsed)
    return out, pl.Series(bad, dtype=pl.Boolean)


def read_maps(series: pl.Series, read) -> tuple[list[tuple], pl.Series]:
    """`read(map)` for each row (a tuple whose last item says whether the map was readable), and
    the mask of rows whose value is not a map or not readable."""
    maps, not_a_map = parse_maps(series)
    results = [read(m) for m in maps]
    return results, not_a_map | pl.Series([not r[-1] for r in results], dtype=pl.Boolean)


def _parse_map_text(text: str) -> dict | None:
    text = text.strip()
    if not text or text == "null":
        return None
    for candidate in (text, text.replace("'", '"')):  # JSON, or ClickHouse's {'input':10}
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        return value if isinstance(value, dict) else None
    return None


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def usage_tokens(usage: dict | None) -> tuple[int | None, int | None, int | None, bool]:
    """(input, output, cached input, readable) from a usage_details map."""
    if not usage:
        return None, None, None, True
    parsed = {k: _number(v) for k, v in usage.items() if k != "unit"}
    if any(v is None for v in parsed.values()):
        return None, None, None, False
    numbers = {k: v for k, v in parsed.items() if v is not None}  # every one of them

    def side(keys: tuple[str, ...], prefix: str) -> int | None:
        base = next((numbers[k] for k in keys if k in numbers), None)
        details = [v for k, v in numbers.items() if k.startswith(prefix + "_") and k not in keys]
        if base is None and not details:
            return None
        return int(round((base or 0) + sum(details)))

    cached = [v for k, v in numbers.items() if k.startswith("input_") and _CACHED.search(k)]
    cached += [v for k, v in numbers.items() if k.startswith("cache_read")]  # Anthropic-style key
    input_tokens = side(INPUT_KEYS, "input")
    if input_tokens is not None and any(k.startswith("cache_read") for k in numbers):
        input_tokens += int(round(sum(v for k, v in numbers.items() if k.startswith("cache_read"))))
    return input_tokens, side(OUTPUT_KEYS, "output"), (int(round(sum(cached))) if cached else None), True


def total_cost(cost: dict | None) -> tuple[float | None, bool]:
    if not cost:
        return None, True
    parsed = {k: _number(v) for k, v in cost.items()}
    if any(v is None for v in parsed.values()):
        return None, False
    numbers = {k: v for k, v in parsed.items() if v is not None}  # every one of them
    return (numbers["total"] if "total" in numbers else sum(numbers.values())), True
