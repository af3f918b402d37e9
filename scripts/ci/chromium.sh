# Headless Chromium (Debian's `chromium` package) and playwright-core (npm) for the web
# chat's browser tests (tests/it/webchat.rs, which runs tests/webchat/browser.mjs).
# Source it from bash:
#   source scripts/ci/chromium.sh
# and it exports ASKERP_TEST_CHROMIUM (the browser binary) and ASKERP_TEST_PLAYWRIGHT
# (the node_modules folder holding playwright-core). Idempotent: the Debian package is
# installed only when missing (needs root), and node_modules under .ci-servers/webchat is
# reused while tests/webchat/package.json is unchanged. Nothing is started; the test runs
# `askerp demo` itself. Quiet: details go to .ci-servers/webchat/setup.log.

_chromium_main() {
  local root dir log started
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  dir="$root/.ci-servers/webchat"
  log="$dir/setup.log"
  started=$(date +%s)
  mkdir -p "$dir"
  : > "$log"

  _chromium_fail() {
    echo "chromium: setup failed ($1); last lines of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
  }

  local browser=""
  browser=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$browser" ] || ! command -v npm >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
      echo "chromium: chromium or npm not installed and not root; the web chat browser test will skip"
      return 0
    fi
    # Only what is missing: a machine whose Node.js came from elsewhere (with its own npm)
    # must not get Debian's npm on top, which would conflict with it.
    local pkgs=""
    [ -z "$browser" ] && pkgs="chromium"
    command -v npm >/dev/null || pkgs="$pkgs nodejs npm"
    # shellcheck disable=SC2086
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs ||
      { apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs; }; } \
      >>"$log" 2>&1 || { _chromium_fail "apt-get install$pkgs"; return 1; }
    browser=$(command -v chromium || command -v chromium-browser || true)
    [ -n "$browser" ] || { _chromium_fail "no chromium after apt-get install"; return 1; }
  fi

  # The fixture's package.json is copied so node_modules never lands in the source tree.
  if ! cmp -s "$root/tests/webchat/package.json" "$dir/package.json" || [ ! -d "$dir/node_modules/playwright-core" ]; then
    cp "$root/tests/webchat/package.json" "$dir/package.json"
    # playwright-core brings no browser of its own; it drives the Debian one.
    (cd "$dir" && npm install --no-audit --no-fund >>"$log" 2>&1) \
      || { _chromium_fail "npm install playwright-core"; return 1; }
  fi

  export ASKERP_TEST_CHROMIUM="$browser"
  export ASKERP_TEST_PLAYWRIGHT="$dir/node_modules"
  echo "chromium: $("$browser" --version 2>/dev/null | head -n 1) with playwright-core, ready in $(( $(date +%s) - started )) s"
}

_chromium_main
