//! A burst of concurrent messages, as the load generator sends them (issue 13): whatever
//! the server does to be fast, every message is answered once, has exactly one audit
//! record, redeliveries in the middle of the burst get neither, and the chain verifies.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use askerp::dingtalk::sim::{Destination, Incoming};
use jiff::Timestamp;

use crate::support::TestApp;

// The load generator's question mix (`examples/load.rs`): who asks, in a group or not, what.
include!("../../examples/shared/load_mix.rs");

const MESSAGES: usize = 240;
const IN_FLIGHT: usize = 32;

#[tokio::test]
async fn after_a_burst_every_answered_message_has_exactly_one_audit_record() {
    let app = TestApp::start_with(|c| c.dingtalk.send_per_minute = 100_000, None).await;
    let messages: Vec<Incoming> = (0..MESSAGES)
        .map(|i| {
            let (user, group, text) = MIX[i % MIX.len()];
            let m = Incoming::text(user, text);
            if group {
                m.in_group(&format!("cidLoadGroup{}==", i % 16))
            } else {
                m
            }
        })
        .collect();

    // IN_FLIGHT senders; every fifth message is delivered a second time at once, as
    // DingTalk does when its first delivery looked lost.
    let mut queue = messages.clone().into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < IN_FLIGHT {
            let Some((i, m)) = queue.next() else { break };
            let cb = app.sim.callback(&m, Timestamp::now());
            let url = format!("{}/dingtalk/callback", app.base);
            let http = app.http.clone();
            running.spawn(async move {
                let times = if i % 5 == 0 { 2 } else { 1 };
                let mut statuses = Vec::new();
                for _ in 0..times {
                    let status = http
                        .post(&url)
                        .header("timestamp", &cb.timestamp)
                        .header("sign", &cb.sign)
                        .json(&cb.body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16());
                    statuses.push(status);
                }
                statuses
            });
        }
        match running.join_next().await {
            Some(done) => {
                let statuses = done.expect("sender task");
                assert!(
                    statuses.iter().all(|s| matches!(s, Ok(200))),
                    "a callback was refused: {statuses:?}"
                );
            }
            None => break,
        }
    }

    // Each message is answered in its conversation; a leave question asked in a group
    // also sends the answer 1:1 (two sends for one message).
    let leave_in_group = messages
        .iter()
        .filter(|m| m.group && (m.text.contains("年假") || m.text.contains("annual leave")))
        .count();
    let expected_sends = MESSAGES + leave_in_group;
    let sent = app
        .sim
        .wait_for_sent(expected_sends, Duration::from_secs(60))
        .await;
    app.audit(MESSAGES).await;
    // Anything late (a second answer, a second record) would show here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_after = app.sim.sent();
    assert_eq!(sent.len(), expected_sends, "messages sent");
    assert_eq!(
        sent_after.len(),
        sent.len(),
        "sends after the burst settled"
    );

    let answered: HashSet<String> = sent_after
        .iter()
        .filter_map(|s| match &s.to {
            Destination::Webhook { session } => Some(session.clone()),
            _ => None,
        })
        .collect();
    let sessions: HashMap<String, &Incoming> = messages
        .iter()
        .map(|m| (app.sim.session_for(&m.msg_id), m))
        .collect();
    assert_eq!(
        answered.len(),
        MESSAGES,
        "every message answered in its conversation, once"
    );
    assert!(answered.iter().all(|s| sessions.contains_key(s)));

    let records = app.audit_lines();
    assert_eq!(
        records.len(),
        MESSAGES,
        "one audit record per answered message"
    );
    let audited: HashSet<&str> = records
        .iter()
        .filter_map(|r| r["msg_id"].as_str())
        .collect();
    assert_eq!(audited.len(), MESSAGES, "no message audited twice");
    for m in &messages {
        assert!(
            audited.contains(m.msg_id.as_str()),
            "{} not audited",
            m.msg_id
        );
    }
    assert!(
        records
            .iter()
            .all(|r| r["decision"] == "allow" && r["outcome"] == "delivered"),
        "every message of the mix is allowed and delivered"
    );
    // The answers are whole: a stock answer carries figures, a report its sections.
    let texts: Vec<&str> = sent_after.iter().map(|s| s.text.as_str()).collect();
    assert!(texts.iter().any(|t| t.contains("iPhone 15 Pro")));

    askerp::audit::verify(&app.audit_path, None).expect("the chain verifies");
}
