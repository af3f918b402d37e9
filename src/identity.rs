//! Identity: who is asking. The directory file maps a DingTalk user id (`senderStaffId`)
//! to a [`Principal`]: the employee behind it, their roles, and the stores and regions
//! their job covers. Anyone not in the directory is unknown and gets no data.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The demo directory built into the binary; used only with the demo ERP.
pub const DEMO_DIRECTORY: &str = include_str!("../config/demo-directory.toml");

/// An employee as askerp authorizes them.
/// Serialize writes the same file format `askerp directory sync` generates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// The DingTalk user id (`senderStaffId`) this entry is for.
    pub dingtalk_user_id: String,
    /// The employee id in the ERP / HR system.
    pub employee_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_zh: String,
    /// Role names from the policy file.
    pub roles: Vec<String>,
    /// Store codes the person works for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    /// Region codes the person is responsible for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    version: u32,
    #[serde(default, rename = "user")]
    users: Vec<Principal>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read directory {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("directory {path} is invalid:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: String, problems: Vec<String> },
}

/// The user directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_user: HashMap<String, Principal>,
}

impl Directory {
    /// The demo directory (users `demo.staff`, `demo.manager`, `demo.hr`, `demo.admin`).
    pub fn demo() -> Result<Directory, DirectoryError> {
        Directory::parse(DEMO_DIRECTORY, "built-in demo directory")
    }

    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| DirectoryError::Read {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Directory::parse(&text, &path.display().to_string())
    }

    /// Parses a directory file, reporting every problem at once.
    pub fn parse(text: &str, origin: &str) -> Result<Directory, DirectoryError> {
        let file: DirectoryFile = toml::from_str(text).map_err(|e| DirectoryError::Read {
            path: origin.to_string(),
            detail: e.to_string(),
        })?;
        let mut problems = Vec::new();
        if file.version != 1 {
            problems.push(format!(
                "version {} is not supported (expected 1)",
                file.version
            ));
        }
        let mut by_user = HashMap::new();
        // One employee behind two DingTalk accounts would let either act as the other
        // in the ERP (own leave, own store), so every shared employee id is refused.
        let mut by_employee: std::collections::BTreeMap<String, Vec<String>> =
            std::collections::BTreeMap::new();
        for p in &file.users {
            by_employee
                .entry(p.employee_id.trim().to_string())
                .or_default()
                .push(p.dingtalk_user_id.clone());
        }
        for (employee, users) in &by_employee {
            if employee.is_empty() {
                for u in users {
                    problems.push(format!("user {u} has an empty employee_id"));
                }
            } else if users.len() > 1 {
                problems.push(format!(
                    "employee_id {employee} is used by {} users: {}",
                    users.len(),
                    users.join(", ")
                ));
            }
        }
        for p in file.users {
            if p.dingtalk_user_id.trim().is_empty() {
                problems.push(format!("user {:?} has an empty dingtalk_user_id", p.name));
                continue;
            }
            if p.roles.is_empty() {
                problems.push(format!("user {} has no roles", p.dingtalk_user_id));
            }
            if let Some(prev) = by_user.insert(p.dingtalk_user_id.clone(), p) {
                problems.push(format!("user {} is listed twice", prev.dingtalk_user_id));
            }
        }
        if problems.is_empty() {
            Ok(Directory { by_user })
        } else {
            Err(DirectoryError::Invalid {
                path: origin.to_string(),
                problems,
            })
        }
    }

    /// The principal for a DingTalk user id, if known.
    pub fn lookup(&self, dingtalk_user_id: &str) -> Option<&Principal> {
        self.by_user.get(dingtalk_user_id)
    }

    /// Every principal (for `askerp check` and the policy cross-check).
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.by_user.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_directory_has_the_four_demo_users() {
        let d = Directory::demo().expect("demo directory");
        let staff = d.lookup("demo.staff").expect("staff");
        assert_eq!(staff.name_zh, "陳大文");
        assert_eq!(staff.stores, vec!["CWB".to_string()]);
        assert!(d.lookup("demo.manager").is_some());
        assert!(d.lookup("demo.hr").is_some());
        assert!(d.lookup("demo.admin").is_some());
        assert!(d.lookup("someone.else").is_none());
    }

    #[test]
    fn every_duplicate_employee_id_is_named() {
        let user = |u: &str, e: &str| {
            format!(
                "[[user]]\ndingtalk_user_id = \"{u}\"\nemployee_id = \"{e}\"\nname = \"{u}\"\nroles = [\"admin\"]\n"
            )
        };
        let text = format!(
            "version = 1\n{}{}{}{}{}",
            user("u1", "E1"),
            user("u2", "E1"),
            user("u3", "E2"),
            user("u4", " E2"),
            user("u5", "E3"),
        );
        let err = Directory::parse(&text, "dir.toml").expect_err("duplicates");
        let text = err.to_string();
        assert!(
            text.contains("employee_id E1 is used by 2 users: u1, u2"),
            "{text}"
        );
        assert!(
            text.contains("employee_id E2 is used by 2 users: u3, u4"),
            "{text}"
        );
        assert!(!text.contains("E3"), "{text}");
    }

    #[test]
    fn problems_are_reported_together() {
        let err = Directory::parse(
            "version = 2\n[[user]]\ndingtalk_user_id = \"\"\nemployee_id = \"E1\"\nname = \"A\"\nroles = []\n\
             [[user]]\ndingtalk_user_id = \"u\"\nemployee_id = \"E2\"\nname = \"B\"\nroles = []\n",
            "test",
        )
        .expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("version 2"), "{text}");
        assert!(text.contains("empty dingtalk_user_id"), "{text}");
        assert!(text.contains("user u has no roles"), "{text}");
    }
}
