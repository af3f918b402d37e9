//! The simulator's contacts: DingTalk's legacy department and user list APIs over a
//! small organisation, in their documented wire format, so directory sync is tested
//! against what DingTalk sends rather than against askerp's own assumptions.
//!
//! - `POST /topapi/v2/department/listsub?access_token=…` `{"dept_id"}`: the next level only.
//! - `POST /topapi/v2/user/list?access_token=…` `{"dept_id","cursor","size"}`: direct
//!   members, paged by an offset cursor, `size` at most 100.
//!
//! Errors are HTTP 200 with an `errcode`, as DingTalk's legacy API answers: `40014` for a
//! bad token, `60003` for an unknown department, `400002` for a bad parameter.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::sim::{Endpoint, Fault, Simulator};
use crate::directory::dingtalk::{WireDepartment, WireUser};

/// An organisation as DingTalk holds it (the root department, id 1, is implied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimOrg {
    pub departments: Vec<WireDepartment>,
    pub users: Vec<WireUser>,
}

impl SimOrg {
    /// A small company: Sales (with Kowloon Sales and the Causeway Bay store below it),
    /// Human Resources and IT. Its people carry job numbers equal to the demo ERP's
    /// employee ids, e-mails and mobiles; one of them is in two departments.
    pub fn small() -> SimOrg {
        let dept = |dept_id, name: &str, parent_id| WireDepartment {
            dept_id,
            name: name.into(),
            parent_id,
        };
        let user =
            |id: &str, name: &str, job: &str, email: &str, mobile: &str, depts: &[i64]| WireUser {
                userid: id.into(),
                name: name.into(),
                job_number: (!job.is_empty()).then(|| job.into()),
                email: (!email.is_empty()).then(|| email.into()),
                org_email: None,
                mobile: (!mobile.is_empty()).then(|| mobile.into()),
                dept_id_list: depts.to_vec(),
            };
        SimOrg {
            departments: vec![
                dept(100, "Sales", 1),
                dept(110, "Kowloon Sales", 100),
                dept(120, "Causeway Bay Store", 100),
                dept(200, "Human Resources", 1),
                dept(300, "IT", 1),
            ],
            users: vec![
                user(
                    "0101",
                    "陳大文",
                    "E1001",
                    "tm.chan@harbour.example",
                    "91234567",
                    &[120],
                ),
                user(
                    "0102",
                    "黃小明",
                    "E2001",
                    "sm.wong@harbour.example",
                    "92345678",
                    &[110],
                ),
                user(
                    "0103",
                    "李美玲",
                    "E3001",
                    "ml.lee@harbour.example",
                    "93456789",
                    &[200],
                ),
                user(
                    "0104",
                    "何家欣",
                    "E9001",
                    "ky.ho@harbour.example",
                    "94567890",
                    &[300, 110],
                ),
                user(
                    "0105",
                    "張志強",
                    "E1002",
                    "cc.cheung@harbour.example",
                    "95678901",
                    &[120],
                ),
                user("0106", "Intern Lam", "", "lam@harbour.example", "", &[300]),
            ],
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    access_token: String,
}

fn error(code: i64, message: &str) -> Json<Value> {
    Json(json!({ "errcode": code, "errmsg": message, "request_id": "sim" }))
}

fn dept_known(org: &SimOrg, id: i64) -> bool {
    id == 1 || org.departments.iter().any(|d| d.dept_id == id)
}

/// The legacy API's "system busy" answer (HTTP 200, `errcode` -1), for
/// [`Simulator::inject`] on [`Endpoint::DepartmentList`] or [`Endpoint::UserList`].
pub fn busy() -> Fault {
    Fault {
        status: 200,
        body: json!({ "errcode": -1, "errmsg": "系统繁忙", "request_id": "sim" }),
        retry_after_secs: None,
        delay: None,
    }
}

pub(super) async fn list_sub_departments(
    State(sim): State<Simulator>,
    Query(q): Query<TokenQuery>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::DepartmentList) {
        return f.respond().await;
    }
    departments(&sim, &q, &body).into_response()
}

fn departments(sim: &Simulator, q: &TokenQuery, body: &Value) -> Json<Value> {
    if !sim.token_value_ok(&q.access_token) {
        return error(40014, "不合法的access_token");
    }
    let org = sim.org();
    let parent = body.get("dept_id").and_then(Value::as_i64).unwrap_or(1);
    if !dept_known(&org, parent) {
        return error(60003, "部门不存在");
    }
    let result: Vec<Value> = org
        .departments
        .iter()
        .filter(|d| d.parent_id == parent)
        .map(|d| {
            json!({ "dept_id": d.dept_id, "name": d.name, "parent_id": d.parent_id,
                    "create_dept_group": false, "auto_add_user": false })
        })
        .collect();
    Json(json!({ "errcode": 0, "errmsg": "ok", "result": result, "request_id": "sim" }))
}

pub(super) async fn list_users(
    State(sim): State<Simulator>,
    Query(q): Query<TokenQuery>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::UserList) {
        return f.respond().await;
    }
    users(&sim, &q, &body).into_response()
}

fn users(sim: &Simulator, q: &TokenQuery, body: &Value) -> Json<Value> {
    if !sim.token_value_ok(&q.access_token) {
        return error(40014, "不合法的access_token");
    }
    let org = sim.org();
    let dept = body.get("dept_id").and_then(Value::as_i64).unwrap_or(0);
    let cursor = body.get("cursor").and_then(Value::as_i64).unwrap_or(0);
    let size = body.get("size").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=100).contains(&size) || cursor < 0 {
        return error(400002, "无效的参数");
    }
    if !dept_known(&org, dept) {
        return error(60003, "部门不存在");
    }
    let members: Vec<&WireUser> = org
        .users
        .iter()
        .filter(|u| u.dept_id_list.contains(&dept))
        .collect();
    let start = usize::try_from(cursor)
        .unwrap_or(usize::MAX)
        .min(members.len());
    let end = start
        .saturating_add(usize::try_from(size).unwrap_or(100))
        .min(members.len());
    let list: Vec<Value> = members[start..end]
        .iter()
        .map(|u| {
            let mut v = json!({
                "userid": u.userid,
                "unionid": format!("union{}", u.userid),
                "name": u.name,
                "title": "",
                "dept_id_list": u.dept_id_list,
                "active": true,
                "admin": false,
                "boss": false,
                "leader": false,
                "hide_mobile": false,
                "exclusive_account": false,
            });
            for (key, value) in [
                ("job_number", &u.job_number),
                ("email", &u.email),
                ("org_email", &u.org_email),
                ("mobile", &u.mobile),
            ] {
                if let Some(value) = value {
                    v[key] = json!(value);
                }
            }
            if u.mobile.is_some() {
                v["state_code"] = json!("852");
            }
            v
        })
        .collect();
    let has_more = end < members.len();
    let mut result = json!({ "has_more": has_more, "list": list });
    if has_more {
        result["next_cursor"] = json!(end);
    }
    Json(json!({ "errcode": 0, "errmsg": "ok", "result": result, "request_id": "sim" }))
}
