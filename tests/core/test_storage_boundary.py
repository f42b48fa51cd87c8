"""The storage boundary (issue 11, item 3), checked on the source: pure, no server.

- Only ``aggregator/storage/`` runs SQL on our database: no other module of the core or of a
  connector calls a query runner (``conn.fetch``, ``pool.execute``, ``copy_records_to_table``
  …), imports the named SQL blocks, or holds an inline SQL string. The connectors' modules
  that run SQL on *their own* old databases are allowed, each by name, below.
- Every named SQL block is used by the storage layer, and every name looked up exists.
- One place inserts jobs: the SQL function ``enqueue_jobs()``; no SQL block, no other
  database function and no bulk copy inserts into ``jobs``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from aggregator.storage.sqlfiles import parse_blocks, queries

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "aggregator" / "storage"
SQL_DIR = STORAGE / "sql"

# Methods that exist only on database drivers: a call of one anywhere is SQL being run.
RUNNER_METHODS = frozenset(
    {
        "fetch",
        "fetchrow",
        "fetchval",
        "fetchmany",
        "executemany",
        "copy_records_to_table",
        "copy_to_table",
        "copy_from_query",
        "copy_from_table",
    }
)
# Names other libraries use too (an aiohttp response's prepare(), an IMAP command's
# execute()): a query runner when called on something named like a connection or a pool.
SHARED_METHODS = frozenset({"execute", "prepare", "cursor"})
_DB_NAME = re.compile(r"(^|_)(conn|connection|pool|db|database|tx)$")

# Modules outside aggregator/storage/ that may run SQL, each on a database that is not ours.
ALLOWED = {
    # Gammu's own SMS database (inbox/outbox tables), PostgreSQL or MySQL.
    "connectors/sms/gammu_db.py",
    # The old PHP forms' MySQL/PostgreSQL database: the driver wrapper…
    "connectors/forms/legacy_db.py",
    # …the form tables read through it…
    "connectors/forms/sql_table.py",
    # …and the rows written back into it.
    "connectors/forms/writeback.py",
}

# SQL as this code base writes it (keywords in capitals), at the start of a string.
_SQL_TEXT = re.compile(
    r"^\s*(SELECT\s.*\bFROM\b|SELECT\s+\w+\(|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s"
    r"|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s|SHOW\s+\w+|TRUNCATE\s)",
    re.DOTALL,
)


def _receiver_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Await):
        return _receiver_name(node.value)
    if isinstance(node, ast.Call):
        return _receiver_name(node.func)
    return ""


def violations(source: str, path: str = "<module>") -> list[str]:
    """What in this module runs SQL on a database, or carries SQL to run."""
    found: list[str] = []
    tree = ast.parse(source, path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            receiver = _receiver_name(node.func.value)
            if method in RUNNER_METHODS or (
                method in SHARED_METHODS and _DB_NAME.search(receiver.lower())
            ):
                found.append(f"{path}:{node.lineno}: {receiver}.{method}()")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "aggregator.storage.sqlfiles"
            # the block parser is shared (connectors.base.sqlfiles); our blocks are not
            and any(a.name != "parse_blocks" for a in node.names)
        ):
            found.append(f"{path}:{node.lineno}: imports the named SQL blocks")
        elif isinstance(node, ast.Import) and any(
            a.name == "aggregator.storage.sqlfiles" for a in node.names
        ):
            found.append(f"{path}:{node.lineno}: imports the named SQL blocks")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _SQL_TEXT.match(node.value)
        ):
            found.append(f"{path}:{node.lineno}: inline SQL {node.value[:40]!r}")
    return found


def _modules_outside_storage() -> list[Path]:
    out = []
    for top in ("aggregator", "connectors"):
        for p in sorted((ROOT / top).rglob("*.py")):
            if STORAGE in p.parents:
                continue
            out.append(p)
    return out


def test_only_the_storage_layer_runs_sql_on_our_database() -> None:
    bad: list[str] = []
    for p in _modules_outside_storage():
        rel = p.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        bad += violations(p.read_text(encoding="utf-8"), rel)
    assert not bad, "SQL outside aggregator/storage/:\n" + "\n".join(bad)


def test_the_allow_list_names_modules_that_exist_and_need_it() -> None:
    for rel in sorted(ALLOWED):
        p = ROOT / rel
        assert p.is_file(), f"{rel} is allowed to run SQL but does not exist"
        assert violations(p.read_text(encoding="utf-8"), rel), f"{rel} no longer needs allowing"


@pytest.mark.parametrize(
    "snippet",
    [
        "async def f(conn):\n    await conn.execute('UPDATE x SET y = 1')\n",
        "async def f(self):\n    await self.services.pool.fetchval(q('x'))\n",
        "async def f(c):\n    await c.copy_records_to_table('jobs', records=[])\n",
        "async def f(c):\n    return await c.fetch(sql)\n",
        "async def f(conn):\n    await conn.prepare(s)\n",
        "from aggregator.storage.sqlfiles import q\n",
        "import aggregator.storage.sqlfiles\n",
        "X = 'SELECT id FROM complaints WHERE id = $1'\n",
        "X = '''\n  INSERT INTO jobs (kind) VALUES ($1)'''\n",
        "X = 'SELECT now()'\n",
    ],
)
def test_the_scan_sees_sql_being_run(snippet: str) -> None:
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "async def f(resp, request):\n    await resp.prepare(request)\n",
        "async def f(proto, cmd):\n    await proto.execute(cmd)\n",
        "async def f(conn):\n    async with conn.transaction():\n        pass\n",
        "from aggregator.storage.sqlfiles import parse_blocks\n",
        "X = 'select a reason for the operator'\n",
        "X = 'SELECT a source from the list'\n",
    ],
)
def test_the_scan_leaves_other_libraries_alone(snippet: str) -> None:
    assert not violations(snippet), snippet


# Named SQL blocks ------------------------------------------------------------------------


def _blocks_by_file() -> dict[str, dict[str, str]]:
    return {
        f.name: parse_blocks(f.read_text(encoding="utf-8"), f.name)
        for f in sorted(SQL_DIR.glob("*.sql"))
    }


def _string_constants(paths: list[Path]) -> set[str]:
    out: set[str] = set()
    for p in paths:
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    return out


def _looked_up_names(paths: list[Path]) -> dict[str, list[str]]:
    """Names passed as a literal to q(...), with where."""
    out: dict[str, list[str]] = {}
    for p in paths:
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "q"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                out.setdefault(node.args[0].value, []).append(f"{p.name}:{node.lineno}")
    return out


def test_every_named_sql_block_is_used_by_the_storage_layer() -> None:
    # A block counts as used when a storage module names it: q("name"), or a name in a table
    # of queries that is run by name (aggregator/storage/privacy.py's purges).
    used = _string_constants(sorted(STORAGE.glob("*.py")))
    unused = sorted(
        f"{file}: {name}"
        for file, blocks in _blocks_by_file().items()
        for name in blocks
        if name not in used
    )
    assert not unused, "SQL blocks no storage function runs:\n" + "\n".join(unused)


def test_every_looked_up_sql_block_exists() -> None:
    known = queries()
    paths = [
        *sorted(STORAGE.glob("*.py")),
        *sorted((ROOT / "tests").rglob("*.py")),
        *sorted((ROOT / "bench").rglob("*.py")),
    ]
    missing = sorted(
        f"{name} ({', '.join(where)})"
        for name, where in _looked_up_names(paths).items()
        if name not in known
    )
    assert not missing, "q() names no SQL block:\n" + "\n".join(missing)


def test_the_block_check_sees_a_missing_and_an_unused_name(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text('from x import q\nasync def f(c):\n    await c.execute(q("no_such_block"))\n')
    assert "no_such_block" in _looked_up_names([mod])
    assert "no_such_block" not in queries()
    assert "list_source_states" not in _string_constants([mod])


# One place inserts jobs ------------------------------------------------------------------

_INSERT_JOBS = re.compile(r"\bINSERT\s+INTO\s+(public\.)?jobs\b", re.IGNORECASE)


def test_no_sql_block_inserts_jobs_itself() -> None:
    bad = [
        f"{file}: {name}"
        for file, blocks in _blocks_by_file().items()
        for name, body in blocks.items()
        if _INSERT_JOBS.search(body)
    ]
    assert not bad, "INSERT INTO jobs outside enqueue_jobs():\n" + "\n".join(bad)


def test_only_enqueue_jobs_inserts_jobs_in_the_schema() -> None:
    schema = (ROOT / "schema.sql").read_text(encoding="utf-8")
    # Every statement of the dump ends with ";\n\n" (functions: after their "$$").
    inserting = [
        m.group(1)
        for stmt in schema.split(";\n\n")
        if _INSERT_JOBS.search(stmt)
        and (m := re.search(r"CREATE FUNCTION public\.(\w+)\(", stmt)) is not None
    ]
    assert inserting == ["enqueue_jobs"], inserting
    assert sum(bool(_INSERT_JOBS.search(s)) for s in schema.split(";\n\n")) == 1
    trigger = next(
        s for s in schema.split(";\n\n") if "FUNCTION public.forms_enqueue_write_back" in s
    )
    assert "enqueue_jobs(" in trigger


def test_the_job_blocks_enqueue_through_the_function() -> None:
    blocks = _blocks_by_file()
    for name in ("enqueue_job", "enqueue_job_without_key", "insert_jobs"):
        assert "enqueue_jobs(" in blocks["jobs.sql"][name], name
    assert "enqueue_jobs(" in blocks["lapor.sql"]["mark_complaints_pushed"]
    # …and only aggregator/storage/jobs.py runs them.
    users = {
        p.name
        for p in sorted(STORAGE.glob("*.py"))
        if {"enqueue_job", "enqueue_job_without_key", "insert_jobs"} & _string_constants([p])
    }
    assert users == {"jobs.py"}, users


# Typed models --------------------------------------------------------------------------------


def _storage_functions() -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out = []
    for p in sorted(STORAGE.glob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((p.name, node))
    return out


def record_returns(
    functions: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]],
) -> list[str]:
    return [
        f"{file}: {fn.name}() -> {ast.unparse(fn.returns)}"
        for file, fn in functions
        if fn.returns is not None and "Record" in ast.unparse(fn.returns)
    ]


def test_storage_functions_return_typed_models_not_records() -> None:
    bad = record_returns(_storage_functions())
    assert not bad, "storage functions returning asyncpg records:\n" + "\n".join(bad)


def test_the_record_check_sees_a_record_return() -> None:
    tree = ast.parse(
        "async def get(conn) -> asyncpg.Record | None: ...\n"
        "async def rows(conn) -> list[asyncpg.Record]: ...\n"
        "async def fine(conn) -> Job: ...\n"
    )
    fns = [("m.py", n) for n in tree.body if isinstance(n, ast.AsyncFunctionDef)]
    assert [x.split(":")[1].strip().split("(")[0] for x in record_returns(fns)] == ["get", "rows"]


PLUMBING = {"db.py: BoundedPool", "db.py: PoolTimeout", "db.py: _BoundedAcquire"}


def test_the_models_storage_functions_return_are_frozen_dataclasses() -> None:
    returned = {
        n.id
        for _file, fn in _storage_functions()
        if fn.returns is not None
        for n in ast.walk(fn.returns)
        if isinstance(n, ast.Name)
    } | {
        n.attr
        for _file, fn in _storage_functions()
        if fn.returns is not None
        for n in ast.walk(fn.returns)
        if isinstance(n, ast.Attribute)
    }
    models: dict[str, bool] = {}
    for p in sorted(STORAGE.glob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"), str(p))):
            if isinstance(node, ast.ClassDef) and node.name in returned:
                models[f"{p.name}: {node.name}"] = any(
                    isinstance(dec, ast.Call)
                    and ast.unparse(dec.func) == "dataclass"
                    and any(
                        k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value
                        for k in dec.keywords
                    )
                    for dec in node.decorator_list
                )
    assert len(models) > 40, sorted(models)  # the scan finds the models
    # The pool itself, its acquire and its timeout error are returned too, but are no rows.
    assert PLUMBING <= set(models), sorted(PLUMBING - set(models))
    thawed = sorted(name for name, frozen in models.items() if not frozen and name not in PLUMBING)
    assert not thawed, "storage models must be frozen dataclasses:\n" + "\n".join(thawed)
