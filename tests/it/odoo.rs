//! The odoo connector against a fake Odoo: Odoo cannot be installed from the registries
//! the tests may use, so this axum app implements the published shapes of the external
//! API (`/jsonrpc` with `common.authenticate` and `object.execute_kw`, and the JSON-2 API
//! `/json/2/<model>/<method>` with a bearer key) over an in-memory copy of the shared test
//! data set: records, many2one values as `[id, display_name]`, prefix-notation domains
//! with dotted paths, `search_read`, `read_group` (≤ 18) and `formatted_read_group` (19+),
//! errors as Odoo sends them, and a refusal of unknown fields.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use askerp::config::Secret;
use askerp::erp::odoo::{OdooApi, OdooConfig, OdooConnector};
use askerp::erp::{Connector, ErpError};
use askerp::intent::LeaveType;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use jiff::civil::date;
use serde_json::{Value, json};

use crate::tryton::{assert_shared_answers, dec};

const DB: &str = "acme";
const LOGIN: &str = "bot@acme.hk";
const KEY: &str = "0123456789abcdef0123456789abcdef01234567";

/// Which model a many2one field points to.
fn relation(model: &str, field: &str) -> Option<&'static str> {
    Some(match (model, field) {
        (_, "currency_id") => "res.currency",
        (_, "uom_id" | "product_uom") => "uom.uom",
        (_, "product_id") => "product.product",
        (_, "warehouse_id") => "stock.warehouse",
        (_, "location_id") => "stock.location",
        (_, "partner_id") => "res.partner",
        (_, "order_id") => "sale.order",
        (_, "employee_id") => "hr.employee",
        (_, "holiday_status_id") => "hr.leave.type",
        _ => return None,
    })
}

struct Fake {
    models: BTreeMap<&'static str, Vec<Value>>,
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn new() -> Fake {
        let mut m: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
        m.insert("res.currency", vec![json!({"id": 1, "name": "HKD"})]);
        m.insert("uom.uom", vec![json!({"id": 1, "name": "Units"})]);
        m.insert(
            "res.partner",
            vec![
                json!({"id": 1, "name": "Globex"}),
                json!({"id": 2, "name": "Initech"}),
                json!({"id": 3, "name": "Umbrella"}),
            ],
        );
        m.insert(
            "product.product",
            vec![
                json!({"id": 1, "default_code": "WIDGET-A", "name": "Widget A", "uom_id": 1}),
                json!({"id": 2, "default_code": "WIDGET-B", "name": "Widget B", "uom_id": 1}),
                json!({"id": 3, "default_code": "GADGET-X", "name": "Gadget X", "uom_id": 1}),
            ],
        );
        m.insert(
            "stock.warehouse",
            vec![
                json!({"id": 1, "code": "WH", "name": "Kwun Tong Warehouse"}),
                json!({"id": 2, "code": "TW", "name": "Tsuen Wan Warehouse"}),
            ],
        );
        m.insert("stock.location", vec![
            json!({"id": 8, "name": "WH/Stock", "usage": "internal", "warehouse_id": 1}),
            json!({"id": 9, "name": "TW/Stock", "usage": "internal", "warehouse_id": 2}),
            json!({"id": 5, "name": "Partners/Customers", "usage": "customer", "warehouse_id": false}),
        ]);
        let quant = |id, p, loc, wh, q, r| {
            json!({"id": id, "product_id": p, "location_id": loc,
            "warehouse_id": wh, "quantity": q, "reserved_quantity": r})
        };
        m.insert(
            "stock.quant",
            vec![
                quant(1, 1, 8, json!(1), 100.0, 5.0),
                quant(2, 2, 8, json!(1), 38.0, 0.0),
                quant(3, 3, 8, json!(1), 4.0, 0.0),
                quant(4, 1, 9, json!(2), 30.0, 0.0),
                quant(5, 3, 9, json!(2), 12.0, 3.0),
                // Delivered goods sit in the customer location; they are not stock.
                quant(6, 2, 5, json!(false), 2.0, 0.0),
            ],
        );
        let order = |id: i64,
                     reference: &str,
                     partner,
                     date_order: &str,
                     state: &str,
                     delivery: &str,
                     amount: f64,
                     wh| {
            json!({"id": id, "name": id.to_string(), "client_order_ref": reference,
            "partner_id": partner, "date_order": date_order, "state": state, "delivery_status": delivery,
            "amount_untaxed": amount, "amount_total": amount, "currency_id": 1, "warehouse_id": wh,
            "commitment_date": false})
        };
        m.insert(
            "sale.order",
            vec![
                // 1 March 01:00 in Hong Kong is still February in UTC.
                order(
                    1,
                    "PO-1001",
                    1,
                    "2025-02-28 17:00:00",
                    "sale",
                    "pending",
                    50.0,
                    1,
                ),
                order(
                    2,
                    "PO-1002",
                    2,
                    "2025-03-15 02:00:00",
                    "sale",
                    "full",
                    150.99,
                    1,
                ),
                order(
                    3,
                    "PO-1003",
                    3,
                    "2025-04-01 16:30:00",
                    "sale",
                    "pending",
                    299.97,
                    2,
                ),
                order(4, "PO-1004", 1, "2025-04-20 03:00:00", "sent", "", 100.0, 1),
                order(
                    5,
                    "PO-1005",
                    2,
                    "2025-05-05 03:00:00",
                    "cancel",
                    "",
                    25.5,
                    1,
                ),
                // 30 April 17:00 UTC is 1 May in Hong Kong: outside March–April.
                order(
                    6,
                    "PO-1006",
                    3,
                    "2025-04-30 17:00:00",
                    "sale",
                    "pending",
                    10.0,
                    1,
                ),
            ],
        );
        let line = |id, o, p: Value, qty: f64, price: f64, display: Value| {
            json!({"id": id, "order_id": o,
            "product_id": p, "product_uom_qty": qty, "product_uom": 1, "price_unit": price,
            "price_subtotal": (qty * price * 100.0).round() / 100.0, "display_type": display,
            "sequence": id, "currency_id": 1})
        };
        m.insert(
            "sale.order.line",
            vec![
                line(1, 1, json!(1), 5.0, 10.0, json!(false)),
                line(2, 2, json!(false), 0.0, 0.0, json!("line_section")),
                line(3, 2, json!(2), 2.0, 25.5, json!(false)),
                line(4, 2, json!(3), 1.0, 99.99, json!(false)),
                line(5, 3, json!(3), 3.0, 99.99, json!(false)),
                line(6, 4, json!(1), 10.0, 10.0, json!(false)),
                line(7, 5, json!(2), 1.0, 25.5, json!(false)),
                line(8, 6, json!(1), 1.0, 10.0, json!(false)),
            ],
        );
        m.insert(
            "hr.employee",
            vec![
                json!({"id": 1, "name": "Chan Tai Man", "identification_id": "E1001"}),
                json!({"id": 2, "name": "Wong Siu Ming", "identification_id": "E1002"}),
            ],
        );
        m.insert(
            "hr.leave.type",
            vec![
                json!({"id": 1, "name": "Paid Time Off"}),
                json!({"id": 2, "name": "Sick Time Off"}),
                json!({"id": 3, "name": "Unpaid"}),
            ],
        );
        let alloc = |id, e, t, days: f64, state: &str, from: &str, to: Value| {
            json!({"id": id,
            "employee_id": e, "holiday_status_id": t, "number_of_days": days, "state": state,
            "date_from": from, "date_to": to})
        };
        m.insert(
            "hr.leave.allocation",
            vec![
                alloc(1, 1, 1, 14.0, "validate", "2025-01-01", json!("2025-12-31")),
                alloc(2, 1, 2, 4.0, "validate", "2025-01-01", json!(false)),
                alloc(3, 1, 1, 10.0, "validate", "2024-01-01", json!("2024-12-31")),
                alloc(4, 1, 1, 2.0, "confirm", "2025-01-01", json!("2025-12-31")),
                alloc(5, 2, 1, 9.0, "validate", "2025-01-01", json!("2025-12-31")),
            ],
        );
        let leave = |id, e, t, days: f64, state: &str, from: &str| {
            json!({"id": id, "employee_id": e,
            "holiday_status_id": t, "number_of_days": days, "state": state, "request_date_from": from})
        };
        m.insert(
            "hr.leave",
            vec![
                leave(1, 1, 1, 1.5, "validate", "2025-02-10"),
                leave(2, 1, 1, 3.0, "confirm", "2025-06-10"),
                leave(3, 1, 1, 2.0, "validate", "2024-08-01"),
            ],
        );
        Fake {
            models: m,
            calls: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, model: &str, id: i64) -> Option<&Value> {
        self.models
            .get(model)?
            .iter()
            .find(|r| r["id"] == json!(id))
    }

    fn display_name(&self, model: &str, id: i64) -> Value {
        match self.record(model, id) {
            Some(r) if model == "product.product" => {
                json!(format!(
                    "[{}] {}",
                    r["default_code"].as_str().unwrap_or(""),
                    r["name"].as_str().unwrap_or("")
                ))
            }
            Some(r) => r["name"].clone(),
            None => json!(false),
        }
    }

    /// The value at a dotted path, following many2one fields.
    fn path_value(&self, model: &str, rec: &Value, path: &str) -> Result<Value, String> {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        if head != "id" && rec.get(head).is_none() {
            return Err(format!("Invalid field '{head}' on model '{model}'"));
        }
        let value = rec[head].clone();
        match rest {
            None => Ok(value),
            Some(rest) => {
                let target = relation(model, head).ok_or(format!("{head} is not relational"))?;
                match value.as_i64().and_then(|id| self.record(target, id)) {
                    Some(next) => self.path_value(target, next, rest),
                    None => Ok(json!(false)),
                }
            }
        }
    }

    fn term(&self, model: &str, rec: &Value, term: &Value) -> Result<bool, String> {
        let t = term
            .as_array()
            .filter(|t| t.len() == 3)
            .ok_or(format!("bad term {term}"))?;
        let field = t[0].as_str().ok_or("bad field")?;
        let op = t[1].as_str().ok_or("bad operator")?;
        let left = self.path_value(model, rec, field)?;
        let right = &t[2];
        let cmp = |l: &Value, r: &Value| -> Option<std::cmp::Ordering> {
            match (l, r) {
                (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            }
        };
        Ok(match op {
            "=" => left == *right,
            "!=" => left != *right,
            "in" => right.as_array().ok_or("in needs a list")?.contains(&left),
            "not in" => !right
                .as_array()
                .ok_or("not in needs a list")?
                .contains(&left),
            "ilike" => match (left.as_str(), right.as_str()) {
                (Some(l), Some(r)) => l.to_lowercase().contains(&r.to_lowercase()),
                _ => false,
            },
            ">=" => cmp(&left, right).is_some_and(|o| o.is_ge()),
            "<=" => cmp(&left, right).is_some_and(|o| o.is_le()),
            ">" => cmp(&left, right).is_some_and(|o| o.is_gt()),
            "<" => cmp(&left, right).is_some_and(|o| o.is_lt()),
            other => return Err(format!("unsupported operator {other}")),
        })
    }

    /// Evaluates a prefix-notation domain (implicit AND between top-level terms).
    fn matches(&self, model: &str, rec: &Value, domain: &[Value]) -> Result<bool, String> {
        fn eval(
            f: &Fake,
            model: &str,
            rec: &Value,
            items: &[Value],
            pos: &mut usize,
        ) -> Result<bool, String> {
            let item = items.get(*pos).ok_or("domain ends early")?;
            *pos += 1;
            match item.as_str() {
                Some("|") => {
                    let a = eval(f, model, rec, items, pos)?;
                    let b = eval(f, model, rec, items, pos)?;
                    Ok(a || b)
                }
                Some("&") => {
                    let a = eval(f, model, rec, items, pos)?;
                    let b = eval(f, model, rec, items, pos)?;
                    Ok(a && b)
                }
                Some("!") => Ok(!eval(f, model, rec, items, pos)?),
                _ => f.term(model, rec, item),
            }
        }
        let mut pos = 0;
        let mut all = true;
        while pos < domain.len() {
            all &= eval(self, model, rec, domain, &mut pos)?;
        }
        Ok(all)
    }

    fn search(&self, model: &str, domain: &Value) -> Result<Vec<&Value>, String> {
        let records = self
            .models
            .get(model)
            .ok_or(format!("Object {model} doesn't exist"))?;
        let domain = domain.as_array().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for r in records {
            if self.matches(model, r, &domain)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn output(&self, model: &str, rec: &Value, fields: &[Value]) -> Result<Value, String> {
        let mut row = serde_json::Map::new();
        row.insert("id".into(), rec["id"].clone());
        for f in fields {
            let f = f.as_str().ok_or("bad field name")?;
            let v = rec
                .get(f)
                .ok_or(format!("Invalid field '{f}' on model '{model}'"))?;
            let v = match (relation(model, f), v.as_i64()) {
                (Some(target), Some(id)) => json!([id, self.display_name(target, id)]),
                _ => v.clone(),
            };
            row.insert(f.into(), v);
        }
        Ok(Value::Object(row))
    }

    /// Runs one model method with named arguments (and `ids`).
    fn run(
        &self,
        model: &str,
        method: &str,
        ids: Option<Value>,
        kw: &Value,
    ) -> Result<Value, String> {
        self.calls
            .lock()
            .expect("calls")
            .push(format!("{model}.{method}"));
        let domain = kw.get("domain").cloned().unwrap_or(json!([]));
        match method {
            "search_read" => {
                let fields = kw
                    .get("fields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let limit = kw.get("limit").and_then(Value::as_u64).unwrap_or(u64::MAX) as usize;
                let rows = self.search(model, &domain)?;
                rows.into_iter()
                    .take(limit)
                    .map(|r| self.output(model, r, &fields))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            "read" => {
                let ids = ids.and_then(|v| v.as_array().cloned()).unwrap_or_default();
                let fields = kw
                    .get("fields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                ids.iter()
                    .filter_map(|id| id.as_i64().and_then(|id| self.record(model, id)))
                    .map(|r| self.output(model, r, &fields))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            "read_group" | "formatted_read_group" => {
                let groupby: Vec<String> = kw
                    .get("groupby")
                    .and_then(Value::as_array)
                    .ok_or("groupby required")?
                    .iter()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect();
                let specs: Vec<String> = if method == "read_group" {
                    if kw.get("lazy") != Some(&json!(false)) && groupby.len() > 1 {
                        return Err("this fake only groups with lazy=False".into());
                    }
                    kw.get("fields")
                } else {
                    kw.get("aggregates")
                }
                .and_then(Value::as_array)
                .ok_or("aggregates required")?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
                let mut groups: BTreeMap<Vec<String>, (Vec<Value>, Vec<&Value>)> = BTreeMap::new();
                for r in self.search(model, &domain)? {
                    let key: Vec<Value> = groupby
                        .iter()
                        .map(|g| r.get(g).cloned().ok_or(format!("Invalid field '{g}'")))
                        .collect::<Result<_, _>>()?;
                    let k: Vec<String> = key.iter().map(|v| v.to_string()).collect();
                    groups
                        .entry(k)
                        .or_insert_with(|| (key, Vec::new()))
                        .1
                        .push(r);
                }
                let mut out = Vec::new();
                for (_, (key, rows)) in groups {
                    let mut row = serde_json::Map::new();
                    for (g, v) in groupby.iter().zip(&key) {
                        let v = match (relation(model, g), v.as_i64()) {
                            (Some(t), Some(id)) => json!([id, self.display_name(t, id)]),
                            _ => v.clone(),
                        };
                        row.insert(g.clone(), v);
                    }
                    for spec in &specs {
                        if spec == "__count" {
                            continue;
                        }
                        let (field, agg) =
                            spec.split_once(':').ok_or("aggregate needs field:func")?;
                        if agg != "sum" {
                            return Err(format!("unsupported aggregate {agg}"));
                        }
                        let sum: f64 = rows
                            .iter()
                            .map(|r| r.get(field).and_then(Value::as_f64).unwrap_or(0.0))
                            .sum();
                        let sum = (sum * 100.0).round() / 100.0;
                        let name = if method == "read_group" {
                            field.to_string()
                        } else {
                            spec.clone()
                        };
                        row.insert(name, json!(sum));
                    }
                    row.insert("__count".into(), json!(rows.len()));
                    out.push(Value::Object(row));
                }
                Ok(Value::Array(out))
            }
            other => Err(format!(
                "The method '{other}' does not exist on the model '{model}'"
            )),
        }
    }
}

type Shared = Arc<Fake>;

fn rpc_error(id: &Value, name: &str, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": 200, "message": "Odoo Server Error",
        "data": {"name": name, "debug": "Traceback…", "message": message, "arguments": [message], "context": {}}}})
}

async fn jsonrpc(
    State(fake): State<Shared>,
    axum::Json(body): axum::Json<Value>,
) -> impl IntoResponse {
    let id = body["id"].clone();
    let params = &body["params"];
    let args = params["args"].as_array().cloned().unwrap_or_default();
    let reply = match (params["service"].as_str(), params["method"].as_str()) {
        (Some("common"), Some("authenticate")) => {
            let ok = args.first() == Some(&json!(DB))
                && args.get(1) == Some(&json!(LOGIN))
                && args.get(2) == Some(&json!(KEY));
            json!({"jsonrpc": "2.0", "id": id, "result": if ok { json!(2) } else { json!(false) }})
        }
        (Some("object"), Some("execute_kw")) => {
            if args.first() != Some(&json!(DB))
                || args.get(1) != Some(&json!(2))
                || args.get(2) != Some(&json!(KEY))
            {
                rpc_error(&id, "odoo.exceptions.AccessDenied", "Access Denied")
            } else {
                let model = args.get(3).and_then(Value::as_str).unwrap_or_default();
                let method = args.get(4).and_then(Value::as_str).unwrap_or_default();
                let positional = args
                    .get(5)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let kwargs = args.get(6).cloned().unwrap_or(json!({}));
                match fake.run(model, method, positional.first().cloned(), &kwargs) {
                    Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
                    Err(message) => rpc_error(&id, "builtins.ValueError", &message),
                }
            }
        }
        _ => rpc_error(&id, "builtins.KeyError", "unknown service or method"),
    };
    axum::Json(reply)
}

async fn json2(
    State(fake): State<Shared>,
    Path((model, method)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !auth.eq_ignore_ascii_case(&format!("bearer {KEY}")) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"name": "werkzeug.exceptions.Unauthorized",
            "message": "Invalid apikey", "arguments": ["Invalid apikey", 401], "context": {}, "debug": ""})),
        );
    }
    if headers.get("x-odoo-database").and_then(|v| v.to_str().ok()) != Some(DB) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({"name": "werkzeug.exceptions.NotFound", "message": "database not found"}),
            ),
        );
    }
    match fake.run(&model, &method, body.get("ids").cloned(), &body) {
        Ok(result) => (StatusCode::OK, axum::Json(result)),
        Err(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"name": "builtins.ValueError",
            "message": message, "arguments": [message], "context": {}, "debug": ""})),
        ),
    }
}

async fn start_fake() -> (String, Shared) {
    let fake = Arc::new(Fake::new());
    let app = Router::new()
        .route("/jsonrpc", post(jsonrpc))
        .route("/json/2/{model}/{method}", post(json2))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, fake)
}

fn config(base: &str, api: OdooApi) -> OdooConfig {
    let mut cfg: OdooConfig = toml::from_str(&format!(
        r#"
        url = "{base}"
        database = "{DB}"
        username = "{LOGIN}"
        api_key = "set below"
        units = {{ Units = "pc" }}
        reorder_levels = {{ "WIDGET-B" = 40, "GADGET-X" = 10 }}
        "#
    ))
    .expect("odoo config");
    cfg.api = api;
    cfg.api_key = Secret::new(KEY);
    cfg
}

async fn check_leave(c: &OdooConnector) {
    let b = c
        .leave_balance("E1001", date(2025, 6, 1))
        .await
        .expect("leave")
        .expect("known");
    assert_eq!(b.employee.name_en, "Chan Tai Man");
    let lines: Vec<_> = b
        .lines
        .iter()
        .map(|l| {
            (
                l.leave_type,
                l.entitled.value,
                l.taken.value,
                l.remaining.value,
            )
        })
        .collect();
    // Only validated allocations and leave of 2025 count; the remaining days equal the
    // SuccessFactors balances of the same employee in the CAP data.
    assert_eq!(
        lines,
        vec![
            (LeaveType::Annual, dec("14"), dec("1.5"), dec("12.5")),
            (LeaveType::Sick, dec("4"), dec("0"), dec("4")),
        ]
    );
    assert!(
        c.leave_balance("E9999", date(2025, 6, 1))
            .await
            .expect("leave")
            .is_none()
    );
    let people = c.find_employees("chan").await.expect("employees");
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].id, "E1001");
}

#[tokio::test]
async fn odoo_jsonrpc_answers_the_shared_questions() {
    let (base, fake) = start_fake().await;
    let c = OdooConnector::connect("odoo", &config(&base, OdooApi::Jsonrpc))
        .await
        .expect("connect");
    assert_shared_answers(&c).await;
    check_leave(&c).await;
    let calls = fake.calls.lock().expect("calls").clone();
    assert!(
        calls.contains(&"sale.order.read_group".to_string()),
        "totals are grouped on the server"
    );
    assert!(!calls.iter().any(|c| c.ends_with("formatted_read_group")));
}

#[tokio::test]
async fn odoo_json2_answers_the_shared_questions() {
    let (base, fake) = start_fake().await;
    let c = OdooConnector::connect("odoo19", &config(&base, OdooApi::Json2))
        .await
        .expect("connect");
    assert_shared_answers(&c).await;
    check_leave(&c).await;
    let calls = fake.calls.lock().expect("calls").clone();
    assert!(calls.contains(&"sale.order.formatted_read_group".to_string()));
}

#[tokio::test]
async fn odoo_explains_refused_credentials() {
    let (base, _fake) = start_fake().await;
    for api in [OdooApi::Jsonrpc, OdooApi::Json2] {
        let mut cfg = config(&base, api);
        cfg.api_key = Secret::new("wrong-key-123");
        let c = OdooConnector::connect("odoo", &cfg).await.expect("connect");
        let err = c.order("2").await.expect_err("must fail");
        assert!(
            matches!(err, ErpError::Unavailable { ref detail, .. }
                if detail.contains("refused") && !detail.contains("wrong-key-123")),
            "{api:?}: {err}"
        );
    }
    // An Odoo without the HR app: the error names the missing model.
    let mut cfg = config(&base, OdooApi::Json2);
    cfg.employee_key = "no_such_field".into();
    let c = OdooConnector::connect("odoo", &cfg).await.expect("connect");
    let err = c
        .leave_balance("E1001", date(2025, 6, 1))
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, ErpError::Query { ref detail, .. } if detail.contains("no_such_field")),
        "{err}"
    );
}
