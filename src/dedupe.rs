//! dedupe (in progress)
