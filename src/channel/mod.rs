//! channel (in progress)
