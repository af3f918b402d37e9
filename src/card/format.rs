//! Locale-aware formatting of numbers, money, quantities and dates. (Stub.)
