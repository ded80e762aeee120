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
//! and sends bytes over it both ways. Afterwards the peer connection outlives the signalling
//! socket: [`SignalPeer::drop_socket`] cuts the WebSocket without a close frame (a network
//! loss), [`SignalPeer::resume_on`] reconnects (to any instance) with `resume.<last seq>`,
//! [`exchange_over_channel`] sends bytes both ways over the existing data channel, and
//! [`restart_ice_through_relay`] renegotiates (an ICE restart) through the relay.
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
    RTCIceCandidateInit, RTCIceConnectionState, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSdpType, RTCSessionDescription, SettingEngineBuilder,
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
    /// The token the socket was opened with; a resume presents it again.
    token: String,
    welcome: Value,
    subprotocol: Option<String>,
    /// When the current socket's TCP connect began.
    started_at: Instant,
    /// When the current socket's WebSocket upgrade completed (the moment of "joining").
    joined_at: Instant,
    outbound: mpsc::UnboundedSender<Message>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    /// Server messages taken from `inbound` but not yet acted upon.
    backlog: VecDeque<Value>,
    /// Every server message received so far, `welcome` first, in arrival order, across
    /// resumed sockets.
    log: Vec<Value>,
    /// Remote participant id -> our politeness towards them, as the server announced it
    /// (`welcome`, `admitted`, `joined`, `resumed`).
    roles: HashMap<String, bool>,
    /// Out of the waiting room: `welcome.state` was `admitted`, or `admitted` came since.
    admitted: bool,
    /// Why the socket stopped, once it has.
    closed: Option<String>,
    /// Sockets opened so far: 1 + the resumes.
    sockets: usize,
    links: HashMap<String, Link>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// One open WebSocket, its reader and writer tasks.
struct Socket {
    started_at: Instant,
    joined_at: Instant,
    subprotocol: Option<String>,
    outbound: mpsc::UnboundedSender<Message>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// Opens `ws_url` with `Sec-WebSocket-Protocol: <protocols>` and starts the tasks that read
/// and write it.
async fn open_socket(ws_url: &str, protocols: &str) -> anyhow::Result<Socket> {
    let started_at = Instant::now();
    let mut request = ws_url
        .into_client_request()
        .with_context(|| format!("bad WebSocket URL {ws_url}"))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocols).context("token is not a valid header value")?,
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
                Ok(Message::Text(text)) => {
                    serde_json::from_str::<Value>(text.as_str()).map_err(|e| {
                        format!("server sent a text frame that is not JSON ({e}): {text}")
                    })
                }
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
    Ok(Socket {
        started_at,
        joined_at,
        subprotocol,
        outbound,
        inbound,
        reader,
        writer,
    })
}

/// What [`SignalPeer::resume_on`] got back.
#[derive(Debug, Clone)]
pub struct Resumption {
    /// The seq presented as `resume.<seq>`.
    pub after: u64,
    /// The messages replayed before `resumed`, in order.
    pub replayed: Vec<Value>,
    /// The `resumed` message.
    pub resumed: Value,
    /// The subprotocol the server chose for the new socket.
    pub subprotocol: Option<String>,
}

impl SignalPeer {
    /// Opens `ws_url` (e.g. `ws://127.0.0.1:PORT/api/v1/sessions/12/signal`) with the header
    /// `Sec-WebSocket-Protocol: courtlink.v1, auth.<token>` and reads the `welcome` message.
    pub async fn connect(ws_url: &str, token: &str) -> anyhow::Result<SignalPeer> {
        let socket = open_socket(ws_url, &format!("courtlink.v1, auth.{token}")).await?;
        let mut peer = SignalPeer {
            id: String::new(),
            token: token.to_owned(),
            welcome: Value::Null,
            subprotocol: socket.subprotocol,
            started_at: socket.started_at,
            joined_at: socket.joined_at,
            outbound: socket.outbound,
            inbound: socket.inbound,
            backlog: VecDeque::new(),
            log: Vec::new(),
            roles: HashMap::new(),
            admitted: false,
            closed: None,
            sockets: 1,
            links: HashMap::new(),
            reader: socket.reader,
            writer: socket.writer,
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

    /// Cuts the signalling socket the way a network loss does: the TCP connection is closed
    /// without a WebSocket close frame. The peer connections stay up. What the reader had
    /// already received counts as seen (it is logged, and queued for the next consumer).
    pub async fn drop_socket(&mut self) {
        self.reader.abort();
        self.writer.abort();
        // Both halves of the stream are dropped with their tasks: the socket closes.
        let _ = (&mut self.reader).await;
        let _ = (&mut self.writer).await;
        while let Ok(item) = self.inbound.try_recv() {
            match item {
                Ok(m) => {
                    self.note_roles(&m);
                    self.log.push(m.clone());
                    self.backlog.push_back(m);
                }
                Err(why) => {
                    self.closed = Some(why);
                }
            }
        }
        if self.closed.is_none() {
            self.closed = Some("dropped by the test (no close frame)".to_owned());
        }
    }

    /// Reconnects a dropped peer to `ws_url` (any instance) with
    /// `Sec-WebSocket-Protocol: courtlink.v1, auth.<token>, resume.<last seq seen>` and reads the
    /// replay up to `resumed`. The replayed messages are also queued for the next consumer (a
    /// late candidate still has to reach the peer connection). A `welcome` instead of `resumed`
    /// (the server answering as to a fresh join) is an error.
    pub async fn resume_on(
        &mut self,
        ws_url: &str,
        within: Duration,
    ) -> anyhow::Result<Resumption> {
        if self.closed.is_none() {
            bail!(
                "{}: resume_on with the socket still open; drop_socket first",
                self.id
            );
        }
        let after = self
            .last_seq()
            .ok_or_else(|| anyhow!("{}: no numbered message seen, nothing to resume", self.id))?;
        let socket = open_socket(
            ws_url,
            &format!("courtlink.v1, auth.{}, resume.{after}", self.token),
        )
        .await
        .with_context(|| format!("{}: reconnecting with resume.{after}", self.id))?;
        // The old tasks have finished (drop_socket); these replace them.
        self.reader.abort();
        self.writer.abort();
        self.subprotocol = socket.subprotocol.clone();
        self.started_at = socket.started_at;
        self.joined_at = socket.joined_at;
        self.outbound = socket.outbound;
        self.inbound = socket.inbound;
        self.reader = socket.reader;
        self.writer = socket.writer;
        self.closed = None;
        self.sockets += 1;

        let deadline = Instant::now() + within;
        let mut replayed = Vec::new();
        loop {
            let m = self.recv_from_socket(deadline).await.with_context(|| {
                let mut seen = String::new();
                for m in &replayed {
                    let _ = write!(seen, "\n    {}", abbreviate(m));
                }
                format!(
                    "{}: waiting for `resumed` after resume.{after}; replayed so far:{seen}",
                    self.id
                )
            })?;
            match m["type"].as_str() {
                Some("resumed") => {
                    for p in m["participants"].as_array().into_iter().flatten() {
                        if let (Some(pid), Some(polite)) = (p["id"].as_str(), p["polite"].as_bool())
                        {
                            self.roles.insert(pid.to_owned(), polite);
                        }
                    }
                    return Ok(Resumption {
                        after,
                        replayed,
                        resumed: m,
                        subprotocol: socket.subprotocol,
                    });
                }
                Some("welcome") => bail!(
                    "{}: the server answered resume.{after} as a fresh join: {m}",
                    self.id
                ),
                _ => {
                    replayed.push(m.clone());
                    self.backlog.push_back(m);
                }
            }
        }
    }

    /// The highest `seq` seen so far (across sockets).
    pub fn last_seq(&self) -> Option<u64> {
        self.log.iter().filter_map(|m| m["seq"].as_u64()).max()
    }

    /// How many sockets this peer has opened (1 + resumes).
    pub fn sockets(&self) -> usize {
        self.sockets
    }

    /// When the current socket's TCP connect began.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// Sends a chat line.
    pub fn chat(&self, text: &str) -> anyhow::Result<()> {
        self.send_json(&json!({"type": "chat", "text": text}))
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
    IceState(RTCIceConnectionState),
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

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.0.send(PcEvent::IceState(state));
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
    /// We set an offer as local description and have not applied the answer yet.
    have_local_offer: bool,
    /// Remote candidates that came before any remote description.
    early_candidates: Vec<RTCIceCandidateInit>,
    /// `a=mid` and `a=ice-ufrag` of the first m-section of our description, for candidates.
    mid_ufrag: Option<(String, String)>,
    /// `a=ice-ufrag` of the last local / remote description applied.
    local_ufrag: Option<String>,
    remote_ufrag: Option<String>,
    /// Offers received with new ICE credentials (ICE restarts the remote side started).
    remote_ice_restarts: usize,
    state: RTCPeerConnectionState,
    /// Every ICE connection state reported, in order.
    ice_states: Vec<RTCIceConnectionState>,
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
            have_local_offer: false,
            early_candidates: Vec::new(),
            mid_ufrag: None,
            local_ufrag: None,
            remote_ufrag: None,
            remote_ice_restarts: 0,
            state: RTCPeerConnectionState::New,
            ice_states: Vec::new(),
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

    /// A new ICE generation starts (we restart, or the remote side did): candidates carry the
    /// new ufrag, and gathering ends again.
    fn new_ice_generation(&mut self) {
        self.mid_ufrag = None;
        self.end_of_candidates_sent = false;
        self.end_of_candidates_received = false;
    }

    fn summary(&self) -> String {
        format!(
            "link to {} (polite={}): state {:?}, ICE states {:?}, offers sent {}, answers sent \
             {}, candidates sent {} (end {}), received {} (end {}), ufrag local {:?} remote \
             {:?}, channel {}, {} message(s) received on it",
            self.remote,
            self.polite,
            self.state,
            self.ice_states,
            self.offers_sent,
            self.answers_sent,
            self.candidates_sent,
            self.end_of_candidates_sent,
            self.candidates_received,
            self.end_of_candidates_received,
            self.local_ufrag,
            self.remote_ufrag,
            if self.open_at.is_some() {
                "open"
            } else if self.channel.is_some() {
                "created, not open"
            } else {
                "none"
            },
            self.received.len()
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
    /// When both peer connections were `connected` (the later of the two).
    pub connected_at: Instant,
    /// When the data channel was open on both sides (the later of the two).
    pub open_at: Instant,
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

    let result: anyhow::Result<()> = async {
        pump(
            first,
            second,
            &mut first_link,
            &mut second_link,
            deadline,
            |f, s| f.open_at.is_some() && s.open_at.is_some(),
        )
        .await
        .context("waiting for the data channel to open on both sides")?;
        send_on_channel(second, &second_link, payload).await?;
        pump(
            first,
            second,
            &mut first_link,
            &mut second_link,
            deadline,
            |f, _| !f.received.is_empty(),
        )
        .await
        .with_context(|| format!("waiting for the bytes at {}", first.id))?;
        // Echo it back on the same channel.
        let bytes = first_link.received[0].clone();
        send_on_channel(first, &first_link, &bytes).await?;
        pump(
            first,
            second,
            &mut first_link,
            &mut second_link,
            deadline,
            |_, s| !s.received.is_empty(),
        )
        .await
        .with_context(|| format!("waiting for the echo at {}", second.id))
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
    let later = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
        (Some(a), Some(b)) => a.max(b),
        _ => finished,
    };
    let connected_at = later(first_link.connected_at, second_link.connected_at);
    let open_at = later(first_link.open_at, second_link.open_at);
    let exchange = Exchange {
        first_received: first_link.received.first().cloned().unwrap_or_default(),
        second_received: second_link.received.first().cloned().unwrap_or_default(),
        connected: connected_at.saturating_duration_since(start),
        open: open_at.saturating_duration_since(start),
        join_to_open: open_at.saturating_duration_since(second.joined_at),
        echoed: finished - start,
        connected_at,
        open_at,
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

async fn send_on_channel(peer: &SignalPeer, link: &Link, bytes: &[u8]) -> anyhow::Result<()> {
    let channel = link
        .channel
        .clone()
        .ok_or_else(|| anyhow!("{}: no data channel towards {}", peer.id, link.remote))?;
    channel
        .send(bytes.into())
        .await
        .map_err(|e| anyhow!("{}: data channel send: {e}", peer.id))
}

/// Runs the signalling (server messages, backlog) and peer-connection events of both peers on
/// their link to each other until `done` holds, or fails at `deadline`. A peer whose socket is
/// gone (after [`SignalPeer::drop_socket`]) is not read from: its peer connection still is.
async fn pump(
    first: &mut SignalPeer,
    second: &mut SignalPeer,
    first_link: &mut Link,
    second_link: &mut Link,
    deadline: Instant,
    mut done: impl FnMut(&Link, &Link) -> bool,
) -> anyhow::Result<()> {
    loop {
        if done(first_link, second_link) {
            return Ok(());
        }
        let first_reads = first.closed.is_none();
        let second_reads = second.closed.is_none();
        let step = if let Some(m) = first.backlog.pop_front() {
            Step::Backlog(Side::First, m)
        } else if let Some(m) = second.backlog.pop_front() {
            Step::Backlog(Side::Second, m)
        } else {
            tokio::select! {
                m = first.inbound.recv(), if first_reads => Step::Server(Side::First, m),
                m = second.inbound.recv(), if second_reads => Step::Server(Side::Second, m),
                e = first_link.events.recv() => Step::Pc(Side::First, e),
                e = second_link.events.recv() => Step::Pc(Side::Second, e),
                _ = tokio::time::sleep_until(deadline.into()) => Step::TimedOut,
            }
        };
        match step {
            Step::TimedOut => bail!("timed out"),
            Step::Server(side, item) => {
                let (peer, link) = pick(side, first, second, first_link, second_link);
                let m = peer.take(item)?;
                on_server_message(peer, link, m).await?;
            }
            Step::Backlog(side, m) => {
                let (peer, link) = pick(side, first, second, first_link, second_link);
                on_server_message(peer, link, m).await?;
            }
            Step::Pc(side, event) => {
                let (peer, link) = pick(side, first, second, first_link, second_link);
                let event =
                    event.ok_or_else(|| anyhow!("{}: peer connection events ended", peer.id))?;
                on_pc_event(peer, link, event).await?;
            }
        }
    }
}

/// Takes the links between two peers out of them (put them back with [`put_links`]).
fn take_links(first: &mut SignalPeer, second: &mut SignalPeer) -> anyhow::Result<(Link, Link)> {
    let first_link = first.links.remove(&second.id).ok_or_else(|| {
        anyhow!(
            "{} has no peer connection to {}; negotiate first",
            first.id,
            second.id
        )
    })?;
    match second.links.remove(&first.id) {
        Some(second_link) => Ok((first_link, second_link)),
        None => {
            first.links.insert(second.id.clone(), first_link);
            bail!(
                "{} has no peer connection to {}; negotiate first",
                second.id,
                first.id
            )
        }
    }
}

fn put_links(first: &mut SignalPeer, second: &mut SignalPeer, first_link: Link, second_link: Link) {
    first.links.insert(second.id.clone(), first_link);
    second.links.insert(first.id.clone(), second_link);
}

/// Sends `first_to_second` from `first` and `second_to_first` from `second` over the data
/// channel they already share, at once, and returns what each received:
/// `(received by first, received by second)`. The signalling sockets keep being served
/// meanwhile (if open), so this works during and after a renegotiation as well as while a
/// socket is down.
pub async fn exchange_over_channel(
    first: &mut SignalPeer,
    second: &mut SignalPeer,
    first_to_second: &[u8],
    second_to_first: &[u8],
    timeout: Duration,
) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let deadline = Instant::now() + timeout;
    let (mut first_link, mut second_link) = take_links(first, second)?;
    let marks = (first_link.received.len(), second_link.received.len());
    let result: anyhow::Result<()> = async {
        send_on_channel(first, &first_link, first_to_second).await?;
        send_on_channel(second, &second_link, second_to_first).await?;
        pump(
            first,
            second,
            &mut first_link,
            &mut second_link,
            deadline,
            |f, s| f.received.len() > marks.0 && s.received.len() > marks.1,
        )
        .await
    }
    .await;
    let got = (
        first_link
            .received
            .get(marks.0)
            .cloned()
            .unwrap_or_default(),
        second_link
            .received
            .get(marks.1)
            .cloned()
            .unwrap_or_default(),
    );
    let summaries = (first_link.summary(), second_link.summary());
    put_links(first, second, first_link, second_link);
    result.with_context(|| {
        format!(
            "exchanging bytes over the data channel between {} and {} (timeout {timeout:?})\n  \
             {}: {}\n  {}: {}",
            first.id, second.id, first.id, summaries.0, second.id, summaries.1
        )
    })?;
    Ok(got)
}

/// Whether ICE went checking again since `from` (an index into `ice_states`) and is now
/// connected.
fn ice_back(link: &Link, from: usize) -> bool {
    let since = &link.ice_states[from.min(link.ice_states.len())..];
    since.contains(&RTCIceConnectionState::Checking)
        && matches!(
            since.last(),
            Some(RTCIceConnectionState::Connected | RTCIceConnectionState::Completed)
        )
}

/// Figures from one [`restart_ice_through_relay`] run.
#[derive(Debug, Clone)]
pub struct IceRestart {
    /// The offerer's ICE ufrag before and after.
    pub offerer_ufrag: (Option<String>, Option<String>),
    /// The answerer's ICE ufrag before and after.
    pub answerer_ufrag: (Option<String>, Option<String>),
    /// Candidates each side received through the relay during the restart
    /// (offerer, answerer).
    pub candidates_received: (usize, usize),
    /// Signalling messages relayed during the restart (to the offerer, to the answerer).
    pub signals: (usize, usize),
    /// The restart offer as the answerer received it (SDP shortened).
    pub offer_seen: Option<String>,
    /// `a=candidate` lines inside the restart offer and the answer as relayed (a description
    /// made once gathering is complete carries its candidates inline instead of trickling them).
    pub sdp_candidates: (usize, usize),
    /// From `restartIce()` until the descriptions were applied on both sides and ICE was
    /// checking again and back to connected on both sides.
    pub took: Duration,
    /// ICE connection states reported during the restart (offerer, answerer).
    pub ice_states: (Vec<String>, Vec<String>),
}

/// An ICE restart over the existing peer connections, negotiated through the relay:
/// `offerer` calls `restartIce()`, sends the new offer (fresh ICE credentials) as a `signal`,
/// `answerer` answers, and both trickle the new generation's candidates. Returns once the
/// answer is applied, each side holds the other's new credentials, and ICE on both sides went
/// back to checking and then to connected.
pub async fn restart_ice_through_relay(
    offerer: &mut SignalPeer,
    answerer: &mut SignalPeer,
    timeout: Duration,
) -> anyhow::Result<IceRestart> {
    let start = Instant::now();
    let deadline = start + timeout;
    let (mut o, mut a) = take_links(offerer, answerer)?;
    let marks = (offerer.log.len(), answerer.log.len());
    let before = (
        o.local_ufrag.clone(),
        a.local_ufrag.clone(),
        o.candidates_received,
        a.candidates_received,
        o.ice_states.len(),
        a.ice_states.len(),
    );
    let result: anyhow::Result<()> = async {
        o.pc.restart_ice()
            .await
            .map_err(|e| anyhow!("{}: restart_ice: {e}", offerer.id))?;
        o.new_ice_generation();
        make_offer(offerer, &mut o).await?;
        if o.local_ufrag == before.0 {
            bail!(
                "{}: the restart offer kept the ICE ufrag {:?}",
                offerer.id,
                o.local_ufrag
            );
        }
        let marks = (before.4, before.5);
        pump(offerer, answerer, &mut o, &mut a, deadline, |o, a| {
            !o.have_local_offer
                && a.remote_ufrag == o.local_ufrag
                && o.remote_ufrag == a.local_ufrag
                && a.remote_ice_restarts > 0
                && ice_back(o, marks.0)
                && ice_back(a, marks.1)
        })
        .await
    }
    .await;
    let took = start.elapsed();
    let relayed = |peer: &SignalPeer, mark: usize| {
        peer.log[mark..]
            .iter()
            .filter(|m| m["type"] == "signal")
            .count()
    };
    let description = |peer: &SignalPeer, mark: usize, kind: &str| {
        peer.log[mark..]
            .iter()
            .find(|m| m.pointer("/data/description/type") == Some(&json!(kind)))
            .cloned()
    };
    let inline_candidates = |m: &Option<Value>| {
        m.as_ref()
            .and_then(|m| m.pointer("/data/description/sdp"))
            .and_then(Value::as_str)
            .map_or(0, |sdp| {
                sdp.lines()
                    .filter(|l| l.starts_with("a=candidate:"))
                    .count()
            })
    };
    let offer = description(answerer, marks.1, "offer");
    let answer = description(offerer, marks.0, "answer");
    let offer_seen = offer.as_ref().map(abbreviate);
    let states = |l: &Link, from: usize| {
        l.ice_states[from..]
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
    };
    let figures = IceRestart {
        offerer_ufrag: (before.0, o.local_ufrag.clone()),
        answerer_ufrag: (before.1, a.local_ufrag.clone()),
        candidates_received: (
            o.candidates_received - before.2,
            a.candidates_received - before.3,
        ),
        signals: (relayed(offerer, marks.0), relayed(answerer, marks.1)),
        offer_seen,
        sdp_candidates: (inline_candidates(&offer), inline_candidates(&answer)),
        took,
        ice_states: (states(&o, before.4), states(&a, before.5)),
    };
    let summaries = (o.summary(), a.summary());
    put_links(offerer, answerer, o, a);
    if let Err(err) = result {
        let mut msg = format!(
            "ICE restart {} -> {} failed after {took:.2?} (timeout {timeout:?}): {err:#}\n  \
             {}: {}\n  {}: {}",
            offerer.id, answerer.id, offerer.id, summaries.0, answerer.id, summaries.1
        );
        for (peer, mark) in [(&*offerer, marks.0), (&*answerer, marks.1)] {
            let _ = write!(msg, "\n  {} received since the restart:", peer.id);
            for m in &peer.log[mark..] {
                let _ = write!(msg, "\n    {}", abbreviate(m));
            }
        }
        bail!(msg);
    }
    Ok(figures)
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
            link.have_local_offer = false;
        }
        let ufrag = ice_ufrag(&description.sdp);
        if is_offer && link.remote_ufrag.is_some() && ufrag != link.remote_ufrag {
            // The remote side restarted ICE: our answer starts a new generation too.
            link.remote_ice_restarts += 1;
            link.new_ice_generation();
        }
        link.pc
            .set_remote_description(description)
            .await
            .map_err(|e| anyhow!("{}: set_remote_description: {e}", peer.id))?;
        link.remote_ufrag = ufrag;
        if !is_offer {
            link.have_local_offer = false;
        }
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
            link.local_ufrag = ice_ufrag(&answer.sdp);
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

/// Creates an offer, sets it as local description and sends it through the relay.
async fn make_offer(peer: &mut SignalPeer, link: &mut Link) -> anyhow::Result<()> {
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
    link.have_local_offer = true;
    link.local_ufrag = ice_ufrag(&offer.sdp);
    peer.signal(&link.remote, json!({"description": offer}))?;
    link.offers_sent += 1;
    Ok(())
}

async fn on_pc_event(peer: &mut SignalPeer, link: &mut Link, event: PcEvent) -> anyhow::Result<()> {
    match event {
        PcEvent::NegotiationNeeded => make_offer(peer, link).await?,
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
        PcEvent::IceState(state) => link.ice_states.push(state),
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

/// The first `a=ice-ufrag` of a description.
fn ice_ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .map(str::to_owned)
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
