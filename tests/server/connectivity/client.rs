//! A room terminal made of the `webrtc` crate: runs one connectivity test against CourtLink's
//! own peer (docs/connectivity.md). It gathers its candidates completely, posts the offer, applies
//! the answer, sends synthetic VP8 video (1200-byte payloads at 50 packets a second, about
//! 490 kbit/s) and its own probes on the `courtlink-echo` data channel, echoes the server's
//! probes (`p:<n>`) back, and reports what it saw. The peer binds `127.0.0.1:0` only.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_VP8;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannelEvent, RTCDataChannelInit};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    SettingEngineBuilder,
};

/// What to do in a test.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Send video (else a data-only test).
    pub video: bool,
    /// Echo the server's probes (a client that does not gets `no_echo`).
    pub echo_probes: bool,
    /// Apply the server's answer (a client that does not simply goes away).
    pub apply_answer: bool,
    /// The room named is a host court's own reception room (`host_room_id`), not a local
    /// room (`room_id`).
    pub host_room: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            video: true,
            echo_probes: true,
            apply_answer: true,
            host_room: false,
        }
    }
}

/// What the client saw.
#[derive(Debug, Clone, Default)]
pub struct ClientSide {
    pub test_id: i64,
    pub connected_after: Option<Duration>,
    /// RTP packets that came back (the echo of our video).
    pub rtp_echoed: u64,
    /// Our own probes that came back, and the median of their round trips.
    pub probes_echoed: u64,
    pub median_rtt_ms: Option<f64>,
    /// The server's probes we echoed.
    pub server_probes: u64,
    /// The final test view from the server.
    pub result: Value,
}

enum Event {
    Gathered,
    State(RTCPeerConnectionState),
}

struct Handler {
    events: mpsc::UnboundedSender<Event>,
    rtp_echoed: Arc<AtomicU64>,
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
        let counter = self.rtp_echoed.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(_) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// Runs one test through `base` (`http://127.0.0.1:PORT`) with `token`, for `room_id` (staff)
/// or none (a petitioner), and waits for the server's verdict (at most `within`).
pub async fn run_test(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    room_id: Option<i64>,
    plan: Plan,
    within: Duration,
) -> anyhow::Result<ClientSide> {
    let started = Instant::now();
    let (tx, mut events) = mpsc::unbounded_channel();
    let rtp_echoed = Arc::new(AtomicU64::new(0));
    let mut media = MediaEngine::default();
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: vp8(),
                payload_type: 96,
            },
            RtpCodecKind::Video,
        )
        .map_err(|e| anyhow!("codec: {e}"))?;
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
                .build(),
        )
        .with_handler(Arc::new(Handler {
            events: tx,
            rtp_echoed: rtp_echoed.clone(),
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .map_err(|e| anyhow!("building the client peer: {e}"))?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    let ssrc = rand::random::<u32>();
    let video = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "room-terminal".to_owned(),
        "camera".to_owned(),
        "camera".to_owned(),
        RtpCodecKind::Video,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: vp8(),
            ..Default::default()
        }],
    )));
    if plan.video {
        pc.add_track(video.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(|e| anyhow!("add_track: {e}"))?;
    }
    let channel = pc
        .create_data_channel(
            "courtlink-echo",
            Some(RTCDataChannelInit {
                ordered: false,
                max_retransmits: Some(0),
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| anyhow!("create_data_channel: {e}"))?;
    let offer = pc
        .create_offer(None)
        .await
        .map_err(|e| anyhow!("create_offer: {e}"))?;
    pc.set_local_description(offer)
        .await
        .map_err(|e| anyhow!("set_local_description: {e}"))?;
    let gathered = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = events.recv().await {
            if matches!(e, Event::Gathered) {
                return;
            }
        }
    })
    .await;
    if gathered.is_err() {
        bail!("the client's ICE gathering did not complete in 5 s");
    }
    let offer = pc
        .local_description()
        .await
        .ok_or_else(|| anyhow!("no local description"))?;
    let mut body = json!({"offer": {"type": "offer", "sdp": offer.sdp}});
    if let Some(room) = room_id {
        body[if plan.host_room {
            "host_room_id"
        } else {
            "room_id"
        }] = json!(room);
    }
    let res = http
        .post(format!("{base}/api/v1/connectivity/tests"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .context("POST the offer")?;
    let status = res.status();
    let started_view: Value = res.json().await.context("start answer JSON")?;
    if status != 201 {
        let _ = pc.close().await;
        bail!("POST /api/v1/connectivity/tests: {status} {started_view}");
    }
    let test_id = started_view["test_id"].as_i64().context("test_id")?;
    let mut side = ClientSide {
        test_id,
        ..ClientSide::default()
    };
    if !plan.apply_answer {
        let _ = pc.close().await;
        side.result = started_view;
        return Ok(side);
    }
    let answer: RTCSessionDescription = serde_json::from_value(started_view["answer"].clone())
        .context("the answer as a description")?;
    pc.set_remote_description(answer)
        .await
        .map_err(|e| anyhow!("set_remote_description(answer): {e}"))?;

    // The data channel: echo the server's probes, time our own.
    let server_probes = Arc::new(AtomicU64::new(0));
    let own_rtts = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let epoch = Instant::now();
    let reader = {
        let channel = channel.clone();
        let server_probes = server_probes.clone();
        let own_rtts = own_rtts.clone();
        tokio::spawn(async move {
            while let Some(event) = channel.poll().await {
                let DataChannelEvent::OnMessage(m) = event else {
                    if matches!(event, DataChannelEvent::OnClose) {
                        break;
                    }
                    continue;
                };
                let text = String::from_utf8_lossy(&m.data).into_owned();
                if text.starts_with("p:") {
                    server_probes.fetch_add(1, Ordering::Relaxed);
                    if plan.echo_probes {
                        let _ = channel.send_text(&text).await;
                    }
                } else if let Some(sent) = text
                    .strip_prefix("c:")
                    .and_then(|t| t.split(':').next())
                    .and_then(|t| t.parse::<u128>().ok())
                {
                    let now = epoch.elapsed().as_micros();
                    own_rtts
                        .lock()
                        .unwrap()
                        .push(now.saturating_sub(sent) as f64 / 1000.0);
                }
            }
        })
    };
    // Video and our own probes until the verdict.
    let sender = {
        let channel = channel.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let payload = bytes::Bytes::from(vec![0x90u8; 1200]);
            let mut seq: u16 = rand::random();
            let mut ts: u32 = rand::random();
            let mut i: u64 = 0;
            loop {
                tick.tick().await;
                if plan.video {
                    let packet = rtc::rtp::packet::Packet {
                        header: rtc::rtp::header::Header {
                            version: 2,
                            payload_type: 96,
                            sequence_number: seq,
                            timestamp: ts,
                            ssrc,
                            marker: true,
                            ..Default::default()
                        },
                        payload: payload.clone(),
                    };
                    let _ = video.write_rtp(packet).await;
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(1800);
                }
                if i % 10 == 0 {
                    let at = epoch.elapsed().as_micros();
                    let _ = channel
                        .send_text(&format!("c:{at}:{}", "x".repeat(200)))
                        .await;
                }
                i += 1;
            }
        })
    };

    let deadline = Instant::now() + within;
    let _final = loop {
        while let Ok(e) = events.try_recv() {
            if let Event::State(RTCPeerConnectionState::Connected) = e {
                side.connected_after.get_or_insert(started.elapsed());
            }
        }
        let view: Value = http
            .get(format!("{base}/api/v1/connectivity/tests/{test_id}"))
            .bearer_auth(token)
            .send()
            .await
            .context("GET the test")?
            .json()
            .await
            .context("test JSON")?;
        if view["status"] != "running" {
            break view;
        }
        if Instant::now() > deadline {
            bail!("test {test_id} still running after {within:?}: {view}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    sender.abort();
    side.rtp_echoed = rtp_echoed.load(Ordering::Relaxed);
    side.server_probes = server_probes.load(Ordering::Relaxed);
    {
        let mut rtts = own_rtts.lock().unwrap().clone();
        rtts.sort_by(f64::total_cmp);
        side.probes_echoed = rtts.len() as u64;
        side.median_rtt_ms = rtts.get(rtts.len() / 2).copied();
    }
    // The client's own figures, as extra evidence.
    let _ = http
        .post(format!("{base}/api/v1/connectivity/tests/{test_id}/report"))
        .bearer_auth(token)
        .json(&json!({
            "rtt_ms": side.median_rtt_ms,
            "probes_echoed": side.probes_echoed,
            "rtp_echoed": side.rtp_echoed,
        }))
        .send()
        .await;
    side.result = http
        .get(format!("{base}/api/v1/connectivity/tests/{test_id}"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let _ = pc.close().await;
    reader.abort();
    Ok(side)
}
