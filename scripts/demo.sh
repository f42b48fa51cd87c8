#!/usr/bin/env bash
# The main job on a bare machine: the daemon on an embedded PostgreSQL, the built-in LAPOR!
# sandbox and demo citizens writing by every channel. It prints where the dashboard is.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/satukanal demo "$@"
