"""Validates askerp's deployment files offline; run by scripts/ci/deploy-validate.sh.

- deploy/helm/askerp is linted (`helm lint --strict`) and rendered by Helm's own template engine (PyPI helm-python-sdk
  bundles Helm's Go library, so no helm binary and no cluster are needed) for several
  value sets, and every manifest is checked against the Kubernetes JSON schemas that
  PyPI kubernetes-validate ships, in strict mode (an unknown or misspelt field fails).
- Beyond the schemas, what the chart promises: probes on the admin port, the admin port
  out of the Service and the Ingress, secrets as files with the *_FILE variables askerp
  reads, a grace period longer than askerp's drain and grace, a non-root read-only
  container, checksums that change with the configuration.
- Value sets askerp cannot run with are refused by the chart with a message naming the
  fix (several replicas without Redis, a shared file audit, pushes on every replica).
- deploy/compose.yaml is checked by check-jsonschema against the compose-spec schema it
  vendors.

Exits non-zero with every problem listed; prints one summary line when all pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes_validate
import yaml
from helm_python.chart import Chart, lint
from helm_python.errors import HelmError

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "askerp"
# The oldest Kubernetes release still supported upstream when this was written, and the
# newest the installed kubernetes-validate knows.
_LATEST = ".".join(kubernetes_validate.utils.latest_version().split(".")[:2])
K8S_VERSIONS = ["1.33.0", f"{_LATEST}.0"]

SECRET_FILE_VARS = {
    "dingtalk_app_secret": "ASKERP_DINGTALK__APP_SECRET_FILE",
    "card_callback_token": "ASKERP_DINGTALK__CARD_CALLBACK_TOKEN_FILE",
    "audit_postgres_url": "ASKERP_AUDIT__POSTGRES_URL_FILE",
    "state_url": "ASKERP_STATE__URL_FILE",
    "llm_api_key": "ASKERP_LLM__API_KEY_FILE",
}

REPLICATED = {
    "replicaCount": 3,
    "state": {"backend": "redis"},
    "audit": {"sink": "postgres"},
    "push": {"enabled": False},
    "persistence": {"enabled": False},
    "dingtalk": {"appKey": "dingexampleappkey"},
    "secrets": {
        "values": {
            "dingtalk_app_secret": "s3cret",
            "state_url": "redis://:pw@redis:6379/0",
            "audit_postgres_url": "postgres://askerp:pw@postgres:5432/askerp",
            "card_callback_token": "card-token-value-x",
        }
    },
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "cardCallbacks": True,
        "charts": True,
        "tls": [{"hosts": ["askerp.example.com"], "secretName": "askerp-tls"}],
    },
    "autoscaling": {"enabled": True},
    # The shipped files, so the rendered pod's configuration passes `askerp check`.
    "data": {
        "directory": (ROOT / "config" / "demo-directory.toml").read_text(),
        "policy": (ROOT / "config" / "policy.toml").read_text(),
        "intents": {p.name: p.read_text() for p in sorted((ROOT / "intents").glob("*.toml"))},
    },
    "erp": {"allowDemo": True},
}

VALUE_SETS = {
    "defaults": {},
    "replicated": REPLICATED,
    "existing-secret": {
        "state": {"backend": "redis"},
        "secrets": {
            "existingSecret": "askerp-managed",
            "existingSecretKeys": ["dingtalk_app_secret", "state_url"],
        },
        "persistence": {"existingClaim": "askerp-data"},
    },
}

# (values, what the refusal must say)
REFUSED = [
    ({"replicaCount": 2}, "needs shared state: set state.backend=redis"),
    ({"autoscaling": {"enabled": True}}, "needs shared state: set state.backend=redis"),
    ({"state": {"backend": "redis"}}, "the secret key state_url"),
    (
        {
            "replicaCount": 2,
            "state": {"backend": "redis"},
            "secrets": {"values": {"state_url": "redis://r:6379/0"}},
        },
        "cannot share one file audit log",
    ),
    (
        {
            "replicaCount": 2,
            "state": {"backend": "redis"},
            "audit": {"sink": "postgres"},
            "persistence": {"enabled": False},
            "secrets": {
                "values": {"state_url": "redis://r:6379/0", "audit_postgres_url": "postgres://p/a"}
            },
        },
        "the push scheduler is not replica-safe",
    ),
    (
        {
            "replicaCount": 2,
            "state": {"backend": "redis"},
            "audit": {"sink": "postgres"},
            "push": {"enabled": False},
            "secrets": {
                "values": {"state_url": "redis://r:6379/0", "audit_postgres_url": "postgres://p/a"}
            },
        },
        "cannot share one ReadWriteOnce volume",
    ),
    ({"audit": {"sink": "postgres"}}, "needs the secret key audit_postgres_url"),
    ({"persistence": {"enabled": False}}, "audit.sink=file needs persistence.enabled=true"),
    ({"secrets": {"values": {"app_secret": "x"}}}, 'unknown key "app_secret"'),
    ({"state": {"backend": "etcd"}}, "state.backend must be memory or redis"),
]


def render(chart: Chart, values: dict) -> list[dict]:
    out = chart.render(values, name="askerp", namespace="erp")
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def check_promises(name: str, values: dict, docs: list[dict], problems: list[str]) -> None:
    def expect(cond: bool, what: str) -> None:
        if not cond:
            problems.append(f"{name}: {what}")

    (deploy,) = by_kind(docs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    expect(ports == {"http": 8080, "admin": 9090}, f"container ports {ports}")
    expect(
        container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"},
        "liveness probe is /healthz on the admin port",
    )
    expect(
        container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"},
        "readiness probe is /readyz on the admin port",
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    drain = int(env["ASKERP_SERVER__SHUTDOWN_DRAIN_SECS"])
    grace = int(env["ASKERP_SERVER__SHUTDOWN_GRACE_SECS"])
    expect(
        pod["terminationGracePeriodSeconds"] > drain + grace,
        f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} > {drain} + {grace}",
    )
    expect(env["ASKERP_SERVER__ADMIN_LISTEN"] == "0.0.0.0:9090", "admin listener on 9090")
    sc = container["securityContext"]
    expect(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
    expect(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
    expect(sc.get("capabilities", {}).get("drop") == ["ALL"], "all capabilities dropped")
    expect(pod["securityContext"].get("runAsNonRoot") is True, "runAsNonRoot")
    expect(container.get("resources", {}).get("requests"), "resource requests")
    annotations = deploy["spec"]["template"]["metadata"].get("annotations", {})
    for a in ("checksum/config", "checksum/data", "checksum/secret"):
        expect(len(annotations.get(a, "")) == 64, f"{a} annotation")
    # Secrets: a *_FILE variable for each key, pointing into the mounted Secret, and no
    # secret value in the environment.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret_keys = set()
    for s in by_kind(docs, "Secret"):
        secret_keys |= set(s.get("stringData", {}))
    listed = values.get("secrets", {}).get("existingSecretKeys", [])
    keys = set(listed) if values.get("secrets", {}).get("existingSecret") else secret_keys
    for key in keys:
        var = SECRET_FILE_VARS[key]
        expect(env.get(var) == f"/run/secrets/askerp/{key}", f"{var} names the mounted file")
    for var, value in env.items():
        expect(
            not var.endswith(("_SECRET", "_PASSWORD", "_TOKEN", "_URL", "_KEY"))
            or var == "ASKERP_DINGTALK__APP_KEY",
            f"secret-like variable {var} with a value",
        )
        for secret in REPLICATED["secrets"]["values"].values():
            expect(secret not in str(value), f"secret value in {var}")
    if keys:
        expect(mounts.get("secrets") == "/run/secrets/askerp", "secrets mounted as files")
        want = values.get("secrets", {}).get("existingSecret") or "askerp"
        expect(volumes["secrets"]["secret"]["secretName"] == want, "the right Secret mounted")
    # Every ConfigMap volume exists in the rendering.
    cms = {c["metadata"]["name"] for c in by_kind(docs, "ConfigMap")}
    for v in volumes.values():
        if "configMap" in v:
            expect(v["configMap"]["name"] in cms, f"ConfigMap {v['configMap']['name']} rendered")
    data = values.get("data", {})
    if data.get("directory"):
        expect(env.get("ASKERP_DATA__DIRECTORY") == "/etc/askerp/directory/directory.toml", "directory path")
    if data.get("policy"):
        expect(env.get("ASKERP_DATA__POLICY") == "/etc/askerp/policy/policy.toml", "policy path")
    if data.get("intents"):
        expect(env.get("ASKERP_DATA__INTENTS_DIR") == "/etc/askerp/intents", "intents path")
    # The Service carries the callback port only; the Ingress the callback paths only.
    (svc,) = by_kind(docs, "Service")
    expect(
        [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"],
        f"Service ports {svc['spec']['ports']}",
    )
    for ing in by_kind(docs, "Ingress"):
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                expect(
                    p["path"] in ("/dingtalk/callback", "/dingtalk/card", "/charts/"),
                    f"Ingress path {p['path']}",
                )
                expect(p["backend"]["service"]["port"] == {"name": "http"}, "Ingress to the http port")
    expect(len(by_kind(docs, "PodDisruptionBudget")) == 1, "a PodDisruptionBudget")
    hpa = values.get("autoscaling", {}).get("enabled", False)
    expect(len(by_kind(docs, "HorizontalPodAutoscaler")) == (1 if hpa else 0), "HPA when enabled")
    expect(("replicas" in deploy["spec"]) != hpa, "replicas unless autoscaled")
    several = hpa or values.get("replicaCount", 1) > 1
    expect(
        deploy["spec"]["strategy"]["type"] == ("RollingUpdate" if several else "Recreate"),
        "RollingUpdate with several replicas, Recreate with one",
    )


def askerp_binary() -> Path | None:
    """The askerp binary `askerp check` runs from: ASKERP_BIN, else cargo's debug build."""
    if os.environ.get("ASKERP_BIN"):
        return Path(os.environ["ASKERP_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    exe = target / "debug" / "askerp"
    return exe if exe.exists() else None


def check_loads(name: str, docs: list[dict], exe: Path, problems: list[str]) -> None:
    """Lays out the pod's files as the chart mounts them (ConfigMaps, the Secret with
    stand-in values for an existing one) under a temporary root, and runs
    `askerp check --offline` with the pod's environment: the configuration, the data
    files and every ASKERP_* variable the chart sets must pass the real loader."""
    (deploy,) = by_kind(docs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        volumes = {v["name"]: v for v in pod["volumes"]}
        cms = {c["metadata"]["name"]: c for c in by_kind(docs, "ConfigMap")}
        secrets = {s["metadata"]["name"]: s for s in by_kind(docs, "Secret")}
        for mount in container["volumeMounts"]:
            target = root / mount["mountPath"].lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            volume = volumes[mount["name"]]
            files: dict[str, str] = {}
            if "configMap" in volume:
                files = cms[volume["configMap"]["name"]].get("data", {})
            elif "secret" in volume:
                secret = secrets.get(volume["secret"]["secretName"])
                files = secret.get("stringData", {}) if secret else {}
            for file, text in files.items():
                (target / file).write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASKERP_")}
        for e in container["env"]:
            value = e["value"]
            if value.startswith(("/etc/askerp/", "/run/secrets/")):
                path = root / value.lstrip("/")
                if not path.exists():
                    # A key of an existing Secret: a stand-in value of the right shape.
                    stand_in = "redis://127.0.0.1:6379/0" if "state_url" in value else "stand-in"
                    path.write_text(stand_in)
                value = str(path)
            env[e["name"]] = value
        args = container["args"]
        config = root / args[args.index("--config") + 1].lstrip("/")
        run = subprocess.run(
            [str(exe), "check", "--offline", "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=False,
        )
        if run.returncode != 0:
            problems.append(f"{name}: askerp check --offline refuses the pod's configuration:\n{run.stdout}{run.stderr}")


def main() -> int:
    chart = Chart.load(str(CHART))
    problems: list[str] = []
    manifests = 0
    exe = askerp_binary()
    if exe is None:
        if os.environ.get("CI"):
            problems.append("no askerp binary to run `askerp check` with (build it, or set ASKERP_BIN)")
        else:
            print("deploy-validate: NOTICE: no askerp binary (cargo build, or ASKERP_BIN): the loader check is skipped", file=sys.stderr)
    for name, values in VALUE_SETS.items():
        # `helm lint --strict`: warnings count as problems (an icon is only suggested).
        report = lint(str(CHART), values, strict=True)
        for m in report.get("messages", []):
            if m.get("severity", 0) >= 2:
                problems.append(f"{name}: helm lint: {m.get('path')}: {m.get('error')}")
        for err in report.get("errors", []):
            problems.append(f"{name}: helm lint: {err}")
        try:
            docs = render(chart, values)
        except HelmError as e:
            problems.append(f"{name}: does not render: {e}")
            continue
        for doc in docs:
            manifests += 1
            for version in K8S_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except Exception as e:  # noqa: BLE001 - every schema failure is reported
                    kind = doc.get("kind")
                    first = str(e).splitlines()[0] if str(e) else repr(e)
                    problems.append(f"{name}: {kind} {doc['metadata']['name']} (Kubernetes {version}): {first}")
        try:
            check_promises(name, values, docs, problems)
        except (KeyError, ValueError, TypeError) as e:
            problems.append(f"{name}: missing part: {e!r}")
        if exe is not None:
            check_loads(name, docs, exe, problems)

    # A changed configuration changes the checksum, so `helm upgrade` rolls the pods.
    def checksum(values: dict) -> str:
        (deploy,) = by_kind(render(chart, values), "Deployment")
        return deploy["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    if checksum({}) == checksum({"config": "[log]\nformat = \"text\"\n"}):
        problems.append("checksum/config does not change with the configuration")

    for values, message in REFUSED:
        try:
            render(chart, values)
            problems.append(f"rendered, should be refused ({message}): {values}")
        except HelmError as e:
            if message not in str(e):
                problems.append(f"refused with {e!s:.300}, expected to say {message!r}: {values}")

    compose = ROOT / "deploy" / "compose.yaml"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(compose),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        problems.append(f"deploy/compose.yaml against the compose-spec schema:\n{run.stdout}{run.stderr}")

    if problems:
        print(f"deploy-validate: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(
        f"deploy-validate: ok: helm lint clean, {manifests} manifests from {len(VALUE_SETS)} value sets valid "
        f"against Kubernetes {', '.join(K8S_VERSIONS)} (strict), {len(REFUSED)} value sets "
        "refused as they must be, "
        + ("each pod's configuration passes askerp check, " if exe else "")
        + "deploy/compose.yaml valid against the compose spec"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
