use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use courtlink::config::Settings;
use courtlink::demo;
use courtlink::store::Store;
use secrecy::ExposeSecret;

/// CourtLink: remote video reception (远程视频接访) between courts.
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
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the signalling socket and the browser app (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Seed the demo courts, users and cases (once), and top up the demo slots.
    SeedDemo,
    /// A new install's first court and administrator, before anyone can sign in; refused once
    /// the install has any account. The password is read from standard input (one line), never
    /// from the command line, where other users of the machine could read it. The administrator
    /// chooses a password of their own at the first sign-in.
    CreateFirstAdmin {
        /// The top court of this install, e.g. 最高人民法院 or 浙江省高级人民法院.
        #[arg(long)]
        court_name: String,
        /// supreme, high, intermediate or basic.
        #[arg(long)]
        court_level: String,
        /// 3 to 64 letters, digits, '.', '_' or '-'.
        #[arg(long)]
        username: String,
        /// The name shown for the account, e.g. 系统管理员.
        #[arg(long, default_value = "系统管理员")]
        display_name: String,
    },
    /// Load and check the settings, print where they point, and exit.
    CheckConfig {
        /// Also reach out: make a TURN allocation and permission on every `ice.turn_urls`
        /// entry with freshly minted credentials, and write, read and delete a small object in
        /// the recording store; exits 1 unless each one works.
        #[arg(long)]
        probe: bool,
    },
    /// Work with the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// `check-config --probe`: one line per TURN URL, and an error when any of them does not relay.
fn probe_relays(settings: &Settings) -> anyhow::Result<()> {
    if settings.ice.turn_urls.is_empty() {
        println!("no ice.turn_urls to probe");
        return Ok(());
    }
    // The credentials a participant joining now would get, for as long as a session may last.
    let expires = chrono::Utc::now().timestamp() + settings.ice.turn_ttl_seconds;
    let reports = courtlink::connectivity::relay::probe_all(&settings.ice, expires, None);
    let mut failed = 0;
    for r in &reports {
        println!("{}: {} ({} ms)", r.url, r.outcome, r.took.as_millis());
        failed += usize::from(!r.outcome.is_success());
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} TURN URLs do not relay", reports.len());
    }
    Ok(())
}

/// `check-config --probe`: an S3 recording store answers and takes a write, a read and a
/// delete with these credentials. (A local folder is made and opened at start-up.)
async fn probe_recording_store(settings: &Settings) -> anyhow::Result<()> {
    let recording = &settings.recording;
    if !recording.enabled || recording.store != courtlink::recording::settings::StoreKind::S3 {
        return Ok(());
    }
    match courtlink::recording::storage::probe(recording).await {
        Ok(()) => {
            println!(
                "recording store ({}): write, read and delete ok",
                recording.store_description()
            );
            Ok(())
        }
        Err(e) => {
            println!("recording store ({}): {e:#}", recording.store_description());
            anyhow::bail!("the recording store does not work")
        }
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; exits 1 and names the first entry that was edited or deleted.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    courtlink::process::main(&cli.config_dir, &cli.profile, |settings| {
        run(command, settings)
    })
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let url = settings.database.url.expose_secret().to_owned();
    match command {
        Command::Audit(AuditCommand::Verify) => {
            let store = Store::connect(&url, 1).await?;
            store.migrate().await?;
            match courtlink::store::audit::verify(&store.audit_rows().await?) {
                courtlink::store::audit::AuditVerdict::Intact { entries, last_hash } => {
                    println!("audit chain intact: {entries} entries, last hash {last_hash}");
                }
                courtlink::store::audit::AuditVerdict::Broken { id, reason } => {
                    anyhow::bail!("audit chain broken at entry {id}: {reason}")
                }
            }
            // Each recording's sealed file against the hash recorded when it was closed.
            match courtlink::recording::verify_files(&store, &settings.recording).await? {
                Ok(files) => {
                    println!("recordings intact: {files} files match their recorded SHA-256");
                    Ok(())
                }
                Err(why) => anyhow::bail!("recording files do not match: {why}"),
            }
        }
        Command::CheckConfig { probe } => {
            let backend = if url.starts_with("sqlite:") {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            println!(
                "profile {}: listening on {}:{}, {backend} store, demo data {}",
                settings.profile,
                settings.server.host,
                settings.server.port,
                if settings.demo.seed { "on" } else { "off" }
            );
            let recording = &settings.recording;
            if recording.enabled {
                println!("recordings kept in {}", recording.store_description());
            } else {
                println!("recording off");
            }
            if probe {
                let relays = probe_relays(&settings);
                let store = probe_recording_store(&settings).await;
                relays.and(store)?;
            }
            Ok(())
        }
        Command::Migrate => {
            let store = Store::connect(&url, 1).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::CreateFirstAdmin {
            court_name,
            court_level,
            username,
            display_name,
        } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let store = Store::connect(&url, 1).await?;
            store.migrate().await?;
            let first = courtlink::app::install::FirstAdmin {
                court_name: &court_name,
                court_level: &court_level,
                username: &username,
                display_name: &display_name,
                password,
            };
            let (court, user) = courtlink::app::install::first_admin(&store, &first).await?;
            println!(
                "court {court} and administrator {username} (user {user}) created; \
                 sign in at the login page and choose a new password"
            );
            Ok(())
        }
        Command::SeedDemo => {
            let store = Store::connect(&url, 1).await?;
            store.migrate().await?;
            demo::seed(&store, &settings.demo.password).await?;
            println!("demo data in place ({})", store.backend());
            Ok(())
        }
        Command::Serve => courtlink::process::serve(settings).await,
    }
}
