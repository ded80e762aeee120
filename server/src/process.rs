//! What a process that serves CourtLink does around `startup::Application`: the shipped
//! `courtlink serve`, and the load tools' `courtlink-bench serve` (tools/), which starts the server
//! it measures as a child process of its own binary. One definition, so that the benchmarks
//! measure what a court runs.

use crate::config::Settings;
use crate::demo;
use crate::startup::Application;

/// The body of a CourtLink binary's `main` (the shipped `courtlink` and the load tools'
/// `courtlink-bench`): the allocator setting, the settings from `config_dir`/`profile` (exit 2
/// when they do not load), the log, a runtime, then `run` with the data key installed. Its error
/// is printed whole and exits 1.
pub fn main<F, Fut>(config_dir: &std::path::Path, profile: &str, run: F) -> std::process::ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use secrecy::ExposeSecret as _;
    use std::process::ExitCode;
    return_large_blocks_to_the_system();
    let settings = match Settings::load(config_dir, profile) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        crate::crypto::install(settings.privacy.data_key.expose_secret().as_bytes())?;
        run(settings).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until stopped. The line `CourtLink is serving on http://HOST:PORT/` is what the load
/// tools wait for (and read the port from) when they start a server.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let demo_password = settings.demo.seed.then(|| settings.demo.password.clone());
    let host = settings.server.host.clone();
    let app = Application::build(settings).await?;
    println!("CourtLink is serving on http://{host}:{}/", app.port());
    if let Some(password) = demo_password {
        println!("Demo logins (password for all: {password}):");
        for (user, who) in demo::LOGINS {
            println!("  {user:<18} {who}");
        }
    }
    app.run_until_stopped().await?;
    Ok(())
}

/// glibc serves a block of 128 KiB or more with its own mapping, returned when freed, but raises
/// that threshold to the size of each such block freed; a password check's 19 MiB argon2 buffer
/// then comes from the heap arenas, and each arena keeps it. The province-day load test found a
/// login rush leaving 0.6 GiB held this way. A fixed threshold keeps large blocks as mappings.
/// Call it first in `main`, before any other thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only sets an allocator parameter; it runs before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_blocks_to_the_system() {}
