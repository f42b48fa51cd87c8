#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs it against real servers.
# PostgreSQL: the server at $SATUKANAL_TEST_DATABASE_URL (default: the local one on
# 127.0.0.1:5432 when it answers) for the whole suite, and the embedded pgserver for the
# storage tests, so both paths are exercised. Other servers (Dovecot, Postfix, gammu-smsd,
# MariaDB databases) are started or created by the test fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test

local_pg=postgresql://postgres@127.0.0.1:5432/postgres
if [ -z "${SATUKANAL_TEST_DATABASE_URL:-}" ] && .venv/bin/python - "$local_pg" <<'PY' 2>/dev/null
import asyncio, sys, asyncpg
async def main():
    c = await asyncpg.connect(sys.argv[1], timeout=3); await c.close()
asyncio.run(main())
PY
then
    export SATUKANAL_TEST_DATABASE_URL=$local_pg
fi

status=0
echo "== lint (ruff)"
.venv/bin/ruff check aggregator connectors schemas tests bench || status=1
echo "== types (mypy)"
.venv/bin/mypy aggregator connectors schemas || status=1
echo "== import contracts (import-linter)"
.venv/bin/lint-imports || status=1
if [ -n "${SATUKANAL_TEST_DATABASE_URL:-}" ]; then
    echo "== storage tests on the embedded PostgreSQL (pgserver)"
    env -u SATUKANAL_TEST_DATABASE_URL .venv/bin/pytest -q -p no:cacheprovider tests/core || status=1
    echo "== whole suite on ${SATUKANAL_TEST_DATABASE_URL%%\?*}"
else
    echo "== whole suite on the embedded PostgreSQL (pgserver)"
fi
.venv/bin/pytest -q -p no:cacheprovider "$@" || status=1
exit $status
