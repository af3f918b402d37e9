//! `askerp audit search`: who asked about whom or what, where, and what happened — read
//! from the file log and its rotated files. Prints no figures: records hold none, and
//! the question text is left out unless asked for.

use std::io::BufRead;
use std::path::Path;

use jiff::Timestamp;
use serde_json::Value;

/// What to look for; every given field must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The DingTalk user id or the employee id of the asker.
    pub user: Option<String>,
    /// Whose or what data: a colleague (leave), a customer, a place, an item, an order —
    /// matched against the slots, case-insensitively, by substring.
    pub subject: Option<String>,
    /// An intent name, e.g. `leave.balance`.
    pub intent: Option<String>,
    pub since: Option<Timestamp>,
}

impl Filter {
    pub fn matches(&self, r: &Value) -> bool {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
        if let Some(u) = &self.user
            && s("user") != u
            && s("principal") != u
        {
            return false;
        }
        if let Some(i) = &self.intent
            && s("intent") != i
        {
            return false;
        }
        if let Some(since) = self.since {
            let at = s("time").parse::<Timestamp>().ok();
            if at.is_none_or(|t| t < since) {
                return false;
            }
        }
        if let Some(subject) = &self.subject {
            let want = subject.to_lowercase();
            let slots = r.get("slots").and_then(Value::as_object);
            let hit = slots.is_some_and(|m| {
                m.values()
                    .filter_map(Value::as_str)
                    .any(|v| v.to_lowercase().contains(&want))
            });
            if !hit {
                return false;
            }
        }
        true
    }
}

/// Every record of the log at `path` (oldest file first) that matches `filter`.
pub fn search(path: &Path, filter: &Filter) -> std::io::Result<Vec<Value>> {
    let mut found = Vec::new();
    for file in super::file::files(path) {
        let reader = std::io::BufReader::new(std::fs::File::open(&file)?);
        for line in reader.lines() {
            let line = line?;
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && filter.matches(&v)
            {
                found.push(v);
            }
        }
    }
    Ok(found)
}

/// One line per record: when, who (user → employee), what (intent and the subject
/// slots), where (conversation type and id, delivery), and the outcome.
pub fn describe(r: &Value) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("-");
    let subject: Vec<String> = r
        .get("slots")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{}  {} → {}  {}  {}  {} {}  {}  {}/{}",
        s("time"),
        s("user"),
        s("principal"),
        s("intent"),
        if subject.is_empty() {
            "-".to_string()
        } else {
            subject.join(",")
        },
        s("conversation_type"),
        s("conversation_id"),
        s("delivery"),
        s("decision"),
        s("outcome"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_combine() {
        let r = json!({"time": "2026-12-02T02:00:00Z", "user": "demo.hr", "principal": "E3001",
            "intent": "leave.balance", "slots": {"employee": "Chan Tai Man"},
            "conversation_type": "group", "delivery": "private", "decision": "allow", "outcome": "delivered"});
        let f = |user: Option<&str>,
                 subject: Option<&str>,
                 intent: Option<&str>,
                 since: Option<&str>| Filter {
            user: user.map(str::to_string),
            subject: subject.map(str::to_string),
            intent: intent.map(str::to_string),
            since: since.and_then(|s| s.parse().ok()),
        };
        assert!(
            f(
                Some("E3001"),
                Some("chan"),
                Some("leave.balance"),
                Some("2026-12-01T00:00:00Z")
            )
            .matches(&r)
        );
        assert!(f(Some("demo.hr"), None, None, None).matches(&r));
        assert!(!f(Some("demo.staff"), None, None, None).matches(&r));
        assert!(!f(None, Some("wong"), None, None).matches(&r));
        assert!(!f(None, None, Some("sales.summary"), None).matches(&r));
        assert!(!f(None, None, None, Some("2026-12-03T00:00:00Z")).matches(&r));
        let line = describe(&r);
        assert!(
            line.contains("demo.hr → E3001") && line.contains("employee=Chan Tai Man"),
            "{line}"
        );
    }
}
