//! Period expressions ("last month", "上個月", "Q3") to inclusive date ranges. (Stub.)

use jiff::civil::Date;

use super::Period;

/// Finds the first period expression in `text`, relative to `today`.
pub fn find_period(_text: &str, _today: Date) -> Option<Period> {
    None
}
