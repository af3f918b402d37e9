//! What a site knows that a vendor API does not say, set in a connector's configuration:
//! the unit names cards should show, reorder levels, and places with their local names.
//! The `tryton`, `odata` and `odoo` connectors all read these the same way.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{Place, Places};

/// The unit cards show for a unit as the system writes it (`u` → `pc`); unmapped units
/// are shown as written.
pub fn unit(units: &BTreeMap<String, String>, raw: &str) -> String {
    units.get(raw).cloned().unwrap_or_else(|| raw.to_string())
}

/// The reorder level of `sku`: configured per SKU, else the default.
pub fn reorder_level(levels: &BTreeMap<String, Decimal>, default: Decimal, sku: &str) -> Decimal {
    levels.get(sku).copied().unwrap_or(default)
}

/// The places the system reported, plus the configured ones it does not have (stores and
/// regions the ERP knows only as codes, or not at all).
pub fn with_configured(mut places: Vec<Place>, configured: &[Place]) -> Places {
    for c in configured {
        if !places.iter().any(|p| p.code == c.code && p.kind == c.kind) {
            places.push(c.clone());
        }
    }
    Places { places }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erp::PlaceKind;

    fn place(code: &str, kind: PlaceKind, name: &str) -> Place {
        Place {
            code: code.into(),
            kind,
            name_en: name.into(),
            name_zh: String::new(),
            region: None,
            aliases: vec![],
        }
    }

    #[test]
    fn configuration_fills_what_the_system_does_not_say() {
        let units = BTreeMap::from([("u".to_string(), "pc".to_string())]);
        assert_eq!(unit(&units, "u"), "pc");
        assert_eq!(unit(&units, "kg"), "kg");
        let levels = BTreeMap::from([("A".to_string(), Decimal::from(40))]);
        assert_eq!(
            reorder_level(&levels, Decimal::from(5), "A"),
            Decimal::from(40)
        );
        assert_eq!(
            reorder_level(&levels, Decimal::from(5), "B"),
            Decimal::from(5)
        );
        let reported = vec![place("WH", PlaceKind::Warehouse, "Warehouse")];
        let configured = [
            place("WH", PlaceKind::Warehouse, "Kwun Tong Warehouse"),
            place("CWB", PlaceKind::Store, "Causeway Bay"),
        ];
        let merged = with_configured(reported, &configured);
        assert_eq!(merged.places.len(), 2);
        assert_eq!(
            merged.places[0].name_en, "Warehouse",
            "the system's own entry stays"
        );
        assert_eq!(merged.places[1].code, "CWB");
    }
}
