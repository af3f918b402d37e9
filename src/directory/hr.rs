//! Source (a): an HR system's CSV export, read through the column mapping of
//! `[directory.csv]`.
//!
//! Exports come from Excel and HR tools, so the reader accepts a UTF-8 byte-order mark,
//! quoted fields (with delimiters and line breaks inside), any one-byte delimiter and
//! header names with stray spaces. Every bad row is reported, with its line, at once.

use std::collections::HashMap;

use super::SyncError;
use super::config::CsvSource;

/// One row of the export, as the directory needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HrRecord {
    /// The line the row starts on (1 = the header), for reports.
    pub line: u64,
    pub employee_id: String,
    pub dingtalk_user_id: Option<String>,
    pub name_en: String,
    pub name_zh: String,
    pub roles: Vec<String>,
    pub stores: Vec<String>,
    pub regions: Vec<String>,
    pub department: Option<String>,
    pub job_number: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

/// Reads the export at `source.path`.
pub fn load(source: &CsvSource) -> Result<Vec<HrRecord>, SyncError> {
    let path = source.path.display().to_string();
    let bytes = std::fs::read(&source.path).map_err(|e| SyncError::Csv {
        path: path.clone(),
        problems: vec![e.to_string()],
    })?;
    parse(&bytes, source, &path)
}

/// Parses an export (see [`load`]); `origin` names it in problems.
pub fn parse(bytes: &[u8], source: &CsvSource, origin: &str) -> Result<Vec<HrRecord>, SyncError> {
    let fail = |problems: Vec<String>| SyncError::Csv {
        path: origin.to_string(),
        problems,
    };
    // Excel's "CSV UTF-8" starts with a byte-order mark, which would otherwise become
    // part of the first header's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let delimiter = source.delimiter.as_bytes().first().copied().unwrap_or(b',');
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| {
            fail(vec![format!(
                "the header line cannot be read: {}",
                csv_error(&e)
            )])
        })?
        .clone();
    let index: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_lowercase(), i))
        .collect();
    let mut problems = Vec::new();
    let c = &source.columns;
    let mut column = |key: &str, name: &Option<String>| -> Option<usize> {
        let name = name.as_deref()?;
        let found = index.get(&name.trim().to_lowercase()).copied();
        if found.is_none() {
            problems.push(format!(
                "columns.{key} = {name:?} is not a column of the export (it has: {})",
                headers
                    .iter()
                    .map(|h| format!("{:?}", h.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        found
    };
    let cols = Columns {
        employee_id: column("employee_id", &c.employee_id),
        dingtalk_user_id: column("dingtalk_user_id", &c.dingtalk_user_id),
        name_en: column("name_en", &c.name_en),
        name_zh: column("name_zh", &c.name_zh),
        roles: column("roles", &c.roles),
        stores: column("stores", &c.stores),
        regions: column("regions", &c.regions),
        department: column("department", &c.department),
        job_number: column("job_number", &c.job_number),
        email: column("email", &c.email),
        mobile: column("mobile", &c.mobile),
    };
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let sep = source.list_separator.as_str();
    let mut records = Vec::new();
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(csv_error(&e));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line());
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let text = |i: Option<usize>| -> Option<String> {
            let v = row.get(i?)?.trim();
            (!v.is_empty()).then(|| v.to_string())
        };
        let list = |i: Option<usize>| -> Vec<String> {
            text(i)
                .map(|v| {
                    v.split(sep)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let Some(employee_id) = text(cols.employee_id) else {
            problems.push(format!("line {line}: the employee id is empty"));
            continue;
        };
        records.push(HrRecord {
            line,
            employee_id,
            dingtalk_user_id: text(cols.dingtalk_user_id),
            name_en: text(cols.name_en).unwrap_or_default(),
            name_zh: text(cols.name_zh).unwrap_or_default(),
            roles: list(cols.roles),
            stores: list(cols.stores),
            regions: list(cols.regions),
            department: text(cols.department),
            job_number: text(cols.job_number),
            email: text(cols.email),
            mobile: text(cols.mobile),
        });
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(fail(problems))
    }
}

/// Column positions of the mapped fields.
struct Columns {
    employee_id: Option<usize>,
    dingtalk_user_id: Option<usize>,
    name_en: Option<usize>,
    name_zh: Option<usize>,
    roles: Option<usize>,
    stores: Option<usize>,
    regions: Option<usize>,
    department: Option<usize>,
    job_number: Option<usize>,
    email: Option<usize>,
    mobile: Option<usize>,
}

/// A CSV error as a sentence with its line; non-UTF-8 exports get the fix.
fn csv_error(e: &::csv::Error) -> String {
    let line = e
        .position()
        .map(|p| format!("line {}: ", p.line()))
        .unwrap_or_default();
    match e.kind() {
        ::csv::ErrorKind::Utf8 { .. } => {
            format!("{line}not UTF-8 text (export as \"CSV UTF-8\")")
        }
        _ => format!("{line}{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::config::CsvColumns;

    fn source() -> CsvSource {
        CsvSource {
            path: "hr.csv".into(),
            columns: CsvColumns {
                dingtalk_user_id: Some("DingTalk ID".into()),
                employee_id: Some("Staff No".into()),
                name_en: Some("Name".into()),
                name_zh: Some("中文名".into()),
                roles: Some("Role".into()),
                regions: Some("Regions".into()),
                department: Some("Dept".into()),
                ..CsvColumns::default()
            },
            ..CsvSource::default()
        }
    }

    #[test]
    fn bom_quotes_and_lists_are_read() {
        let text = "\u{feff}DingTalk ID, Staff No ,Name,中文名,Role,Regions,Dept\r\n\
                    u1,E1,\"Wong, Siu Ming\",黃小明,sales_manager; admin ,KLN,\"Kowloon\nSales\"\r\n\
                    ,E2,Lee,,hr_officer,,\r\n\
                    ,,,,,,\r\n";
        let rows = parse(text.as_bytes(), &source(), "t").expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name_en, "Wong, Siu Ming");
        assert_eq!(rows[0].name_zh, "黃小明");
        assert_eq!(rows[0].roles, vec!["sales_manager", "admin"]);
        assert_eq!(rows[0].department.as_deref(), Some("Kowloon\nSales"));
        assert_eq!(rows[0].dingtalk_user_id.as_deref(), Some("u1"));
        assert_eq!(rows[1].dingtalk_user_id, None);
        assert_eq!(rows[1].regions, Vec::<String>::new());
    }

    #[test]
    fn missing_columns_empty_ids_and_bad_encoding_are_reported() {
        let err = parse(b"Staff No,Name\nE1,A\n", &source(), "t").expect_err("columns");
        let text = err.to_string();
        assert!(
            text.contains("DingTalk ID") && text.contains("\"Staff No\""),
            "{text}"
        );

        let mut s = source();
        s.delimiter = ";".into();
        s.list_separator = "|".into();
        let bytes =
            b"DingTalk ID;Staff No;Name;\xe4\xb8\xad\xe6\x96\x87\xe5\x90\x8d;Role;Regions;Dept\n\
                      u1;;A;;r;;\nu2;E2;\xff\xfe;;a|b;;\n";
        let text = parse(bytes, &s, "t").expect_err("rows").to_string();
        assert!(text.contains("line 2: the employee id is empty"), "{text}");
        assert!(text.contains("line 3: not UTF-8"), "{text}");
    }
}
