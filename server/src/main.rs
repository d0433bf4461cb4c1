use clap::Parser;
use server::{
    cli::{run, Cli},
    configuration::Settings,
};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("codecast: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(cli, settings).await {
        eprintln!("codecast: {e}");
        std::process::exit(1);
    }
}
