//! The operator surface: what `askerp serve` and `askerp check` refuse or report before a
//! single user is answered (issue "run it like a product").

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `askerp` with a clean `ASKERP_*` environment plus `env`, run in `dir`.
fn askerp(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_askerp"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("ASKERP_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("ASKERP_LOG__COLOR", "never");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs to completion; returns (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = askerp(dir, args, env).output().expect("run askerp");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A spawned server, killed when dropped.
pub struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Server {
    /// Spawns `args` with stderr to a file and waits until it logs "askerp is ready.";
    /// returns `Err(log)` when it exits first or not within 60 s.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Server, String> {
        let log = dir.join(format!("server-{}.log", std::process::id()));
        let mut cmd = askerp(dir, args, env);
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        let mut server = Server {
            child: cmd.spawn().expect("spawn askerp"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = server.log();
            if text.contains("askerp is ready.") {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exited with {status}: {text}"));
            }
            if Instant::now() > deadline {
                return Err(format!("not ready within 60 s: {text}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound and released; good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

const SERVE_ENV: [(&str, &str); 3] = [
    ("ASKERP_DINGTALK__APP_KEY", "k"),
    ("ASKERP_DINGTALK__APP_SECRET", "s"),
    ("ASKERP_SERVER__ADMIN_LISTEN", "127.0.0.1:0"),
];

/// A plain HTTP/1.0 request to a loopback address; returns (status, body).
fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let _ = write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Waits up to 20 s for `needle` in the server's log.
fn wait_for_log(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = server.log();
        if log.contains(needle) || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(unix)]
#[test]
fn sighup_reloads_and_a_bad_file_keeps_the_server_and_the_old_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let people = dir.path().join("people.toml");
    std::fs::write(&people, format!("version = 1\n{}", user("u.one", "E100"))).expect("dir");
    let listen = format!("127.0.0.1:{}", free_port());
    let admin = format!("127.0.0.1:{}", free_port());
    let people_path = people.to_str().expect("utf-8").to_string();
    let env = [
        ("ASKERP_DINGTALK__APP_KEY", "k"),
        ("ASKERP_DINGTALK__APP_SECRET", "s"),
        ("ASKERP_ERP__ALLOW_DEMO", "true"),
        ("ASKERP_SERVER__LISTEN", listen.as_str()),
        ("ASKERP_SERVER__ADMIN_LISTEN", admin.as_str()),
        ("ASKERP_DATA__DIRECTORY", people_path.as_str()),
    ];
    let server = Server::start(dir.path(), &["serve"], &env).expect("serve");
    let hup = |pid: u32| {
        let ok = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -HUP failed");
    };
    std::fs::write(
        &people,
        format!(
            "version = 1\n{}{}",
            user("u.one", "E100"),
            user("u.two", "E101")
        ),
    )
    .expect("dir");
    hup(server.pid());
    let log = wait_for_log(&server, "Reloaded directory");
    assert!(log.contains("users=2"), "no reload logged: {log}");
    // A bad file: the server keeps running and logs every problem.
    std::fs::write(
        &people,
        format!(
            "version = 1\n{}{}",
            user("u.one", "E100"),
            user("u.two", "E100")
        ),
    )
    .expect("dir");
    hup(server.pid());
    let log = wait_for_log(&server, "Reload refused");
    assert!(
        log.contains("employee_id E100 is used by 2 users: u.one, u.two"),
        "{log}"
    );
    let (status, _) = http(&admin, "GET", "/readyz");
    assert_eq!(status, 200, "the server did not survive: {}", server.log());
    // The same through the admin endpoint: the problems come back to the caller.
    let (status, body) = http(&admin, "POST", "/admin/reload");
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("employee_id E100 is used by 2 users"),
        "{body}"
    );
    let (status, _) = http(&listen, "GET", "/metrics");
    assert_eq!(status, 404, "/metrics on the public port");
    let (status, body) = http(&admin, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("askerp_reloads_ok_total 1"), "{body}");
    assert!(body.contains("askerp_reloads_failed_total 2"), "{body}");
}

#[test]
fn serve_refuses_the_demo_erp_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut env = SERVE_ENV.to_vec();
    env.push(("ASKERP_SERVER__LISTEN", &listen));
    let (code, _, err) = run(dir.path(), &["serve"], &env);
    assert_eq!(code, 78, "serve started on the demo ERP: {err}");
    for needle in [
        "erp.allow_demo = true",
        "ASKERP_ERP__ALLOW_DEMO",
        "inventory, sales, leave",
    ] {
        assert!(err.contains(needle), "{needle:?} missing: {err}");
    }
    // `check` says so too, without failing (the config itself is valid).
    let (code, out, err) = run(dir.path(), &["check", "--offline"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("erp.allow_demo"), "{out}");
    // Allowed explicitly, it serves.
    env.push(("ASKERP_ERP__ALLOW_DEMO", "true"));
    let server = Server::start(dir.path(), &["serve"], &env).expect("serve with allow_demo");
    drop(server);
    // `askerp demo` needs no such setting.
    let demo_env = [("ASKERP_SERVER__LISTEN", listen.as_str())];
    Server::start(dir.path(), &["demo"], &demo_env).expect("askerp demo");
}

/// A directory entry in the file format.
fn user(id: &str, employee: &str) -> String {
    format!(
        "[[user]]\ndingtalk_user_id = \"{id}\"\nemployee_id = \"{employee}\"\nname = \"{id}\"\nroles = [\"admin\"]\n"
    )
}

#[test]
fn check_names_every_duplicate_employee_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = [
        user("u.one", "E100"),
        user("u.two", "E100"),
        user("u.three", "E200"),
        user("u.four", "E200"),
        user("u.five", "E200"),
        user("u.six", "E300"),
    ]
    .concat();
    std::fs::write(
        dir.path().join("people.toml"),
        format!("version = 1\n{users}"),
    )
    .expect("directory");
    let env = [("ASKERP_DATA__DIRECTORY", "people.toml")];
    let (code, out, err) = run(dir.path(), &["check", "--offline"], &env);
    assert_eq!(code, 78, "{out}{err}");
    assert!(
        err.contains("employee_id E100 is used by 2 users: u.one, u.two"),
        "{err}"
    );
    assert!(
        err.contains("employee_id E200 is used by 3 users: u.three, u.four, u.five"),
        "{err}"
    );
    assert!(!err.contains("E300"), "{err}");
    // Fixed, the same file passes.
    let fixed = [user("u.one", "E100"), user("u.two", "E101")].concat();
    std::fs::write(
        dir.path().join("people.toml"),
        format!("version = 1\n{fixed}"),
    )
    .expect("directory");
    let (code, out, err) = run(dir.path(), &["check", "--offline"], &env);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn paths_in_the_config_file_are_found_beside_it_from_any_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let etc = dir.path().join("etc");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&etc).expect("etc");
    std::fs::create_dir_all(&elsewhere).expect("elsewhere");
    std::fs::write(
        etc.join("people.toml"),
        format!("version = 1\n{}", user("u.one", "E100")),
    )
    .expect("directory");
    std::fs::write(
        etc.join("askerp.toml"),
        "[data]\ndirectory = \"people.toml\"\n",
    )
    .expect("config");
    let config = etc.join("askerp.toml");
    let config = config.to_str().expect("utf-8 path");
    let (code, out, err) = run(&elsewhere, &["check", "--offline", "--config", config], &[]);
    assert_eq!(
        code, 0,
        "people.toml beside the config was not found: {out}{err}"
    );
    // The same relative path from the environment is relative to the working directory.
    let env = [("ASKERP_DATA__DIRECTORY", "people.toml")];
    let (code, _, err) = run(
        &elsewhere,
        &["check", "--offline", "--config", config],
        &env,
    );
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("data.directory = people.toml does not exist"),
        "{err}"
    );
}

#[test]
fn check_reports_syntax_and_value_errors_in_one_run_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("askerp.toml"),
        "[company]\ncurrency = \"dollars\"\nname = \"no closing quote\n[log]\nformat = \"fancy\"\n",
    )
    .expect("config");
    let (code, out, err) = run(
        dir.path(),
        &["check", "--offline", "--config", "askerp.toml"],
        &[],
    );
    assert_eq!(code, 78, "{out}{err}");
    for needle in [
        "askerp.toml line 3:",
        "company.currency = \"dollars\" is not an ISO 4217 code such as HKD (ASKERP_COMPANY__CURRENCY)",
        "log.format in askerp.toml = \"fancy\" is not one of text, json (the key can also be set with ASKERP_LOG__FORMAT)",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }
    assert!(err.contains("3 problem(s)"), "{err}");
    // A command-line mistake is a usage error, exit 2, distinct from a config error.
    let (code, _, err) = run(dir.path(), &["check", "--no-such-flag"], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(dir.path(), &["no-such-command"], &[]);
    assert_eq!(code, 2, "{err}");
}
