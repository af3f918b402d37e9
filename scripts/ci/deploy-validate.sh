#!/usr/bin/env bash
# Validates deploy/helm/askerp and deploy/compose.yaml offline (scripts/ci/deploy_validate.py
# says what is checked): renders the chart with Helm's own engine for several value sets,
# checks every manifest against the Kubernetes JSON schemas, checks the value sets the
# chart must refuse, and checks the compose file against the compose-spec schema.
#
# Installs into a virtualenv under .ci-servers/deploy-validate from PyPI (pinned):
# helm-python-sdk (Helm's Go library, Apache-2.0), kubernetes-validate (Kubernetes
# schemas shipped in the package, Apache-2.0) and check-jsonschema (the compose-spec
# schema vendored, Apache-2.0). After the install nothing is fetched. Idempotent: the
# virtualenv is reused while the pins below are unchanged. Run it, or source it from
# scripts/test-all; it exits (or returns) non-zero when anything fails.

_deploy_validate() {
  local root dir log pins
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  dir="$root/.ci-servers/deploy-validate"
  log="$dir/setup.log"
  pins="helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 check-jsonschema==0.39.0"
  mkdir -p "$dir"
  : > "$log"
  if [ "$(cat "$dir/venv/.installed" 2>/dev/null)" != "$pins" ]; then
    rm -rf "$dir/venv"
    if ! python3 -m venv "$dir/venv" >>"$log" 2>&1; then
      { apt-get update -q && apt-get install -y -q --no-install-recommends python3-venv; } >>"$log" 2>&1 &&
        python3 -m venv "$dir/venv" >>"$log" 2>&1 ||
        { echo "deploy-validate: no virtualenv (log: $log)" >&2; tail -n 20 "$log" >&2; return 1; }
    fi
    # shellcheck disable=SC2086
    "$dir/venv/bin/pip" install -q $pins >>"$log" 2>&1 ||
      { echo "deploy-validate: pip install failed (log tail follows)" >&2; tail -n 30 "$log" >&2; return 1; }
    echo "$pins" > "$dir/venv/.installed"
  fi
  "$dir/venv/bin/python" "$root/scripts/ci/deploy_validate.py"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _deploy_validate
else
  _deploy_validate
fi
