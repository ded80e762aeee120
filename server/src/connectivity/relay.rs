//! Probing the court's TURN relay from the server: `courtlink check-config --probe`.
//!
//! For each configured `turn:` URL the probe does what a browser's ICE agent does first: it mints
//! credentials exactly as participants get them (`signalling::ice`), asks the relay for an
//! allocation over the URL's transport (UDP or TCP), and then for a permission towards a peer
//! address. It reports success with the relayed address, or the exact failure: nothing
//! answered, 401 (the relay does not share `ice.turn_secret`, or the credentials expired), 403
//! (the relay refuses the peer address: its `denied-peer-ip` ranges).
//!
//! It drives the sans-I/O TURN client of the WebRTC stack CourtLink already links (`rtc::turn`)
//! over a plain blocking socket: a one-shot command needs no runtime of its own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use rtc::sansio::Protocol;
use rtc::shared::turn_framing::TurnStreamDecoder;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::turn::client::{Client, ClientConfig, Event};

use crate::config::{IceSettings, IceUrl, Transport};

/// How long one URL may take before it counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// An allocation was made and the permission granted.
    Relayed { relayed: SocketAddr },
    /// The URL is a `turns:` (TLS) one, which the probe does not speak.
    Skipped(String),
    /// No answer: the host does not resolve, the port is closed, or a firewall drops the packets.
    Unreachable(String),
    /// 401: the relay does not accept the minted credentials (another secret, or expired).
    Unauthorized(String),
    /// 403: the relay refused the permission to the peer address (or the allocation).
    Forbidden(String),
    /// Any other answer.
    Failed(String),
}

impl ProbeOutcome {
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            ProbeOutcome::Relayed { .. } | ProbeOutcome::Skipped(_)
        )
    }
}

impl std::fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeOutcome::Relayed { relayed } => write!(f, "ok: relayed address {relayed}"),
            ProbeOutcome::Skipped(why) => write!(f, "not probed: {why}"),
            ProbeOutcome::Unreachable(why) => write!(f, "unreachable: {why}"),
            ProbeOutcome::Unauthorized(why) => write!(
                f,
                "401 unauthorized: the relay refuses the credentials minted from ice.turn_secret \
                 (another static-auth-secret, or a clock far off): {why}"
            ),
            ProbeOutcome::Forbidden(why) => write!(
                f,
                "403 forbidden: the relay refuses the peer address (its denied-peer-ip): {why}"
            ),
            ProbeOutcome::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// One `turn:` URL and what the probe found.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub url: String,
    pub outcome: ProbeOutcome,
    pub took: Duration,
}

/// Probes every configured TURN URL with credentials minted as a participant's would be, valid
/// until `expires_unix`. `peer` is the address the permission is asked for; by default the
/// allocation's own relayed address, which a relay that serves CourtLink must accept.
pub fn probe_all(
    settings: &IceSettings,
    expires_unix: i64,
    peer: Option<SocketAddr>,
) -> Vec<ProbeReport> {
    let username = format!("{expires_unix}:probe");
    let password = crate::signalling::ice::turn_password(
        secrecy::ExposeSecret::expose_secret(&settings.turn_secret),
        &username,
    );
    settings
        .turn_urls
        .iter()
        .map(|raw| {
            let started = Instant::now();
            let outcome = match IceUrl::parse(raw) {
                Err(e) => ProbeOutcome::Failed(e),
                Ok(url) if url.secure => {
                    ProbeOutcome::Skipped("turns: needs TLS, which the probe does not speak".into())
                }
                Ok(url) => probe(&url, &username, &password, peer),
            };
            ProbeReport {
                url: raw.clone(),
                outcome,
                took: started.elapsed(),
            }
        })
        .collect()
}

/// The two ways to reach a relay, behind one send/receive.
enum Line {
    Udp(UdpSocket),
    Tcp(TcpStream, TurnStreamDecoder),
}

impl Line {
    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Line::Udp(s) => s.send(bytes).map(|_| ()),
            Line::Tcp(s, _) => s.write_all(bytes),
        }
    }

    /// One whole message, or None when nothing came within `wait`.
    fn receive(&mut self, wait: Duration) -> std::io::Result<Option<Vec<u8>>> {
        let wait = wait.max(Duration::from_millis(1));
        match self {
            Line::Udp(s) => {
                s.set_read_timeout(Some(wait))?;
                let mut buf = vec![0u8; 1500];
                match s.recv(&mut buf) {
                    Ok(n) => Ok(Some(buf[..n].to_vec())),
                    Err(e) if is_timeout(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Line::Tcp(s, decoder) => {
                if let Some(m) = decoder.next_message().map_err(std::io::Error::other)? {
                    return Ok(Some(m));
                }
                s.set_read_timeout(Some(wait))?;
                let mut buf = vec![0u8; 4096];
                match s.read(&mut buf) {
                    Ok(0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => {
                        decoder.extend_from_slice(&buf[..n]);
                        decoder.next_message().map_err(std::io::Error::other)
                    }
                    Err(e) if is_timeout(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The STUN error code in an error's text (the TURN client reports `… (error 401: Unauthorized)`).
fn stun_code(text: &str) -> Option<u16> {
    let at = text.find("(error ")? + "(error ".len();
    text.get(at..at + 3)?.parse().ok()
}

fn refused(text: String) -> ProbeOutcome {
    match stun_code(&text) {
        Some(401) => ProbeOutcome::Unauthorized(text),
        Some(403) => ProbeOutcome::Forbidden(text),
        _ => ProbeOutcome::Failed(text),
    }
}

/// Probes one URL with the given long-term credentials (see `probe_all`).
pub fn probe(
    url: &IceUrl,
    username: &str,
    password: &str,
    peer: Option<SocketAddr>,
) -> ProbeOutcome {
    let server = match (url.host.as_str(), url.port).to_socket_addrs() {
        Ok(mut addrs) => match addrs.find(SocketAddr::is_ipv4) {
            Some(a) => a,
            None => return ProbeOutcome::Unreachable(format!("{} has no IPv4 address", url.host)),
        },
        Err(e) => return ProbeOutcome::Unreachable(format!("{} does not resolve: {e}", url.host)),
    };
    let (mut line, local, protocol) = match url.transport {
        Transport::Udp => {
            let socket = match UdpSocket::bind(("0.0.0.0", 0)).and_then(|s| {
                s.connect(server)?;
                Ok(s)
            }) {
                Ok(s) => s,
                Err(e) => return ProbeOutcome::Unreachable(format!("udp {server}: {e}")),
            };
            let local = socket.local_addr().unwrap_or(server);
            (Line::Udp(socket), local, TransportProtocol::UDP)
        }
        Transport::Tcp => match TcpStream::connect_timeout(&server, PROBE_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let local = s.local_addr().unwrap_or(server);
                (
                    Line::Tcp(s, TurnStreamDecoder::new()),
                    local,
                    TransportProtocol::TCP,
                )
            }
            Err(e) => return ProbeOutcome::Unreachable(format!("tcp {server}: {e}")),
        },
    };
    let provider = match rtc::crypto::default_provider() {
        Ok(p) => p,
        Err(e) => return ProbeOutcome::Failed(format!("no crypto provider: {e}")),
    };
    let config = ClientConfig {
        stun_serv_addr: String::new(),
        turn_serv_addr: server.to_string(),
        local_addr: local,
        transport_protocol: protocol,
        username: username.to_owned(),
        password: password.to_owned(),
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        allocation_refresh_interval_cap: None,
    };
    let mut client = match Client::new(config, provider) {
        Ok(c) => c,
        Err(e) => return ProbeOutcome::Failed(e.to_string()),
    };
    if let Err(e) = client.allocate(Instant::now()) {
        return ProbeOutcome::Failed(e.to_string());
    }
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let mut relayed: Option<SocketAddr> = None;
    while Instant::now() < deadline {
        while let Some(out) = client.poll_write() {
            if let Err(e) = line.send(&out.message) {
                return ProbeOutcome::Unreachable(format!("{server}: {e}"));
            }
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::AllocateResponse(_, addr) => {
                    relayed = Some(addr);
                    let target = peer.unwrap_or(addr);
                    let asked = client
                        .relay(addr)
                        .and_then(|mut r| r.create_permission(Instant::now(), target));
                    match asked {
                        Ok(Some(_)) => {}
                        Ok(None) => return ProbeOutcome::Relayed { relayed: addr },
                        Err(e) => return ProbeOutcome::Failed(e.to_string()),
                    }
                }
                Event::AllocateError(_, e) => return refused(e.to_string()),
                Event::CreatePermissionResponse(..) => {
                    if let Some(relayed) = relayed {
                        return ProbeOutcome::Relayed { relayed };
                    }
                }
                Event::CreatePermissionError(_, e) => return refused(e.to_string()),
                Event::TransactionTimeout(_) => {
                    return ProbeOutcome::Unreachable(format!(
                        "no answer from {server} over {}",
                        url.transport
                    ));
                }
                _ => {}
            }
        }
        let now = Instant::now();
        let wake = client
            .poll_timeout()
            .map_or(Duration::from_millis(100), |t| {
                t.saturating_duration_since(now)
            })
            .min(Duration::from_millis(100))
            .min(deadline.saturating_duration_since(now));
        match line.receive(wake) {
            Ok(Some(bytes)) => {
                let message = TaggedBytesMut {
                    now: Instant::now(),
                    transport: TransportContext {
                        local_addr: local,
                        peer_addr: server,
                        transport_protocol: protocol,
                        ecn: None,
                    },
                    message: bytes.as_slice().into(),
                };
                if let Err(e) = client.handle_read(message) {
                    return ProbeOutcome::Failed(e.to_string());
                }
            }
            Ok(None) => {}
            Err(e) => return ProbeOutcome::Unreachable(format!("{server}: {e}")),
        }
        if let Err(e) = client.handle_timeout(Instant::now()) {
            return ProbeOutcome::Failed(e.to_string());
        }
    }
    ProbeOutcome::Unreachable(format!(
        "no answer from {server} over {} within {} s",
        url.transport,
        PROBE_TIMEOUT.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_codes_are_read_from_the_clients_errors() {
        assert_eq!(
            stun_code("Allocate error response (error 401: Unauthorized)"),
            Some(401)
        );
        assert_eq!(stun_code("(error 403: Forbidden IP)"), Some(403));
        assert_eq!(stun_code("timeout"), None);
        assert!(matches!(
            refused("x (error 401: Unauthorized)".into()),
            ProbeOutcome::Unauthorized(_)
        ));
        assert!(matches!(
            refused("x (error 403: Forbidden)".into()),
            ProbeOutcome::Forbidden(_)
        ));
        assert!(matches!(
            refused("x (error 486: Allocation Quota Reached)".into()),
            ProbeOutcome::Failed(_)
        ));
    }
}
