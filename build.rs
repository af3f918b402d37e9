//! Rebuilds the crate when a file is added to or removed from `intents/`, which is
//! embedded into the binary: the embedding macro tracks the files it read, not the
//! directory, so a new intent file would otherwise be missed until an unrelated change.

fn main() {
    println!("cargo:rerun-if-changed=intents");
    println!("cargo:rerun-if-changed=build.rs");
}
