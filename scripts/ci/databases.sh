#!/usr/bin/env bash
# PostgreSQL and MariaDB for the sql connector tests: installs the Debian packages when
# missing (as root), starts one throwaway server of each on 127.0.0.1 with its data under
# /tmp, creates the test user and database, and exports their addresses:
#   ASKERP_TEST_PG_URL, ASKERP_TEST_MYSQL_URL (no password in them) and
#   ASKERP_TEST_DB_PASSWORD.
# Source it (`. scripts/ci/databases.sh`) so the variables reach the tests. Idempotent: a
# server already running from an earlier run is reused. The servers are left running; they
# listen only on loopback and hold nothing but test data.

askerp_databases() {
  local log=/tmp/askerp-ci-databases.log
  local pg_dir=/tmp/askerp-ci-pg pg_port=55432
  local my_dir=/tmp/askerp-ci-mariadb my_port=53306
  local password=askerp-test
  : >"$log"

  _askerp_db_fail() {
    echo "databases: $1 (log tail follows)" >&2
    tail -n 30 "$log" >&2
    return 1
  }

  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v mariadbd >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "databases: postgresql/mariadb-server not installed and not root; sql server tests will skip"
      return 0
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      postgresql mariadb-server >>"$log" 2>&1 ||
      { apt-get update -q >>"$log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
          postgresql mariadb-server >>"$log" 2>&1; } || { _askerp_db_fail "apt-get install failed"; return 1; }
  fi

  # PostgreSQL refuses to run as root: run it as the postgres user.
  _askerp_as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  _askerp_as_my() { if [ "$(id -u)" = 0 ]; then runuser -u mysql -- "$@"; else "$@"; fi; }
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

  # pg_stat_statements lets the tests count the statements that reached the server.
  if _askerp_as_pg "$pgbin/pg_ctl" -D "$pg_dir" status >>"$log" 2>&1 &&
    ! grep -q pg_stat_statements "$pg_dir/postmaster.opts" 2>/dev/null; then
    _askerp_as_pg "$pgbin/pg_ctl" -D "$pg_dir" -w stop >>"$log" 2>&1 || true
  fi
  if ! _askerp_as_pg "$pgbin/pg_ctl" -D "$pg_dir" status >>"$log" 2>&1; then
    rm -rf "$pg_dir"
    mkdir -p "$pg_dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_dir"
    _askerp_as_pg "$pgbin/initdb" -D "$pg_dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      >>"$log" 2>&1 || { _askerp_db_fail "initdb failed"; return 1; }
    _askerp_as_pg "$pgbin/pg_ctl" -D "$pg_dir" -w -l "$pg_dir/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c shared_preload_libraries=pg_stat_statements" start >>"$log" 2>&1 ||
      { cat "$pg_dir/server.log" >>"$log" 2>/dev/null; _askerp_db_fail "PostgreSQL did not start"; return 1; }
  fi
  _askerp_as_pg "$pgbin/psql" -h "$pg_dir" -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -q >>"$log" 2>&1 <<SQL || { _askerp_db_fail "PostgreSQL setup failed"; return 1; }
SELECT 'CREATE ROLE askerp LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'askerp')\gexec
ALTER ROLE askerp PASSWORD '$password';
SELECT 'CREATE DATABASE askerp_test OWNER askerp' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'askerp_test')\gexec
\c askerp_test
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL

  if ! mariadb-admin --socket="$my_dir/mysqld.sock" -uroot ping >>"$log" 2>&1; then
    rm -rf "$my_dir"
    mkdir -p "$my_dir"
    [ "$(id -u)" = 0 ] && chown mysql:mysql "$my_dir"
    _askerp_as_my mariadb-install-db --no-defaults --datadir="$my_dir/data" --auth-root-authentication-method=normal \
      --skip-test-db >>"$log" 2>&1 || { _askerp_db_fail "mariadb-install-db failed"; return 1; }
    _askerp_as_my nohup mariadbd --no-defaults --datadir="$my_dir/data" --bind-address=127.0.0.1 --port="$my_port" \
      --socket="$my_dir/mysqld.sock" --pid-file="$my_dir/mysqld.pid" --skip-log-bin \
      --log-error="$my_dir/error.log" >>"$log" 2>&1 &
    local i
    for i in $(seq 1 60); do
      mariadb-admin --socket="$my_dir/mysqld.sock" -uroot ping >/dev/null 2>&1 && break
      sleep 0.5
    done
    mariadb-admin --socket="$my_dir/mysqld.sock" -uroot ping >>"$log" 2>&1 ||
      { cat "$my_dir/error.log" >>"$log" 2>/dev/null; _askerp_db_fail "MariaDB did not start"; return 1; }
  fi
  mariadb --socket="$my_dir/mysqld.sock" -uroot >>"$log" 2>&1 <<SQL || { _askerp_db_fail "MariaDB setup failed"; return 1; }
CREATE USER IF NOT EXISTS 'askerp'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS 'askerp'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'askerp'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'askerp'@'localhost';
CREATE DATABASE IF NOT EXISTS askerp_test;
SQL

  export ASKERP_TEST_PG_URL="postgres://askerp@127.0.0.1:$pg_port/askerp_test"
  export ASKERP_TEST_MYSQL_URL="mysql://askerp@127.0.0.1:$my_port/askerp_test"
  export ASKERP_TEST_DB_PASSWORD="$password"
  echo "databases: PostgreSQL on 127.0.0.1:$pg_port, MariaDB on 127.0.0.1:$my_port (log: $log)"
}

askerp_databases
