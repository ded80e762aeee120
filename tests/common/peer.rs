//! A real WebRTC peer that signals through CourtLink's relay (docs/signalling.md).
//!
//! [`SignalPeer`] is one participant: one WebSocket to
//! `/api/v1/sessions/{id}/signal` (token in `Sec-WebSocket-Protocol`, never in the URL) and,
//! once negotiation starts, one `webrtc` 0.21 peer connection towards one remote participant.
//! Descriptions and ICE candidates travel **only** through that WebSocket, in the shapes a
//! browser uses (`RTCSessionDescriptionInit`, `RTCIceCandidateInit`, `null` for end of
//! candidates), wrapped in `{"type":"signal","to":..,"data":{"description"|"candidate":..}}`.
//!
//! The peer connection binds `127.0.0.1:0` only, has mDNS disabled and no STUN/TURN server:
//! its single host candidate is on loopback.
//!
//! [`negotiate_and_echo`] drives two peers through perfect negotiation (the politeness each
//! side uses is the one the server announced in `welcome`/`joined`), opens a data channel
//! and sends bytes over it both ways.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSdpType, RTCSessionDescription, SettingEngineBuilder,
};

/// The label of the data channel [`negotiate_and_echo`] opens.
pub const CHANNEL_LABEL: &str = "courtlink-test";

/// How long [`SignalPeer::connect`] waits for `welcome`.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// What the socket reader hands over: a parsed server message, or why reading stopped.
type Inbound = Result<Value, String>;

/// One participant: a signalling WebSocket plus (after negotiation) a peer connection.
pub struct SignalPeer {
    id: String,
    welcome: Value,
    subprotocol: Option<String>,
    /// When the WebSocket upgrade completed (the moment of "joining").
    joined_at: Instant,
    outbound: mpsc::UnboundedSender<Message>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    /// Server messages taken from `inbound` but not yet acted upon.
    backlog: VecDeque<Value>,
    /// Every server message received so far, `welcome` first, in arrival order.
    log: Vec<Value>,
    /// Remote participant id -> our politeness towards them, as the server announced it
    /// (`welcome`, `admitted`, `joined`).
    roles: HashMap<String, bool>,
    /// Out of the waiting room: `welcome.state` was `admitted`, or `admitted` came since.
    admitted: bool,
    /// Why the socket stopped, once it has.
    closed: Option<String>,
    links: HashMap<String, Link>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl SignalPeer {
    /// Opens `ws_url` (e.g. `ws://127.0.0.1:PORT/api/v1/sessions/12/signal`) with the header
    /// `Sec-WebSocket-Protocol: courtlink.v1, auth.<token>` and reads the `welcome` message.
    pub async fn connect(ws_url: &str, token: &str) -> anyhow::Result<SignalPeer> {
        let mut request = ws_url
            .into_client_request()
            .with_context(|| format!("bad WebSocket URL {ws_url}"))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(&format!("courtlink.v1, auth.{token}"))
                .context("token is not a valid header value")?,
        );
        // Nagle off, as the server is asked to do on its side: we time the negotiation.
        let (stream, response) =
            match tokio_tungstenite::connect_async_with_config(request, None, true).await {
                Ok(ok) => ok,
                Err(tungstenite::Error::Http(response)) => {
                    let body = response
                        .body()
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default()
                        .into_owned();
                    bail!(
                        "WebSocket upgrade to {ws_url} refused: HTTP {} {body}",
                        response.status()
                    );
                }
                Err(err) => return Err(err).context(format!("WebSocket connect to {ws_url}")),
            };
        let joined_at = Instant::now();
        let subprotocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());

        let (mut sink, mut stream) = stream.split();
        let (outbound, mut outbound_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            while let Some(message) = outbound_rx.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
        });
        let (inbound_tx, inbound) = mpsc::unbounded_channel::<Inbound>();
        let reader = tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                let item = match frame {
                    Ok(Message::Text(text)) => serde_json::from_str::<Value>(text.as_str())
                        .map_err(|e| {
                            format!("server sent a text frame that is not JSON ({e}): {text}")
                        }),
                    Ok(Message::Binary(bytes)) => Err(format!(
                        "server sent a binary frame of {} bytes",
                        bytes.len()
                    )),
                    Ok(Message::Close(frame)) => {
                        let why = match frame {
                            Some(f) => format!(
                                "closed by the server: code {} reason {:?}",
                                u16::from(f.code),
                                f.reason.as_str()
                            ),
                            None => "closed by the server without a close frame".to_owned(),
                        };
                        let _ = inbound_tx.send(Err(why));
                        return;
                    }
                    Ok(_) => continue, // ping / pong
                    Err(err) => {
                        let _ = inbound_tx.send(Err(format!("WebSocket read error: {err}")));
                        return;
                    }
                };
                if inbound_tx.send(item).is_err() {
                    return;
                }
            }
            let _ = inbound_tx.send(Err("WebSocket stream ended".to_owned()));
        });

        let mut peer = SignalPeer {
            id: String::new(),
            welcome: Value::Null,
            subprotocol,
            joined_at,
            outbound,
            inbound,
            backlog: VecDeque::new(),
            log: Vec::new(),
            roles: HashMap::new(),
            admitted: false,
            closed: None,
            links: HashMap::new(),
            reader,
            writer,
        };

        let welcome = peer
            .recv_from_socket(Instant::now() + WELCOME_TIMEOUT)
            .await
            .context("waiting for welcome")?;
        if welcome["type"] != "welcome" {
            bail!("first message after the upgrade is not `welcome`: {welcome}");
        }
        let id = welcome["you"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("welcome has no you.id: {welcome}"))?
            .to_owned();
        let participants = welcome["participants"]
            .as_array()
            .ok_or_else(|| anyhow!("welcome has no participants array: {welcome}"))?;
        for p in participants {
            let pid = p["id"]
                .as_str()
                .ok_or_else(|| anyhow!("welcome participant without id: {p}"))?;
            let polite = p["polite"]
                .as_bool()
                .ok_or_else(|| anyhow!("welcome participant without boolean polite: {p}"))?;
            peer.roles.insert(pid.to_owned(), polite);
        }
        // `state` is `waiting` or `admitted`; a server without a waiting room may omit it.
        peer.admitted = match welcome.get("state") {
            None => true,
            Some(state) if state == "admitted" => true,
            Some(state) if state == "waiting" => false,
            Some(other) => bail!("welcome with an unknown state {other}: {welcome}"),
        };
        peer.id = id;
        peer.welcome = welcome;
        Ok(peer)
    }

    /// Our participant id, from `welcome.you.id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `welcome` message as received.
    pub fn welcome(&self) -> &Value {
        &self.welcome
    }

    /// The subprotocol the server chose (`Sec-WebSocket-Protocol` of the 101 answer).
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// When the WebSocket upgrade completed.
    pub fn joined_at(&self) -> Instant {
        self.joined_at
    }

    /// Every server message received so far (`welcome` first).
    pub fn log(&self) -> &[Value] {
        &self.log
    }

    /// Our politeness towards `remote` as the server announced it (`welcome`, `admitted` or
    /// `joined`).
    pub fn polite_towards(&self, remote: &str) -> Option<bool> {
        self.roles.get(remote).copied()
    }

    /// Whether we are out of the waiting room (as far as the messages read so far tell).
    pub fn is_admitted(&self) -> bool {
        self.admitted
    }

    /// Host: let `participant` in from the waiting room.
    pub fn admit(&self, participant: &str) -> anyhow::Result<()> {
        self.send_json(&json!({"type": "admit", "participant": participant}))
    }

    /// Sends one JSON object as a text frame.
    pub fn send_json(&self, message: &Value) -> anyhow::Result<()> {
        self.send_text(message.to_string())
    }

    /// Sends a raw text frame.
    pub fn send_text(&self, text: String) -> anyhow::Result<()> {
        self.outbound
            .send(Message::text(text))
            .map_err(|_| anyhow!("{}: the WebSocket writer has stopped", self.id))
    }

    /// The next server message not yet consumed, waiting at most `within`.
    pub async fn next_message(&mut self, within: Duration) -> anyhow::Result<Value> {
        if let Some(m) = self.backlog.pop_front() {
            return Ok(m);
        }
        self.recv_from_socket(Instant::now() + within).await
    }

    /// Waits for a server message of type `kind` for which `pred` holds; the messages passed
    /// over stay queued for later consumers.
    pub async fn wait_for(
        &mut self,
        kind: &str,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        if let Some(pos) = self
            .backlog
            .iter()
            .position(|m| m["type"] == kind && pred(m))
        {
            if let Some(m) = self.backlog.remove(pos) {
                return Ok(m);
            }
        }
        let deadline = Instant::now() + within;
        let passed_over = self.backlog.len();
        loop {
            let m = match self.recv_from_socket(deadline).await {
                Ok(m) => m,
                Err(e) => {
                    let mut seen = String::new();
                    for m in self.backlog.iter().skip(passed_over) {
                        let _ = write!(seen, "\n    {}", abbreviate(m));
                    }
                    if seen.is_empty() {
                        seen.push_str(" nothing");
                    }
                    return Err(e).with_context(|| {
                        format!(
                            "{}: waiting for a `{kind}` message; received meanwhile:{seen}",
                            self.id
                        )
                    });
                }
            };
            if m["type"] == kind && pred(&m) {
                return Ok(m);
            }
            self.backlog.push_back(m);
        }
    }

    /// Closes every peer connection and the WebSocket (close code 1000).
    pub async fn close(mut self) {
        for (_, link) in self.links.drain() {
            let _ = link.pc.close().await;
        }
        let _ = self.outbound.send(Message::Close(None));
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.writer).await;
        self.reader.abort();
    }

    /// Reads the socket (not the backlog) until `deadline`; records what it gets.
    async fn recv_from_socket(&mut self, deadline: Instant) -> anyhow::Result<Value> {
        if let Some(why) = &self.closed {
            bail!("{}: the signalling socket is gone ({why})", self.id);
        }
        let item = tokio::time::timeout_at(deadline.into(), self.inbound.recv())
            .await
            .map_err(|_| anyhow!("{}: no server message in time", self.id))?;
        self.take(item)
    }

    fn take(&mut self, item: Option<Inbound>) -> anyhow::Result<Value> {
        match item {
            Some(Ok(m)) => {
                self.note_roles(&m);
                self.log.push(m.clone());
                Ok(m)
            }
            Some(Err(why)) => {
                self.closed = Some(why.clone());
                bail!("{}: {why}", self.id)
            }
            None => {
                let why = "the WebSocket reader has stopped".to_owned();
                self.closed = Some(why.clone());
                bail!("{}: {why}", self.id)
            }
        }
    }

    fn note_roles(&mut self, m: &Value) {
        if m["type"] == "joined" {
            if let (Some(pid), Some(polite)) =
                (m["participant"]["id"].as_str(), m["polite"].as_bool())
            {
                self.roles.insert(pid.to_owned(), polite);
            }
        } else if m["type"] == "admitted" {
            self.admitted = true;
            for p in m["participants"].as_array().into_iter().flatten() {
                if let (Some(pid), Some(polite)) = (p["id"].as_str(), p["polite"].as_bool()) {
                    self.roles.insert(pid.to_owned(), polite);
                }
            }
        }
    }

    fn signal(&self, to: &str, data: Value) -> anyhow::Result<()> {
        self.send_json(&json!({"type": "signal", "to": to, "data": data}))
    }
}

/// Lets `guest` out of the waiting room: `host` waits for `waiting` about it, sends `admit`,
/// and `guest` waits for `admitted`. Does nothing if `guest` is already admitted.
pub async fn admit_from_waiting_room(
    host: &mut SignalPeer,
    guest: &mut SignalPeer,
    within: Duration,
) -> anyhow::Result<()> {
    if guest.admitted {
        return Ok(());
    }
    let guest_id = guest.id.clone();
    host.wait_for("waiting", within, |m| {
        m["participant"]["id"] == guest_id.as_str()
    })
    .await
    .with_context(|| format!("{} was never told that {} is waiting", host.id, guest.id))?;
    host.admit(&guest.id)?;
    let admitted = guest
        .wait_for("admitted", within, |_| true)
        .await
        .with_context(|| format!("{} was never admitted by {}", guest.id, host.id))?;
    if !guest.admitted {
        bail!(
            "`admitted` did not take {} out of the waiting room: {admitted}",
            guest.id
        );
    }
    Ok(())
}

/// What the peer connection's handler and the data-channel pollers report.
enum PcEvent {
    NegotiationNeeded,
    Candidate(Result<RTCIceCandidateInit, String>),
    GatheringComplete,
    State(RTCPeerConnectionState),
    /// A data channel the remote side opened (announced when it is open).
    RemoteChannel(Arc<dyn DataChannel>),
    ChannelOpen,
    ChannelMessage(Vec<u8>),
    ChannelClosed,
}

struct Events(mpsc::UnboundedSender<PcEvent>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_negotiation_needed(&self) {
        let _ = self.0.send(PcEvent::NegotiationNeeded);
    }

    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let init = event.candidate.to_json().map_err(|e| e.to_string());
        let _ = self.0.send(PcEvent::Candidate(init));
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.send(PcEvent::GatheringComplete);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.0.send(PcEvent::State(state));
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.0.send(PcEvent::RemoteChannel(channel.clone()));
        spawn_channel_poller(channel, self.0.clone());
    }
}

fn spawn_channel_poller(channel: Arc<dyn DataChannel>, tx: mpsc::UnboundedSender<PcEvent>) {
    tokio::spawn(async move {
        while let Some(event) = channel.poll().await {
            let out = match event {
                DataChannelEvent::OnOpen => PcEvent::ChannelOpen,
                DataChannelEvent::OnMessage(m) => PcEvent::ChannelMessage(m.data.to_vec()),
                DataChannelEvent::OnClose => PcEvent::ChannelClosed,
                _ => continue,
            };
            if tx.send(out).is_err() {
                return;
            }
        }
    });
}

/// Our side of the link to one remote participant.
struct Link {
    remote: String,
    polite: bool,
    pc: Arc<dyn PeerConnection>,
    events: mpsc::UnboundedReceiver<PcEvent>,
    events_tx: mpsc::UnboundedSender<PcEvent>,
    channel: Option<Arc<dyn DataChannel>>,
    making_offer: bool,
    ignore_offer: bool,
    /// Remote candidates that came before any remote description.
    early_candidates: Vec<RTCIceCandidateInit>,
    /// `a=mid` and `a=ice-ufrag` of the first m-section of our description, for candidates.
    mid_ufrag: Option<(String, String)>,
    state: RTCPeerConnectionState,
    connected_at: Option<Instant>,
    open_at: Option<Instant>,
    offers_sent: usize,
    answers_sent: usize,
    candidates_sent: usize,
    end_of_candidates_sent: bool,
    candidates_received: usize,
    end_of_candidates_received: bool,
    received: Vec<Vec<u8>>,
}

impl Link {
    async fn new(remote: &str, polite: bool) -> anyhow::Result<Link> {
        let (events_tx, events) = mpsc::unbounded_channel();
        // No ICE servers: host candidates only. mDNS off: no socket on UDP 5353, no `.local`
        // names. Loopback only.
        let configuration = RTCConfigurationBuilder::new().build();
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .build();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_setting_engine(settings)
            .with_handler(Arc::new(Events(events_tx.clone())))
            .with_udp_addrs(vec!["127.0.0.1:0"])
            .build()
            .await
            .map_err(|e| anyhow!("building the peer connection: {e}"))?;
        Ok(Link {
            remote: remote.to_owned(),
            polite,
            pc: Arc::new(pc),
            events,
            events_tx,
            channel: None,
            making_offer: false,
            ignore_offer: false,
            early_candidates: Vec::new(),
            mid_ufrag: None,
            state: RTCPeerConnectionState::New,
            connected_at: None,
            open_at: None,
            offers_sent: 0,
            answers_sent: 0,
            candidates_sent: 0,
            end_of_candidates_sent: false,
            candidates_received: 0,
            end_of_candidates_received: false,
            received: Vec::new(),
        })
    }

    fn summary(&self) -> String {
        format!(
            "link to {} (polite={}): state {:?}, offers sent {}, answers sent {}, candidates \
             sent {} (end {}), received {} (end {}), channel {}",
            self.remote,
            self.polite,
            self.state,
            self.offers_sent,
            self.answers_sent,
            self.candidates_sent,
            self.end_of_candidates_sent,
            self.candidates_received,
            self.end_of_candidates_received,
            if self.open_at.is_some() {
                "open"
            } else if self.channel.is_some() {
                "created, not open"
            } else {
                "none"
            }
        )
    }
}

/// Figures from one [`negotiate_and_exchange`] run.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Bytes the first peer received over the data channel.
    pub first_received: Vec<u8>,
    /// Bytes the second peer received back.
    pub second_received: Vec<u8>,
    /// Start of negotiation -> both peer connections `connected`.
    pub connected: Duration,
    /// Start of negotiation -> the data channel open on both sides.
    pub open: Duration,
    /// The second peer's WebSocket upgrade -> the data channel open on both sides.
    pub join_to_open: Duration,
    /// Start of negotiation -> the echo back at the second peer.
    pub echoed: Duration,
    /// Candidates each side received through the relay (first, second).
    pub candidates_received: (usize, usize),
    /// Signalling messages relayed for this negotiation, per direction
    /// (second -> first, first -> second).
    pub signals: (usize, usize),
}

/// Drives two connected peers through perfect negotiation over the server's relay (the
/// impolite newcomer offers, trickle ICE both ways through `signal` messages), opens a data
/// channel, sends `payload` from the second to the first and back, and returns the time from
/// the start of negotiation until the data channel is open on both sides. Fails (Err) with a
/// clear message after `timeout`, or if the bytes that come back differ.
pub async fn negotiate_and_echo(
    first: &mut SignalPeer,
    second: &mut SignalPeer,
    payload: &[u8],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let x = negotiate_and_exchange(first, second, payload, timeout).await?;
    if x.first_received != payload {
        bail!(
            "{} received {} bytes over the data channel, {} were sent",
            first.id,
            x.first_received.len(),
            payload.len()
        );
    }
    if x.second_received != payload {
        bail!(
            "{} got {} bytes back over the data channel, {} were sent",
            second.id,
            x.second_received.len(),
            payload.len()
        );
    }
    Ok(x.open)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    First,
    Second,
}

enum Step {
    Server(Side, Option<Inbound>),
    Pc(Side, Option<PcEvent>),
    Backlog(Side, Value),
    TimedOut,
}

/// [`negotiate_and_echo`], returning every figure and both received payloads instead of
/// checking them.
///
/// `first` must have been in the session before `second` (so `first` is polite and `second`,
/// the newcomer, impolite); the roles are taken from the server's `welcome` and `joined`, and
/// a pair that is not one polite + one impolite is an error.
pub async fn negotiate_and_exchange(
    first: &mut SignalPeer,
    second: &mut SignalPeer,
    payload: &[u8],
    timeout: Duration,
) -> anyhow::Result<Exchange> {
    let start = Instant::now();
    let deadline = start + timeout;

    for peer in [&*first, &*second] {
        if !peer.admitted {
            bail!(
                "{} is in the waiting room (welcome {}); admit it first \
                 (admit_from_waiting_room)",
                peer.id,
                peer.welcome
            );
        }
    }
    // Roles, as the server announced them.
    let second_polite = second.polite_towards(&first.id).ok_or_else(|| {
        anyhow!(
            "neither {}'s welcome nor an `admitted` lists {} as already present: {}",
            second.id,
            first.id,
            second.welcome
        )
    })?;
    let second_id = second.id.clone();
    let joined = first
        .wait_for(
            "joined",
            deadline.saturating_duration_since(Instant::now()),
            |m| m["participant"]["id"] == second_id.as_str(),
        )
        .await
        .with_context(|| format!("{} never saw `joined` for {}", first.id, second.id))?;
    let first_polite = joined["polite"]
        .as_bool()
        .ok_or_else(|| anyhow!("`joined` without boolean polite: {joined}"))?;
    if first_polite == second_polite {
        bail!(
            "the server made both sides {}: {}'s welcome {}, {}'s joined {}",
            if first_polite { "polite" } else { "impolite" },
            second.id,
            second.welcome,
            first.id,
            joined
        );
    }
    if !first_polite {
        bail!(
            "the server made the newcomer {} polite and {} (there first) impolite: \
             welcome {}, joined {}",
            second.id,
            first.id,
            second.welcome,
            joined
        );
    }

    let mut first_link = Link::new(&second.id, first_polite).await?;
    let mut second_link = Link::new(&first.id, second_polite).await?;
    let log_marks = (first.log.len(), second.log.len());

    // The impolite newcomer opens the channel; `negotiationneeded` makes it offer.
    let channel = second_link
        .pc
        .create_data_channel(CHANNEL_LABEL, None)
        .await
        .map_err(|e| anyhow!("{}: create_data_channel: {e}", second.id))?;
    spawn_channel_poller(channel.clone(), second_link.events_tx.clone());
    second_link.channel = Some(channel);

    let mut open_at: Option<Instant> = None;
    let mut connected_at: Option<Instant> = None;
    let mut sent_payload = false;
    let mut first_received: Option<Vec<u8>> = None;
    let mut second_received: Option<Vec<u8>> = None;

    let result: anyhow::Result<()> = async {
        loop {
            let step = if let Some(m) = first.backlog.pop_front() {
                Step::Backlog(Side::First, m)
            } else if let Some(m) = second.backlog.pop_front() {
                Step::Backlog(Side::Second, m)
            } else {
                tokio::select! {
                    m = first.inbound.recv() => Step::Server(Side::First, m),
                    m = second.inbound.recv() => Step::Server(Side::Second, m),
                    e = first_link.events.recv() => Step::Pc(Side::First, e),
                    e = second_link.events.recv() => Step::Pc(Side::Second, e),
                    _ = tokio::time::sleep_until(deadline.into()) => Step::TimedOut,
                }
            };
            match step {
                Step::TimedOut => bail!("timed out"),
                Step::Server(side, item) => {
                    let (peer, link) = pick(side, first, second, &mut first_link, &mut second_link);
                    let m = peer.take(item)?;
                    on_server_message(peer, link, m).await?;
                }
                Step::Backlog(side, m) => {
                    let (peer, link) = pick(side, first, second, &mut first_link, &mut second_link);
                    on_server_message(peer, link, m).await?;
                }
                Step::Pc(side, event) => {
                    let (peer, link) = pick(side, first, second, &mut first_link, &mut second_link);
                    let event = event
                        .ok_or_else(|| anyhow!("{}: peer connection events ended", peer.id))?;
                    match event {
                        PcEvent::ChannelMessage(bytes) => {
                            link.received.push(bytes.clone());
                            match side {
                                Side::First => {
                                    // Echo it back on the same channel.
                                    let ch = link.channel.clone().ok_or_else(|| {
                                        anyhow!(
                                            "{}: message before the channel was announced",
                                            peer.id
                                        )
                                    })?;
                                    ch.send(bytes.as_slice().into())
                                        .await
                                        .map_err(|e| anyhow!("{}: echo send: {e}", peer.id))?;
                                    first_received = Some(bytes);
                                }
                                Side::Second => second_received = Some(bytes),
                            }
                        }
                        other => on_pc_event(peer, link, other).await?,
                    }
                }
            }

            if connected_at.is_none()
                && first_link.connected_at.is_some()
                && second_link.connected_at.is_some()
            {
                connected_at = Some(Instant::now());
            }
            if open_at.is_none() && first_link.open_at.is_some() && second_link.open_at.is_some() {
                open_at = Some(Instant::now());
            }
            if open_at.is_some() && !sent_payload {
                let ch = second_link
                    .channel
                    .clone()
                    .ok_or_else(|| anyhow!("{}: no channel", second.id))?;
                ch.send(payload.into())
                    .await
                    .map_err(|e| anyhow!("{}: send: {e}", second.id))?;
                sent_payload = true;
            }
            if first_received.is_some() && second_received.is_some() {
                return Ok(());
            }
        }
    }
    .await;

    let finished = Instant::now();
    if let Err(err) = result {
        let mut msg = format!(
            "negotiation {} -> {} failed after {:.2?} (timeout {:?}): {err:#}\n  {}: {}\n  {}: {}",
            second.id,
            first.id,
            finished - start,
            timeout,
            first.id,
            first_link.summary(),
            second.id,
            second_link.summary()
        );
        for (peer, mark) in [(&*first, log_marks.0), (&*second, log_marks.1)] {
            let _ = write!(msg, "\n  {} received since the start:", peer.id);
            for m in &peer.log[mark..] {
                let _ = write!(msg, "\n    {}", abbreviate(m));
            }
        }
        let _ = first_link.pc.close().await;
        let _ = second_link.pc.close().await;
        bail!(msg);
    }

    let relayed = |peer: &SignalPeer, mark: usize| {
        peer.log[mark..]
            .iter()
            .filter(|m| m["type"] == "signal")
            .count()
    };
    let exchange = Exchange {
        first_received: first_received.unwrap_or_default(),
        second_received: second_received.unwrap_or_default(),
        connected: connected_at.map_or(finished - start, |t| t - start),
        open: open_at.map_or(finished - start, |t| t - start),
        join_to_open: open_at.unwrap_or(finished) - second.joined_at,
        echoed: finished - start,
        candidates_received: (
            first_link.candidates_received,
            second_link.candidates_received,
        ),
        signals: (relayed(first, log_marks.0), relayed(second, log_marks.1)),
    };
    first.links.insert(second.id.clone(), first_link);
    second.links.insert(first.id.clone(), second_link);
    Ok(exchange)
}

fn pick<'a>(
    side: Side,
    first: &'a mut SignalPeer,
    second: &'a mut SignalPeer,
    first_link: &'a mut Link,
    second_link: &'a mut Link,
) -> (&'a mut SignalPeer, &'a mut Link) {
    match side {
        Side::First => (first, first_link),
        Side::Second => (second, second_link),
    }
}

/// One server message during negotiation (perfect negotiation, description and candidate
/// halves).
async fn on_server_message(peer: &mut SignalPeer, link: &mut Link, m: Value) -> anyhow::Result<()> {
    match m["type"].as_str() {
        Some("signal") => {}
        Some("error") => bail!("{}: the server refused a message: {m}", peer.id),
        Some("left") if m["participant_id"] == link.remote.as_str() => {
            bail!("{}: {} left during negotiation: {m}", peer.id, link.remote)
        }
        Some("ended") => bail!("{}: the session ended during negotiation: {m}", peer.id),
        _ => return Ok(()),
    }
    if m["from"] != link.remote.as_str() {
        return Ok(()); // someone else's negotiation
    }
    let data = &m["data"];
    if let Some(description) = data.get("description") {
        let description: RTCSessionDescription = serde_json::from_value(description.clone())
            .with_context(|| {
                format!(
                    "{}: relayed description is not RTCSessionDescriptionInit: {m}",
                    peer.id
                )
            })?;
        let is_offer = description.sdp_type == RTCSdpType::Offer;
        let stable = link.pc.pending_local_description().await.is_none()
            && link.pc.pending_remote_description().await.is_none();
        let collision = is_offer && (link.making_offer || !stable);
        link.ignore_offer = !link.polite && collision;
        if link.ignore_offer {
            return Ok(());
        }
        if collision {
            // The polite side yields: roll back its own offer (a browser does this implicitly).
            let rollback: RTCSessionDescription =
                serde_json::from_value(json!({"type": "rollback", "sdp": ""}))?;
            link.pc
                .set_local_description(rollback)
                .await
                .map_err(|e| anyhow!("{}: rollback: {e}", peer.id))?;
        }
        link.pc
            .set_remote_description(description)
            .await
            .map_err(|e| anyhow!("{}: set_remote_description: {e}", peer.id))?;
        for candidate in std::mem::take(&mut link.early_candidates) {
            link.pc
                .add_ice_candidate(candidate)
                .await
                .map_err(|e| anyhow!("{}: add_ice_candidate (queued): {e}", peer.id))?;
        }
        if is_offer {
            let answer = link
                .pc
                .create_answer(None)
                .await
                .map_err(|e| anyhow!("{}: create_answer: {e}", peer.id))?;
            link.pc
                .set_local_description(answer.clone())
                .await
                .map_err(|e| anyhow!("{}: set_local_description(answer): {e}", peer.id))?;
            peer.signal(&link.remote, json!({"description": answer}))?;
            link.answers_sent += 1;
        }
    } else if let Some(candidate) = data.get("candidate") {
        if candidate.is_null() {
            link.end_of_candidates_received = true;
            return Ok(());
        }
        let candidate: RTCIceCandidateInit = serde_json::from_value(candidate.clone())
            .with_context(|| {
                format!(
                    "{}: relayed candidate is not RTCIceCandidateInit: {m}",
                    peer.id
                )
            })?;
        link.candidates_received += 1;
        if candidate.candidate.is_empty() {
            link.end_of_candidates_received = true;
            return Ok(());
        }
        if link.pc.remote_description().await.is_none() {
            if !link.ignore_offer {
                link.early_candidates.push(candidate);
            }
            return Ok(());
        }
        if let Err(e) = link.pc.add_ice_candidate(candidate).await {
            if !link.ignore_offer {
                bail!("{}: add_ice_candidate: {e}", peer.id);
            }
        }
    } else {
        bail!(
            "{}: relayed signal holds neither description nor candidate: {m}",
            peer.id
        );
    }
    Ok(())
}

async fn on_pc_event(peer: &mut SignalPeer, link: &mut Link, event: PcEvent) -> anyhow::Result<()> {
    match event {
        PcEvent::NegotiationNeeded => {
            link.making_offer = true;
            let offer = link
                .pc
                .create_offer(None)
                .await
                .map_err(|e| anyhow!("{}: create_offer: {e}", peer.id));
            let offer = match offer {
                Ok(o) => o,
                Err(e) => {
                    link.making_offer = false;
                    return Err(e);
                }
            };
            let set = link.pc.set_local_description(offer.clone()).await;
            link.making_offer = false;
            set.map_err(|e| anyhow!("{}: set_local_description(offer): {e}", peer.id))?;
            peer.signal(&link.remote, json!({"description": offer}))?;
            link.offers_sent += 1;
        }
        PcEvent::Candidate(init) => {
            let mut init =
                init.map_err(|e| anyhow!("{}: local candidate to JSON: {e}", peer.id))?;
            if init.candidate.is_empty() {
                return send_end_of_candidates(peer, link);
            }
            // `to_json` leaves sdpMid empty; a browser needs the real mid (and the ufrag tells
            // it which generation the candidate belongs to).
            if link.mid_ufrag.is_none() {
                if let Some(local) = link.pc.local_description().await {
                    link.mid_ufrag = first_mid_and_ufrag(&local.sdp);
                }
            }
            if let Some((mid, ufrag)) = &link.mid_ufrag {
                init.sdp_mid = Some(mid.clone());
                init.sdp_mline_index = Some(0);
                init.username_fragment = Some(ufrag.clone());
            }
            peer.signal(&link.remote, json!({"candidate": init}))?;
            link.candidates_sent += 1;
        }
        PcEvent::GatheringComplete => send_end_of_candidates(peer, link)?,
        PcEvent::State(state) => {
            link.state = state;
            match state {
                RTCPeerConnectionState::Connected => {
                    link.connected_at.get_or_insert_with(Instant::now);
                }
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                    bail!("{}: peer connection {state:?}", peer.id)
                }
                _ => {}
            }
        }
        PcEvent::RemoteChannel(channel) => {
            let label = channel.label().await.unwrap_or_default();
            if label != CHANNEL_LABEL {
                bail!("{}: unexpected data channel {label:?}", peer.id);
            }
            link.channel = Some(channel);
        }
        PcEvent::ChannelOpen => {
            link.open_at.get_or_insert_with(Instant::now);
        }
        PcEvent::ChannelClosed => bail!("{}: the data channel closed", peer.id),
        PcEvent::ChannelMessage(bytes) => link.received.push(bytes),
    }
    Ok(())
}

fn send_end_of_candidates(peer: &mut SignalPeer, link: &mut Link) -> anyhow::Result<()> {
    if !link.end_of_candidates_sent {
        link.end_of_candidates_sent = true;
        peer.signal(&link.remote, json!({"candidate": null}))?;
    }
    Ok(())
}

/// `a=mid` and `a=ice-ufrag` of the first m-section (or the session-level ufrag).
fn first_mid_and_ufrag(sdp: &str) -> Option<(String, String)> {
    let mut mid = None;
    let mut ufrag = None;
    let mut in_media = false;
    for line in sdp.lines() {
        let line = line.trim_end();
        if line.starts_with("m=") {
            if in_media {
                break;
            }
            in_media = true;
        } else if let Some(v) = line.strip_prefix("a=mid:") {
            mid.get_or_insert_with(|| v.to_owned());
        } else if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
            ufrag.get_or_insert_with(|| v.to_owned());
        }
    }
    Some((mid?, ufrag?))
}

/// A server message for a report, SDP shortened.
pub fn abbreviate(m: &Value) -> String {
    let mut m = m.clone();
    if let Some(sdp) = m.pointer_mut("/data/description/sdp") {
        if let Some(s) = sdp.as_str() {
            *sdp = Value::String(format!("<{} bytes of SDP>", s.len()));
        }
    }
    m.to_string()
}
