//! The `[directory]` section: where the directory comes from when it is synced rather
//! than typed by hand (an HR system's CSV export, DingTalk's own contacts), how the two
//! are linked, which departments grant which roles, and where the result is written.
//!
//! Like the connectors' configuration, it lives with the component and `config::Config`
//! only collects it; [`DirectoryConfig::problems`] is added to `Config::validate`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How a DingTalk user is linked to an employee when nothing names their DingTalk id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchBy {
    /// DingTalk's `job_number` (工号) equals the employee id, or the CSV's job number.
    JobNumber,
    /// DingTalk's `email` or `org_email`, compared without case.
    Email,
    /// DingTalk's `mobile`, compared by digits (a leading country code may differ).
    Mobile,
}

impl MatchBy {
    /// The word an operator sees in reports.
    pub fn label(self) -> &'static str {
        match self {
            MatchBy::JobNumber => "job number",
            MatchBy::Email => "e-mail",
            MatchBy::Mobile => "mobile",
        }
    }
}

/// Where the directory comes from and where `askerp directory sync` writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// The file sync writes (the directory file format). Unset: `data.directory`, which
    /// is what the server reads; with neither, sync only prints.
    pub output: Option<PathBuf>,
    /// A hand-written directory file whose entries win over the sources (per DingTalk
    /// user id): for the few people the sources get wrong. Never the output file.
    pub overrides: Option<PathBuf>,
    /// An HR system's CSV export.
    pub csv: Option<CsvSource>,
    /// DingTalk's contacts (departments and users), read through the legacy OpenAPI.
    pub dingtalk: Option<DingTalkSource>,
    /// Department → roles and scope, for people of the sources (CSV `department` column,
    /// DingTalk departments and the departments above them).
    #[serde(rename = "department_rule")]
    pub department_rules: Vec<DepartmentRule>,
    /// While `serve` runs: sync from the sources this often (seconds; 0 = only when
    /// `askerp directory sync` runs) and, when anything changed, reload the directory, so
    /// a leaver loses access within one interval without a restart.
    pub sync_every_secs: u64,
}

/// A CSV export and how its columns map to the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvSource {
    pub path: PathBuf,
    /// The field delimiter: one ASCII character (`","`, `";"`, `"\t"`).
    pub delimiter: String,
    /// Separates several values in one field (roles, stores, regions).
    pub list_separator: String,
    pub columns: CsvColumns,
}

impl Default for CsvSource {
    fn default() -> Self {
        CsvSource {
            path: PathBuf::new(),
            delimiter: ",".into(),
            list_separator: ";".into(),
            columns: CsvColumns::default(),
        }
    }
}

/// Header names in the CSV for each directory field; unset columns are not read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvColumns {
    pub dingtalk_user_id: Option<String>,
    /// Required: the employee id in the ERP / HR system.
    pub employee_id: Option<String>,
    pub name_en: Option<String>,
    pub name_zh: Option<String>,
    pub roles: Option<String>,
    pub stores: Option<String>,
    pub regions: Option<String>,
    /// Matched against `department_rule`s.
    pub department: Option<String>,
    pub job_number: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

impl CsvColumns {
    /// The column holding the value `by` links on, if configured.
    pub fn link_column(&self, by: MatchBy) -> Option<&str> {
        match by {
            MatchBy::JobNumber => self.job_number.as_deref(),
            MatchBy::Email => self.email.as_deref(),
            MatchBy::Mobile => self.mobile.as_deref(),
        }
    }
}

/// DingTalk's contacts as a source. Uses `dingtalk.app_key`/`app_secret` for the token
/// and `dingtalk.oapi_base` for the calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DingTalkSource {
    /// The department whose members and sub-departments are read (1 = the whole company).
    pub root_department: i64,
    /// Users per `user/list` page (DingTalk allows at most 100).
    pub page_size: u32,
    /// How a DingTalk user is linked to an employee: to the CSV's column of the same
    /// kind, or, without a CSV, `job_number` taken as the employee id.
    pub match_by: MatchBy,
}

impl Default for DingTalkSource {
    fn default() -> Self {
        DingTalkSource {
            root_department: 1,
            page_size: 100,
            match_by: MatchBy::JobNumber,
        }
    }
}

/// People of `department` (by name, or any department below it) get these roles and
/// this scope in addition to what their record says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DepartmentRule {
    pub department: String,
    pub roles: Vec<String>,
    pub stores: Vec<String>,
    pub regions: Vec<String>,
}

impl DirectoryConfig {
    /// Whether any source is configured (otherwise the directory is the hand-written file).
    pub fn has_sources(&self) -> bool {
        self.csv.is_some() || self.dingtalk.is_some()
    }

    /// Everything wrong with the section, collected. File existence is checked by sync,
    /// which reads them, so a configuration can be validated before the first export.
    pub fn problems(&self, data_directory: Option<&std::path::Path>) -> Vec<String> {
        let mut p = Vec::new();
        if self.sync_every_secs > 0 && !self.has_sources() {
            p.push("directory.sync_every_secs is set but [directory.csv] and [directory.dingtalk] are not: there is nothing to sync from".to_string());
        }
        if let Some(csv) = &self.csv {
            if csv.path.as_os_str().is_empty() {
                p.push("directory.csv.path must be set".to_string());
            }
            if csv.delimiter.len() != 1 || !csv.delimiter.is_ascii() {
                p.push(format!(
                    "directory.csv.delimiter = {:?} must be one ASCII character",
                    csv.delimiter
                ));
            }
            if csv.list_separator.is_empty() {
                p.push("directory.csv.list_separator must not be empty".to_string());
            }
            let c = &csv.columns;
            if c.employee_id.as_deref().is_none_or(|s| s.trim().is_empty()) {
                p.push("directory.csv.columns.employee_id must name the employee id column".into());
            }
            if c.dingtalk_user_id.is_none() {
                match &self.dingtalk {
                    None => p.push(
                        "directory.csv has no dingtalk_user_id column, so it needs [directory.dingtalk] to learn the DingTalk ids".into(),
                    ),
                    Some(d) if c.link_column(d.match_by).is_none() => p.push(format!(
                        "directory.dingtalk.match_by = {:?} needs directory.csv.columns.{} to link CSV rows to DingTalk users",
                        d.match_by.label(),
                        match d.match_by {
                            MatchBy::JobNumber => "job_number",
                            MatchBy::Email => "email",
                            MatchBy::Mobile => "mobile",
                        }
                    )),
                    Some(_) => {}
                }
            }
        }
        if let Some(d) = &self.dingtalk {
            if d.page_size == 0 || d.page_size > 100 {
                p.push(format!(
                    "directory.dingtalk.page_size = {} must be between 1 and 100",
                    d.page_size
                ));
            }
            if d.root_department < 1 {
                p.push(
                    "directory.dingtalk.root_department must be a department id (1 = the company)"
                        .into(),
                );
            }
            if self.csv.is_none() && d.match_by != MatchBy::JobNumber {
                p.push(format!(
                    "directory.dingtalk.match_by = {:?} needs a CSV to match against; without one the job number is the employee id",
                    d.match_by.label()
                ));
            }
        }
        for (i, r) in self.department_rules.iter().enumerate() {
            if r.department.trim().is_empty() {
                p.push(format!(
                    "directory.department_rule #{} has no department",
                    i + 1
                ));
            }
            if r.roles.is_empty() && r.stores.is_empty() && r.regions.is_empty() {
                p.push(format!(
                    "directory.department_rule {:?} grants nothing (roles, stores or regions)",
                    r.department
                ));
            }
        }
        if !self.has_sources() && (self.output.is_some() || !self.department_rules.is_empty()) {
            p.push("directory: output and department_rule need a source ([directory.csv] or [directory.dingtalk])".into());
        }
        let output = self.output.as_deref().or(data_directory);
        if let (Some(o), Some(v)) = (output, &self.overrides)
            && o == v.as_path()
        {
            p.push(format!(
                "directory.overrides = {} is also the file sync writes; keep hand-written entries in their own file",
                v.display()
            ));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn directory_problems_are_reported_with_the_rest() {
        let err = Config::from_toml(
            "[directory.csv]\npath = \"hr.csv\"\ndelimiter = \";;\"\n[directory.csv.columns]\nname_en = \"Name\"\n\
             [[directory.department_rule]]\ndepartment = \"Sales\"\n",
        )
        .expect_err("invalid");
        let text = err.to_string();
        for needle in [
            "directory.csv.delimiter",
            "columns.employee_id",
            "needs [directory.dingtalk]",
            "grants nothing",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        let err =
            Config::from_toml("[directory.dingtalk]\nmatch_by = \"mobile\"\npage_size = 500\n")
                .expect_err("invalid");
        let text = err.to_string();
        assert!(
            text.contains("page_size") && text.contains("needs a CSV"),
            "{text}"
        );
        let err = Config::from_toml(
            "[directory]\noverrides = \"d.toml\"\noutput = \"d.toml\"\n[directory.dingtalk]\n",
        )
        .expect_err("same file");
        assert!(
            err.to_string().contains("also the file sync writes"),
            "{err}"
        );
        let err = Config::from_toml("[directory.csv]\npath = \"x\"\ncolumn = {}\n")
            .expect_err("unknown key");
        assert!(err.to_string().contains("column"), "{err}");
    }
}
