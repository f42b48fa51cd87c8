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
echo "== lint and format (ruff)"
.venv/bin/ruff check aggregator connectors schemas tests bench || status=1
.venv/bin/ruff format --check aggregator connectors schemas tests bench || status=1
echo "== alert rules (promtool)"
promtool check rules deploy/prometheus/satukanal-alerts.yml || status=1
echo "== types (mypy)"
.venv/bin/mypy aggregator connectors schemas || status=1
echo "== import contracts (import-linter)"
.venv/bin/lint-imports || status=1
echo "== container image and compose file"
if ! command -v docker >/dev/null; then
    echo "skipped: docker is not installed here (the rest of the suite does not need it)"
elif ! docker info >/dev/null 2>&1; then
    echo "skipped: docker is installed but its daemon does not answer ($(docker info 2>&1 | grep -m1 -i 'cannot connect\|error' || echo 'docker info failed'))"
elif ! docker compose version >/dev/null 2>&1; then
    echo "skipped: the docker compose plugin is missing (apt-get install docker-compose-plugin)"
else
    docker build -q -f deploy/Containerfile -t satukanal:test . || status=1
    # compose checks that the secret files exist: made-up ones in a scratch copy of deploy/.
    scratch=$(mktemp -d)
    cp deploy/compose.yaml "$scratch/" && cp deploy/container.toml "$scratch/satukanal.toml"
    mkdir "$scratch/secrets"
    for s in pg_password database_url k1_key hmac_key lapor_secret; do echo x >"$scratch/secrets/$s"; done
    docker compose -f "$scratch/compose.yaml" config --quiet || status=1
    rm -rf "$scratch"
fi
if [ -n "${SATUKANAL_TEST_DATABASE_URL:-}" ]; then
    echo "== storage tests on the embedded PostgreSQL (pgserver)"
    env -u SATUKANAL_TEST_DATABASE_URL .venv/bin/pytest -q -p no:cacheprovider tests/core || status=1
    echo "== whole suite on ${SATUKANAL_TEST_DATABASE_URL%%\?*}"
else
    echo "== whole suite on the embedded PostgreSQL (pgserver)"
fi
.venv/bin/pytest -q -p no:cacheprovider "$@" || status=1
exit $status
