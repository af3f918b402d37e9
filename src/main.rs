//! The `askerp` binary: parses the command line and hands over to [`askerp::cli`].

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = askerp::cli::Cli::parse();
    let code = askerp::cli::run(cli).await;
    std::process::exit(code);
}
