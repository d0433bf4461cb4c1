//! The `codecast` command line.

use crate::{
    configuration::Settings,
    db,
    services::accounts::AccountService,
    startup::{Application, BoxError},
    telemetry,
};
use app::{
    domain::{EmailAddress, Label, Password, Role},
    ports::Accounts,
};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};

#[derive(Debug, Parser)]
#[command(
    name = "codecast",
    version,
    about = "Send coupon codes and promotions to customers by SMS."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the API (the default).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is asked for, or read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "marketer", value_parser = Role::parse)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for a user and sign them out everywhere.
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it (the only time it is shown).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "marketer", value_parser = Role::parse)]
        role: Role,
    },
}

pub async fn run(cli: Cli, settings: Settings) -> Result<(), BoxError> {
    telemetry::init(&settings.log_filter);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            db::connect_and_migrate(&settings.database_url).await?;
            println!("The database is up to date.");
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            role,
            password_stdin,
        }) => {
            let email = EmailAddress::parse(&email).map_err(|e| format!("--email: {e}"))?;
            let password = read_password(password_stdin)?;
            let accounts = accounts(&settings).await?;
            let user = accounts
                .create_user_any(email, role, password)
                .await
                .map_err(describe)?;
            println!(
                "Created {} ({}) with id {}.",
                user.email, user.role, user.id
            );
            Ok(())
        }
        Command::User(UserCommand::SetPassword {
            email,
            password_stdin,
        }) => {
            let email = EmailAddress::parse(&email).map_err(|e| format!("--email: {e}"))?;
            let password = read_password(password_stdin)?;
            accounts(&settings)
                .await?
                .set_password(&email, password)
                .await
                .map_err(describe)?;
            println!("Password changed for {email}; their sessions were ended.");
            Ok(())
        }
        Command::ApiKey(ApiKeyCommand::Create { name, role }) => {
            let name = Label::parse(&name).map_err(|e| format!("--name: {e}"))?;
            let created = accounts(&settings)
                .await?
                .create_api_key(name, role, None)
                .await
                .map_err(describe)?;
            eprintln!(
                "Created API key {} ({}, {}). Store it now: it is not shown again.",
                created.key.id, created.key.name, created.key.role
            );
            println!("{}", created.secret);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> Result<(), BoxError> {
    let app = Application::build(settings).await?;
    app.run_until(shutdown_signal()).await?;
    tracing::info!("Codecast stopped");
    Ok(())
}

async fn accounts(settings: &Settings) -> Result<std::sync::Arc<AccountService>, BoxError> {
    let db = db::connect_and_migrate(&settings.database_url).await?;
    Ok(AccountService::new(db))
}

/// Field errors read better on a terminal as "field: message".
fn describe(err: app::error::AppError) -> BoxError {
    match err.fields() {
        Some(fields) if !fields.is_empty() => fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
            .into(),
        _ => err.to_string().into(),
    }
}

fn read_password(from_stdin: bool) -> Result<Password, BoxError> {
    let text = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err("no terminal to ask for a password: pass --password-stdin".into());
        }
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        if first != again {
            return Err("the passwords do not match".into());
        }
        first
    };
    Password::parse(&text).map_err(|e| format!("password: {e}").into())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
