//! The admin listener and reloads: `/metrics` only on the admin port, and
//! `POST /admin/reload` swapping directory, policy, intents and message catalogs at once,
//! or keeping the old set and listing every problem.

use crate::support::TestApp;

const STRANGER: &str = "0999888777";

fn directory_with(extra: &str) -> String {
    format!("{}\n{extra}", askerp::identity::DEMO_DIRECTORY)
}

fn stranger(employee: &str, role: &str) -> String {
    format!(
        "[[user]]\ndingtalk_user_id = \"{STRANGER}\"\nemployee_id = \"{employee}\"\nname = \"New Hire\"\nroles = [\"{role}\"]\nstores = [\"CWB\"]\n"
    )
}

#[tokio::test]
async fn metrics_are_served_on_the_admin_port_only() {
    let app = TestApp::start().await;
    let public = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("public");
    assert_eq!(public.status(), 404, "/metrics on the public callback port");
    let admin = app
        .http
        .get(format!("{}/metrics", app.admin_base))
        .send()
        .await
        .expect("admin");
    assert_eq!(admin.status(), 200);
    let text = admin.text().await.expect("text");
    assert!(
        text.contains("# TYPE askerp_reloads_ok_total counter"),
        "{text}"
    );
    for probe in ["/healthz", "/readyz"] {
        let r = app
            .http
            .get(format!("{}{probe}", app.admin_base))
            .send()
            .await
            .expect("probe");
        assert_eq!(r.status(), 200, "{probe} on the admin port");
    }
    let reload = app
        .http
        .post(format!("{}/admin/reload", app.base))
        .send()
        .await
        .expect("public reload");
    assert_eq!(reload.status(), 404, "reload on the public port");
}

#[tokio::test]
async fn a_reload_swaps_the_directory_and_a_bad_one_keeps_the_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let people = dir.path().join("people.toml");
    std::fs::write(&people, directory_with("")).expect("directory");
    let path = people.clone();
    let app = TestApp::start_with(move |c| c.data.directory = Some(path), None).await;
    let question = "how many iPhone 15 Pro 256GB in stock?";
    let before = app.ask(STRANGER, question).await;
    assert!(
        before.text.contains(STRANGER),
        "not unknown: {}",
        before.text
    );

    // A good file: the new hire is answered without a restart.
    std::fs::write(&people, directory_with(&stranger("E1999", "store_staff"))).expect("write");
    let r = app
        .http
        .post(format!("{}/admin/reload", app.admin_base))
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["reloaded"], true, "{body}");
    assert_eq!(body["users"], 5, "{body}");
    let after = app.ask(STRANGER, question).await;
    assert!(
        !after.text.contains(STRANGER),
        "still unknown: {}",
        after.text
    );
    let audit = app.audit(2).await;
    assert_eq!(audit[0]["decision"], "unknown_user");
    assert_eq!(audit[1]["decision"], "allow", "{}", audit[1]);

    // A bad file (the employee id of demo.staff, and a user without roles): refused with
    // every problem, and the previous directory keeps answering.
    let roleless =
        "[[user]]\ndingtalk_user_id = \"x.two\"\nemployee_id = \"E7\"\nname = \"X\"\nroles = []\n";
    std::fs::write(
        &people,
        directory_with(&format!("{}{roleless}", stranger("E1001", "store_staff"))),
    )
    .expect("write");
    let r = app
        .http
        .post(format!("{}/admin/reload", app.admin_base))
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["reloaded"], false, "{body}");
    let problems = body["problems"].to_string();
    assert!(
        problems.contains("employee_id E1001 is used by 2 users: demo.staff, 0999888777"),
        "{problems}"
    );
    assert!(problems.contains("user x.two has no roles"), "{problems}");
    let still = app.ask(STRANGER, question).await;
    assert_eq!(still.text, after.text, "the old directory was not kept");
    assert_eq!(app.state.metrics.get("reloads_ok"), 1);
    assert_eq!(app.state.metrics.get("reloads_failed"), 1);
}
