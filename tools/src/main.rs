use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use courtlink::config::Settings;
use courtlink::store::Store;
use courtlink_tools::{bench, generate};
use secrecy::ExposeSecret;

/// CourtLink's load tools: benchmarks, the province-day load test and the data generator
/// (docs/benchmarks.md). Not part of what a court installs.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Folder holding default.toml and the profile files.
    #[arg(
        long,
        global = true,
        default_value = "config",
        env = "COURTLINK_CONFIG_DIR"
    )]
    config_dir: PathBuf,
    /// Settings profile: config/<profile>.toml over config/default.toml.
    #[arg(
        long,
        global = true,
        default_value = "default",
        env = "COURTLINK_PROFILE"
    )]
    profile: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a benchmark scenario and print its figures (see docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// Fill the configured database with generated courts, cases, sessions and events.
    Generate(generate::GenerateArgs),
    /// The benchmarks' baseline: a bare WebSocket relay with no auth and no bookkeeping.
    #[command(hide = true)]
    BenchBaselineServer,
    /// The server the benchmarks measure, started by them as a child process of this binary:
    /// `courtlink serve` itself (`courtlink::process::serve`), built in the same build.
    #[command(hide = true)]
    Serve,
}

fn main() -> ExitCode {
    // The same start as `courtlink`'s: the servers this binary starts are the server a court runs.
    let cli = Cli::parse();
    let command = cli.command;
    courtlink::process::main(&cli.config_dir, &cli.profile, |settings| {
        run(command, settings)
    })
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Bench(args) => bench::run(settings, args).await,
        Command::Generate(args) => {
            if settings.profile == "production" {
                anyhow::bail!("generated data has no place in the production profile");
            }
            let store = Store::connect(settings.database.url.expose_secret(), 2).await?;
            store.migrate().await?;
            let s = generate::run(&store, &args, &settings.demo.password).await?;
            println!(
                "generated {} ({}): {} courts, {} local rooms, {} cases, {} sessions, {} events, \
                 {} ledger entries in {:.1} s; logins like {} (password: demo.password)",
                s.tag,
                store.backend(),
                s.courts,
                s.local_rooms,
                s.cases,
                s.sessions,
                s.events,
                s.ledger_entries,
                s.seconds,
                s.high_supervisor(1)
            );
            Ok(())
        }
        Command::BenchBaselineServer => bench::baseline_server().await,
        Command::Serve => courtlink::process::serve(settings).await,
    }
}
