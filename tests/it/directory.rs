//! Directory sync: from an HR system's CSV export and from DingTalk's contacts served by
//! the simulator in DingTalk's wire format, merged, written, audited and checked.

use std::path::{Path, PathBuf};
use std::time::Duration;

use askerp::config::Config;
use askerp::dingtalk::sim::Simulator;
use askerp::dingtalk::sim_contacts::SimOrg;
use askerp::directory::{self, Conflict};
use askerp::identity::Directory;
use serde_json::Value;

use crate::support::{APP_KEY, SECRET};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/directory")
        .join(name)
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

const RULES: &str = r#"
[[directory.department_rule]]
department = "Kowloon Sales"
roles = ["sales_manager"]
regions = ["KLN"]

[[directory.department_rule]]
department = "Causeway Bay Store"
roles = ["store_staff"]
stores = ["CWB"]

[[directory.department_rule]]
department = "Human Resources"
roles = ["hr_officer"]

[[directory.department_rule]]
department = "IT"
roles = ["admin"]
"#;

fn csv_config(dir: &Path, csv: &Path) -> String {
    format!(
        r#"
[data]
directory = "{out}"
[audit]
path = "{audit}"
[directory.csv]
path = "{csv}"
[directory.csv.columns]
dingtalk_user_id = "DingTalk ID"
employee_id = "Staff No"
name_en = "English Name"
name_zh = "Chinese Name"
roles = "Role"
stores = "Stores"
regions = "Regions"
department = "Department"
{RULES}"#,
        out = dir.join("directory.toml").display(),
        audit = dir.join("audit.jsonl").display(),
        csv = csv.display(),
    )
}

/// A simulator serving `org` on a loopback port, and the `[dingtalk]` section using it.
async fn contacts(org: SimOrg) -> (Simulator, String) {
    let sim = Simulator::new(APP_KEY, SECRET);
    sim.set_org(org);
    let base = sim.serve_on_loopback().await.expect("simulator");
    let section = format!(
        "[dingtalk]\napp_key = \"{APP_KEY}\"\napp_secret = \"{SECRET}\"\napi_base = \"{base}\"\noapi_base = \"{base}\"\n"
    );
    (sim, section)
}

/// A configuration text for the binary: the app secret taken out (the test passes it
/// through the environment, since `Config::load` refuses secrets in the file).
fn without_secret(text: &str) -> String {
    text.replace(&format!("app_secret = \"{SECRET}\"\n"), "")
}

fn dingtalk_config(dir: &Path, dingtalk: &str) -> String {
    format!(
        r#"{dingtalk}
[data]
directory = "{out}"
[audit]
path = "{audit}"
[directory.dingtalk]
match_by = "job_number"
page_size = 1
{RULES}"#,
        out = dir.join("directory.toml").display(),
        audit = dir.join("audit.jsonl").display(),
    )
}

#[tokio::test]
async fn sync_from_an_excel_csv_export_writes_the_directory_the_server_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        Config::from_toml(&csv_config(dir.path(), &fixture("hr-export.csv"))).expect("config");
    let report = directory::sync(&config, false).await.expect("sync");
    assert_eq!(
        report.written.as_deref(),
        Some(dir.path().join("directory.toml").as_path())
    );

    // The written file is an ordinary directory: the server's own loader reads it.
    let d = Directory::load(&dir.path().join("directory.toml")).expect("loads");
    let chan = d.lookup("0101").expect("0101");
    assert_eq!(chan.name, "Chan, Tai Man");
    assert_eq!(chan.name_zh, "陳大文");
    assert_eq!(chan.roles, vec!["store_staff"]);
    assert_eq!(chan.stores, vec!["CWB"]);
    // Roles and scope from the department rule when the row has none.
    let wong = d.lookup("0102").expect("0102");
    assert_eq!(
        (wong.roles.clone(), wong.regions.clone()),
        (vec!["sales_manager".to_string()], vec!["KLN".to_string()])
    );
    let ho = d.lookup("0104").expect("0104");
    assert_eq!(ho.roles, vec!["admin", "sales_manager"]);
    // A role the policy does not know is dropped and reported.
    assert_eq!(d.lookup("0105").expect("0105").roles, vec!["store_staff"]);
    assert_eq!(report.merged.unknown_roles, vec!["night_owl"]);
    // No DingTalk id and no contacts to find one: unmapped, no entry.
    assert!(
        report
            .merged
            .unmapped
            .iter()
            .any(|u| u.who.contains("E4001")),
        "{:?}",
        report.merged.unmapped
    );
    assert_eq!(d.principals().count(), 5);

    // The first sync adds everyone, each change audited without names or contact data.
    assert_eq!(report.changes.len(), 5);
    let audit = audit_lines(&dir.path().join("audit.jsonl"));
    assert_eq!(audit.len(), 5);
    for r in &audit {
        assert_eq!(r["channel"], "directory");
        assert_eq!(r["decision"], "directory_change");
        let reason = r["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("added with roles"), "{reason}");
        assert!(
            !reason.contains("Chan") && !reason.contains("陳"),
            "{reason}"
        );
    }
    assert!(askerp::audit::verify(&dir.path().join("audit.jsonl"), None).is_ok());

    // The export changes: a role change, a leaver, a joiner with an id. The next sync says so.
    let text = std::fs::read_to_string(fixture("hr-export.csv")).expect("fixture");
    let changed = text
        .replace(
            "0101,E1001,\"Chan, Tai Man\",陳大文,store_staff",
            "0101,E1001,\"Chan, Tai Man\",陳大文,sales_manager",
        )
        .replace(",E4001,", "0107,E4001,")
        .lines()
        .filter(|l| !l.starts_with("0103,"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let csv2 = dir.path().join("hr-export-2.csv");
    std::fs::write(&csv2, changed).expect("write");
    let config = Config::from_toml(&csv_config(dir.path(), &csv2)).expect("config");
    let check = directory::check(&config).await.expect("check");
    let report = directory::sync(&config, false).await.expect("sync");
    assert_eq!(
        check.changes, report.changes,
        "check shows what sync then does"
    );
    let mut kinds: Vec<String> = report.changes.iter().map(|c| c.to_string()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            "0101 (employee E1001): changed: roles store_staff → sales_manager, store_staff"
                .to_string(),
            "0103 (employee E3001): removed: no longer in the sources, access ends".to_string(),
            "0107 (employee E4001): added with roles store_staff".to_string(),
        ]
    );
    let d = Directory::load(&dir.path().join("directory.toml")).expect("loads");
    assert!(d.lookup("0103").is_none(), "the leaver is gone");
    assert_eq!(audit_lines(&dir.path().join("audit.jsonl")).len(), 8);
}

#[tokio::test]
async fn sync_from_the_simulated_dingtalk_contacts_pages_through_every_department() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sim, dingtalk) = contacts(SimOrg::small()).await;
    let config = Config::from_toml(&dingtalk_config(dir.path(), &dingtalk)).expect("config");
    let report = directory::sync(&config, false).await.expect("sync");
    assert!(sim.tokens_issued() >= 1, "the app's access token was used");
    let d = Directory::load(&dir.path().join("directory.toml")).expect("loads");
    let staff = d.lookup("0101").expect("0101");
    assert_eq!(staff.employee_id, "E1001", "job number is the employee id");
    assert_eq!(staff.name_zh, "陳大文");
    assert_eq!(
        (staff.roles.clone(), staff.stores.clone()),
        (vec!["store_staff".to_string()], vec!["CWB".to_string()])
    );
    let manager = d.lookup("0102").expect("0102");
    assert_eq!(
        (manager.roles.clone(), manager.regions.clone()),
        (vec!["sales_manager".to_string()], vec!["KLN".to_string()])
    );
    // In IT and in Kowloon Sales: both rules apply.
    assert_eq!(
        d.lookup("0104").expect("0104").roles,
        vec!["admin", "sales_manager"]
    );
    assert_eq!(d.lookup("0103").expect("0103").roles, vec!["hr_officer"]);
    // With one user per page, the Causeway Bay store's two people took two pages.
    assert_eq!(d.lookup("0105").expect("0105").employee_id, "E1002");
    assert!(d.lookup("0106").is_none());
    assert!(
        report
            .merged
            .unmapped
            .iter()
            .any(|u| u.who == "DingTalk user 0106" && u.why.contains("job number")),
        "{:?}",
        report.merged.unmapped
    );
}

#[tokio::test]
async fn a_rule_for_a_parent_department_covers_the_departments_below_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sim, dingtalk) = contacts(SimOrg::small()).await;
    let text = format!(
        "{dingtalk}\n[data]\ndirectory = \"{}\"\n[audit]\npath = \"{}\"\n[directory.dingtalk]\n\
         [[directory.department_rule]]\ndepartment = \"sales\"\nroles = [\"store_staff\"]\n",
        dir.path().join("d.toml").display(),
        dir.path().join("a.jsonl").display()
    );
    let config = Config::from_toml(&text).expect("config");
    let report = directory::check(&config).await.expect("check");
    let users: Vec<&str> = report
        .merged
        .principals
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(users, vec!["0101", "0102", "0104", "0105"]);
    assert!(
        report.written.is_none() && !dir.path().join("d.toml").exists(),
        "check writes nothing"
    );
}

#[tokio::test]
async fn csv_rows_without_dingtalk_ids_are_linked_through_the_contacts_by_email() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sim, dingtalk) = contacts(SimOrg::small()).await;
    let csv = dir.path().join("hr.csv");
    std::fs::write(
        &csv,
        "Staff No,Name,Mail,Role\nE1001,Chan Tai Man,TM.CHAN@harbour.example,store_staff\nE2001,Wong Siu Ming,sm.wong@harbour.example,\n",
    )
    .expect("write");
    let text = format!(
        "{dingtalk}\n[data]\ndirectory = \"{out}\"\n[audit]\npath = \"{audit}\"\n\
         [directory.csv]\npath = \"{csv}\"\n[directory.csv.columns]\nemployee_id = \"Staff No\"\nname_en = \"Name\"\nemail = \"Mail\"\nroles = \"Role\"\n\
         [directory.dingtalk]\nmatch_by = \"email\"\n{RULES}",
        out = dir.path().join("d.toml").display(),
        audit = dir.path().join("a.jsonl").display(),
        csv = csv.display(),
    );
    let config = Config::from_toml(&text).expect("config");
    let report = directory::sync(&config, false).await.expect("sync");
    let p = &report.merged.principals;
    assert_eq!(p["0101"].employee_id, "E1001");
    assert_eq!(p["0101"].name, "Chan Tai Man", "the HR export's name wins");
    assert_eq!(
        p["0101"].roles,
        vec!["store_staff"],
        "the CSV role, and the store rule's"
    );
    assert_eq!(p["0101"].stores, vec!["CWB"]);
    assert_eq!(
        p["0102"].roles,
        vec!["sales_manager"],
        "roles from the DingTalk department"
    );
    assert_eq!(p.len(), 2);
    // DingTalk users the HR export does not know get nothing.
    for user in ["0103", "0104", "0105", "0106"] {
        assert!(
            report.merged.unmapped.iter().any(
                |u| u.who == format!("DingTalk user {user}") && u.why == "not in the HR export"
            ),
            "{user}: {:?}",
            report.merged.unmapped
        );
    }
}

/// The organisation of the conflicts fixture: one user whose e-mail two HR rows carry,
/// two users sharing one e-mail, and the clean Chan Tai Man.
fn conflict_org() -> SimOrg {
    let mut org = SimOrg::small();
    org.users.retain(|u| u.userid == "0101");
    let mut extra = |id: &str, email: &str| {
        let mut u = org.users[0].clone();
        u.userid = id.into();
        u.name = id.into();
        u.job_number = None;
        u.email = Some(email.into());
        u.mobile = None;
        org.users.push(u);
    };
    extra("0201", "dup1@harbour.example");
    extra("0202", "dup2@harbour.example");
    extra("0301", "shared@harbour.example");
    extra("0401", "twin@harbour.example");
    extra("0402", "Twin@Harbour.example");
    org
}

fn conflict_config(dir: &Path, dingtalk: &str, overrides: Option<&Path>) -> String {
    format!(
        "{dingtalk}\n[data]\ndirectory = \"{out}\"\n[audit]\npath = \"{audit}\"\n\
         [directory]\n{ov}\n[directory.csv]\npath = \"{csv}\"\ndelimiter = \";\"\n\
         [directory.csv.columns]\nemployee_id = \"Staff No\"\nname_en = \"Name\"\nemail = \"E-mail\"\nroles = \"Role\"\n\
         [directory.dingtalk]\nmatch_by = \"email\"\n",
        out = dir.join("directory.toml").display(),
        audit = dir.join("audit.jsonl").display(),
        csv = fixture("conflicts.csv").display(),
        ov = overrides
            .map(|p| format!("overrides = \"{}\"", p.display()))
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn directory_check_reports_every_kind_of_conflict_and_leaves_those_people_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sim, dingtalk) = contacts(conflict_org()).await;
    let config = Config::from_toml(&conflict_config(dir.path(), &dingtalk, None)).expect("config");
    let report = directory::check(&config).await.expect("check");
    let m = &report.merged;
    assert!(
        m.conflicts.contains(&Conflict::DuplicateEmployeeId {
            employee_id: "E5001".into(),
            lines: vec![3, 4]
        }),
        "{:?}",
        m.conflicts
    );
    assert!(
        m.conflicts.contains(&Conflict::UserOnSeveralEmployees {
            user: "0301".into(),
            employees: vec!["E6001".into(), "E6002".into()]
        }),
        "{:?}",
        m.conflicts
    );
    assert!(
        m.conflicts.contains(&Conflict::EmployeeOnSeveralUsers {
            employee_id: "E7001".into(),
            users: vec!["0401".into(), "0402".into()]
        }),
        "{:?}",
        m.conflicts
    );
    assert_eq!(m.conflicts.len(), 3);
    // Fail closed: only the clean person is in.
    assert_eq!(m.principals.keys().collect::<Vec<_>>(), vec!["0101"]);
    assert!(
        m.unmapped.iter().any(|u| u.who.contains("E8001")),
        "{:?}",
        m.unmapped
    );
    // The duplicate rows' DingTalk users are not in the export in any usable way.
    assert!(
        m.unmapped.iter().any(|u| u.who == "DingTalk user 0201"),
        "{:?}",
        m.unmapped
    );

    // An override settles a conflict: file entries win.
    let overrides = dir.path().join("overrides.toml");
    std::fs::write(
        &overrides,
        "version = 1\n[[user]]\ndingtalk_user_id = \"0401\"\nemployee_id = \"E7001\"\nname = \"Twin\"\nroles = [\"store_staff\"]\n",
    )
    .expect("write");
    let config = Config::from_toml(&conflict_config(dir.path(), &dingtalk, Some(&overrides)))
        .expect("config");
    let report = directory::check(&config).await.expect("check");
    assert_eq!(
        report.merged.principals.keys().collect::<Vec<_>>(),
        vec!["0101", "0401"]
    );

    // The command line: every kind listed, exit 1, nothing written.
    let config_file = dir.path().join("askerp.toml");
    // Secrets come from the environment, never the file.
    std::fs::write(
        &config_file,
        without_secret(&conflict_config(dir.path(), &dingtalk, None)),
    )
    .expect("write");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_askerp"))
        .args([
            "--config",
            &config_file.display().to_string(),
            "directory",
            "check",
        ])
        .env_remove("ASKERP_CONFIG")
        .env("ASKERP_DINGTALK__APP_SECRET", SECRET)
        .output()
        .await
        .expect("run askerp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "conflict: employee id E5001 appears on several CSV lines: 3, 4",
        "conflict: DingTalk user 0301 matches several employees: E6001, E6002",
        "conflict: employee E7001 is claimed by several DingTalk users: 0401, 0402",
        "unmapped: employee E8001 (CSV line 8): no DingTalk user has the same e-mail",
        "would change: 0101 (employee E1001): added with roles store_staff",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from:\n{stdout}");
    }
    assert!(!dir.path().join("directory.toml").exists());
}

#[tokio::test]
async fn a_leaver_loses_access_at_the_next_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sim, dingtalk) = contacts(SimOrg::small()).await;
    let config_file = dir.path().join("askerp.toml");
    // Secrets come from the environment, never the file.
    std::fs::write(
        &config_file,
        without_secret(&dingtalk_config(dir.path(), &dingtalk)),
    )
    .expect("write");
    // Run without blocking: the simulator answers from this test's runtime.
    let askerp = async |args: &[&str]| {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_askerp"))
            .arg("--config")
            .arg(&config_file)
            .args(args)
            .env_remove("ASKERP_CONFIG")
            .env("ASKERP_DINGTALK__APP_SECRET", SECRET)
            .output()
            .await
            .expect("run askerp");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = askerp(&["directory", "sync"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let (_, out, err) = askerp(&["ask", "--as", "0105", "--json", "help"]).await;
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(v["decision"], "allow", "{v}");

    // 0105 leaves the company: DingTalk no longer lists them.
    let mut org = SimOrg::small();
    org.users.retain(|u| u.userid != "0105");
    sim.set_org(org);
    let (code, out, err) = askerp(&["directory", "sync"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(
            "change: 0105 (employee E1002): removed: no longer in the sources, access ends"
        ),
        "{out}"
    );
    let (_, out, _) = askerp(&["ask", "--as", "0105", "--json", "help"]).await;
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["decision"], "unknown_user", "{v}");
    // Contacts that suddenly list nobody (a lost permission) do not empty the directory.
    sim.set_org(SimOrg::default());
    let (code, out, err) = askerp(&["directory", "sync"]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("the sources yield nobody"), "{err}");
    let d = Directory::load(&dir.path().join("directory.toml")).expect("kept");
    assert_eq!(d.principals().count(), 4);
    let removed: Vec<Value> = audit_lines(&dir.path().join("audit.jsonl"))
        .into_iter()
        .filter(|r| r["channel"] == "directory" && r["user"] == "0105")
        .collect();
    assert_eq!(removed.len(), 2, "added, then removed");
    assert_eq!(
        removed[1]["reason"],
        "removed: no longer in the sources, access ends"
    );
    assert_eq!(removed[1]["principal"], "E1002");
}

#[tokio::test]
async fn sync_never_overwrites_a_hand_written_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("directory.toml");
    std::fs::write(&out, askerp::identity::DEMO_DIRECTORY).expect("write");
    let config =
        Config::from_toml(&csv_config(dir.path(), &fixture("hr-export.csv"))).expect("config");
    let err = directory::sync(&config, false).await.expect_err("refused");
    assert!(err.to_string().contains("directory.overrides"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("read"),
        askerp::identity::DEMO_DIRECTORY
    );
}

#[test]
fn every_directory_snippet_in_the_readme_loads_through_the_config_loader() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let mut found = 0;
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let Some(end) = body.find("```") else { break };
        let snippet = &body[..end];
        rest = &body[end + 3..];
        if !snippet.contains("[directory") {
            continue;
        }
        found += 1;
        let config = Config::from_toml(snippet).unwrap_or_else(|e| panic!("{e}\n{snippet}"));
        assert!(config.directory.has_sources(), "{snippet}");
    }
    assert!(
        found >= 3,
        "only {found} directory snippets found in the README"
    );
}

#[tokio::test]
async fn the_simulated_contacts_answer_in_dingtalks_wire_format_and_errors_reach_the_operator() {
    let (sim, dingtalk) = contacts(SimOrg::small()).await;
    let base = sim.base_url();
    let http = reqwest::Client::new();
    let post = async |path: &str, token: &str, body: Value| -> Value {
        http.post(format!("{base}{path}"))
            .query(&[("access_token", token)])
            .json(&body)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    };
    let bad = post(
        "/topapi/v2/department/listsub",
        "nope",
        serde_json::json!({"dept_id": 1}),
    )
    .await;
    assert_eq!(bad["errcode"], 40014);
    let token = reqwest::Client::new()
        .post(format!("{base}/v1.0/oauth2/accessToken"))
        .json(&serde_json::json!({"appKey": APP_KEY, "appSecret": SECRET}))
        .send()
        .await
        .expect("token")
        .json::<Value>()
        .await
        .expect("json")["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let subs = post(
        "/topapi/v2/department/listsub",
        &token,
        serde_json::json!({"dept_id": 100}),
    )
    .await;
    assert_eq!(subs["errcode"], 0);
    assert_eq!(subs["result"][0]["dept_id"], 110);
    assert_eq!(subs["result"][0]["parent_id"], 100);
    let page = post(
        "/topapi/v2/user/list",
        &token,
        serde_json::json!({"dept_id": 120, "cursor": 0, "size": 1}),
    )
    .await;
    assert_eq!(page["result"]["has_more"], true);
    assert_eq!(page["result"]["next_cursor"], 1);
    assert_eq!(page["result"]["list"][0]["job_number"], "E1001");
    assert!(page["result"]["list"][0]["unionid"].is_string());
    let last = post(
        "/topapi/v2/user/list",
        &token,
        serde_json::json!({"dept_id": 120, "cursor": 1, "size": 1}),
    )
    .await;
    assert_eq!(last["result"]["has_more"], false);
    assert!(last["result"].get("next_cursor").is_none());
    let too_big = post(
        "/topapi/v2/user/list",
        &token,
        serde_json::json!({"dept_id": 120, "cursor": 0, "size": 101}),
    )
    .await;
    assert_eq!(too_big["errcode"], 400002);
    let unknown = post(
        "/topapi/v2/user/list",
        &token,
        serde_json::json!({"dept_id": 999, "cursor": 0, "size": 10}),
    )
    .await;
    assert_eq!(unknown["errcode"], 60003);

    // A busy DingTalk is retried; an unknown root department is reported with its code.
    let dir = tempfile::tempdir().expect("tempdir");
    sim.inject(
        askerp::dingtalk::sim::Endpoint::UserList,
        askerp::dingtalk::sim_contacts::busy(),
        2,
    );
    let config = Config::from_toml(&dingtalk_config(dir.path(), &dingtalk)).expect("config");
    let report = directory::check(&config)
        .await
        .expect("retried through busy answers");
    assert_eq!(report.merged.principals.len(), 5);
    let text = dingtalk_config(dir.path(), &dingtalk)
        .replace("page_size = 1", "page_size = 1\nroot_department = 999");
    let config = Config::from_toml(&text).expect("config");
    let err = directory::check(&config)
        .await
        .expect_err("unknown department");
    assert!(err.to_string().contains("60003"), "{err}");
}

/// While `serve` runs, `directory.sync_every_secs` syncs from the HR export and reloads:
/// a leaver loses access, and a joiner gains it, without a restart; the changes are in
/// the server's audit log. Asked in English and Cantonese.
#[tokio::test]
async fn the_running_server_syncs_on_its_schedule_and_a_leaver_loses_access() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("hr.csv");
    let export = std::fs::read_to_string(fixture("hr-export.csv")).expect("fixture");
    std::fs::write(&csv, &export).expect("csv");
    let synced = Config::from_toml(&csv_config(dir.path(), &csv)).expect("config");
    directory::sync(&synced, false).await.expect("first sync");
    let directory_file = dir.path().join("directory.toml");
    let app = crate::support::TestApp::start_with(
        |c| {
            c.data.directory = Some(directory_file.clone());
            c.directory = synced.directory.clone();
            c.directory.output = Some(directory_file.clone());
            c.directory.sync_every_secs = 1;
        },
        None,
    )
    .await;
    let reply = app
        .ask("0101", "how many annual leave days do I have?")
        .await;
    assert!(
        reply.text.contains("leave") || reply.text.contains("Leave"),
        "{}",
        reply.text
    );
    let first = app.audit(1).await.last().cloned().expect("record");
    assert_eq!(first["decision"], "allow", "{first}");

    // 0101 leaves: the next export no longer lists them.
    let without: String = export
        .lines()
        .filter(|l| !l.starts_with("0101,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&csv, without).expect("csv");
    let mut gone = None;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let answered = app
            .audit_lines()
            .iter()
            .filter(|r| r["channel"] == "callback")
            .count();
        let reply = app.ask("0101", "我仲有幾多日年假?").await;
        let _ = app.audit(app.audit_lines().len().max(answered + 1)).await;
        let record = app
            .audit_lines()
            .into_iter()
            .rev()
            .find(|r| r["channel"] == "callback")
            .expect("record");
        if record["decision"] == "unknown_user" {
            gone = Some(reply);
            break;
        }
    }
    let reply = gone.expect("the leaver kept access after the scheduled sync");
    assert!(!reply.text.contains("陳大文"), "{}", reply.text);
    let removed: Vec<Value> = app
        .audit_lines()
        .into_iter()
        .filter(|r| r["channel"] == "directory" && r["user"] == "0101")
        .collect();
    assert_eq!(removed.len(), 1, "{removed:#?}");
    assert_eq!(
        removed[0]["reason"],
        "removed: no longer in the sources, access ends"
    );
    assert!(app.state.metrics.get("directory_syncs_ok") >= 1);
    assert!(askerp::audit::verify(&app.audit_path, None).is_ok());
}
