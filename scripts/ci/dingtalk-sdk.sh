# Sourced by scripts/test-all: installs DingTalk's official Python Stream SDK
# (`dingtalk-stream` from PyPI) into a virtualenv, so a test can run a minimal bot with it
# against askerp's DingTalk simulator. Idempotent and quiet: the log goes to a file, one
# summary line is printed, and the log tail on failure.
# Exports ASKERP_TEST_SDK_PYTHON (the virtualenv's python).

sdk_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sdk_dir="${ASKERP_CI_DIR:-$sdk_root/target/ci}/dingtalk-sdk"
sdk_log="$sdk_dir/setup.log"
sdk_version="0.24.3"
mkdir -p "$sdk_dir"

askerp_sdk_setup() {
  if [ -x "$sdk_dir/venv/bin/python" ] \
    && "$sdk_dir/venv/bin/python" -c "import dingtalk_stream" 2>/dev/null \
    && [ "$("$sdk_dir/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("dingtalk-stream"))' 2>/dev/null)" = "$sdk_version" ]; then
    return 0
  fi
  # A fresh Debian 12 has python3 but may lack venv support.
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q && apt-get install -y -q python3 python3-venv python3-pip
    fi
  fi
  rm -rf "$sdk_dir/venv"
  python3 -m venv "$sdk_dir/venv" \
    && "$sdk_dir/venv/bin/python" -m pip install -q --disable-pip-version-check "dingtalk-stream==$sdk_version"
}

if askerp_sdk_setup >"$sdk_log" 2>&1; then
  export ASKERP_TEST_SDK_PYTHON="$sdk_dir/venv/bin/python"
  echo "== DingTalk Python SDK: dingtalk-stream $sdk_version ready ($ASKERP_TEST_SDK_PYTHON)"
else
  echo "== DingTalk Python SDK: setup FAILED; last lines of $sdk_log:" >&2
  tail -n 20 "$sdk_log" >&2
  unset ASKERP_TEST_SDK_PYTHON
  return 1 2>/dev/null || exit 1
fi
