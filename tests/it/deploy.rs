//! `deploy/compose.yaml` and `docs/deploy.md`: the compose file has the structure the
//! documentation promises (services, healthchecks on the admin port, secrets as files that
//! askerp reads through `*_FILE`), its askerp environment and configuration pass the real
//! loader through `askerp check`, and every TOML snippet in docs/deploy.md loads.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn compose() -> Value {
    let text = std::fs::read_to_string(Path::new(ROOT).join("deploy/compose.yaml"))
        .expect("deploy/compose.yaml");
    serde_yaml_ng::from_str(&text).expect("compose.yaml is YAML")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_has_healthy_services_file_secrets_and_a_private_admin_port() {
    let c = compose();
    let services = &c["services"];
    for name in ["askerp", "postgres", "redis"] {
        let test = strings(&services[name]["healthcheck"]["test"]);
        assert!(
            test.first().is_some_and(|t| t == "CMD" || t == "CMD-SHELL"),
            "{name} has no healthcheck: {test:?}"
        );
    }
    let askerp = &services["askerp"];
    let probe = strings(&askerp["healthcheck"]["test"]).join(" ");
    assert!(
        probe.contains("/9090") && probe.contains("/readyz"),
        "askerp's healthcheck must ask /readyz on the admin port: {probe}"
    );
    for dep in ["postgres", "redis"] {
        assert_eq!(
            askerp["depends_on"][dep]["condition"], "service_healthy",
            "askerp must wait for {dep}"
        );
    }
    // Only the callback port is published; the admin port stays inside the network.
    let ports = strings(&askerp["ports"]);
    assert_eq!(ports, vec!["8080:8080".to_string()], "{ports:?}");
    let env = &askerp["environment"];
    assert_eq!(env["ASKERP_SERVER__ADMIN_LISTEN"], "0.0.0.0:9090");
    // Every secret is a file that exists in no environment value: each `*_FILE` names a
    // secret askerp mounts, and each top-level secret is a file under ./secrets/.
    let mounted = strings(&askerp["secrets"]);
    let defined = c["secrets"].as_object().expect("top-level secrets");
    for (name, def) in defined {
        let file = def["file"].as_str().unwrap_or_default();
        assert!(file.starts_with("./secrets/"), "secret {name}: {file:?}");
    }
    let env = env.as_object().expect("askerp environment");
    let mut file_vars = 0;
    for (var, value) in env {
        let value = value.as_str().unwrap_or_default();
        if let Some(secret) = value.strip_prefix("/run/secrets/") {
            assert!(
                var.ends_with("_FILE"),
                "{var} carries a secret path but is no *_FILE"
            );
            assert!(
                mounted.contains(&secret.to_string()),
                "{var}: {secret} not mounted"
            );
            assert!(defined.contains_key(secret), "{var}: {secret} not defined");
            file_vars += 1;
        }
        for word in ["SECRET", "PASSWORD", "POSTGRES_URL", "API_KEY", "TOKEN"] {
            if var.contains(word) {
                assert!(
                    var.ends_with("_FILE"),
                    "{var} = {value:?}: secrets go as files"
                );
            }
        }
    }
    assert_eq!(file_vars, 2, "DingTalk secret and audit URL as files");
    let pg = services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(pg, "/run/secrets/postgres_password");
    // The mounted configuration is the one in the repository.
    let config = c["configs"]["askerp_config"]["file"]
        .as_str()
        .unwrap_or_default();
    assert!(
        Path::new(ROOT).join("deploy").join(config).exists(),
        "{config}"
    );
}

/// The askerp service's environment with compose's `${VAR:-default}` / `${VAR:?msg}`
/// resolved (`app_key` to a stand-in) and `/run/secrets/x` pointing at `secrets/x`.
fn service_env(secrets: &Path) -> Vec<(String, String)> {
    let c = compose();
    let env = c["services"]["askerp"]["environment"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    env.into_iter()
        .map(|(k, v)| {
            let v = v.as_str().unwrap_or_default().to_string();
            let v = if let Some(name) = v.strip_prefix("/run/secrets/") {
                secrets.join(name).display().to_string()
            } else if let Some(inner) = v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                match inner.split_once(":-") {
                    Some((_, default)) => default.to_string(),
                    None => "dingcomposeappkey".to_string(),
                }
            } else {
                v
            };
            (k, v)
        })
        .collect()
}

fn check(config: &Path, env: &[(String, String)], dir: &Path) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_askerp"));
    cmd.args(["check", "--offline", "--config"])
        .arg(config)
        .current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("ASKERP_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run askerp");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_compose_configuration_and_environment_pass_the_real_loader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("secrets");
    for (name, value) in [
        ("dingtalk_app_secret", "compose-secret\n"),
        (
            "audit_postgres_url",
            "postgres://askerp:pw@postgres:5432/askerp\n",
        ),
    ] {
        std::fs::write(secrets.join(name), value).expect("secret");
    }
    let env = service_env(&secrets);
    let config = Path::new(ROOT).join("deploy/compose/askerp.toml");
    let (code, out) = check(&config, &env, dir.path());
    assert_eq!(code, 0, "{out}");
    // As shipped it still names the demo ERP, which `serve` refuses until told otherwise.
    assert!(out.contains("erp.allow_demo"), "{out}");
    // Without its secret file, the loader says which variable and file.
    std::fs::remove_file(secrets.join("audit_postgres_url")).expect("remove");
    let (code, out) = check(&config, &env, dir.path());
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("ASKERP_AUDIT__POSTGRES_URL_FILE"), "{out}");
}

#[test]
fn every_toml_snippet_in_the_deploy_guide_loads() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/deploy.md")).expect("doc");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("closed block");
        let path = dir.path().join(format!("snippet-{checked}.toml"));
        std::fs::write(&path, &body[..end]).expect("write");
        let (code, out) = check(&path, &[], dir.path());
        assert_eq!(
            code,
            0,
            "docs/deploy.md snippet {checked}:\n{}\n{out}",
            &body[..end]
        );
        checked += 1;
        rest = &body[end + 3..];
    }
    assert!(checked >= 1, "no TOML snippet found");
}
