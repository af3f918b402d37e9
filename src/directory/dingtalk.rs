//! Source (b): DingTalk's own contacts, read through the legacy OpenAPI ("topapi") on
//! `dingtalk.oapi_base` with the app's access token:
//!
//! - `POST /topapi/v2/department/listsub?access_token=…` with `{"dept_id"}` answers the
//!   next level of departments, `{"errcode":0,"result":[{"dept_id","name","parent_id"}]}`;
//!   the tree is walked from `root_department` (1 is the company).
//! - `POST /topapi/v2/user/list?access_token=…` with `{"dept_id","cursor","size"}`
//!   answers one page of a department's direct members,
//!   `{"errcode":0,"result":{"has_more","next_cursor","list":[{"userid","name",
//!   "job_number","email","org_email","mobile","dept_id_list",…}]}}`.
//!
//! Errors come as HTTP 200 with a non-zero `errcode`; `-1` (busy) and flow control are
//! retried a few times. The wire types are public so the simulator serves exactly them.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::SyncError;
use super::config::DingTalkSource;
use crate::dingtalk::client::DingTalkClient;

/// A department as `department/listsub` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDepartment {
    pub dept_id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub parent_id: i64,
}

/// A user as `user/list` lists them (the fields the directory reads; DingTalk sends
/// more, which are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireUser {
    pub userid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(default)]
    pub dept_id_list: Vec<i64>,
}

/// One page of `user/list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireUserPage {
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub next_cursor: Option<i64>,
    #[serde(default)]
    pub list: Vec<WireUser>,
}

/// The legacy API's answer envelope.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    result: Option<T>,
}

/// Everyone in the organisation under the root, with the department tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    /// Department id → (name, parent id).
    pub departments: BTreeMap<i64, (String, i64)>,
    /// Users by `userid`, each once, with every department they are in.
    pub users: Vec<WireUser>,
}

impl Contacts {
    /// The names of the departments of `user` and of every department above them, so a
    /// rule for "Sales" also covers "Sales / Kowloon Sales".
    pub fn department_names(&self, user: &WireUser) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for &id in &user.dept_id_list {
            let mut current = Some(id);
            let mut seen = HashSet::new();
            while let Some(d) = current {
                if !seen.insert(d) {
                    break;
                }
                match self.departments.get(&d) {
                    Some((name, parent)) => {
                        if !name.is_empty() {
                            names.insert(name.clone());
                        }
                        current = (*parent != 0 && *parent != d).then_some(*parent);
                    }
                    None => current = None,
                }
            }
        }
        names
    }
}

/// Errors of the legacy API that are worth a second try: system busy and flow control.
const RETRYABLE_ERRCODES: [i64; 3] = [-1, 88, 90018];
const ATTEMPTS: u32 = 4;
/// A guard against a tree that never ends (a cycle in what DingTalk answers).
const MAX_DEPARTMENTS: usize = 100_000;

/// Reads departments and users through a [`DingTalkClient`] (for its access token and
/// HTTP client with timeouts).
pub struct ContactsReader<'a> {
    client: &'a DingTalkClient,
    oapi_base: String,
    source: &'a DingTalkSource,
}

impl<'a> ContactsReader<'a> {
    pub fn new(client: &'a DingTalkClient, oapi_base: &str, source: &'a DingTalkSource) -> Self {
        ContactsReader {
            client,
            oapi_base: oapi_base.trim_end_matches('/').to_string(),
            source,
        }
    }

    /// Walks the department tree from the root and pages through each department's users.
    pub async fn read(&self) -> Result<Contacts, SyncError> {
        let root = self.source.root_department;
        let mut contacts = Contacts::default();
        contacts.departments.insert(root, (String::new(), 0));
        let mut queue = VecDeque::from([root]);
        let mut order = Vec::new();
        while let Some(dept) = queue.pop_front() {
            order.push(dept);
            let subs: Vec<WireDepartment> = self
                .call("/topapi/v2/department/listsub", json!({ "dept_id": dept }))
                .await?
                .unwrap_or_default();
            for d in subs {
                if contacts.departments.contains_key(&d.dept_id) {
                    continue;
                }
                if contacts.departments.len() >= MAX_DEPARTMENTS {
                    return Err(SyncError::DingTalk(format!(
                        "more than {MAX_DEPARTMENTS} departments; is the tree cyclic?"
                    )));
                }
                contacts.departments.insert(d.dept_id, (d.name, dept));
                queue.push_back(d.dept_id);
            }
        }
        let mut users: BTreeMap<String, WireUser> = BTreeMap::new();
        for dept in order {
            let mut cursor = 0i64;
            loop {
                let page: WireUserPage = self
                    .call(
                        "/topapi/v2/user/list",
                        json!({ "dept_id": dept, "cursor": cursor, "size": self.source.page_size,
                                "contain_access_limit": false, "language": "zh_CN" }),
                    )
                    .await?
                    .unwrap_or_default();
                for mut u in page.list {
                    if u.dept_id_list.is_empty() {
                        u.dept_id_list.push(dept);
                    }
                    match users.get_mut(&u.userid) {
                        Some(known) => {
                            for d in u.dept_id_list {
                                if !known.dept_id_list.contains(&d) {
                                    known.dept_id_list.push(d);
                                }
                            }
                        }
                        None => {
                            users.insert(u.userid.clone(), u);
                        }
                    }
                }
                match (page.has_more, page.next_cursor) {
                    (true, Some(next)) if next > cursor => cursor = next,
                    (true, _) => {
                        return Err(SyncError::DingTalk(format!(
                            "user/list of department {dept} says there is more but gives no further cursor"
                        )));
                    }
                    (false, _) => break,
                }
            }
        }
        contacts.users = users
            .into_values()
            .filter(|u| !u.userid.is_empty())
            .collect();
        Ok(contacts)
    }

    /// One legacy API call with the access token in the query, retried while DingTalk
    /// is busy or throttling.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
    ) -> Result<Option<T>, SyncError> {
        let url = format!("{}{path}", self.oapi_base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self
                .client
                .access_token()
                .await
                .map_err(|e| SyncError::DingTalk(format!("access token: {e}")))?;
            let sent = self
                .client
                .http()
                .post(&url)
                .query(&[("access_token", token.as_str())])
                .json(&body)
                .send()
                .await;
            let retry = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    if status == 429 || status >= 500 {
                        format!("HTTP {status}")
                    } else if !(200..300).contains(&status) {
                        return Err(SyncError::DingTalk(format!("{path}: HTTP {status}")));
                    } else {
                        let env: Envelope<T> = serde_json::from_str(&text).map_err(|e| {
                            SyncError::DingTalk(format!("{path}: unexpected answer ({e})"))
                        })?;
                        if env.errcode == 0 {
                            return Ok(env.result);
                        }
                        let problem = format!("{path}: errcode {} {}", env.errcode, env.errmsg);
                        if !RETRYABLE_ERRCODES.contains(&env.errcode) {
                            return Err(SyncError::DingTalk(problem));
                        }
                        problem
                    }
                }
                Err(e) => format!("{path}: {}", e.without_url()),
            };
            if attempt >= ATTEMPTS {
                return Err(SyncError::DingTalk(retry));
            }
            tracing::info!(path, problem = %retry, "DingTalk contacts call will be retried.");
            tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(attempt - 1))).await;
        }
    }
}
