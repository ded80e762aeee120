//! What recording costs the server (docs/recording.md, "Costs"): `run(sessions, seconds)` drives
//! `sessions` sending peers — each a participant's camera (720p-sized VP8 at 30 fps, about
//! 1.5 Mbit/s) and microphone (Opus, 50 frames a second) — into recorder peers in this process
//! over loopback, each muxed and sealed to a file as in production, and reports the process's
//! CPU time (getrusage), its resident memory, and per session the RTP packets the sender sent
//! against those the recorder received.
//!
//! The senders run in the same process, so the CPU figure is the recorder's plus the senders'
//! (the senders packetize and encrypt, which costs about what the recorder's receiving does):
//! an upper bound for the recorder. No command line runs it here; the load tools' crate wires it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    SettingEngineBuilder, StatsSelector,
};

use super::muxer;
use super::peer::{Meter, RecorderPeer};
use crate::connectivity::ConnectivitySettings;

/// One run's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub sessions: usize,
    pub seconds: u64,
    /// User + system CPU seconds of the whole process over the sending time.
    pub cpu_seconds: f64,
    /// The same, as a share of one core (100 = one core busy).
    pub cpu_percent_of_one_core: f64,
    /// Resident memory at the end of the sending time.
    pub rss_megabytes: f64,
    pub per_session: Vec<SessionFigures>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionFigures {
    pub rtp_sent: u64,
    pub rtp_received: u64,
    /// Frames the muxer's queue had no room for.
    pub frames_dropped: u64,
    /// What the sealed file came to.
    pub sealed_bytes: u64,
    pub duration_ms: i64,
}

fn cpu_seconds() -> f64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: getrusage writes into the struct we own.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
            let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
            return t(u.ru_utime) + t(u.ru_stime);
        }
    }
    0.0
}

fn rss_megabytes() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

enum Event {
    Gathered,
    State(RTCPeerConnectionState),
}

struct Handler(mpsc::UnboundedSender<Event>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.send(Event::Gathered);
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.0.send(Event::State(state));
    }
}

fn codec(mime: &str, rate: u32, channels: u16) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: rate,
        channels,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

fn track(kind: RtpCodecKind, c: RTCRtpCodec) -> anyhow::Result<(Arc<TrackLocalStaticSample>, u32)> {
    let ssrc = rand::random::<u32>();
    let t = TrackLocalStaticSample::new(
        Instant::now(),
        MediaStreamTrack::new(
            "bench".to_owned(),
            format!("{kind:?}"),
            format!("{kind:?}"),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: c,
                ..Default::default()
            }],
        ),
    )
    .map_err(|e| anyhow!("a sending track: {e}"))?;
    Ok((Arc::new(t), ssrc))
}

/// A 720p-sized VP8 frame: a 60 KB keyframe every 2 s, 5.5 KB between (about 1.5 Mbit/s).
fn vp8_frame(n: u64) -> bytes::Bytes {
    let mut f = Vec::new();
    if n % 60 == 0 {
        f.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02]);
        f.resize(60_000, (n % 251) as u8);
    } else {
        f.extend_from_slice(&[0x31, 0x02, 0x00]);
        f.resize(5_500, (n % 251) as u8);
    }
    bytes::Bytes::from(f)
}

struct Session {
    sender: Arc<dyn PeerConnection>,
    video: (Arc<TrackLocalStaticSample>, u32, u8),
    audio: (Arc<TrackLocalStaticSample>, u32, u8),
    recorder: RecorderPeer,
    meter: Arc<Meter>,
    frames: std::sync::mpsc::SyncSender<muxer::Input>,
    muxing: tokio::task::JoinHandle<anyhow::Result<muxer::Closed>>,
}

async fn open_session(dir: &std::path::Path, index: usize) -> anyhow::Result<Session> {
    let mut media = MediaEngine::default();
    let e = |what: &'static str| move |err: webrtc::error::Error| anyhow!("{what}: {err}");
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec(MIME_TYPE_VP8, 90_000, 0),
                payload_type: 96,
            },
            RtpCodecKind::Video,
        )
        .map_err(|err| anyhow!("codec: {err}"))?;
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: codec(MIME_TYPE_OPUS, 48_000, 2),
                payload_type: 111,
            },
            RtpCodecKind::Audio,
        )
        .map_err(|err| anyhow!("codec: {err}"))?;
    let (tx, mut events) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media)
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
                .build(),
        )
        .with_handler(Arc::new(Handler(tx)))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .map_err(e("the sender"))?;
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    let (video, vs) = track(RtpCodecKind::Video, codec(MIME_TYPE_VP8, 90_000, 0))?;
    let (audio, as_) = track(RtpCodecKind::Audio, codec(MIME_TYPE_OPUS, 48_000, 2))?;
    let video_sender = pc
        .add_track(video.clone() as Arc<dyn TrackLocal>)
        .await
        .map_err(e("add_track"))?;
    let audio_sender = pc
        .add_track(audio.clone() as Arc<dyn TrackLocal>)
        .await
        .map_err(e("add_track"))?;
    let offer = pc.create_offer(None).await.map_err(e("offer"))?;
    pc.set_local_description(offer).await.map_err(e("offer"))?;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = events.recv().await {
            if matches!(ev, Event::Gathered) {
                return;
            }
        }
    })
    .await;
    let sdp = pc
        .local_description()
        .await
        .ok_or_else(|| anyhow!("no offer"))?
        .sdp;
    let network = ConnectivitySettings {
        bind_addresses: vec!["127.0.0.1".into()],
        port_min: 0,
        port_max: 0,
        nat_1to1_ips: vec![],
        max_concurrent: 1,
        device_check_window_minutes: 60,
        device_checks_per_token: 5,
        device_checks_per_booking: 20,
        connect_timeout_seconds: 10,
        measure_seconds: 10,
        abandon_seconds: 60,
        max_rtt_ms: 300.0,
        max_loss_percent: 2.0,
        max_jitter_ms: 30.0,
        min_bitrate_kbps: 100.0,
    };
    let (frames_tx, frames_rx) = std::sync::mpsc::sync_channel(4096);
    let (recorder, answer) =
        RecorderPeer::answer(&network, &sdp, frames_tx.clone(), Instant::now())
            .await
            .map_err(|err| anyhow!("the recorder's answer: {err}"))?;
    let answer: RTCSessionDescription =
        serde_json::from_value(serde_json::json!({"type": "answer", "sdp": answer}))?;
    pc.set_remote_description(answer)
        .await
        .map_err(e("answer"))?;
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.recv().await {
            if matches!(ev, Event::State(RTCPeerConnectionState::Connected)) {
                return;
            }
        }
    })
    .await
    .map_err(|_| anyhow!("session {index}: the recorder's connection did not come up"))?;
    let pt = |s: Option<u8>, d: u8| s.unwrap_or(d);
    let video_pt = video_sender
        .get_parameters()
        .await
        .ok()
        .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type));
    let audio_pt = audio_sender
        .get_parameters()
        .await
        .ok()
        .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type));
    let file = tempfile::tempfile_in(dir)?;
    let master: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
    let muxing = tokio::task::spawn_blocking(move || muxer::run(file, &master, frames_rx));
    let meter = recorder.meter.clone();
    Ok(Session {
        sender: pc,
        video: (video, vs, pt(video_pt, 96)),
        audio: (audio, as_, pt(audio_pt, 111)),
        recorder,
        meter,
        frames: frames_tx,
        muxing,
    })
}

async fn send(s: &Session, seconds: u64) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut video_sent, mut audio_sent) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * 30.0) as u64;
        while video_sent <= due {
            let sample = Sample {
                data: vp8_frame(video_sent),
                duration: Duration::from_micros(33_333),
                ..Sample::new(Instant::now())
            };
            let (t, ssrc, pt) = &s.video;
            let _ = t.sample_writer(*ssrc, *pt).write_sample(&sample).await;
            video_sent += 1;
        }
        let sample = Sample {
            data: bytes::Bytes::from(vec![0xfc; 80 + (audio_sent % 7) as usize]),
            duration: Duration::from_millis(20),
            ..Sample::new(Instant::now())
        };
        let (t, ssrc, pt) = &s.audio;
        let _ = t.sample_writer(*ssrc, *pt).write_sample(&sample).await;
        audio_sent += 1;
    }
}

/// Drives `sessions` recorded participants for `seconds` and reports what it cost.
pub async fn run(sessions: usize, seconds: u64) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let mut all = Vec::with_capacity(sessions);
    for i in 0..sessions {
        all.push(Arc::new(open_session(dir.path(), i).await?));
    }
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let senders: Vec<_> = all
        .iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { send(&s, seconds).await })
        })
        .collect();
    for h in senders {
        let _ = h.await;
    }
    // Let the last packets arrive before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = cpu_seconds() - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    let rss = rss_megabytes();
    let mut per_session = Vec::with_capacity(sessions);
    for s in all {
        let report = s
            .sender
            .get_stats(Instant::now(), StatsSelector::None)
            .await;
        let rtp_sent: u64 = report
            .outbound_rtp_streams()
            .map(|o| o.sent_rtp_stream_stats.packets_sent)
            .sum();
        let rtp_received = s.meter.packets.load(Ordering::Relaxed);
        let frames_dropped = s.meter.frames_dropped.load(Ordering::Relaxed);
        let _ = s.sender.close().await;
        let _ = s.recorder.pc.close().await;
        let _ = s.frames.try_send(muxer::Input::End);
        let Ok(s) = Arc::try_unwrap(s) else {
            continue;
        };
        let closed = s.muxing.await.map_err(|e| anyhow!("muxer: {e}"))??;
        per_session.push(SessionFigures {
            rtp_sent,
            rtp_received,
            frames_dropped,
            sealed_bytes: closed.sealed_bytes,
            duration_ms: closed.duration_ms,
        });
    }
    Ok(Report {
        sessions,
        seconds,
        cpu_seconds: cpu,
        cpu_percent_of_one_core: if wall > 0.0 { cpu / wall * 100.0 } else { 0.0 },
        rss_megabytes: rss,
        per_session,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// One session for two seconds: every packet sent arrives, and the file closes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_recorded_session_loses_nothing_on_loopback() {
        let r = super::run(1, 2).await.unwrap();
        let s = &r.per_session[0];
        assert!(s.rtp_sent > 300, "{r:?}");
        assert!(s.rtp_received + 5 >= s.rtp_sent, "{r:?}");
        assert!(s.duration_ms > 1500, "{r:?}");
        eprintln!("{}", serde_json::to_string(&r).unwrap());
    }
}
