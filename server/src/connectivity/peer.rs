//! The server's peer for one test: answers the offer, echoes media and data, probes, measures.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateType, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription, RTCStatsReportEntry, Registry, SettingEngineBuilder, StatsSelector,
    configure_rtcp_reports, configure_twcc_receiver_only,
};

use super::measure::{Failure, Figures, MediaMeter, ProbeMeter, TestFailure, judge};
use super::settings::ConnectivitySettings;
use crate::error::ApiError;
use crate::store::connectivity::TestOutcome;

/// The label of the data channel the client opens; probes and echoes travel on it.
pub const CHANNEL_LABEL: &str = "courtlink-echo";
/// Prefix of the server's probes: `p:<n>`. The client echoes such messages unchanged; the
/// server echoes everything else.
pub const PROBE_PREFIX: &str = "p:";

/// How long the server's own candidates may take to gather before the answer goes out.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time between two probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// After measuring, how long the last probes have to come back.
const PROBE_GRACE: Duration = Duration::from_millis(500);

/// A checked offer: read as every server peer reads one (`courtlink_parsers::sdp`), with the
/// data channel the test's probes travel on.
pub(super) struct Offer {
    sdp: String,
    kinds: Vec<RtpCodecKind>,
    candidate_types: Vec<String>,
}

impl Offer {
    pub(super) fn parse(sdp: &str) -> Result<Offer, ApiError> {
        let read = courtlink_parsers::sdp::Offer::read(sdp)?;
        if !read.data_channel {
            return Err(ApiError::invalid(format!(
                "offer: no data channel; open one labelled '{CHANNEL_LABEL}' before making the offer"
            )));
        }
        let kinds = read
            .media
            .iter()
            .map(|m| match m {
                courtlink_parsers::sdp::Media::Audio => RtpCodecKind::Audio,
                courtlink_parsers::sdp::Media::Video => RtpCodecKind::Video,
            })
            .collect();
        Ok(Offer {
            sdp: sdp.to_owned(),
            kinds,
            candidate_types: read.candidate_types,
        })
    }

    pub(super) fn has_media(&self) -> bool {
        !self.kinds.is_empty()
    }
}

/// `typ X` of an `a=candidate` line of the server's own description.
fn candidate_type(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == "typ" {
            return words.next().map(str::to_owned);
        }
    }
    None
}

fn candidate_types_of(sdp: &str) -> Vec<String> {
    let mut types = Vec::new();
    for line in sdp.lines().filter(|l| l.starts_with("a=candidate:")) {
        if let Some(t) = candidate_type(line) {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    types
}

enum Event {
    State(RTCPeerConnectionState),
    Gathered,
    Channel(Arc<dyn DataChannel>),
}

/// What the handler's tasks and the test's task share.
#[derive(Default)]
struct Meters {
    media: Mutex<MediaMeter>,
    probes: Mutex<ProbeMeter>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Handler {
    events: mpsc::UnboundedSender<Event>,
    meters: Arc<Meters>,
    /// The track each kind of media is echoed on, with its SSRC.
    tracks: HashMap<RtpCodecKind, (Arc<TrackLocalStaticRTP>, u32)>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.events.send(Event::Gathered);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(Event::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let kind = track.kind().await;
        let Some((out, out_ssrc)) = self.tracks.get(&kind).cloned() else {
            return;
        };
        let meters = self.meters.clone();
        tokio::spawn(async move {
            let mut clock_rates: HashMap<u32, u32> = HashMap::new();
            while let Some(event) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(mut packet) = event else {
                    if matches!(event, TrackRemoteEvent::OnEnded) {
                        break;
                    }
                    continue;
                };
                let ssrc = packet.header.ssrc;
                let clock_rate = match clock_rates.get(&ssrc) {
                    Some(c) => *c,
                    None => {
                        let c = track.codec(ssrc).await.map_or(90_000, |c| c.clock_rate);
                        clock_rates.insert(ssrc, c);
                        c
                    }
                };
                lock(&meters.media).on_packet(
                    ssrc,
                    packet.header.sequence_number,
                    packet.header.timestamp,
                    clock_rate,
                    packet.payload.len() + 12,
                    Instant::now(),
                );
                packet.header.ssrc = out_ssrc;
                // The echo is best effort: a full queue or a closing track must not stop
                // the measuring.
                let _ = out.write_rtp(packet).await;
            }
        });
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        if channel.label().await.unwrap_or_default() != CHANNEL_LABEL {
            return;
        }
        let _ = self.events.send(Event::Channel(channel.clone()));
        let meters = self.meters.clone();
        tokio::spawn(async move {
            while let Some(event) = channel.poll().await {
                match event {
                    DataChannelEvent::OnMessage(m) => {
                        let now = Instant::now();
                        lock(&meters.probes).bytes_received += m.data.len() as u64;
                        if let Some(rest) = m.data.strip_prefix(PROBE_PREFIX.as_bytes()) {
                            let digits: Vec<u8> = rest
                                .iter()
                                .copied()
                                .take_while(u8::is_ascii_digit)
                                .collect();
                            if let Ok(n) = String::from_utf8_lossy(&digits).parse::<u64>() {
                                lock(&meters.probes).echo(n, now);
                            }
                        } else if m.is_string {
                            let text = String::from_utf8_lossy(&m.data).into_owned();
                            let _ = channel.send_text(&text).await;
                        } else {
                            let _ = channel.send(m.data).await;
                        }
                    }
                    DataChannelEvent::OnClose => break,
                    _ => {}
                }
            }
        });
    }
}

fn codec(kind: RtpCodecKind) -> RTCRtpCodecParameters {
    match kind {
        RtpCodecKind::Audio => RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
            payload_type: 111,
        },
        _ => RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_VP8.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            payload_type: 96,
        },
    }
}

/// The server's side of one test.
pub(super) struct ServerPeer {
    pc: Arc<dyn PeerConnection>,
    events: mpsc::UnboundedReceiver<Event>,
    /// Events read while waiting for gathering, to be handled by `run`.
    early: VecDeque<Event>,
    meters: Arc<Meters>,
    offered_at: Instant,
    with_media: bool,
    client_types: Vec<String>,
    server_types: Vec<String>,
}

/// How a test ended, with its figures.
pub(super) struct Outcome {
    pub passed: bool,
    pub failure: Option<Failure>,
    pub figures: Figures,
}

impl Outcome {
    pub(super) fn as_store(&self) -> TestOutcome<'_> {
        let f = &self.figures;
        TestOutcome {
            passed: self.passed,
            reason_code: self.failure.as_ref().map(|f| f.code.as_str()),
            reason: self.failure.as_ref().map(|f| f.reason.as_str()),
            local_candidate: f.local_candidate.as_deref(),
            remote_candidate: f.remote_candidate.as_deref(),
            connect_ms: f.connect_ms,
            rtt_ms: f.rtt_ms,
            loss_percent: f.loss_percent,
            jitter_ms: f.jitter_ms,
            bitrate_kbps: f.bitrate_kbps,
        }
    }
}

/// A failure with no figures, for the store.
pub(super) fn failed(code: TestFailure, reason: &str) -> TestOutcome<'_> {
    TestOutcome {
        passed: false,
        reason_code: Some(code.as_str()),
        reason: Some(reason),
        local_candidate: None,
        remote_candidate: None,
        connect_ms: None,
        rtt_ms: None,
        loss_percent: None,
        jitter_ms: None,
        bitrate_kbps: None,
    }
}

impl ServerPeer {
    /// Builds the peer bound as the settings allow, applies the offer and returns the answer
    /// with every server candidate in it.
    pub(super) async fn answer(
        settings: &ConnectivitySettings,
        port: Option<u16>,
        offer: Offer,
    ) -> anyhow::Result<(ServerPeer, String)> {
        let offered_at = Instant::now();
        let mut media = MediaEngine::default();
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            media
                .register_codec(codec(kind), kind)
                .map_err(|e| anyhow!("registering a codec: {e}"))?;
        }
        let registry = configure_rtcp_reports(Registry::new());
        let registry = configure_twcc_receiver_only(registry, &mut media)
            .map_err(|e| anyhow!("registering TWCC: {e}"))?;
        let mut engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled);
        if !settings.nat_1to1_ips.is_empty() {
            engine =
                engine.with_nat_1to1_ips(settings.nat_1to1_ips.clone(), RTCIceCandidateType::Host);
        }
        let mut tracks = HashMap::new();
        for kind in &offer.kinds {
            let ssrc = rand::random::<u32>();
            let label = if *kind == RtpCodecKind::Audio {
                "audio"
            } else {
                "video"
            };
            let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                "courtlink-echo".to_owned(),
                format!("echo-{label}"),
                format!("echo-{label}"),
                *kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec: codec(*kind).rtp_codec,
                    ..Default::default()
                }],
            )));
            tracks.insert(*kind, (track, ssrc));
        }
        let (tx, mut events) = mpsc::unbounded_channel();
        let meters = Arc::new(Meters::default());
        let handler = Handler {
            events: tx,
            meters: meters.clone(),
            tracks: tracks.clone(),
        };
        let addrs: Vec<String> = settings
            .bind_addresses
            .iter()
            .map(|a| {
                let ip: std::net::IpAddr =
                    a.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
                std::net::SocketAddr::new(ip, port.unwrap_or(0)).to_string()
            })
            .collect();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(engine.build())
            .with_handler(Arc::new(handler))
            .with_udp_addrs(addrs)
            .build()
            .await
            .map_err(|e| anyhow!("building the peer connection: {e}"))?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let result: anyhow::Result<String> = async {
            for (track, _) in tracks.values() {
                pc.add_track(track.clone() as Arc<dyn TrackLocal>)
                    .await
                    .map_err(|e| anyhow!("adding an echo track: {e}"))?;
            }
            let offer_desc: RTCSessionDescription =
                serde_json::from_value(serde_json::json!({"type": "offer", "sdp": offer.sdp}))
                    .context("the offer as a description")?;
            pc.set_remote_description(offer_desc)
                .await
                .map_err(|e| anyhow!("the offer was refused: {e}"))?;
            let answer = pc
                .create_answer(None)
                .await
                .map_err(|e| anyhow!("create_answer: {e}"))?;
            pc.set_local_description(answer)
                .await
                .map_err(|e| anyhow!("set_local_description: {e}"))?;
            Ok(String::new())
        }
        .await;
        if let Err(e) = result {
            let _ = pc.close().await;
            return Err(e);
        }
        // Non-trickle: wait until every server candidate is in the local description.
        let mut early = VecDeque::new();
        let deadline = tokio::time::Instant::now() + GATHER_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(Event::Gathered)) | Err(_) => break,
                Ok(Some(other)) => early.push_back(other),
                Ok(None) => break,
            }
        }
        let Some(local) = pc.local_description().await else {
            let _ = pc.close().await;
            return Err(anyhow!("no local description after the answer"));
        };
        let server_types = candidate_types_of(&local.sdp);
        if server_types.is_empty() {
            let _ = pc.close().await;
            return Err(anyhow!(
                "the server's peer has no address to offer (connectivity.bind_addresses {:?})",
                settings.bind_addresses
            ));
        }
        Ok((
            ServerPeer {
                pc,
                events,
                early,
                meters,
                offered_at,
                with_media: offer.has_media(),
                client_types: offer.candidate_types,
                server_types,
            },
            local.sdp,
        ))
    }

    async fn next_event(&mut self, until: tokio::time::Instant) -> Option<Event> {
        if let Some(e) = self.early.pop_front() {
            return Some(e);
        }
        tokio::time::timeout_at(until, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Connects, echoes and measures; never fails, but returns a failed outcome with the reason.
    pub(super) async fn run(&mut self, settings: &ConnectivitySettings) -> Outcome {
        let mut figures = Figures::default();
        let connect_timeout = Duration::from_secs(settings.connect_timeout_seconds);
        let connect_by = tokio::time::Instant::from_std(self.offered_at + connect_timeout);
        let mut channel: Option<Arc<dyn DataChannel>> = None;
        // 1. ICE and DTLS up, or the reason why not.
        loop {
            if tokio::time::Instant::now() >= connect_by {
                return self.no_route(settings, figures);
            }
            match self.next_event(connect_by).await {
                Some(Event::State(RTCPeerConnectionState::Connected)) => break,
                Some(Event::State(RTCPeerConnectionState::Failed)) => {
                    return self.no_route(settings, figures);
                }
                Some(Event::State(RTCPeerConnectionState::Closed)) => {
                    return fail(
                        figures,
                        TestFailure::Closed,
                        "the connection was closed before it was up",
                    );
                }
                Some(Event::Channel(c)) => channel = Some(c),
                Some(_) => {}
                None => {}
            }
        }
        figures.connect_ms = i64::try_from(self.offered_at.elapsed().as_millis()).ok();
        // 2. Measure for the configured time, probing on the data channel.
        let window = Duration::from_secs(settings.measure_seconds);
        let measure_start = Instant::now();
        lock(&self.meters.media).start(measure_start);
        let measure_end = tokio::time::Instant::from_std(measure_start + window);
        let mut tick = tokio::time::interval(PROBE_EVERY);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(measure_end) => break,
                _ = tick.tick() => {
                    if let Some(c) = &channel {
                        let n = lock(&self.meters.probes).send(Instant::now());
                        let _ = c.send_text(&format!("{PROBE_PREFIX}{n}")).await;
                    }
                }
                event = self.events.recv() => match event {
                    Some(Event::Channel(c)) => channel = Some(c),
                    Some(Event::State(
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed,
                    )) => {
                        let after = measure_start.elapsed().as_secs_f64();
                        return fail(
                            figures,
                            TestFailure::ConnectionLost,
                            format!("the connection was lost {after:.1} s into the measurement"),
                        );
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
        tokio::time::sleep(PROBE_GRACE).await;
        // 3. The figures, as the server saw them.
        let cutoff = measure_start + window;
        {
            let probes = lock(&self.meters.probes);
            let media = lock(&self.meters.media);
            figures.rtt_ms = probes.median_rtt_ms().map(round1);
            let (received, lost) = media.packets();
            if self.with_media {
                figures.loss_percent = (received + lost > 0)
                    .then(|| round1(lost as f64 * 100.0 / (received + lost) as f64));
                figures.jitter_ms = media.jitter_ms().map(round1);
                figures.bitrate_kbps = Some(round1(media.bitrate_kbps(window)));
            } else {
                figures.loss_percent = probes.loss_percent(cutoff).map(round1);
                figures.jitter_ms = probes.rtt_jitter_ms().map(round1);
                figures.bitrate_kbps = Some(round1(
                    probes.bytes_received as f64 * 8.0 / window.as_secs_f64() / 1000.0,
                ));
            }
        }
        self.pair_types(&mut figures).await;
        match judge(&figures, self.with_media, settings) {
            Ok(()) => Outcome {
                passed: true,
                failure: None,
                figures,
            },
            Err(failure) => Outcome {
                passed: false,
                failure: Some(failure),
                figures,
            },
        }
    }

    fn no_route(&self, settings: &ConnectivitySettings, figures: Figures) -> Outcome {
        fail(
            figures,
            TestFailure::IceFailed,
            format!(
                "ICE failed: no route to the server's peer within {} s (the client offered {} \
                 candidates, the server {})",
                settings.connect_timeout_seconds,
                self.client_types.join("/"),
                self.server_types.join("/"),
            ),
        )
    }

    /// The candidate types of the pair in use, from the peer's statistics.
    async fn pair_types(&self, figures: &mut Figures) {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let pair = report
            .candidate_pairs()
            .find(|p| p.nominated)
            .or_else(|| report.candidate_pairs().find(|p| p.packets_received > 0));
        let Some(pair) = pair else {
            return;
        };
        // Entries are named `RTC{Local,Remote}IceCandidate_<candidate id>`.
        let kind = |id: &str| {
            report.iter().find_map(|e| match e {
                RTCStatsReportEntry::LocalCandidate(c)
                | RTCStatsReportEntry::RemoteCandidate(c)
                    if e.id().ends_with(id) =>
                {
                    Some(c.candidate_type.to_string())
                }
                _ => None,
            })
        };
        figures.local_candidate = kind(&pair.local_candidate_id);
        // webrtc 0.21 reports no remote candidates: then the types the client offered.
        figures.remote_candidate = kind(&pair.remote_candidate_id)
            .or_else(|| (!self.client_types.is_empty()).then(|| self.client_types.join("/")));
    }

    pub(super) async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

fn fail(figures: Figures, code: TestFailure, reason: impl Into<String>) -> Outcome {
    Outcome {
        passed: false,
        failure: Some(Failure::new(code, reason)),
        figures,
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn offers_without_channel_or_candidates_are_refused() {
        let base = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
        let no_channel = format!("{base}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
        assert!(Offer::parse(&no_channel).is_err());
        let no_candidates = format!("{base}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
        assert!(Offer::parse(&no_candidates).is_err());
        let good = format!(
            "{base}m=video 9 UDP/TLS/RTP/SAVPF 96\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
             a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
        );
        let offer = Offer::parse(&good).unwrap();
        assert!(offer.has_media());
        assert_eq!(offer.candidate_types, vec!["host".to_owned()]);
        assert!(Offer::parse("hello").is_err());
    }
}
