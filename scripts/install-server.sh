#!/bin/sh
# Install satukanal on a Debian 12/13 server: the steps of docs/install.md, in order.
#
#   sudo sh scripts/install-server.sh            # from a checkout or an unpacked release
#   sudo sh scripts/install-server.sh --root /srv/image   # into another root (an image, a test)
#
# What it does (each step is safe to run again; nothing existing is overwritten):
#   1. checks Python >= 3.11 with venv (apt-get install python3-venv)
#   2. creates the service user (system user, no login, no home outside /var/lib/satukanal)
#   3. creates /opt/satukanal (code, root-owned), /etc/satukanal (config and secrets,
#      root:satukanal 0750) with keys/, and /var/lib/satukanal (state, satukanal 0750)
#   4. installs the package into /opt/satukanal/venv
#   5. writes the encryption keys to /etc/satukanal/keys (0640, group satukanal) unless present
#   6. copies the example configuration to /etc/satukanal/satukanal.toml unless present
#   7. installs the systemd unit and reloads systemd (not started: configure first)
# With --root DIR every path above is under DIR and systemd is not touched; the unit and
# configuration are written exactly as on the target, so DIR can be an image's root.
set -eu

ROOT=""
SERVICE_USER=satukanal
# Debian's own Python where it is new enough: a service must not run an interpreter from
# someone's home directory (pyenv under /root), which its user cannot fully read.
PYTHON=python3
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHON=/usr/bin/python3
fi
SOURCE=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: --root DIR  --user NAME (default satukanal)  --python PATH  --source DIR"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
        --user) SERVICE_USER=${2:?--user needs a name}; shift 2 ;;
        --python) PYTHON=${2:?--python needs a path}; shift 2 ;;
        --source) SOURCE=${2:?--source needs a directory}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-server: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

say() { printf 'install-server: %s\n' "$*"; }
die() { printf 'install-server: %s\n' "$*" >&2; exit 1; }

ROOT=${ROOT%/}
PREFIX="$ROOT/opt/satukanal"
ETC="$ROOT/etc/satukanal"
STATE="$ROOT/var/lib/satukanal"
UNITS="$ROOT/etc/systemd/system"

[ "$(id -u)" = 0 ] || die "run as root (sudo): it creates a system user and root-owned folders"
[ -f "$SOURCE/pyproject.toml" ] && [ -f "$SOURCE/deploy/satukanal.service" ] \
    || die "$SOURCE is not a satukanal source tree (use --source)"

# 1. Python
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "satukanal needs Python 3.11 or newer ($PYTHON): apt-get install python3"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
    || die "Python's venv module is missing: apt-get install python3-venv"

# 2. The service user
if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --user-group --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin --comment "satukanal complaint aggregator" "$SERVICE_USER"
    say "created system user $SERVICE_USER"
fi
GROUP=$(id -gn "$SERVICE_USER")

# 3. Folders: code root-owned, secrets readable by the service's group only, state its own.
install -d -o root -g root -m 0755 "$PREFIX" "$UNITS"
install -d -o root -g "$GROUP" -m 0750 "$ETC" "$ETC/keys"
install -d -o "$SERVICE_USER" -g "$GROUP" -m 0750 "$STATE"

# 4. The package, in its own virtualenv (Debian's Python stays untouched)
[ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --disable-pip-version-check --upgrade "$SOURCE"
# The daemon runs its routing model in a child process: the service user must be able to
# run this interpreter and start one (an interpreter under /root, say, fails there).
if ! (cd / && runuser -u "$SERVICE_USER" -- "$PREFIX/venv/bin/python" -c \
        "import multiprocessing as m; m.get_context('spawn').Lock()") >/dev/null 2>&1; then
    die "user $SERVICE_USER cannot run $PREFIX/venv/bin/python (it links to $("$PYTHON" -c 'import sys; print(sys.base_prefix)')): remove $PREFIX/venv and run again with --python /usr/bin/python3"
fi
install -d -m 0755 "$PREFIX/docs" "$PREFIX/deploy"
install -m 0644 "$SOURCE/README.md" "$PREFIX/README.md"
for f in "$SOURCE"/docs/*.md; do install -m 0644 "$f" "$PREFIX/docs/"; done
install -m 0644 "$SOURCE"/deploy/satukanal.example.toml "$SOURCE"/deploy/satukanal.service \
    "$PREFIX/deploy/"
say "installed $("$PREFIX/venv/bin/python" -c 'import importlib.metadata as m; print("satukanal", m.version("satukanal"))') in $PREFIX/venv"

# 5. Encryption keys: written once, never replaced (they decrypt what is stored)
if [ -e "$ETC/keys/k1.key" ]; then
    say "keeping the existing keys in $ETC/keys"
else
    "$PREFIX/venv/bin/satukanal" keys generate --dir "$ETC/keys" --id k1 --group "$GROUP" \
        >/dev/null
    say "wrote $ETC/keys/k1.key and hmac.key (0640 root:$GROUP): back them up apart from the database"
fi

# 6. Configuration
if [ -e "$ETC/satukanal.toml" ]; then
    say "keeping the existing $ETC/satukanal.toml"
else
    install -o root -g "$GROUP" -m 0640 "$SOURCE/deploy/satukanal.example.toml" \
        "$ETC/satukanal.toml"
    say "wrote $ETC/satukanal.toml from the example: edit [lapor], [http] and the channels"
fi

# 7. The systemd unit (User=/Group= follow --user)
sed -e "s/^User=satukanal$/User=$SERVICE_USER/" -e "s/^Group=satukanal$/Group=$GROUP/" \
    "$SOURCE/deploy/satukanal.service" >"$UNITS/satukanal.service.new"
chmod 0644 "$UNITS/satukanal.service.new"
mv "$UNITS/satukanal.service.new" "$UNITS/satukanal.service"
if [ -z "$ROOT" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    say "installed satukanal.service (systemctl daemon-reload done; not started yet)"
else
    say "installed $UNITS/satukanal.service"
fi

cat <<EOF
install-server: next steps (docs/install.md):
  1. the database:   sudo -u postgres createuser $SERVICE_USER && sudo -u postgres createdb -O $SERVICE_USER satukanal
  2. LAPOR!:         put the client secret in /etc/satukanal/lapor.secret (chgrp $GROUP, chmod 0640)
                     and set base_url / client_id in /etc/satukanal/satukanal.toml
  3. check:          sudo -u $SERVICE_USER /opt/satukanal/venv/bin/satukanal --config /etc/satukanal/satukanal.toml config check --connect
  4. schema:         sudo -u $SERVICE_USER /opt/satukanal/venv/bin/satukanal --config /etc/satukanal/satukanal.toml migrate
  5. start:          systemctl enable --now satukanal && journalctl -u satukanal -f
EOF
