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

/// Reorder levels per warehouse code, then per SKU (`warehouse_reorder_levels`): a small
/// warehouse is judged by its own levels, not the big one's.
pub type WarehouseLevels = BTreeMap<String, BTreeMap<String, Decimal>>;

/// The reorder level of `sku` in `warehouse`: that warehouse's level for the SKU, else the
/// SKU's level for every warehouse, else the default.
pub fn reorder_level_in(
    by_warehouse: &WarehouseLevels,
    levels: &BTreeMap<String, Decimal>,
    default: Decimal,
    sku: &str,
    warehouse: &str,
) -> Decimal {
    by_warehouse
        .get(warehouse)
        .and_then(|l| l.get(sku))
        .copied()
        .unwrap_or_else(|| reorder_level(levels, default, sku))
}

/// The SKUs some warehouse or every warehouse watches with a non-zero level: the only ones
/// a low-stock list needs when the default level is 0.
pub fn watched_skus(
    by_warehouse: &WarehouseLevels,
    levels: &BTreeMap<String, Decimal>,
) -> Vec<String> {
    let mut out: Vec<String> = levels
        .iter()
        .chain(by_warehouse.values().flatten())
        .filter(|(_, level)| !level.is_zero())
        .map(|(sku, _)| sku.clone())
        .collect();
    out.sort();
    out.dedup();
    out
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

/// Serde for a [`Decimal`] in configuration: TOML writes `40`, `10.5` or `"10.5"` and all
/// mean the same number. (The crate's `serde-str` feature alone accepts only strings.) A
/// TOML float is read through its shortest decimal spelling, so `10.5` is exactly 10.5.
pub mod decimal {
    use std::fmt;
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(DecimalVisitor)
    }

    pub(super) struct DecimalVisitor;

    impl Visitor<'_> for DecimalVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number such as 40 or 10.5")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Decimal, E> {
            Decimal::try_from_i128_with_scale(v, 0).map_err(E::custom)
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Decimal, E> {
            let v = i128::try_from(v).map_err(E::custom)?;
            self.visit_i128(v)
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            if !v.is_finite() {
                return Err(E::custom(format!("{v} is not a number")));
            }
            // `Display` for f64 is the shortest text that reads back as the same float:
            // what the file said.
            Decimal::from_str(&v.to_string())
                .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
                .map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            let v = v.trim();
            Decimal::from_str(v)
                .or_else(|_| Decimal::from_scientific(v))
                .map_err(|_| E::custom(format!("{v:?} is not a number")))
        }
    }
}

/// Serde for a map of names to [`Decimal`]s written as numbers or strings (see
/// [`decimal`]).
pub mod decimal_map {
    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize, Serialize)]
    struct Level(#[serde(with = "super::decimal")] Decimal);

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Decimal>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let m: BTreeMap<&String, Level> = map.iter().map(|(k, v)| (k, Level(*v))).collect();
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Decimal>, D::Error> {
        let m = BTreeMap::<String, Level>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, Level(v))| (k, v)).collect())
    }
}

/// Serde for [`WarehouseLevels`]: `[….warehouse_reorder_levels.TW]` tables of SKU = number.
pub mod decimal_map_by_warehouse {
    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize, Serialize)]
    struct Levels(#[serde(with = "super::decimal_map")] BTreeMap<String, Decimal>);

    pub fn serialize<S: Serializer>(map: &super::WarehouseLevels, s: S) -> Result<S::Ok, S::Error> {
        let m: BTreeMap<&String, Levels> =
            map.iter().map(|(k, v)| (k, Levels(v.clone()))).collect();
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<super::WarehouseLevels, D::Error> {
        let m = BTreeMap::<String, Levels>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, Levels(v))| (k, v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erp::PlaceKind;

    #[test]
    fn a_warehouse_level_wins_over_the_sku_level_and_the_default() {
        let levels: BTreeMap<String, Decimal> = [("A".to_string(), Decimal::from(40))].into();
        let by_wh: WarehouseLevels = [(
            "TW".to_string(),
            [("A".to_string(), Decimal::from(4))].into(),
        )]
        .into();
        let five = Decimal::from(5);
        assert_eq!(
            reorder_level_in(&by_wh, &levels, five, "A", "TW"),
            Decimal::from(4)
        );
        assert_eq!(
            reorder_level_in(&by_wh, &levels, five, "A", "KT"),
            Decimal::from(40)
        );
        assert_eq!(reorder_level_in(&by_wh, &levels, five, "B", "TW"), five);
        let zero_everywhere: WarehouseLevels =
            [("TW".to_string(), [("C".to_string(), Decimal::ZERO)].into())].into();
        assert_eq!(
            watched_skus(&zero_everywhere, &levels),
            vec!["A".to_string()]
        );
        assert_eq!(
            watched_skus(&by_wh, &BTreeMap::new()),
            vec!["A".to_string()]
        );
    }

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
