#!/usr/bin/env bash
# A Redis server for the shared-state (two-replica) tests: installs Debian's redis-server
# when missing (as root), starts one throwaway server on 127.0.0.1 with its data under
# /tmp, and exports its address as ASKERP_TEST_REDIS_URL. Source it
# (`. scripts/ci/redis.sh`) so the variable reaches the tests. Idempotent: a server
# already running from an earlier run is reused. It listens only on loopback, keeps
# nothing on disk and holds nothing but test keys.

askerp_redis() {
  local log=/tmp/askerp-ci-redis.log dir=/tmp/askerp-ci-redis port=56379
  : >"$log"
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "redis: redis-server not installed and not root; shared-state tests will skip"
      return 0
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >>"$log" 2>&1 ||
      { apt-get update -q >>"$log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >>"$log" 2>&1; } ||
      { echo "redis: apt-get install failed (log tail follows)" >&2; tail -n 30 "$log" >&2; return 1; }
  fi
  if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >>"$log" 2>&1 ||
      { echo "redis: redis-server did not start" >&2; cat "$dir/redis.log" >&2 2>/dev/null; return 1; }
    local i
    for i in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 || { echo "redis: not answering on $port" >&2; return 1; }
  export ASKERP_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  # Where the tests find the server binary, to start and stop their own (Redis going
  # away mid-run).
  ASKERP_TEST_REDIS_SERVER="$(command -v redis-server)"
  export ASKERP_TEST_REDIS_SERVER
  echo "redis: $ASKERP_TEST_REDIS_URL"
}
askerp_redis
