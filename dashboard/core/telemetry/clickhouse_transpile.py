"""A query file's DuckDB SQL as ClickHouse SQL: sqlglot, plus the DuckDB constructs it leaves as they are.

Returns `transpile(text, params, relations)`: ClickHouse SQL for one query file of
queries/ (written in DuckDB's dialect, the one definition), for the parameters it is
run with. sqlglot translates the SQL; before it writes, this module rewrites what
it would pass through untranslated:

- the project's DuckDB macros (sketch_value, sketch_quantile, var_from_sums:
  rollup.macros_sql_all, the one definition) are expanded in place, so nothing
  has to be created on the server;
- `time_bucket(width, t[, origin])` becomes the same arithmetic on microseconds
  (DuckDB's default origin when none is given; ClickHouse's toStartOfInterval
  refuses a time before its origin);
- `COLUMNS(lambda c: ...)` and `COLUMNS('regex')` are expanded to the columns they
  pick, in the relation's order and named as DuckDB names them. The lambda is
  evaluated by DuckDB itself on the column names, with the query's parameters, so
  it picks exactly what it picks there. The columns of `cells`, `sketch_cells` and
  `scoped` are given (`relations`); those of a CTE or subquery are read from its
  expanded SELECT.

- `UNPIVOT rel ON cols INTO NAME n VALUE v` becomes an ARRAY JOIN of (name, value)
  pairs over the same columns.

- `*COLUMNS(...)` in a list becomes that list's items; `list_has_any` is `hasAny`;
- `hash(...)` becomes `cityHash64(...)`: a query that samples rows by hash picks
  its own deterministic sample on ClickHouse (the same groups and totals, other rows);
- a selected predicate (a BOOLEAN in DuckDB, a UInt8 in ClickHouse) is cast to Bool.

Anything else DuckDB-only raises `Untranslatable`;
such a file gets a hand-written queries/clickhouse/NAME.sql (clickhouse_sql.py).
"""

from __future__ import annotations

import re
from functools import cache

import duckdb
import sqlglot
from sqlglot import expressions as exp

from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.clickhouse import quote
from dashboard.core.telemetry.rollup_scope import DEFAULT_ORIGIN

MACRO_RE = re.compile(r"CREATE OR REPLACE MACRO (\w+)\(([^)]*)\) AS (.*)", re.DOTALL)
ORIGIN = f"toDateTime64('{DEFAULT_ORIGIN:%Y-%m-%d %H:%M:%S}', 6, 'UTC')"


class Untranslatable(ValueError):
    """A DuckDB construct with no ClickHouse form here: the file needs a hand-written override."""


@cache
def macros() -> dict[str, tuple[tuple[str, ...], str]]:
    """name -> (argument names, body in DuckDB SQL), from the definitions every DuckDB connection runs."""
    out = {}
    for statement in rollup.macros_sql_all():
        m = MACRO_RE.match(statement)
        if m is None:
            raise Untranslatable(f"cannot read macro definition {statement[:60]!r}")
        out[m.group(1).lower()] = (tuple(a.strip() for a in m.group(2).split(",")), m.group(3))
    return out


def _expand_macros(tree: exp.Expr) -> exp.Expr:
    defined = macros()
    for _ in range(20):  # a macro calling a macro (sketch_quantile -> sketch_value): expand until none is left
        calls = [n for n in tree.find_all(exp.Anonymous) if str(n.this).lower() in defined]
        if not calls:
            return tree
        for call in calls:
            names, body = defined[str(call.this).lower()]
            if len(names) != len(call.expressions):
                raise Untranslatable(f"{call.this} takes {len(names)} arguments, given {len(call.expressions)}")
            args = dict(zip(names, call.expressions, strict=True))
            node = sqlglot.parse_one(body, read="duckdb")
            node = node.transform(lambda n, args=args: exp.Paren(this=args[n.name].copy())
                                  if isinstance(n, exp.Column) and not n.table and n.name in args else n)
            call.replace(exp.Paren(this=node))
    raise Untranslatable("macros nested too deeply")


def _ch(text: str) -> exp.Expr:
    return sqlglot.parse_one(text, read="clickhouse")


# DuckDB's time_bucket for a width in microseconds: origin + floor((t - origin) / width) * width, also for
# t before the origin (ClickHouse's toStartOfInterval refuses those)
BUCKET = ("fromUnixTimestamp64Micro(toUnixTimestamp64Micro(__o) + (intDiv(toUnixTimestamp64Micro(__t) "
          "- toUnixTimestamp64Micro(__o), __w) - ((toUnixTimestamp64Micro(__t) - toUnixTimestamp64Micro(__o)) "
          "% __w < 0)) * __w, 'UTC')")
UNIT_MICROS = {"MICROSECOND": 1, "MILLISECOND": 1000, "SECOND": 10**6, "MINUTE": 60 * 10**6,
               "HOUR": 3600 * 10**6, "DAY": 86400 * 10**6}


def _width_micros(node: exp.Expr) -> exp.Expr:
    """A time_bucket width as a number of microseconds: to_microseconds(x) is x, INTERVAL n unit a literal."""
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_microseconds":
        return node.expressions[0].copy()
    if isinstance(node, exp.Interval) and isinstance(node.this, exp.Literal):
        unit = str(node.args["unit"].this).upper().rstrip("S") if node.args.get("unit") else ""
        if unit in UNIT_MICROS:
            return exp.Literal.number(int(node.this.this) * UNIT_MICROS[unit])
    raise Untranslatable(f"time_bucket width {node.sql(dialect='duckdb')} has no ClickHouse form here")


def _functions(tree: exp.Expr) -> exp.Expr:
    """DuckDB functions sqlglot passes through or spells wrongly for ClickHouse."""
    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "hash":
            # a sample picked by hash: ClickHouse's own 64-bit hash, so its own (deterministic) sample
            return exp.Anonymous(this="cityHash64", expressions=[a.copy() for a in node.expressions])
        if isinstance(node, exp.ArrayOverlaps):  # list_has_any (sqlglot writes `&&`, ClickHouse's AND)
            return exp.Anonymous(this="hasAny", expressions=[node.this.copy(), node.expression.copy()])
        return node

    return tree.transform(rewrite)


def _time_buckets(tree: exp.Expr) -> exp.Expr:
    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.DateBin):
            return node
        origin = node.args.get("unit") or node.args.get("zone") or _ch(ORIGIN)
        parts = {"__t": node.expression, "__o": origin, "__w": _width_micros(node.this)}
        return _ch(BUCKET).transform(lambda n: exp.Paren(this=parts[n.name].copy())
                                     if isinstance(n, exp.Column) and n.name in parts else n)

    return tree.transform(rewrite)


def _pick(matcher: exp.Columns, names: list[str], params: dict) -> list[str]:
    """The columns of `names` a COLUMNS(...) picks, in their order."""
    arg = matcher.this
    if isinstance(arg, exp.Literal) and arg.is_string:
        pattern = re.compile(arg.this)
        return [n for n in names if pattern.search(n)]
    if isinstance(arg, exp.Lambda) and len(arg.expressions) == 1:
        used = {p.name for p in arg.find_all(exp.Placeholder)}
        missing = used - set(params)
        if missing:
            raise Untranslatable(f"COLUMNS(...) reads ${', $'.join(sorted(missing))}, not given")
        con = duckdb.connect()
        try:
            picked = con.execute(f"SELECT list_filter($__names, {arg.sql(dialect='duckdb')})",
                                 {"__names": names, **{k: params[k] for k in used}}).fetchone()
        finally:
            con.close()
        return list(picked[0]) if picked else []
    raise Untranslatable(f"COLUMNS({arg.sql(dialect='duckdb')}) has no ClickHouse form here")


def _relation_columns(select: exp.Select, known: dict[str, list[str]]) -> list[str]:
    source = select.args.get("from_") or select.args.get("from")
    if source is None or select.args.get("joins"):
        raise Untranslatable("COLUMNS(...) over a join or no relation")
    rel = source.this
    if isinstance(rel, exp.Table) and rel.name in known:
        return known[rel.name]
    if isinstance(rel, exp.Subquery) and isinstance(rel.this, exp.Select):
        return _named(rel.this)
    raise Untranslatable(f"COLUMNS(...) over {rel.sql()}: its columns are not known")


def _named(select: exp.Select) -> list[str]:
    names = select.named_selects
    if not names or any(not n for n in names) or "*" in names:
        raise Untranslatable("a relation whose columns are not all named")
    return names


def _expand_columns(select: exp.Select, known: dict[str, list[str]], params: dict) -> None:
    """Replace every select expression holding a COLUMNS(...) by one expression per column it picks."""
    if not any(e.find(exp.Columns) for e in select.expressions):
        return
    names = _relation_columns(select, known)
    for unpacked in [m for e in select.expressions for m in e.find_all(exp.Columns) if m.args.get("unpack")]:
        # *COLUMNS(...) inside a list or a call: its columns become that list's items
        parent, key = unpacked.parent, unpacked.arg_key
        items = parent.args.get(key) if parent is not None else None
        if not isinstance(items, list):
            raise Untranslatable("*COLUMNS(...) outside a list of arguments")
        at = next(i for i, item in enumerate(items) if item is unpacked)
        columns = [exp.column(n, quoted=True) for n in _pick(unpacked, names, params)]
        parent.set(key, [*items[:at], *columns, *items[at + 1:]])
    out: list[exp.Expr] = []
    for item in select.expressions:
        matchers = list(item.find_all(exp.Columns))
        if not matchers:
            out.append(item)
            continue
        if len(matchers) > 1:
            raise Untranslatable("two COLUMNS(...) in one expression")
        picked = _pick(matchers[0], names, params)
        alias = item.alias if isinstance(item, exp.Alias) else None
        body = item.this if isinstance(item, exp.Alias) else item
        for name in picked:
            copy = body.copy()
            target = next(copy.find_all(exp.Columns))
            column = exp.column(name, quoted=True)
            if copy is target:
                out.append(column)
                continue
            target.replace(column)
            out.append(exp.alias_(copy, alias if alias and len(picked) == 1 else name, quoted=True))
    select.set("expressions", out)


def _unpivot(pivot: exp.Pivot, known: dict[str, list[str]], params: dict) -> None:
    """`UNPIVOT rel ON cols INTO NAME n VALUE v` as an ARRAY JOIN of (name, value) pairs; like DuckDB's
    UNPIVOT, a NULL value yields no row."""
    into = pivot.args.get("into")
    if not pivot.args.get("unpivot") or into is None or len(into.expressions) != 1:
        raise Untranslatable("only UNPIVOT ... ON ... INTO NAME ... VALUE ... has a ClickHouse form here")
    rel = pivot.this
    if isinstance(rel, exp.Table) and rel.name in known:
        names, source = known[rel.name], rel.name
    elif isinstance(rel, exp.Subquery) and isinstance(rel.this, exp.Select):
        names, source = _named(rel.this), rel.sql(dialect="clickhouse")
    else:
        raise Untranslatable(f"UNPIVOT of {rel.sql()}: its columns are not known")
    picked: list[str] = []
    for on in pivot.expressions:
        if isinstance(on, exp.Columns) and isinstance(on.this, exp.Star):
            left_out = {e.name for e in on.this.args.get("except_") or on.this.args.get("except") or []}
            picked += [n for n in names if n not in left_out]
        elif isinstance(on, exp.Columns):
            picked += _pick(on, names, params)
        elif isinstance(on, exp.Column):
            picked.append(on.name)
        else:
            raise Untranslatable(f"UNPIVOT ON {on.sql()} has no ClickHouse form here")
    name, value = quote(into.this.name), quote(into.expressions[0].name)
    kept = ", ".join(quote(n) for n in names if n not in picked)
    pairs = ", ".join(f"tuple('{n}', {quote(n)})" for n in picked)
    select = _ch(f"SELECT {kept + ', ' if kept else ''}tupleElement(__kv, 1) AS {name}, "
                 f"tupleElement(__kv, 2) AS {value} FROM {source} ARRAY JOIN [{pairs}] AS __kv "
                 f"WHERE {value} IS NOT NULL")
    if isinstance(pivot.parent, exp.Subquery):
        pivot.replace(select)
    else:
        pivot.replace(exp.Subquery(this=select))


def _is_predicate(node: exp.Expr) -> bool:
    if isinstance(node, exp.Paren):
        return _is_predicate(node.this)
    if isinstance(node, (exp.Predicate, exp.Connector, exp.Not, exp.Boolean)):
        return True
    if isinstance(node, exp.Anonymous) and str(node.this) == "hasAny":
        return True
    if isinstance(node, exp.Case):
        branches = [i.args["true"] for i in node.args.get("ifs") or []]
        default = node.args.get("default")
        return all(_is_predicate(b) for b in [*branches, *([default] if default is not None else [])])
    return False


def _booleans(select: exp.Select) -> None:
    """A selected predicate is a BOOLEAN in DuckDB, a UInt8 in ClickHouse: cast it to ClickHouse's Bool."""
    for item in select.expressions:
        if isinstance(item, exp.Alias) and _is_predicate(item.this):
            item.set("this", exp.Cast(this=item.this.copy(), to=exp.DataType.build("Bool", dialect="clickhouse")))


def _columns_before_aliases(select: exp.Select, known: dict[str, list[str]]) -> None:
    """Qualify a column a SELECT's alias would shadow: DuckDB reads `min(lo) ... AS lo` (outside ORDER BY)
    as the relation's column, ClickHouse as the alias."""
    aliases = {e.alias for e in select.expressions if isinstance(e, exp.Alias)}
    source = select.args.get("from_") or select.args.get("from")
    if not aliases or source is None or select.args.get("joins"):
        return
    rel = source.this
    if isinstance(rel, exp.Table) and rel.name in known:
        names, qualifier = known[rel.name], rel.alias_or_name
    elif isinstance(rel, exp.Subquery) and isinstance(rel.this, exp.Select):
        try:
            names = _named(rel.this)
        except Untranslatable:  # `SELECT *` of something: nothing here to qualify by
            return
        if not rel.alias:
            rel.set("alias", exp.TableAlias(this=exp.to_identifier("__rel")))
        qualifier = rel.alias
    else:
        return
    shadowed = aliases & set(names)
    parts = [*select.expressions, *(select.args.get(k) for k in ("where", "group", "having"))]
    for part in parts:
        if part is None:
            continue
        for column in list(part.find_all(exp.Column)):
            if not column.table and column.name in shadowed and _in_select(column, select):
                column.set("table", exp.to_identifier(qualifier))


def _in_select(node: exp.Expr, select: exp.Select) -> bool:
    """Whether `node` belongs to `select` itself, not to a subquery inside it."""
    parent = node.parent
    while parent is not None and parent is not select:
        if isinstance(parent, exp.Select):
            return False
        parent = parent.parent
    return parent is select


def _expand_all(node: exp.Expr, known: dict[str, list[str]], params: dict) -> None:
    for select in reversed(list(node.find_all(exp.Select, bfs=True))):  # innermost first
        _expand_columns(select, known, params)


def transpile(text: str, params: dict, relations: dict[str, list[str]]) -> str:
    """ClickHouse SQL for DuckDB `text`; `relations` names the columns of the CTEs the caller prepends."""
    tree = sqlglot.parse_one(text, read="duckdb")
    tree = _functions(_time_buckets(_expand_macros(tree)))
    known = dict(relations)
    # a CTE's columns are known once it is expanded; the CTEs come in order, each may read the ones before
    with_ = tree.args.get("with_") or tree.args.get("with")
    for cte in with_.expressions if with_ else []:
        _expand_all(cte.this, known, params)
        if isinstance(cte.this, exp.Select):
            known[cte.alias] = _named(cte.this)
    _expand_all(tree, known, params)
    for pivot in list(tree.find_all(exp.Pivot)):
        _unpivot(pivot, known, params)
    for select in tree.find_all(exp.Select):
        _columns_before_aliases(select, known)
        _booleans(select)
    return tree.sql(dialect="clickhouse", comments=False)
