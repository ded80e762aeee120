//! What the load tools (`bench`, `loadtest`) share: CourtLink servers started as child processes
//! of the running binary (`courtlink-bench serve`, which is `courtlink serve`'s own
//! `courtlink::process::serve`, or the hidden baseline relay), their settings, and WebSocket
//! clients.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use courtlink::config::Settings;

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server child process and the port it printed.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
}

impl Server {
    pub(crate) fn spawn(
        args: &[&str],
        envs: &[(&str, String)],
        marker: &str,
    ) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let port = loop {
            let Some(line) = lines.next() else {
                bail!("the server exited before it listened")
            };
            let line = line?;
            if let Some(i) = line.find(marker) {
                let rest = &line[i + marker.len()..];
                break rest.trim_end_matches('/').trim().parse()?;
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, port })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of /proc/<pid>/stat; `after` starts at field 3.
        (ticks(11) + ticks(12)) / 100.0
    }

    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn courtlink_env(
    settings: &Settings,
    database_url: &str,
    redis: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("COURTLINK__SERVER__PORT", "0".to_owned()),
        ("COURTLINK__DATABASE__URL", database_url.to_owned()),
        ("COURTLINK__DEMO__SEED", "false".to_owned()),
        ("COURTLINK__SIGNALLING__WAITING_ROOM", "false".to_owned()),
        (
            "COURTLINK__SIGNALLING__RATE_LIMIT_PER_SECOND",
            "1000000".to_owned(),
        ),
        (
            "COURTLINK__SIGNALLING__RATE_LIMIT_BURST",
            "1000000".to_owned(),
        ),
        ("COURTLINK__SIGNALLING__OUTBOUND_QUEUE", "1024".to_owned()),
        ("COURTLINK__LOG__FILTER", "error".to_owned()),
        (
            "COURTLINK__AUTH__SIGNING_KEY",
            secrecy::ExposeSecret::expose_secret(&settings.auth.signing_key).to_owned(),
        ),
    ];
    if let Some(url) = redis {
        env.push(("COURTLINK__REDIS__URL", url.to_owned()));
        env.push((
            "COURTLINK__REDIS__KEY_PREFIX",
            format!("courtlink-bench-{}:", std::process::id()),
        ));
    }
    env
}

pub(crate) async fn connect(url: &str, protocols: Option<&str>) -> anyhow::Result<Ws> {
    let mut req = url.into_client_request()?;
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse()?);
    }
    // Nagle off on the client side too, or small messages wait for delayed ACKs.
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    Ok(ws)
}
