//! The recorder's receive-only peer for one part: answers a browser's offer (every candidate in
//! it), takes the audio and video tracks the browser sends, reassembles RTP into frames with
//! the `rtc` crate's depacketizers and sample builder, and hands the frames to the muxer.
//!
//! Time in the file: each track's first frame is placed at the moment it arrived (since the
//! part started), and every later frame by its RTP timestamp from there (48 kHz audio, 90 kHz
//! video), so that audio and video line up to within the arrival jitter of their first packets.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MIME_TYPE_VP9,
};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::codec::opus::OpusPacket;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::codec::vp9::Vp9Packet;
use rtc::rtp::packetizer::Depacketizer;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateType, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription, Registry, SettingEngineBuilder, configure_nack, configure_rtcp_reports,
    configure_twcc_receiver_only,
};

use super::muxer::{Frame, Input, Kind, VideoCodec, is_keyframe};
use crate::connectivity::ConnectivitySettings;

/// How long the server's own candidates may take to gather before the answer goes out.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);
/// Packets a sample builder waits for a late packet.
const MAX_LATE: u16 = 256;

/// What the part's supervisor hears from the peer.
#[derive(Debug)]
pub enum PeerEvent {
    State(RTCPeerConnectionState),
    /// A track arrived in a codec the muxer cannot hold: it is not recorded.
    Skipped(Track),
}

/// Codecs the recorder keeps as they are: WebM holds Opus, VP8 and VP9.
const KEPT: [&str; 3] = ["opus", "vp8", "vp9"];
/// What an m-section may list beside its media codecs (retransmission, redundancy, forward
/// error correction, comfort noise, DTMF): not a codec of the track.
const NOT_MEDIA: [&str; 6] = [
    "rtx",
    "red",
    "ulpfec",
    "flexfec-03",
    "cn",
    "telephone-event",
];

/// A track a participant sends, as its offer describes it: `audio` or `video`, and the codecs
/// offered for it (their SDP names, e.g. `H264`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub kind: &'static str,
    pub codecs: Vec<String>,
}

impl Track {
    /// Whether the recorder keeps one of its codecs (the answer then picks it).
    pub fn kept(&self) -> bool {
        self.codecs
            .iter()
            .any(|c| KEPT.contains(&c.to_ascii_lowercase().as_str()))
    }
}

/// The audio and video tracks an offer sends (its m-sections whose direction is `sendonly` or
/// `sendrecv`, the default), each with the codecs offered for it. Read before the peer answers:
/// a track none of whose codecs the recorder keeps is answered with nothing to receive, and the
/// timeline says so (`recording_track_skipped`) instead of the file silently lacking it.
pub fn sent_tracks(sdp: &str) -> Vec<Track> {
    let mut tracks = Vec::new();
    let mut current: Option<(Track, bool)> = None;
    let mut finish = |current: Option<(Track, bool)>| {
        if let Some((track, sends)) = current {
            if sends {
                tracks.push(track);
            }
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            finish(current.take());
            let kind = match m.split(' ').next() {
                Some("audio") => "audio",
                Some("video") => "video",
                _ => continue,
            };
            current = Some((
                Track {
                    kind,
                    codecs: Vec::new(),
                },
                true,
            ));
        } else if let Some((track, sends)) = current.as_mut() {
            if let Some(map) = line.strip_prefix("a=rtpmap:") {
                let name = map
                    .split_once(' ')
                    .and_then(|(_, codec)| codec.split('/').next())
                    .unwrap_or("");
                if !name.is_empty()
                    && !NOT_MEDIA.contains(&name.to_ascii_lowercase().as_str())
                    && !track.codecs.iter().any(|c| c.eq_ignore_ascii_case(name))
                {
                    track.codecs.push(name.to_owned());
                }
            } else if matches!(line, "a=recvonly" | "a=inactive") {
                *sends = false;
            }
        }
    }
    finish(current);
    tracks
}

/// Figures one part's tracks keep, read by the part's watch and the benchmark.
#[derive(Default)]
pub struct Meter {
    /// Milliseconds since the part started of the last RTP packet, per kind; -1: none yet.
    pub last_audio_ms: AtomicI64,
    pub last_video_ms: AtomicI64,
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Frames the muxer's queue had no room for.
    pub frames_dropped: AtomicU64,
    pub unsupported: AtomicBool,
}

impl Meter {
    pub fn new() -> Meter {
        let m = Meter::default();
        m.last_audio_ms.store(-1, Ordering::Relaxed);
        m.last_video_ms.store(-1, Ordering::Relaxed);
        m
    }
}

struct Handler {
    events: mpsc::UnboundedSender<PeerEvent>,
    gathered: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    frames: std::sync::mpsc::SyncSender<Input>,
    started: Instant,
    meter: Arc<Meter>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            if let Some(tx) = self
                .gathered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                let _ = tx.send(());
            }
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(PeerEvent::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let frames = self.frames.clone();
        let started = self.started;
        let meter = self.meter.clone();
        let events = self.events.clone();
        tokio::spawn(async move { receive(track, frames, started, meter, events).await });
    }
}

/// Unwraps 32-bit RTP timestamps into a rising count.
struct Unwrap {
    last: Option<u32>,
    high: i64,
}

impl Unwrap {
    fn next(&mut self, ts: u32) -> i64 {
        if let Some(last) = self.last {
            let diff = ts.wrapping_sub(last) as i32;
            self.high += i64::from(diff);
        } else {
            self.high = i64::from(ts);
        }
        self.last = Some(ts);
        self.high
    }
}

enum Builder {
    Opus(SampleBuilder<OpusPacket>),
    Vp8(SampleBuilder<Vp8Packet>),
    Vp9(SampleBuilder<Vp9Packet>),
}

impl Builder {
    fn push(&mut self, now: Instant, p: rtc::rtp::Packet) {
        match self {
            Builder::Opus(b) => b.push(now, p),
            Builder::Vp8(b) => b.push(now, p),
            Builder::Vp9(b) => b.push(now, p),
        }
    }
    fn pop(&mut self, now: Instant) -> Option<rtc::media::Sample> {
        match self {
            Builder::Opus(b) => b.pop(now),
            Builder::Vp8(b) => b.pop(now),
            Builder::Vp9(b) => b.pop(now),
        }
    }
}

fn builder<T: Depacketizer>(d: T, rate: u32) -> SampleBuilder<T> {
    SampleBuilder::new(MAX_LATE, d, rate).with_max_time_delay(Duration::from_millis(500))
}

async fn receive(
    track: Arc<dyn TrackRemote>,
    frames: std::sync::mpsc::SyncSender<Input>,
    started: Instant,
    meter: Arc<Meter>,
    events: mpsc::UnboundedSender<PeerEvent>,
) {
    let mut state: Option<(Builder, Kind, Option<VideoCodec>, u32, u32)> = None;
    let mut unwrap = Unwrap {
        last: None,
        high: 0,
    };
    let mut origin: Option<(i64, u64)> = None;
    let mut last_pli = Instant::now() - Duration::from_secs(10);
    let mut keyframe_seen = false;
    while let Some(event) = track.poll().await {
        let packet = match event {
            TrackRemoteEvent::OnRtpPacket(p) => p,
            TrackRemoteEvent::OnEnded => break,
            _ => continue,
        };
        let now = Instant::now();
        let since_ms = i64::try_from(now.duration_since(started).as_millis()).unwrap_or(i64::MAX);
        meter.packets.fetch_add(1, Ordering::Relaxed);
        meter
            .bytes
            .fetch_add(packet.payload.len() as u64 + 12, Ordering::Relaxed);
        if state.is_none() {
            let ssrc = packet.header.ssrc;
            let Some(codec) = track.codec(ssrc).await else {
                continue;
            };
            let mime = codec.mime_type.to_ascii_lowercase();
            state = if mime == MIME_TYPE_OPUS.to_ascii_lowercase() {
                let _ = frames.try_send(Input::Audio);
                Some((
                    Builder::Opus(builder(OpusPacket, 48_000)),
                    Kind::Audio,
                    None,
                    48_000,
                    ssrc,
                ))
            } else if mime == MIME_TYPE_VP8.to_ascii_lowercase() {
                let _ = frames.try_send(Input::Video(VideoCodec::Vp8));
                Some((
                    Builder::Vp8(builder(Vp8Packet::default(), 90_000)),
                    Kind::Video,
                    Some(VideoCodec::Vp8),
                    90_000,
                    ssrc,
                ))
            } else if mime == MIME_TYPE_VP9.to_ascii_lowercase() {
                let _ = frames.try_send(Input::Video(VideoCodec::Vp9));
                Some((
                    Builder::Vp9(builder(Vp9Packet::default(), 90_000)),
                    Kind::Video,
                    Some(VideoCodec::Vp9),
                    90_000,
                    ssrc,
                ))
            } else {
                // A codec WebM cannot hold as it is (the answer offers none, so this is a
                // sender that ignored it): skipped, the part's watch notes it on the timeline,
                // and the part's other track goes on.
                meter.unsupported.store(true, Ordering::Relaxed);
                tracing::warn!(codec = %codec.mime_type, "a track the recorder cannot keep");
                let (kind, name) = codec
                    .mime_type
                    .split_once('/')
                    .unwrap_or(("", &codec.mime_type));
                let _ = events.send(PeerEvent::Skipped(Track {
                    kind: if kind.eq_ignore_ascii_case("audio") {
                        "audio"
                    } else {
                        "video"
                    },
                    codecs: vec![name.to_owned()],
                }));
                return;
            };
        }
        let Some((b, kind, codec, rate, ssrc)) = state.as_mut() else {
            continue;
        };
        match kind {
            Kind::Audio => meter.last_audio_ms.store(since_ms, Ordering::Relaxed),
            Kind::Video => meter.last_video_ms.store(since_ms, Ordering::Relaxed),
        }
        b.push(now, packet);
        while let Some(sample) = b.pop(now) {
            let ts = unwrap.next(sample.packet_timestamp);
            let (ts0, at0) = *origin.get_or_insert((ts, since_ms.max(0) as u64 * 1_000_000));
            let offset_ns = (ts - ts0).max(0) as u64 * 1_000_000_000 / u64::from(*rate);
            let key = match codec {
                Some(c) => is_keyframe(*c, &sample.data),
                None => true,
            };
            keyframe_seen |= key && codec.is_some();
            let frame = Frame {
                kind: *kind,
                at_ns: at0 + offset_ns,
                key,
                data: sample.data,
            };
            if frames.try_send(Input::Frame(frame)).is_err() {
                meter.frames_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Until the first keyframe, ask for one every second: a file starts on a keyframe.
        if codec.is_some() && !keyframe_seen && last_pli.elapsed() >= Duration::from_secs(1) {
            last_pli = Instant::now();
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: *ssrc,
            };
            let _ = track.write_rtcp(vec![Box::new(pli)]).await;
        }
    }
}

fn codec(mime: &str, rate: u32, channels: u16, fmtp: &str, pt: u8) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate: rate,
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: pt,
    }
}

/// A UDP port for the peer: 0 (any) without a configured range, else a port of
/// `connectivity.port_min..=port_max` free on every bind address now — the range the firewall
/// opens for the server's peers (the connectivity test's take theirs from it too; a port taken
/// between this probe and the peer's bind fails the answer with 503, and the browser retries).
fn free_port(network: &ConnectivitySettings) -> Option<u16> {
    if network.port_min == 0 && network.port_max == 0 {
        return Some(0);
    }
    let span = u32::from(network.port_max.saturating_sub(network.port_min)) + 1;
    let offset = rand::random::<u32>() % span;
    (0..span)
        .filter_map(|i| u16::try_from(u32::from(network.port_min) + (offset + i) % span).ok())
        .find(|port| {
            network
                .bind_addresses
                .iter()
                .all(|a| std::net::UdpSocket::bind((a.as_str(), *port)).is_ok())
        })
}

/// A receive-only peer, answered and with its tracks flowing to `frames`.
pub struct RecorderPeer {
    pub pc: Arc<dyn PeerConnection>,
    pub events: mpsc::UnboundedReceiver<PeerEvent>,
    pub meter: Arc<Meter>,
}

impl RecorderPeer {
    /// Builds the peer bound as the connectivity settings allow (the recorder's peer is the
    /// server's peer too: same addresses, same announced NAT address), applies the offer and
    /// returns the answer with every server candidate in it. An offer the peer refuses is
    /// `Err(Refused)`; anything else is the server's own trouble.
    pub async fn answer(
        network: &ConnectivitySettings,
        offer_sdp: &str,
        frames: std::sync::mpsc::SyncSender<Input>,
        started: Instant,
    ) -> Result<(RecorderPeer, String), AnswerError> {
        let mut media = MediaEngine::default();
        let codecs = [
            (
                codec(MIME_TYPE_OPUS, 48_000, 2, "minptime=10;useinbandfec=1", 111),
                RtpCodecKind::Audio,
            ),
            (codec(MIME_TYPE_VP8, 90_000, 0, "", 96), RtpCodecKind::Video),
            (
                codec(MIME_TYPE_VP9, 90_000, 0, "profile-id=0", 98),
                RtpCodecKind::Video,
            ),
        ];
        for (c, kind) in codecs {
            media
                .register_codec(c, kind)
                .map_err(|e| AnswerError::Server(anyhow!("registering a codec: {e}")))?;
        }
        let registry = configure_rtcp_reports(Registry::new());
        let registry = configure_nack(registry, &mut media);
        let registry = configure_twcc_receiver_only(registry, &mut media)
            .map_err(|e| AnswerError::Server(anyhow!("registering TWCC: {e}")))?;
        let mut engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled);
        if !network.nat_1to1_ips.is_empty() {
            engine =
                engine.with_nat_1to1_ips(network.nat_1to1_ips.clone(), RTCIceCandidateType::Host);
        }
        let (tx, events) = mpsc::unbounded_channel();
        let (gathered_tx, gathered_rx) = tokio::sync::oneshot::channel();
        let meter = Arc::new(Meter::new());
        let handler = Handler {
            events: tx,
            gathered: Mutex::new(Some(gathered_tx)),
            frames,
            started,
            meter: meter.clone(),
        };
        let port = free_port(network).ok_or_else(|| {
            AnswerError::Server(anyhow!(
                "no UDP port of connectivity.port_min..=port_max is free"
            ))
        })?;
        let addrs: Vec<String> = network
            .bind_addresses
            .iter()
            .map(|a| {
                let ip: std::net::IpAddr =
                    a.parse().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
                std::net::SocketAddr::new(ip, port).to_string()
            })
            .collect();
        let pc = PeerConnectionBuilder::new()
            .with_runtime(Arc::new(BufferedRuntime))
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(engine.build())
            .with_handler(Arc::new(handler))
            .with_udp_addrs(addrs)
            .build()
            .await
            .map_err(|e| AnswerError::Server(anyhow!("building the peer connection: {e}")))?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let applied: Result<(), AnswerError> = async {
            let offer: RTCSessionDescription =
                serde_json::from_value(serde_json::json!({"type": "offer", "sdp": offer_sdp}))
                    .context("the offer as a description")
                    .map_err(AnswerError::Refused)?;
            pc.set_remote_description(offer)
                .await
                .map_err(|e| AnswerError::Refused(anyhow!("the offer was refused: {e}")))?;
            let answer = pc
                .create_answer(None)
                .await
                .map_err(|e| AnswerError::Refused(anyhow!("no answer to this offer: {e}")))?;
            pc.set_local_description(answer)
                .await
                .map_err(|e| AnswerError::Server(anyhow!("set_local_description: {e}")))?;
            Ok(())
        }
        .await;
        if let Err(e) = applied {
            let _ = pc.close().await;
            return Err(e);
        }
        // Non-trickle: wait until every server candidate is in the local description.
        let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered_rx).await;
        let Some(local) = pc.local_description().await else {
            let _ = pc.close().await;
            return Err(AnswerError::Server(anyhow!("no local description")));
        };
        if !local.sdp.lines().any(|l| l.starts_with("a=candidate:")) {
            let _ = pc.close().await;
            return Err(AnswerError::Server(anyhow!(
                "the recorder's peer has no address to offer (connectivity.bind_addresses {:?})",
                network.bind_addresses
            )));
        }
        Ok((RecorderPeer { pc, events, meter }, local.sdp))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("{0:#}")]
    Refused(anyhow::Error),
    #[error("{0:#}")]
    Server(anyhow::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_tracks_name_the_codecs_of_each_sending_section() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 0 8 13 126\r\na=sendonly\r\na=rtpmap:0 PCMU/8000\r\n\
            a=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:126 telephone-event/8000\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
            a=rtpmap:102 H264/90000\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=recvonly\r\na=rtpmap:102 H264/90000\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
        let tracks = sent_tracks(sdp);
        assert_eq!(
            tracks,
            vec![
                Track {
                    kind: "audio",
                    codecs: vec!["PCMU".into(), "PCMA".into()]
                },
                Track {
                    kind: "video",
                    codecs: vec!["VP8".into(), "H264".into()]
                },
            ]
        );
        assert!(!tracks[0].kept());
        assert!(tracks[1].kept());
        assert!(sent_tracks("v=0\r\n").is_empty());
    }
}

/// What the recorder asks of the kernel for each of its UDP sockets' receive buffers. With the
/// default (208 KiB, about 90 loopback datagrams of video) the kernel dropped a few hundred of
/// 674,200 packets when 100 participants' streams were recorded at once (`bench recording
/// --count 100`, 2026-12-06: every loss was counted in `/proc/net/snmp`'s `RcvbufErrors`): a
/// keyframe's burst arrived while the recorder's task was busy with the others. The kernel
/// caps the request at `net.core.rmem_max` (docs/deploy.md says to raise it).
const RECEIVE_BUFFER_BYTES: usize = 2 << 20;

/// tokio, as the `webrtc` crate runs it, with a larger receive buffer on every UDP socket the
/// recorder's peers bind (`RECEIVE_BUFFER_BYTES`); everything else is tokio's.
#[derive(Debug)]
struct BufferedRuntime;

impl webrtc::runtime::Runtime for BufferedRuntime {
    fn spawn(
        &self,
        future: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) -> Box<dyn webrtc::runtime::JoinHandle> {
        webrtc::runtime::TokioRuntime.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) -> Box<dyn webrtc::runtime::JoinHandle> {
        webrtc::runtime::TokioRuntime.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(
        &self,
        socket: std::net::UdpSocket,
    ) -> std::io::Result<Arc<dyn webrtc::runtime::AsyncUdpSocket>> {
        if let Err(e) = socket2::SockRef::from(&socket).set_recv_buffer_size(RECEIVE_BUFFER_BYTES) {
            // The default buffer still records; it only loses more under bursts.
            tracing::warn!(error = %e, "cannot enlarge a recorder socket's receive buffer");
        }
        webrtc::runtime::TokioRuntime.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> std::io::Result<Arc<dyn webrtc::runtime::AsyncTcpListener>> {
        webrtc::runtime::TokioRuntime.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: std::net::SocketAddr,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = std::io::Result<Arc<dyn webrtc::runtime::AsyncTcpStream>>,
                > + Send
                + 'a,
        >,
    > {
        webrtc::runtime::TokioRuntime.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = std::io::Result<Vec<std::net::SocketAddr>>>
                + Send
                + 'a,
        >,
    > {
        webrtc::runtime::TokioRuntime.resolve_host(host)
    }

    fn now(&self) -> Instant {
        webrtc::runtime::TokioRuntime.now()
    }

    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
        webrtc::runtime::TokioRuntime.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn webrtc::runtime::AsyncInterval> {
        webrtc::runtime::TokioRuntime.interval(period)
    }

    fn block_on(&self, future: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>) {
        webrtc::runtime::TokioRuntime.block_on(future)
    }

    fn yield_now(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
        webrtc::runtime::TokioRuntime.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (recorder buffers)"
    }
}
