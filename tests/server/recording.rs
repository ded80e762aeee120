//! Recording of each reception (issue 20, docs/recording.md): a real `webrtc` peer sends VP8
//! and Opus to the server's recorder as a browser does; the file is sealed, hashed into the row
//! and the audit chain, plays back (with ranges) only for readers of the session's record, each
//! play and download audited; `audit verify` fails after one changed byte; a lost connection is
//! a gap on the timeline while the call goes on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_PCMU, MIME_TYPE_VP8,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    SettingEngineBuilder,
};

use crate::common::s3::Moto;
use crate::common::{self, Backend, TestApp, assert_error, next_of, ws_send};
use courtlink::config::Settings;
use courtlink::domain::SessionId;
use courtlink::recording::settings::StoreKind;

/// Recording into folders of the test's own, the recorder's peer on loopback.
struct Dirs {
    _tmp: tempfile::TempDir,
    store: std::path::PathBuf,
}

fn recording_dirs() -> (Dirs, impl FnOnce(&mut Settings)) {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let store = tmp.path().join("store");
    let dirs = Dirs {
        store: store.clone(),
        _tmp: tmp,
    };
    let tweak = move |s: &mut Settings| {
        s.connectivity.bind_addresses = vec!["127.0.0.1".into()];
        // The recorder's peers take their ports from the range the firewall would open.
        s.connectivity.port_min = 47_000;
        s.connectivity.port_max = 47_499;
        s.recording.enabled = true;
        s.recording.spool_dir = spool;
        s.recording.store_dir = store;
        s.recording.min_free_megabytes = 1;
    };
    (dirs, tweak)
}

async fn spawn(backend: Backend) -> Option<(TestApp, Dirs)> {
    let (dirs, tweak) = recording_dirs();
    TestApp::spawn_with(backend, tweak).await.map(|a| (a, dirs))
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

fn local_track(kind: RtpCodecKind, codec: RTCRtpCodec, ssrc: u32) -> Arc<TrackLocalStaticSample> {
    let label = if kind == RtpCodecKind::Audio {
        "microphone"
    } else {
        "camera"
    };
    Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "browser".to_owned(),
                label.to_owned(),
                label.to_owned(),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .unwrap(),
    )
}

/// A participant's browser as the recorder sees it: camera and microphone, sendonly (VP8 and
/// Opus, as Chromium sends them, unless the test offers other codecs).
struct Sender {
    pc: Arc<dyn PeerConnection>,
    video: (Arc<TrackLocalStaticSample>, u32, u8),
    audio: (Arc<TrackLocalStaticSample>, u32, u8),
    codecs: Codecs,
    events: mpsc::UnboundedReceiver<Event>,
    pub recording_id: i64,
    frame: u64,
}

/// Where a sender posts its offer: an instance's HTTP client and base address.
#[derive(Clone, Copy)]
struct At<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
}

impl<'a> At<'a> {
    fn app(app: &'a TestApp) -> At<'a> {
        At {
            client: &app.client,
            base: &app.address,
        }
    }
}

/// The codecs a sender offers, each with its payload type.
#[derive(Clone)]
struct Codecs {
    video: (RTCRtpCodec, u8),
    audio: (RTCRtpCodec, u8),
}

impl Default for Codecs {
    fn default() -> Codecs {
        Codecs {
            video: (codec(MIME_TYPE_VP8, 90_000, 0), 96),
            audio: (codec(MIME_TYPE_OPUS, 48_000, 2), 111),
        }
    }
}

/// An H.264 frame as a camera that only speaks H.264 sends it: an IDR picture every 30th,
/// others between (Annex B NAL units; never decoded).
fn h264_frame(n: u64) -> Bytes {
    let mut f = vec![0, 0, 0, 1, if n % 30 == 0 { 0x65 } else { 0x41 }];
    f.resize(900, (n % 251) as u8 | 1);
    Bytes::from(f)
}

/// A VP8 frame the recorder takes as it is: a keyframe (frame tag, start code, 640×480) every
/// 30th, delta frames between. The bytes after the headers are not a real picture: the recorder
/// never decodes.
fn vp8_frame(n: u64) -> Bytes {
    let mut f = Vec::with_capacity(1200);
    if n % 30 == 0 {
        f.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
        f.resize(3000, (n % 251) as u8);
    } else {
        f.extend_from_slice(&[0x31, 0x02, 0x00]);
        f.resize(900, (n % 251) as u8);
    }
    Bytes::from(f)
}

impl Sender {
    /// Offers to `POST /sessions/{id}/recording` with `token`: the answer as HTTP gave it.
    async fn offer(app: &TestApp, session_id: i64, token: &str) -> (Sender, reqwest::Response) {
        Sender::offer_codecs(At::app(app), session_id, token, Codecs::default()).await
    }

    async fn offer_codecs(
        at: At<'_>,
        session_id: i64,
        token: &str,
        codecs: Codecs,
    ) -> (Sender, reqwest::Response) {
        let mut media = MediaEngine::default();
        for ((c, pt), kind) in [
            (codecs.video.clone(), RtpCodecKind::Video),
            (codecs.audio.clone(), RtpCodecKind::Audio),
        ] {
            media
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: c,
                        payload_type: pt,
                    },
                    kind,
                )
                .unwrap();
        }
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
            .unwrap();
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let (vs, as_) = (rand::random::<u32>(), rand::random::<u32>());
        let video = local_track(RtpCodecKind::Video, codecs.video.0.clone(), vs);
        let audio = local_track(RtpCodecKind::Audio, codecs.audio.0.clone(), as_);
        let video_sender = pc
            .add_track(video.clone() as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        let audio_sender = pc
            .add_track(audio.clone() as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        let offer = pc.create_offer(None).await.unwrap();
        pc.set_local_description(offer).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(e) = events.recv().await {
                if matches!(e, Event::Gathered) {
                    return;
                }
            }
        })
        .await
        .expect("gathering completes");
        let sdp = pc.local_description().await.unwrap().sdp;
        assert!(sdp.contains("a=candidate:"));
        let res = at
            .client
            .post(format!(
                "{}/api/v1/sessions/{session_id}/recording",
                at.base
            ))
            .bearer_auth(token)
            .json(&json!({"offer": {"type": "offer", "sdp": sdp}}))
            .send()
            .await
            .unwrap();
        // The payload types the offer gave each codec (the answer keeps them).
        let video_pt = video_sender
            .get_parameters()
            .await
            .ok()
            .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type))
            .unwrap_or(codecs.video.1);
        let audio_pt = audio_sender
            .get_parameters()
            .await
            .ok()
            .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type))
            .unwrap_or(codecs.audio.1);
        let sender = Sender {
            pc,
            video: (video, vs, video_pt),
            audio: (audio, as_, audio_pt),
            codecs,
            events,
            recording_id: 0,
            frame: 0,
        };
        (sender, res)
    }

    /// Offers, applies the answer and waits for the connection.
    async fn connect(app: &TestApp, session_id: i64, token: &str) -> Sender {
        Sender::connect_codecs(At::app(app), session_id, token, Codecs::default()).await
    }

    async fn connect_codecs(at: At<'_>, session_id: i64, token: &str, codecs: Codecs) -> Sender {
        let (mut sender, res) = Sender::offer_codecs(at, session_id, token, codecs).await;
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["answer"]["type"], "answer");
        let answer: RTCSessionDescription = serde_json::from_value(body["answer"].clone()).unwrap();
        assert!(answer.sdp.contains("a=candidate:"), "non-trickle answer");
        let port: u16 = answer
            .sdp
            .lines()
            .find(|l| l.starts_with("a=candidate:"))
            .and_then(|l| l.split_whitespace().nth(5))
            .and_then(|p| p.parse().ok())
            .unwrap();
        assert!(
            (47_000..=47_499).contains(&port),
            "port {port} of the range"
        );
        sender.pc.set_remote_description(answer).await.unwrap();
        sender.recording_id = body["recording_id"].as_i64().unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(e) = sender.events.recv().await {
                if matches!(e, Event::State(RTCPeerConnectionState::Connected)) {
                    return;
                }
            }
        })
        .await
        .expect("the recorder's connection comes up");
        sender
    }

    /// Sends `seconds` of 30 fps video and 50 fps audio, paced in real time.
    async fn send_for(&mut self, seconds: f64) {
        self.send_media_for(seconds, true).await;
    }

    /// Sends `seconds` of 30 fps video, and 50 fps audio if `audio`, paced in real time.
    async fn send_media_for(&mut self, seconds: f64, audio: bool) {
        let start = Instant::now();
        let mut audio_sent = 0u64;
        let mut video_sent = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        while start.elapsed().as_secs_f64() < seconds {
            tick.tick().await;
            let due_video = (start.elapsed().as_secs_f64() * 30.0) as u64;
            while video_sent <= due_video {
                let (track, ssrc, pt) = &self.video;
                let data = if self.codecs.video.0.mime_type == MIME_TYPE_H264 {
                    h264_frame(self.frame)
                } else {
                    vp8_frame(self.frame)
                };
                let sample = Sample {
                    data,
                    duration: Duration::from_micros(33_333),
                    ..Sample::new(Instant::now())
                };
                track
                    .sample_writer(*ssrc, *pt)
                    .write_sample(&sample)
                    .await
                    .unwrap();
                self.frame += 1;
                video_sent += 1;
            }
            if !audio {
                continue;
            }
            let (track, ssrc, pt) = &self.audio;
            // Opus frames of some 60 bytes; 20 ms of G.711 is 160.
            let data = if self.codecs.audio.0.mime_type == MIME_TYPE_OPUS {
                Bytes::from(vec![0xfc; 60 + (audio_sent % 7) as usize])
            } else {
                Bytes::from(vec![0xff; 160])
            };
            let sample = Sample {
                data,
                duration: Duration::from_millis(20),
                ..Sample::new(Instant::now())
            };
            track
                .sample_writer(*ssrc, *pt)
                .write_sample(&sample)
                .await
                .unwrap();
            audio_sent += 1;
        }
    }

    async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// The host and the petitioner in a live call with media reported (so it can end with an
/// outcome); both sockets have seen `recording` `on`.
async fn live(app: &TestApp) -> (common::DemoSession, common::Ws, common::Ws) {
    let s = app.book_demo_session().await;
    let (mut host, mut petitioner) =
        common::live_call(app, s.session_id, &s.officer_token, &s.petitioner_token).await;
    for ws in [&mut host, &mut petitioner] {
        let m = next_of(ws, "recording").await;
        assert_eq!(m["state"], "on", "{m}");
        assert!(m["at"].as_str().unwrap().ends_with('Z'));
    }
    (s, host, petitioner)
}

async fn end(app: &TestApp, s: &common::DemoSession, host: &mut common::Ws, pet: &mut common::Ws) {
    common::media_flows(app, s.session_id, &s.officer_token, host, pet).await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&s.officer_token),
            &json!({"outcome": "explained_law", "note": "已当面答复"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(next_of(host, "recording").await["state"], "off");
}

/// The session's parts once none is still recording (or after 30 s).
async fn settled(app: &TestApp, session_id: i64, token: &str, want: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = app
            .get_ok(&format!("/api/v1/sessions/{session_id}/recordings"), token)
            .await;
        let items = list["items"].as_array().unwrap().clone();
        if !items.is_empty()
            && items
                .iter()
                .all(|i| want.contains(&i["state"].as_str().unwrap()))
        {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "parts still not {want:?}: {list}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The EBML element ids a WebM must have, and the segment's duration (in the default 1 ms scale).
fn webm_facts(plain: &[u8]) -> (bool, bool, bool, Option<f64>) {
    let find = |id: &[u8]| plain.windows(id.len()).position(|w| w == id);
    let segment = find(&[0x18, 0x53, 0x80, 0x67]).is_some();
    let cluster = find(&[0x1f, 0x43, 0xb6, 0x75]).is_some();
    let tracks = find(&[0x16, 0x54, 0xae, 0x6b]).is_some();
    // Info (0x1549A966) holds Duration (0x4489), a float of 4 or 8 bytes.
    let duration = find(&[0x15, 0x49, 0xa9, 0x66]).and_then(|info| {
        let at = info + plain[info..].windows(2).position(|w| w == [0x44, 0x89])?;
        match plain[at + 2] {
            0x88 => Some(f64::from_be_bytes(plain[at + 3..at + 11].try_into().ok()?)),
            0x84 => Some(f64::from(f32::from_be_bytes(
                plain[at + 3..at + 7].try_into().ok()?,
            ))),
            _ => None,
        }
    });
    (segment, cluster, tracks, duration)
}

fn verify_cli(app: &TestApp, dirs: &Dirs) -> (i32, String) {
    verify_cli_with(app, dirs, &[])
}

/// `courtlink audit verify` with `env` set as well (the S3 store's settings).
fn verify_cli_with(app: &TestApp, dirs: &Dirs, env: &[(&str, String)]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_courtlink"))
        .args(["audit", "verify"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "COURTLINK__DATABASE__URL",
            app.settings.database.url.expose_secret(),
        )
        .env("COURTLINK__RECORDING__STORE_DIR", &dirs.store)
        .env(
            "COURTLINK__RECORDING__SPOOL_DIR",
            dirs.store.with_file_name("spool"),
        )
        .env("COURTLINK__LOG__FILTER", "error")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String, String, String)> {
    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    store
        .audit_rows()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.actor, r.action, r.subject, r.detail))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn data_key(app: &TestApp) -> Vec<u8> {
    app.settings
        .privacy
        .data_key
        .expose_secret()
        .as_bytes()
        .to_vec()
}

/// `instance` plays recording `id` as `plain`, whole and by range.
async fn plays(instance: &TestApp, id: i64, token: &str, plain: &[u8]) {
    let media = format!("/api/v1/recordings/{id}/media");
    let res = instance.get(&media, Some(token)).await;
    assert_eq!(res.status(), 200, "{}", instance.address);
    assert_eq!(res.headers()["content-type"], "video/webm");
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert_eq!(res.bytes().await.unwrap().as_ref(), plain);
    let res = instance
        .client
        .get(instance.url(&media))
        .bearer_auth(token)
        .header("Range", "bytes=100-70099")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 100-70099/{}", plain.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &plain[100..70100]);
}

async fn records_seals_and_plays(app: TestApp, dirs: Dirs) {
    let (s, mut host, mut pet) = live(&app).await;
    let mut sender = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    sender.send_for(4.0).await;
    end(&app, &s, &mut host, &mut pet).await;
    sender.close().await;
    let items = settled(&app, s.session_id, &s.officer_token, &["stored"]).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["id"], sender.recording_id);
    assert_eq!(
        (
            item["participant_id"].as_str(),
            item["role"].as_str(),
            item["part"].as_i64()
        ),
        (Some("petitioner"), Some("petitioner"), Some(1))
    );
    assert_eq!(item["media_type"], "video/webm");
    assert_eq!(item["gaps"], json!([]));
    let duration = item["duration_ms"].as_i64().unwrap();
    assert!(
        (3000..=5500).contains(&duration),
        "duration {duration} ms of 4 s sent"
    );
    let sha = item["sha256"].as_str().unwrap().to_owned();

    // Sealed at rest: no WebM magic in the stored file, and the hash is the file's.
    let path = dirs
        .store
        .join(format!("session-{}/petitioner-part1.clrec", s.session_id));
    let sealed = std::fs::read(&path).unwrap();
    assert_eq!(item["bytes"].as_u64(), Some(sealed.len() as u64));
    assert_eq!(sha256_hex(&sealed), sha);
    assert!(!sealed.windows(4).any(|w| w == [0x1a, 0x45, 0xdf, 0xa3]));
    let key = data_key(&app);
    let plain = courtlink::recording::sealed::open_all(&key, &sealed[..]).unwrap();
    assert_eq!(&plain[..4], &[0x1a, 0x45, 0xdf, 0xa3], "EBML magic");
    let (segment, cluster, tracks, file_duration) = webm_facts(&plain);
    assert!(segment && cluster && tracks);
    let file_duration = file_duration.expect("a Duration in Info");
    assert!(
        (file_duration - duration as f64).abs() < 100.0,
        "{file_duration} vs {duration}"
    );
    // Cut short, the file does not open.
    let cut = &sealed[..sealed.len() - 5];
    assert!(courtlink::recording::sealed::open_all(&key, cut).is_err());

    // The hash in the audit chain, when the file closed.
    let audit = audit_actions(&app).await;
    assert!(
        audit
            .iter()
            .any(|(_, action, subject, detail)| action == "recording.close"
                && subject == &format!("recording:{}", sender.recording_id)
                && detail.contains(&sha))
    );

    // Played by a reader of the record: whole, and by range; each from the start audited.
    let media = format!("/api/v1/recordings/{}/media", sender.recording_id);
    plays(&app, sender.recording_id, &s.officer_token, &plain).await;
    let res = app
        .client
        .get(app.url(&format!("{media}?download=1")))
        .bearer_auth(&s.officer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let res = app
        .client
        .get(app.url(&media))
        .bearer_auth(&s.officer_token)
        .header("Range", &format!("bytes={}-", plain.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 416);
    let audit = audit_actions(&app).await;
    let officer_actor = audit
        .iter()
        .find(|(_, a, _, _)| a == "recording.play")
        .map(|(who, _, subject, _)| (who.clone(), subject.clone()))
        .expect("a play is audited");
    assert!(officer_actor.0.starts_with("user-"));
    assert_eq!(
        officer_actor.1,
        format!("recording:{}", sender.recording_id)
    );
    assert_eq!(
        audit
            .iter()
            .filter(|(_, a, _, _)| a == "recording.play")
            .count(),
        1,
        "a range from the middle is not another play"
    );
    assert!(audit.iter().any(|(_, a, _, _)| a == "recording.download"));

    // Scoped like the record: another court's staff, the petitioner, bad queries.
    let other = app.login("shangcheng.coord").await;
    assert_error(app.get(&media, Some(&other)).await, 403, "forbidden").await;
    assert_error(
        app.get(
            &format!("/api/v1/sessions/{}/recordings", s.session_id),
            Some(&other),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let res = app.get(&media, Some(&s.petitioner_token)).await;
    assert_eq!(res.status(), 401);
    assert_error(
        app.get("/api/v1/recordings/999999/media", Some(&s.officer_token))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get(&format!("{media}?download=2"), Some(&s.officer_token))
            .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.get(&format!("{media}?x=1"), Some(&s.officer_token))
            .await,
        422,
        "invalid_input",
    )
    .await;

    // `audit verify` checks the file, and fails after one changed byte.
    let (code, text) = verify_cli(&app, &dirs);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("recordings intact: 1 files"), "{text}");
    let mut changed = sealed.clone();
    let i = changed.len() / 2;
    changed[i] ^= 0x01;
    std::fs::write(&path, &changed).unwrap();
    let (code, text) = verify_cli(&app, &dirs);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains(&format!("recording {}", sender.recording_id)),
        "{text}"
    );
    // Played, the changed chunk stops the stream where it is (it never reaches the player).
    // When it is the first chunk (a short file), the answer breaks off before its headers.
    let played = app
        .client
        .get(app.url(&media))
        .bearer_auth(&s.officer_token)
        .send()
        .await;
    if let Ok(res) = played {
        assert_eq!(res.status(), 200);
        assert!(res.bytes().await.is_err(), "a changed chunk is not served");
    }
    // Cut short, it does not open at all.
    std::fs::write(&path, &sealed[..sealed.len() - 100]).unwrap();
    assert_error(
        app.get(&media, Some(&s.officer_token)).await,
        409,
        "recording_damaged",
    )
    .await;
    let (code, _) = verify_cli(&app, &dirs);
    assert_ne!(code, 0);

    // Past its retention, the purge deletes the file, marks the row and audits the deletion
    // (an instance's keeper purges as it starts: a second instance on the same store here).
    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    let long_ago = chrono::Utc::now() - chrono::Duration::days(200);
    let sql = "UPDATE recordings SET ended_at = $1 WHERE id = $2";
    match store.pool() {
        courtlink::store::Pool::Sqlite(p) => sqlx::query(sql)
            .bind(long_ago)
            .bind(sender.recording_id)
            .execute(p)
            .await
            .map(|_| ()),
        courtlink::store::Pool::Postgres(p) => sqlx::query(sql)
            .bind(long_ago)
            .bind(sender.recording_id)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
    let second = app.spawn_peer().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.recording(sender.recording_id).await.unwrap().state != "purged" {
        assert!(Instant::now() < deadline, "purged within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!path.exists(), "the file is gone");
    let audit = audit_actions(&app).await;
    assert!(
        audit
            .iter()
            .any(|(who, a, subject, _)| a == "recording.purge"
                && who == "system"
                && subject == &format!("recording:{}", sender.recording_id))
    );
    assert_error(
        app.get(&media, Some(&s.officer_token)).await,
        409,
        "recording_purged",
    )
    .await;
    let (code, text) = verify_cli(&app, &dirs);
    assert_eq!(code, 0, "a purged recording is not checked: {text}");
    second.shutdown.drain().await;
    drop(dirs);
}

mod records_seals_and_plays {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let (app, dirs) = spawn(Backend::Sqlite).await.unwrap();
        records_seals_and_plays(app, dirs).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some((app, dirs)) = spawn(Backend::Postgres).await {
            records_seals_and_plays(app, dirs).await;
        }
    }
}

/// Refusals, each with its stable code: who, when, and what is offered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_offers_and_callers_are_refused() {
    let (app, _dirs) = spawn(Backend::Sqlite).await.unwrap();
    let s = app.book_demo_session().await;
    let path = format!("/api/v1/sessions/{}/recording", s.session_id);
    // Before the petitioner is admitted, nothing is recorded.
    let (early, res) = Sender::offer(&app, s.session_id, &s.petitioner_token).await;
    assert_error(res, 409, "not_recording").await;
    early.close().await;
    let (mut host, mut pet) =
        common::live_call(&app, s.session_id, &s.officer_token, &s.petitioner_token).await;
    next_of(&mut host, "recording").await;
    let offer = |sdp: &str| json!({"offer": {"type": "offer", "sdp": sdp}});
    assert_error(
        app.post(&path, Some(&s.petitioner_token), &offer("hello"))
            .await,
        422,
        "invalid_input",
    )
    .await;
    let no_media = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n";
    assert_error(
        app.post(&path, Some(&s.petitioner_token), &offer(no_media))
            .await,
        422,
        "invalid_input",
    )
    .await;
    let no_candidates =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    assert_error(
        app.post(&path, Some(&s.petitioner_token), &offer(no_candidates))
            .await,
        422,
        "invalid_input",
    )
    .await;
    let garbage = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n\u{1}\u{2}";
    assert_error(
        app.post(&path, Some(&s.petitioner_token), &offer(garbage))
            .await,
        422,
        "invalid_input",
    )
    .await;
    let answer = json!({"offer": {"type": "answer", "sdp": no_media}});
    assert_error(
        app.post(&path, Some(&s.petitioner_token), &answer).await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.post(
            &path,
            Some(&s.petitioner_token),
            &json!({"offer": {"type": "offer"}}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.post(
            &path,
            Some(&s.petitioner_token),
            &json!({"offer": {"type": "offer", "sdp": "v=0"}, "x": 1}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    // A 1 MB body: refused by its length (the API's bodies are at most 64 KiB). The server may
    // answer before it has read the body and close the connection under the client's feet;
    // either way nothing is recorded (checked below).
    let huge = offer(&format!("v=0\r\n{}", "a".repeat(1024 * 1024)));
    // A client of its own: a connection closed mid-body must not be reused for the next test.
    let sent = reqwest::Client::new()
        .post(app.url(&path))
        .bearer_auth(&s.petitioner_token)
        .json(&huge)
        .send()
        .await;
    if let Ok(res) = sent {
        assert_error(res, 400, "bad_request").await;
    }
    let big_but_allowed_by_json = offer(&format!("v=0\r\n{}", "a".repeat(40 * 1024)));
    assert_error(
        app.post(&path, Some(&s.petitioner_token), &big_but_allowed_by_json)
            .await,
        422,
        "invalid_input",
    )
    .await;
    // Who: nobody, another court's staff, a petitioner of another session, no such session.
    let res = app.post(&path, None, &offer(no_media)).await;
    assert_eq!(res.status(), 401);
    let other = app.login("shangcheng.coord").await;
    assert_error(
        app.post(&path, Some(&other), &offer(no_media)).await,
        403,
        "forbidden",
    )
    .await;
    let coord = &s.coordinator_token;
    let rooms = app.get_ok("/api/v1/local-rooms", coord).await;
    let cases = app.get_ok("/api/v1/cases", coord).await;
    let slot = app.joinable_spc_slot(coord).await;
    let res = app
        .post("/api/v1/bookings", Some(coord), &json!({"slot_id": slot["id"], "case_id": cases[1]["id"], "local_room_id": rooms[1]["id"]}))
        .await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    let joined: Value = app
        .post(
            "/api/v1/auth/join",
            None,
            &json!({"code": second["join_code"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let second_petitioner = joined["token"].as_str().unwrap();
    assert_error(
        app.post(&path, Some(second_petitioner), &offer(no_media))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.post(
            "/api/v1/sessions/999999/recording",
            Some(&s.officer_token),
            &offer(no_media),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // After the end: not recording any more.
    end(&app, &s, &mut host, &mut pet).await;
    assert_error(
        app.post(&path, Some(&s.petitioner_token), &offer(no_media))
            .await,
        409,
        "not_recording",
    )
    .await;
    // Nothing was recorded by any of these.
    let list = app
        .get_ok(
            &format!("/api/v1/sessions/{}/recordings", s.session_id),
            &s.officer_token,
        )
        .await;
    assert_eq!(list["items"], json!([]), "{list}");
}

/// Recording disabled: 503 `recorder_unavailable`, and the signalling never says `on`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_recorder_answers_503_and_stays_off() {
    let (dirs, tweak) = recording_dirs();
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        tweak(s);
        s.recording.enabled = false;
    })
    .await
    .unwrap();
    let s = app.book_demo_session().await;
    let (mut host, _pet) =
        common::live_call(&app, s.session_id, &s.officer_token, &s.petitioner_token).await;
    let (sender, res) = Sender::offer(&app, s.session_id, &s.petitioner_token).await;
    assert_error(res, 503, "recorder_unavailable").await;
    sender.close().await;
    ws_send(&mut host, &json!({"type": "chat", "text": "在吗"})).await;
    let m = next_of_any(&mut host, &["recording", "chat"]).await;
    assert_eq!(
        m["type"], "chat",
        "no recording message when recording is off: {m}"
    );
    drop(dirs);
}

async fn next_of_any(ws: &mut common::Ws, kinds: &[&str]) -> Value {
    loop {
        let v = common::next_json(ws).await;
        if kinds.contains(&v["type"].as_str().unwrap_or("")) {
            return v;
        }
    }
}

/// The recorder's connection dies mid-call: the call goes on, the gap is on the timeline with
/// its start and end, everyone is told `interrupted` and then `on` again when a new part
/// connects.
/// A microphone whose first sound reaches the recorder after the camera's first keyframe (a
/// browser that starts its audio late, or an instance so busy that the audio track's first
/// packet is read late) is still in the file: the offer says there is audio, and the muxer makes
/// its track from the start. Before, the track was made only once the first audio packet had
/// come, and a file whose first keyframe came first had no sound at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microphone_that_starts_after_the_camera_is_recorded() {
    let Some((app, dirs)) = spawn(Backend::Sqlite).await else {
        return;
    };
    let (s, mut host, mut pet) = live(&app).await;
    let mut sender = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    // The camera's keyframe and a second of pictures, then both.
    sender.send_media_for(1.0, false).await;
    sender.send_for(2.5).await;
    end(&app, &s, &mut host, &mut pet).await;
    sender.close().await;
    let plain = the_petitioners_part(&app, &dirs, &s).await;
    let has = |id: &[u8]| plain.windows(id.len()).any(|w| w == id);
    assert!(has(b"V_VP8"), "the camera's track");
    assert!(
        has(b"A_OPUS"),
        "the microphone's track, though its first sound came after the first keyframe"
    );
    // Its sound is in the file: the sender's Opus frames (60-66 bytes of 0xfc).
    assert!(
        plain.windows(60).any(|w| w.iter().all(|b| *b == 0xfc)),
        "the microphone's frames"
    );
    assert_eq!(
        track_notes(&app, &s).await,
        Vec::<Value>::new(),
        "nothing to note"
    );
}

/// A microphone the offer sends that never sounds: the part is the pictures alone, and the
/// timeline says that it holds no sound from whom (`recording_track_skipped`, `no_sound`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microphone_that_never_sounds_is_noted_on_the_timeline() {
    let Some((app, dirs)) = spawn(Backend::Sqlite).await else {
        return;
    };
    let (s, mut host, mut pet) = live(&app).await;
    let mut sender = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    sender.send_media_for(5.0, false).await;
    end(&app, &s, &mut host, &mut pet).await;
    sender.close().await;
    let plain = the_petitioners_part(&app, &dirs, &s).await;
    let has = |id: &[u8]| plain.windows(id.len()).any(|w| w == id);
    assert_eq!((has(b"V_VP8"), has(b"A_OPUS")), (true, false));
    assert_eq!(
        track_notes(&app, &s).await,
        vec![json!({
            "participant": "petitioner",
            "recording_id": sender.recording_id,
            "kind": "audio",
            "codecs": [],
            "why": "no_sound",
        })]
    );
}

/// The petitioner's one part of the session, once stored: its WebM, opened.
async fn the_petitioners_part(app: &TestApp, dirs: &Dirs, s: &common::DemoSession) -> Vec<u8> {
    let items = settled(app, s.session_id, &s.officer_token, &["stored"]).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let path = dirs
        .store
        .join(format!("session-{}/petitioner-part1.clrec", s.session_id));
    let sealed = std::fs::read(&path).unwrap();
    courtlink::recording::sealed::open_all(&data_key(app), &sealed[..]).unwrap()
}

/// The data of the session's `recording_track_skipped` entries, each written by the recorder.
async fn track_notes(app: &TestApp, s: &common::DemoSession) -> Vec<Value> {
    let record = app
        .get_ok(
            &format!("/api/v1/records/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    record["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "recording_track_skipped")
        .map(|e| {
            assert_eq!(e["actor"], "recorder", "{e}");
            match e["data"].as_str() {
                Some(text) => serde_json::from_str(text).unwrap(),
                None => e["data"].clone(),
            }
        })
        .collect()
}

async fn a_lost_connection_is_a_gap(app: TestApp, dirs: Dirs) {
    let (s, mut host, mut pet) = live(&app).await;
    let mut first = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    first.send_for(2.0).await;
    let killed = Instant::now();
    first.close().await;
    let m = next_of(&mut host, "recording").await;
    assert_eq!(m["state"], "interrupted", "{m}");
    assert!(killed.elapsed() < Duration::from_secs(10));
    assert_eq!(next_of(&mut pet, "recording").await["state"], "interrupted");
    // The call goes on over the signalling, untouched.
    ws_send(
        &mut host,
        &json!({"type": "chat", "text": "录像中断了，我们继续"}),
    )
    .await;
    assert_eq!(
        next_of(&mut pet, "chat").await["text"],
        "录像中断了，我们继续"
    );
    // The browser retries: a second part, and the gap ends.
    let mut second = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    assert_ne!(second.recording_id, first.recording_id);
    assert_eq!(next_of(&mut host, "recording").await["state"], "on");
    second.send_for(2.0).await;
    end(&app, &s, &mut host, &mut pet).await;
    second.close().await;
    let items = settled(&app, s.session_id, &s.officer_token, &["stored"]).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        (items[0]["part"].as_i64(), items[1]["part"].as_i64()),
        (Some(1), Some(2))
    );
    let gaps = items[0]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{items:?}");
    let start: chrono::DateTime<chrono::Utc> = gaps[0]["start"].as_str().unwrap().parse().unwrap();
    let end_at: chrono::DateTime<chrono::Utc> = gaps[0]["end"].as_str().unwrap().parse().unwrap();
    assert!(start < end_at, "{gaps:?}");
    assert_eq!(items[1]["gaps"], json!([]));
    // On the timeline, with the session marked.
    let record = app
        .get_ok(
            &format!("/api/v1/records/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    let kinds: Vec<&str> = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let started = kinds
        .iter()
        .position(|k| *k == "recording_gap_started")
        .expect("gap start on the timeline");
    let ended = kinds
        .iter()
        .position(|k| *k == "recording_gap_ended")
        .expect("gap end on the timeline");
    assert!(started < ended);
    assert_eq!(
        record["recording_gap"], true,
        "the session's record is marked"
    );
    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    assert!(store.recording_gap(SessionId(s.session_id)).await.unwrap());
    drop(dirs);
}

mod a_lost_connection_is_a_gap {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let (app, dirs) = spawn(Backend::Sqlite).await.unwrap();
        a_lost_connection_is_a_gap(app, dirs).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some((app, dirs)) = spawn(Backend::Postgres).await {
            a_lost_connection_is_a_gap(app, dirs).await;
        }
    }
}

/// Retention below six months is a configuration error naming the key.
#[test]
fn retention_under_six_months_is_refused() {
    let mut s = common::test_settings("sqlite::memory:".into());
    s.recording.retention_days = 182;
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("recording.retention_days"), "{e}");
    s.recording.retention_days = 183;
    s.validate().unwrap();
}

/// A server that shuts down mid-session closes its parts cleanly: each file finalized, sealed
/// and hashed, and it opens whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_open_file() {
    let (app, dirs) = spawn(Backend::Sqlite).await.unwrap();
    let (s, _host, _pet) = live(&app).await;
    let mut sender = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    sender.send_for(2.0).await;
    let t = Instant::now();
    app.shutdown.drain().await;
    let drained = t.elapsed();
    sender.close().await;
    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    let row = store.recording(sender.recording_id).await.unwrap();
    assert!(
        row.state == "stored" || row.state == "closed",
        "closed at shutdown (a drain of {drained:?}), not {}",
        row.state
    );
    assert!(row.duration_ms.unwrap() >= 1000, "{row:?}");
    let file = if row.state == "stored" {
        dirs.store.join(&row.object_key)
    } else {
        dirs.store.with_file_name("spool").join(&row.object_key)
    };
    let sealed = std::fs::read(file).unwrap();
    let key = data_key(&app);
    let plain = courtlink::recording::sealed::open_all(&key, &sealed[..]).unwrap();
    let (segment, cluster, _, duration) = webm_facts(&plain);
    assert!(segment && cluster && duration.is_some());
}

/// Two instances on one PostgreSQL and Redis: the host's socket on A, the petitioner's on B, the
/// recorder on B. The admission on A says `on` to both; the recorder on B losing the stream says
/// `interrupted` to the host on A (through Redis), and `on` again when a new part connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_crosses_instances() {
    let Some(redis) = common::shared_redis() else {
        return;
    };
    let (dirs, tweak) = recording_dirs();
    let Some(a) = TestApp::spawn_with(Backend::Postgres, |s| {
        tweak(s);
        common::with_redis(redis)(s);
    })
    .await
    else {
        return;
    };
    let b = a.spawn_peer().await;
    let s = a.book_demo_session().await;
    let mut host = common::ws_join(&a, s.session_id, &s.officer_token).await;
    common::next_json(&mut host).await;
    let mut pet = common::ws_join(&b, s.session_id, &s.petitioner_token).await;
    common::next_json(&mut pet).await;
    common::admit_petitioner(&mut host, &mut pet).await;
    assert_eq!(next_of(&mut host, "recording").await["state"], "on");
    assert_eq!(next_of(&mut pet, "recording").await["state"], "on");
    let mut first = Sender::connect(&b, s.session_id, &s.petitioner_token).await;
    first.send_for(1.0).await;
    first.close().await;
    assert_eq!(
        next_of(&mut host, "recording").await["state"],
        "interrupted"
    );
    let second = Sender::connect(&b, s.session_id, &s.petitioner_token).await;
    assert_eq!(next_of(&mut host, "recording").await["state"], "on");
    second.close().await;
    b.shutdown.drain().await;
    drop(dirs);
}

// --- an S3-compatible store (moto) ---------------------------------------------------------------

const BUCKET: &str = "courtlink-recordings";

/// `recording_dirs` with the store in `bucket` of `moto` (the local store folder unused).
fn s3_store(moto: &Moto, bucket: &str) -> (Dirs, impl FnOnce(&mut Settings)) {
    let (dirs, tweak) = recording_dirs();
    let s3 = moto.settings(bucket);
    let tweak = move |s: &mut Settings| {
        tweak(s);
        s.recording.store = StoreKind::S3;
        s.recording.s3 = s3;
    };
    (dirs, tweak)
}

/// With `recording.store = "s3"`: a session recorded through the real recorder lands sealed in
/// the bucket (and leaves nothing in the spool), plays on the instance that recorded it and on
/// another with a spool of its own, whole and by range, and `audit verify` checks the bucket's
/// copy — and fails once one byte of it is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_keeps_the_file_for_every_instance() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.create_bucket(BUCKET).await;
    let (dirs, tweak) = s3_store(&moto, BUCKET);
    let app = TestApp::spawn_with(Backend::Sqlite, tweak).await.unwrap();
    let (s, mut host, mut pet) = live(&app).await;
    let mut sender = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    sender.send_for(3.0).await;
    end(&app, &s, &mut host, &mut pet).await;
    sender.close().await;
    let items = settled(&app, s.session_id, &s.officer_token, &["stored"]).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];

    // In the bucket, whole and sealed, and nowhere else.
    let key = format!("session-{}/petitioner-part1.clrec", s.session_id);
    assert_eq!(
        moto.objects(BUCKET).await,
        vec![(key.clone(), item["bytes"].as_u64().unwrap())]
    );
    let sealed = moto.get(BUCKET, &key).await;
    assert_eq!(item["sha256"], sha256_hex(&sealed));
    assert!(!sealed.windows(4).any(|w| w == [0x1a, 0x45, 0xdf, 0xa3]));
    let spool = dirs.store.with_file_name("spool");
    assert!(
        common::s3::no_files_under(&spool),
        "the spool copy goes once the bucket has it"
    );
    assert!(!dirs.store.exists(), "no local store folder is made");
    let plain = courtlink::recording::sealed::open_all(&data_key(&app), &sealed[..]).unwrap();
    let (segment, cluster, tracks, duration) = webm_facts(&plain);
    assert!(segment && cluster && tracks && duration.is_some());

    // Any instance plays it: this one, and another whose spool is its own (empty).
    let other_spool = tempfile::tempdir().unwrap();
    let other_spool_dir = other_spool.path().to_owned();
    let b = app
        .spawn_peer_with(move |s| s.recording.spool_dir = other_spool_dir)
        .await;
    for instance in [&app, &b] {
        plays(instance, sender.recording_id, &s.officer_token, &plain).await;
    }
    assert!(common::s3::no_files_under(other_spool.path()));

    // `audit verify` reads the bucket's copy, and fails after one changed byte.
    let env = moto.env(BUCKET);
    let (code, text) = verify_cli_with(&app, &dirs, &env);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("recordings intact: 1 files"), "{text}");
    let mut changed = sealed.clone();
    let i = changed.len() / 2;
    changed[i] ^= 0x01;
    moto.put(BUCKET, &key, changed).await;
    let (code, text) = verify_cli_with(&app, &dirs, &env);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains(&format!("recording {}", sender.recording_id)),
        "{text}"
    );
    b.shutdown.drain().await;
    drop(dirs);
}

/// The bucket is down when a part closes: the upload fails, the sealed file stays in the spool
/// (the row `closed`, its hash already recorded), plays from there on the instance that holds
/// it, and another instance says why it cannot play it yet. Once the bucket is back, the
/// recorder's keeper uploads it (within its 30 s round) and only then deletes the spool copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_failure_keeps_the_spool_copy_and_is_retried() {
    let Some(mut moto) = Moto::start().await else {
        return;
    };
    moto.create_bucket(BUCKET).await;
    let (dirs, tweak) = s3_store(&moto, BUCKET);
    let app = TestApp::spawn_with(Backend::Sqlite, tweak).await.unwrap();
    let (s, mut host, mut pet) = live(&app).await;
    let mut sender = Sender::connect(&app, s.session_id, &s.petitioner_token).await;
    sender.send_for(3.0).await;
    moto.stop();
    end(&app, &s, &mut host, &mut pet).await;
    sender.close().await;
    let items = settled(&app, s.session_id, &s.officer_token, &["closed"]).await;
    let item = items[0].clone();
    let spooled = dirs
        .store
        .with_file_name("spool")
        .join(format!("session-{}/petitioner-part1.clrec", s.session_id));
    // Every try of the upload (object_store's own retries included) is over within seconds;
    // the copy is still whole after them.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    assert_eq!(
        store.recording(sender.recording_id).await.unwrap().state,
        "closed"
    );
    let sealed = std::fs::read(&spooled).expect("the spool copy is kept");
    assert_eq!(item["sha256"], sha256_hex(&sealed));
    let plain = courtlink::recording::sealed::open_all(&data_key(&app), &sealed[..]).unwrap();
    plays(&app, sender.recording_id, &s.officer_token, &plain).await;
    let other_spool = tempfile::tempdir().unwrap();
    let other_spool_dir = other_spool.path().to_owned();
    let b = app
        .spawn_peer_with(move |s| s.recording.spool_dir = other_spool_dir)
        .await;
    assert_error(
        b.get(
            &format!("/api/v1/recordings/{}/media", sender.recording_id),
            Some(&s.officer_token),
        )
        .await,
        409,
        "recording_not_uploaded",
    )
    .await;

    // The bucket is back (empty: moto keeps it in memory): the keeper's next round uploads.
    moto.restart().await;
    moto.create_bucket(BUCKET).await;
    let deadline = Instant::now() + Duration::from_secs(45);
    while store.recording(sender.recording_id).await.unwrap().state != "stored" {
        assert!(
            Instant::now() < deadline,
            "uploaded within the keeper's round; moto's log:\n{}",
            moto.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let key = format!("session-{}/petitioner-part1.clrec", s.session_id);
    assert_eq!(moto.get(BUCKET, &key).await, sealed);
    assert!(
        !spooled.exists(),
        "the spool copy goes once the bucket has it"
    );
    for instance in [&app, &b] {
        plays(instance, sender.recording_id, &s.officer_token, &plain).await;
    }
    b.shutdown.drain().await;
    drop(dirs);
}

/// Bad S3 settings stop start-up with a configuration error (exit 2) naming the key; good ones
/// pass, and `check-config --probe` writes, reads and deletes an object in the bucket (exit 1,
/// naming the store, when the bucket is missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_settings_are_checked() {
    let good = "[recording]\nstore = \"s3\"\n[recording.s3]\nendpoint = \"https://s3.court.internal:9000\"\n\
                bucket = \"courtlink-recordings\"\naccess_key_id = \"courtlink\"\n\
                secret_access_key = \"secret-of-the-court\"\n";
    let (code, out) = common::courtlink_with(good, &["check-config"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the S3 bucket courtlink-recordings at https://s3.court.internal:9000"),
        "{out}"
    );
    assert!(!out.contains("secret-of-the-court"), "{out}");
    for (bad, key) in [
        (
            "[recording]\nstore = \"s3\"\n".to_owned(),
            "recording.s3.endpoint",
        ),
        (
            "[recording]\nstore = \"cloud\"\n".to_owned(),
            "recording.store",
        ),
        (
            good.replace(
                "https://s3.court.internal:9000",
                "http://s3.court.internal:9000",
            ),
            "recording.s3.endpoint",
        ),
        (
            good.replace("https://s3.court.internal:9000", "ftp://s3.court.internal"),
            "recording.s3.endpoint",
        ),
        (
            good.replace(
                "https://s3.court.internal:9000",
                "https://s3.court.internal:9000/courtlink-recordings",
            ),
            "recording.s3.endpoint",
        ),
        (
            good.replace("courtlink-recordings", "Court_Recordings"),
            "recording.s3.bucket",
        ),
        (
            good.replace("access_key_id = \"courtlink\"", "access_key_id = \"\""),
            "recording.s3.access_key_id",
        ),
        (
            good.replace("secret_access_key = \"secret-of-the-court\"\n", ""),
            "recording.s3.secret_access_key",
        ),
        (format!("{good}region = \"\"\n"), "recording.s3.region"),
        (format!("{good}bucket_name = \"x\"\n"), "recording.s3"),
    ] {
        let (code, out) = common::courtlink_with(&bad, &["check-config"], &[]);
        assert_eq!(code, 2, "{bad}: {out}");
        assert!(out.contains(key), "{bad}: {key} not named in {out}");
    }
    // Plain HTTP when allowed; the keys from the environment, as a deployment sets them.
    let (code, out) = common::courtlink_with(
        "[recording]\nstore = \"s3\"\n",
        &["check-config"],
        &[
            (
                "COURTLINK__RECORDING__S3__ENDPOINT",
                "http://10.1.2.3:9000".into(),
            ),
            ("COURTLINK__RECORDING__S3__ALLOW_HTTP", "true".into()),
            ("COURTLINK__RECORDING__S3__BUCKET", "recordings".into()),
            (
                "COURTLINK__RECORDING__S3__ACCESS_KEY_ID",
                "courtlink".into(),
            ),
            (
                "COURTLINK__RECORDING__S3__SECRET_ACCESS_KEY",
                "s3cret".into(),
            ),
        ],
    );
    assert_eq!(code, 0, "{out}");

    // The probe, against a real S3-compatible server.
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.create_bucket(BUCKET).await;
    let spool = tempfile::tempdir().unwrap();
    let mut env = moto.env(BUCKET);
    env.push((
        "COURTLINK__RECORDING__SPOOL_DIR",
        spool.path().display().to_string(),
    ));
    let (code, out) = common::courtlink_with("", &["check-config", "--probe"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("write, read and delete ok"), "{out}");
    assert_eq!(
        moto.objects(BUCKET).await,
        vec![],
        "the probe leaves nothing"
    );
    let mut env = moto.env("no-such-bucket");
    env.push((
        "COURTLINK__RECORDING__SPOOL_DIR",
        spool.path().display().to_string(),
    ));
    let (code, out) = common::courtlink_with("", &["check-config", "--probe"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the recording store does not work") && out.contains("no-such-bucket"),
        "{out}"
    );

    // Over HTTPS (the default: `allow_http` off): the service's certificate is checked against
    // the system's trusted ones — refused while it is unknown, taken once trusted (here through
    // SSL_CERT_FILE, as a court installs its own CA).
    let Some(tls) = Moto::start_tls().await else {
        return;
    };
    tls.create_bucket(BUCKET).await;
    let mut env = tls.env(BUCKET);
    env.push((
        "COURTLINK__RECORDING__SPOOL_DIR",
        spool.path().display().to_string(),
    ));
    let (code, out) = common::courtlink_with("", &["check-config", "--probe"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("UnknownIssuer"), "{out}");
    let (cert, _) = tls.tls.clone().unwrap();
    env.push(("SSL_CERT_FILE", cert.display().to_string()));
    let (code, out) = common::courtlink_with("", &["check-config", "--probe"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("write, read and delete ok"), "{out}");
    assert!(
        out.contains(&format!("at https://127.0.0.1:{}", tls.port)),
        "{out}"
    );
}

// --- codecs the recording cannot hold --------------------------------------------------------------

/// A track in a codec WebM cannot hold — a camera that speaks only H.264, a microphone sent as
/// G.711 — is skipped with a note on the timeline, and the part records the participant's other
/// track; an offer with nothing the recorder keeps is refused, and noted too. The call and the
/// recording of everything else go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_in_another_codec_is_skipped_with_a_note() {
    let (app, dirs) = spawn(Backend::Sqlite).await.unwrap();
    let (s, mut host, mut pet) = live(&app).await;
    let h264 = (
        RTCRtpCodec {
            sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                .into(),
            ..codec(MIME_TYPE_H264, 90_000, 0)
        },
        102,
    );
    let pcmu = (codec(MIME_TYPE_PCMU, 8_000, 1), 0);
    // The petitioner's camera speaks H.264 (its microphone Opus); the officer's microphone is
    // sent as G.711 (its camera VP8).
    let mut petitioner = Sender::connect_codecs(
        At::app(&app),
        s.session_id,
        &s.petitioner_token,
        Codecs {
            video: h264.clone(),
            ..Codecs::default()
        },
    )
    .await;
    let mut officer = Sender::connect_codecs(
        At::app(&app),
        s.session_id,
        &s.officer_token,
        Codecs {
            audio: pcmu.clone(),
            ..Codecs::default()
        },
    )
    .await;
    tokio::join!(petitioner.send_for(5.0), officer.send_for(5.0));
    // Nothing the recorder keeps: refused, and noted.
    let (nothing, res) = Sender::offer_codecs(
        At::app(&app),
        s.session_id,
        &s.petitioner_token,
        Codecs {
            video: h264,
            audio: pcmu,
        },
    )
    .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (status.as_u16(), &body["code"]),
        (422, &json!("invalid_input")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("H264") && message.contains("PCMU"),
        "{message}"
    );
    nothing.close().await;
    // The call goes on, and so does the recording: never interrupted.
    ws_send(&mut host, &json!({"type": "chat", "text": "听得见吗"})).await;
    let m = next_of_any(&mut pet, &["chat", "recording"]).await;
    assert_eq!(
        (m["type"].as_str(), m["text"].as_str()),
        (Some("chat"), Some("听得见吗")),
        "{m}"
    );
    end(&app, &s, &mut host, &mut pet).await;
    petitioner.close().await;
    officer.close().await;

    // Each part kept the track it could: the petitioner's sound, the officer's picture.
    let items = settled(&app, s.session_id, &s.officer_token, &["stored"]).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let part = |id: i64| items.iter().find(|i| i["id"] == id).unwrap().clone();
    let (p, o) = (part(petitioner.recording_id), part(officer.recording_id));
    assert_eq!(p["media_type"], "audio/webm", "{p}");
    assert_eq!(o["media_type"], "video/webm", "{o}");
    for item in [&p, &o] {
        assert_eq!(item["gaps"], json!([]), "{item}");
        let ms = item["duration_ms"].as_i64().unwrap();
        assert!((3500..=7000).contains(&ms), "{ms} ms of 5 s sent: {item}");
    }
    let key = data_key(&app);
    for (item, video) in [(&p, false), (&o, true)] {
        let sealed = std::fs::read(dirs.store.join(format!(
            "session-{}/{}-part1.clrec",
            s.session_id,
            item["participant_id"].as_str().unwrap()
        )))
        .unwrap();
        let plain = courtlink::recording::sealed::open_all(&key, &sealed[..]).unwrap();
        let (segment, cluster, tracks, _) = webm_facts(&plain);
        assert!(segment && cluster && tracks, "{item}");
        // The tracks' CodecIDs: VP8 video for the officer, Opus sound for the petitioner.
        let has = |id: &[u8]| plain.windows(id.len()).any(|w| w == id);
        assert_eq!((has(b"V_VP8"), has(b"A_OPUS")), (video, !video), "{item}");
    }

    // On the timeline: each skipped track, whose, of which part, and why.
    let record = app
        .get_ok(
            &format!("/api/v1/records/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    let notes: Vec<Value> = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "recording_track_skipped")
        .map(|e| {
            assert_eq!(e["actor"], "recorder", "{e}");
            let d = &e["data"];
            let d: Value = match d.as_str() {
                Some(text) => serde_json::from_str(text).unwrap(),
                None => d.clone(),
            };
            json!([d["participant"], d["recording_id"], d["kind"], d["codecs"]])
        })
        .collect();
    let officer_id = o["participant_id"].clone();
    assert_eq!(
        notes,
        vec![
            json!(["petitioner", petitioner.recording_id, "video", ["H264"]]),
            json!([officer_id, officer.recording_id, "audio", ["PCMU"]]),
            json!(["petitioner", null, "video", ["H264"]]),
            json!(["petitioner", null, "audio", ["PCMU"]]),
        ],
        "{record}"
    );
    assert_eq!(record["recording_gap"], false);
    drop(dirs);
}

// --- a hard crash ---------------------------------------------------------------------------------

/// The instance that records is SIGKILLed mid-part: its file lacks the chunk that was in
/// memory and was never finished, and its row stays `recording`. The next instance on that
/// spool salvages it as it starts: what the full chunks held is muxed again into a finished,
/// sealed WebM, the row is closed with `salvaged` and what was kept, the hash goes into the
/// audit chain, the file is uploaded, plays, and `audit verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_cut_by_a_crash_is_salvaged_at_the_next_start() {
    let (dirs, tweak) = recording_dirs();
    let app = TestApp::spawn_with(Backend::Sqlite, tweak).await.unwrap();
    let (s, mut host, mut pet) = live(&app).await;
    // The recording instance: the real binary on the same database, its own spool.
    let spool = tempfile::tempdir().unwrap();
    let log = spool.path().with_extension("log");
    let env = vec![
        (
            "COURTLINK__RECORDING__SPOOL_DIR",
            spool.path().display().to_string(),
        ),
        (
            "COURTLINK__RECORDING__STORE_DIR",
            dirs.store.display().to_string(),
        ),
        ("COURTLINK__RECORDING__MIN_FREE_MEGABYTES", "1".into()),
        (
            "COURTLINK__CONNECTIVITY__BIND_ADDRESSES",
            "[\"127.0.0.1\"]".into(),
        ),
        ("COURTLINK__CONNECTIVITY__PORT_MIN", "47000".into()),
        ("COURTLINK__CONNECTIVITY__PORT_MAX", "47499".into()),
    ];
    let mut server =
        crate::crash::Server::start_with(app.settings.database.url.expose_secret(), &log, &env);
    let base = server.base();
    let at = At {
        client: &app.client,
        base: &base,
    };
    let mut sender =
        Sender::connect_codecs(at, s.session_id, &s.petitioner_token, Codecs::default()).await;
    sender.send_for(6.0).await;
    server.kill();
    sender.close().await;
    // The session goes on without the dead instance, and ends.
    end(&app, &s, &mut host, &mut pet).await;

    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    let row = store.recording(sender.recording_id).await.unwrap();
    assert_eq!(row.state, "recording", "the crash closed nothing");
    let cut = std::fs::read(spool.path().join(&row.object_key)).unwrap();
    let key = data_key(&app);
    assert!(
        courtlink::recording::sealed::open_all(&key, &cut[..]).is_err(),
        "an unfinished file does not open whole"
    );

    // The next instance on that spool salvages it as it starts.
    let spool_dir = spool.path().to_owned();
    let next = app
        .spawn_peer_with(move |s| s.recording.spool_dir = spool_dir)
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let row = loop {
        let row = store.recording(sender.recording_id).await.unwrap();
        if row.state == "stored" {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "salvaged and stored within 30 s, not {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(row.salvaged, "{row:?}");
    let kept = row.duration_ms.unwrap();
    assert!(
        (2_000..=6_500).contains(&kept),
        "{kept} ms of 6 s sent: {row:?}"
    );
    assert!(
        !spool.path().join(&row.object_key).exists(),
        "uploaded, the spool copy goes"
    );
    let sealed = std::fs::read(dirs.store.join(&row.object_key)).unwrap();
    assert_eq!(row.sha256.as_deref(), Some(sha256_hex(&sealed).as_str()));
    let plain = courtlink::recording::sealed::open_all(&key, &sealed[..]).unwrap();
    let (segment, cluster, tracks, duration) = webm_facts(&plain);
    assert!(segment && cluster && tracks, "a whole WebM");
    let duration = duration.expect("a finished file has its duration");
    assert!(
        (duration - kept as f64).abs() < 100.0,
        "{duration} vs {kept}"
    );
    let has = |id: &[u8]| plain.windows(id.len()).any(|w| w == id);
    assert!(has(b"V_VP8") && has(b"A_OPUS"));

    // The record says so, the audit chain has its hash, and it plays like any other.
    let items = app
        .get_ok(
            &format!("/api/v1/sessions/{}/recordings", s.session_id),
            &s.officer_token,
        )
        .await;
    let item = &items["items"][0];
    assert_eq!(
        (&item["salvaged"], &item["state"], &item["duration_ms"]),
        (&json!(true), &json!("stored"), &json!(kept)),
        "{items}"
    );
    let audit = audit_actions(&app).await;
    assert!(
        audit
            .iter()
            .any(|(_, action, subject, detail)| action == "recording.close"
                && subject == &format!("recording:{}", sender.recording_id)
                && detail.contains(&sha256_hex(&sealed))
                && detail.contains("\"salvaged\":true"))
    );
    plays(&app, sender.recording_id, &s.officer_token, &plain).await;
    let (code, text) = verify_cli(&app, &dirs);
    assert_eq!(code, 0, "{text}");
    next.shutdown.drain().await;
    store.close().await;
    drop(dirs);
}
