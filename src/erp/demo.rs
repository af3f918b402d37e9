//! The embedded demo ERP on SQLite. (Stub: to be implemented.)
