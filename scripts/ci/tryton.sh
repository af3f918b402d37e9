# Installs, seeds and starts a Tryton 8.2 server (PyPI, SQLite) on 127.0.0.1 for the
# tryton connector tests, and exports ASKERP_TEST_TRYTON_URL. Source it from bash:
#   source scripts/ci/tryton.sh
# Idempotent: the virtualenv and the seeded database under .ci-servers/tryton are reused,
# and a server left running by an earlier call is reused. Quiet: everything goes to
# .ci-servers/tryton/setup.log; one summary line is printed.

_tryton_main() {
  local root dir log port started
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  dir="$root/.ci-servers/tryton"
  log="$dir/setup.log"
  port=${ASKERP_TEST_TRYTON_PORT:-18000}
  started=$(date +%s)
  mkdir -p "$dir/data"
  : > "$log"

  _tryton_fail() {
    echo "tryton: setup failed ($1); last lines of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
  }
  _tryton_up() {
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/rpc/" \
      -H 'Content-Type: application/json' \
      -d '{"id":0,"method":"common.server.version","params":[]}'
  }

  if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null && _tryton_up; then
    export ASKERP_TEST_TRYTON_URL="http://127.0.0.1:$port"
    echo "tryton: reusing server on $ASKERP_TEST_TRYTON_URL"
    return 0
  fi

  if ! command -v curl >/dev/null || ! command -v python3 >/dev/null; then
    { apt-get update -q && apt-get install -y -q --no-install-recommends curl python3 python3-venv; } >>"$log" 2>&1 \
      || { _tryton_fail "apt-get install curl python3"; return 1; }
  fi
  if [ ! -f "$dir/venv/.installed" ]; then
    rm -rf "$dir/venv"
    python3 -m venv "$dir/venv" >>"$log" 2>&1 \
      || { rm -rf "$dir/venv"; { apt-get update -q && apt-get install -y -q --no-install-recommends python3-venv; } >>"$log" 2>&1 \
           && python3 -m venv "$dir/venv" >>"$log" 2>&1; } \
      || { _tryton_fail "virtualenv"; return 1; }
    "$dir/venv/bin/pip" install -q 'trytond>=8.2,<8.3' 'trytond-sale>=8.2,<8.3' \
      'trytond-stock>=8.2,<8.3' 'trytond-company>=8.2,<8.3' 'trytond-product>=8.2,<8.3' \
      'trytond-party>=8.2,<8.3' 'proteus>=8.2,<8.3' >>"$log" 2>&1 \
      || { _tryton_fail "pip install"; return 1; }
    touch "$dir/venv/.installed"
  fi

  cat > "$dir/trytond.conf" <<CONF
[database]
uri = sqlite://
path = $dir/data
[web]
listen = 127.0.0.1:$port
[session]
# the tests try a wrong password; keep the login rate limit out of their way
max_attempt = 1000
CONF

  if [ ! -f "$dir/data/.seeded" ]; then
    rm -f "$dir/data/erp.sqlite"
    touch "$dir/data/erp.sqlite"
    echo admin > "$dir/admin.pass"
    TRYTONPASSFILE="$dir/admin.pass" "$dir/venv/bin/trytond-admin" -c "$dir/trytond.conf" -d erp \
      -u sale stock company product party --activate-dependencies \
      --email admin@example.com >>"$log" 2>&1 || { _tryton_fail "database init"; return 1; }
    "$dir/venv/bin/python" "$root/tests/fixtures/tryton/seed.py" "$dir/trytond.conf" erp >>"$log" 2>&1 \
      || { _tryton_fail "seed"; return 1; }
    touch "$dir/data/.seeded"
  fi

  # -d loads the database at start (8.2 fails logins otherwise).
  "$dir/venv/bin/trytond" -c "$dir/trytond.conf" -d erp >>"$dir/server.log" 2>&1 &
  echo $! > "$dir/server.pid"
  local i
  for i in $(seq 1 100); do
    _tryton_up && break
    sleep 0.2
  done
  _tryton_up || { cat "$dir/server.log" >>"$log"; _tryton_fail "server start"; return 1; }

  # Stop the server when the calling shell exits, after whatever it already does then.
  local previous
  previous=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  # shellcheck disable=SC2064
  trap "kill $(cat "$dir/server.pid") 2>/dev/null; $previous" EXIT

  export ASKERP_TEST_TRYTON_URL="http://127.0.0.1:$port"
  echo "tryton: 8.2 on $ASKERP_TEST_TRYTON_URL, ready in $(( $(date +%s) - started )) s"
}

_tryton_main
