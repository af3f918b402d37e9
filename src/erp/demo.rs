//! The embedded demo ERP on SQLite. (Stub: replaced by the real implementation.)

use std::path::Path;

use async_trait::async_trait;
use jiff::civil::Date;

use super::*;

pub struct DemoErp;

impl DemoErp {
    pub async fn open(_path: Option<&Path>, _today: Date) -> Result<DemoErp, ErpError> {
        Ok(DemoErp)
    }
}

fn na<T>() -> Result<T, ErpError> {
    Err(ErpError::Unavailable {
        connector: "demo".into(),
        detail: "stub".into(),
    })
}

#[async_trait]
impl Connector for DemoErp {
    fn name(&self) -> &str {
        "demo"
    }
    async fn places(&self) -> Result<Places, ErpError> {
        na()
    }
    async fn find_items(&self, _t: &str) -> Result<Vec<Item>, ErpError> {
        na()
    }
    async fn stock(&self, _s: &[String], _w: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        na()
    }
    async fn low_stock(&self, _w: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        na()
    }
    async fn sales_summary(&self, _f: &SalesFilter) -> Result<SalesSummary, ErpError> {
        na()
    }
    async fn top_items(&self, _f: &SalesFilter, _l: u32) -> Result<Vec<TopItem>, ErpError> {
        na()
    }
    async fn order(&self, _n: &str) -> Result<Option<Order>, ErpError> {
        na()
    }
    async fn find_employees(&self, _t: &str) -> Result<Vec<Employee>, ErpError> {
        na()
    }
    async fn leave_balance(&self, _i: &str, _o: Date) -> Result<Option<LeaveBalance>, ErpError> {
        na()
    }
}
