//! One part's WebM, muxed by libwebm (the `webm` crate) from frames as they were encoded: no
//! decoding, no re-encoding. Runs on a thread of its own (libwebm and the file are blocking),
//! fed through a bounded channel by the peer's track tasks.
//!
//! libwebm wants every frame's timestamp to rise across all tracks, and a cluster to start on a
//! video keyframe; audio and video come from two tasks. Frames wait in a small heap for
//! [`REORDER_NS`] and leave it in timestamp order; one that still arrives too late is clamped
//! to the last timestamp written (a few milliseconds at most). The segment is built once the
//! first video keyframe has come (its size is read from the VP8 header) and, if the offer sends
//! audio, the first sound; or after [`TRACKS_WAIT_NS`] without them: then the file is audio
//! only (`audio/webm`), or pictures only.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use webm::mux::{
    AudioCodecId, AudioTrack, Segment, SegmentBuilder, SegmentMode, VideoCodecId, VideoTrack,
    Writer,
};

use super::sealed::SealedWriter;

/// How long a frame waits for frames of the other track with earlier timestamps.
const REORDER_NS: u64 = 400_000_000;
/// How long the muxer waits for the first video keyframe before it settles for audio only.
const TRACKS_WAIT_NS: u64 = 4_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Audio,
    Video,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    Vp9,
}

/// One encoded frame, with its time since the part started.
#[derive(Debug)]
pub struct Frame {
    pub kind: Kind,
    pub at_ns: u64,
    pub key: bool,
    pub data: bytes::Bytes,
}

pub enum Input {
    /// The video track's codec, before its first frame.
    Video(VideoCodec),
    /// The first audio packet has come (a track is made for it even before its first frame).
    Audio,
    /// The offer sends audio: the file waits for its first sound, up to [`TRACKS_WAIT_NS`],
    /// before it starts, so that a microphone whose first packet comes after the camera's first
    /// keyframe is in it. (A track made before any sound would leave a file that libwebm cannot
    /// finish if none ever came.)
    AudioOffered,
    Frame(Frame),
    /// Close the file: finalize and seal.
    End,
}

/// What a closed part came to.
#[derive(Debug, Clone, Copy)]
pub struct Closed {
    pub duration_ms: i64,
    pub sealed_bytes: u64,
    pub video: bool,
    /// Frames written, per kind.
    pub audio_frames: u64,
    pub video_frames: u64,
}

struct Queued(Reverse<(u64, u64)>, Frame);

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

struct Open {
    segment: Segment<SealedWriter>,
    audio: Option<AudioTrack>,
    video: Option<VideoTrack>,
    last_ns: u64,
    first_ns: Option<u64>,
}

/// The width and height in a VP8 keyframe's header, if it is one.
fn vp8_size(frame: &[u8]) -> Option<(u32, u32)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u32::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let h = u32::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    (w > 0 && h > 0).then_some((w, h))
}

/// Whether an encoded frame is a keyframe, from its own header (VP8: the frame tag's low bit;
/// VP9: the uncompressed header's frame type).
pub fn is_keyframe(codec: VideoCodec, frame: &[u8]) -> bool {
    let Some(&b) = frame.first() else {
        return false;
    };
    match codec {
        VideoCodec::Vp8 => b & 1 == 0,
        VideoCodec::Vp9 => {
            if b >> 6 != 0b10 {
                return false;
            }
            let profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
            // Profile 3 has a reserved bit before show_existing_frame.
            let shift = if profile == 3 { 1 } else { 0 };
            let show_existing = (b >> (3 - shift)) & 1;
            let frame_type = (b >> (2 - shift)) & 1;
            show_existing == 0 && frame_type == 0
        }
    }
}

/// Muxes until `End` (or the channel closes): the part's file is then finalized and sealed.
pub fn run(file: File, master: &[u8], frames: Receiver<Input>) -> anyhow::Result<Closed> {
    let writer = SealedWriter::create(file, master)?;
    let mut pending: Option<SealedWriter> = Some(writer);
    let mut open: Option<Open> = None;
    let mut heap: BinaryHeap<Queued> = BinaryHeap::new();
    let mut order = 0u64;
    let mut has_audio = false;
    let mut audio_offered = false;
    let mut codec: Option<VideoCodec> = None;
    let mut newest = 0u64;
    let mut counts = (0u64, 0u64);
    loop {
        let input = match frames.recv_timeout(Duration::from_millis(200)) {
            Ok(i) => Some(i),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Input::End),
        };
        let ending = matches!(input, Some(Input::End));
        match input {
            Some(Input::Audio) => has_audio = true,
            Some(Input::AudioOffered) => audio_offered = true,
            Some(Input::Video(c)) => codec = Some(c),
            Some(Input::Frame(f)) => {
                newest = newest.max(f.at_ns);
                order += 1;
                heap.push(Queued(Reverse((f.at_ns, order)), f));
            }
            Some(Input::End) | None => {}
        }
        // Build the segment once its tracks are known.
        if open.is_none() {
            let key_video = heap.iter().find_map(|q| {
                (q.1.kind == Kind::Video && q.1.key)
                    .then(|| vp8_size(&q.1.data).unwrap_or((1280, 720)))
            });
            let waited = newest >= TRACKS_WAIT_NS;
            let sound_known = has_audio || !audio_offered;
            if (key_video.is_some() && sound_known) || waited || ending {
                let Some(w) = pending.take() else {
                    anyhow::bail!("the writer is gone");
                };
                let video = match (codec, key_video) {
                    (Some(c), Some(size)) => Some((c, size)),
                    _ => None,
                };
                if video.is_none() && !has_audio && heap.is_empty() {
                    // Nothing came at all: an empty but valid file is not possible with
                    // libwebm (finalize fails without frames); say so.
                    anyhow::bail!("no media reached the recorder");
                }
                open = Some(build(w, has_audio || video.is_none(), video)?);
            }
        }
        if let Some(o) = open.as_mut() {
            let horizon = if ending {
                u64::MAX
            } else {
                newest.saturating_sub(REORDER_NS)
            };
            while heap.peek().is_some_and(|q| (q.0).0.0 <= horizon) {
                let Some(Queued(_, f)) = heap.pop() else {
                    break;
                };
                let track: u64 = match (f.kind, o.audio, o.video) {
                    (Kind::Audio, Some(a), _) => a.into(),
                    (Kind::Video, _, Some(v)) => v.into(),
                    _ => continue,
                };
                if f.kind == Kind::Video && o.first_ns.is_none() && !f.key {
                    // A file must start with a picture that decodes on its own.
                    continue;
                }
                let at = f.at_ns.max(o.last_ns);
                if o.segment.add_frame(track, &f.data, at, f.key).is_ok() {
                    o.last_ns = at;
                    o.first_ns.get_or_insert(at);
                    match f.kind {
                        Kind::Audio => counts.0 += 1,
                        Kind::Video => counts.1 += 1,
                    }
                }
            }
        }
        if ending {
            break;
        }
    }
    let Some(o) = open else {
        anyhow::bail!("no media reached the recorder");
    };
    let video = o.video.is_some();
    let duration_ns = o.last_ns.saturating_sub(o.first_ns.unwrap_or(0));
    // libwebm's duration is in its timecode scale (1 ms by default).
    let writer = o
        .segment
        .finalize(Some(duration_ns / 1_000_000))
        .map_err(|_| anyhow::anyhow!("libwebm could not finalize the segment"))?;
    let sealed_bytes = writer.into_inner().finish()?;
    Ok(Closed {
        duration_ms: i64::try_from(duration_ns / 1_000_000).unwrap_or(i64::MAX),
        sealed_bytes,
        video,
        audio_frames: counts.0,
        video_frames: counts.1,
    })
}

/// Muxes the frames of `source`, the plaintext of a WebM this muxer wrote but never finished
/// (a hard crash: no cues, no duration, the segment's and the last cluster's sizes unknown, the
/// last block maybe cut short), into a new, finished and sealed file: what a salvage keeps.
/// Frames go through [`run`] as they did when they were recorded, with the times they had.
pub fn remux(
    source: impl std::io::Read + Send,
    file: File,
    master: &[u8],
) -> anyhow::Result<Closed> {
    let (tx, rx) = std::sync::mpsc::sync_channel(256);
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || {
            let read = webm_frames(source, &tx);
            let _ = tx.send(Input::End);
            read
        });
        // The muxer's own failure first: a reader cut off by it only says "the muxer stopped".
        let muxed = run(file, master, rx)?;
        match reading.join() {
            Ok(Ok(())) => Ok(muxed),
            Ok(Err(e)) => Err(e.context("reading the unfinished file")),
            Err(_) => Err(anyhow::anyhow!("the salvage's reader panicked")),
        }
    })
}

/// EBML element ids that [`webm_frames`] looks inside of, or reads.
mod id {
    pub const SEGMENT: u64 = 0x1853_8067;
    pub const INFO: u64 = 0x1549_A966;
    pub const TIMECODE_SCALE: u64 = 0x2A_D7B1;
    pub const TRACKS: u64 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u64 = 0xAE;
    pub const TRACK_NUMBER: u64 = 0xD7;
    pub const CODEC_ID: u64 = 0x86;
    pub const CLUSTER: u64 = 0x1F43_B675;
    pub const CLUSTER_TIMECODE: u64 = 0xE7;
    pub const SIMPLE_BLOCK: u64 = 0xA3;
    pub const BLOCK_GROUP: u64 = 0xA0;
    pub const BLOCK: u64 = 0xA1;
}

/// Reads an EBML variable-length integer: (value, length). An id keeps its length marker; a
/// size loses it, and `None` is a size of all ones ("unknown", as libwebm writes a segment or a
/// cluster it has not closed). `Ok(None)` at the end of the input.
fn vint(r: &mut impl std::io::Read, id: bool) -> std::io::Result<Option<(Option<u64>, usize)>> {
    let mut first = [0u8; 1];
    if r.read(&mut first)? == 0 {
        return Ok(None);
    }
    let len = first[0].leading_zeros() as usize + 1;
    if len > 8 {
        return Err(std::io::Error::other("not EBML"));
    }
    let mut rest = [0u8; 7];
    r.read_exact(&mut rest[..len - 1])?;
    let mut value = if id {
        u64::from(first[0])
    } else {
        u64::from(first[0]) & ((1u64 << (8 - len)) - 1)
    };
    for b in &rest[..len - 1] {
        value = (value << 8) | u64::from(*b);
    }
    let all_ones = (1u64 << (7 * len)) - 1;
    Ok(Some(((id || value != all_ones).then_some(value), len)))
}

fn read_payload(r: &mut impl std::io::Read, size: u64) -> std::io::Result<Vec<u8>> {
    // Nothing this muxer writes is this large; larger is damage, not a frame.
    if size > 64 * 1024 * 1024 {
        return Err(std::io::Error::other("an element too large to be a frame"));
    }
    let mut buf = vec![0u8; size as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |v, b| (v << 8) | u64::from(*b))
}

/// Walks a WebM as a flat sequence of elements — entering the segment, its info, tracks,
/// clusters and block groups, reading the few elements that matter and skipping the rest —
/// and sends its tracks and frames to the muxer in file order. Stops quietly where the input
/// ends, even inside an element (the cut of a crash).
fn webm_frames(
    mut r: impl std::io::Read,
    tx: &std::sync::mpsc::SyncSender<Input>,
) -> anyhow::Result<()> {
    let mut scale: u64 = 1_000_000;
    let mut entry: (Option<u64>, Option<String>) = (None, None);
    let mut tracks: Vec<(u64, Kind, Option<VideoCodec>)> = Vec::new();
    let mut announced = false;
    let mut cluster_at: i64 = 0;
    let gone = std::cell::Cell::new(false);
    let send = |input: Input| {
        tx.send(input).map_err(|_| {
            gone.set(true);
            std::io::Error::other("the muxer stopped")
        })
    };
    loop {
        let step: std::io::Result<bool> = (|| {
            let Some((Some(element), _)) = vint(&mut r, true)? else {
                return Ok(false);
            };
            let Some((size, _)) = vint(&mut r, false)? else {
                return Ok(false);
            };
            match element {
                id::SEGMENT | id::INFO | id::TRACKS | id::CLUSTER | id::BLOCK_GROUP => {}
                id::TRACK_ENTRY => entry = (None, None),
                _ => {
                    let Some(size) = size else {
                        // libwebm leaves only the segment and a cluster open: damage.
                        return Ok(false);
                    };
                    let payload = read_payload(&mut r, size)?;
                    match element {
                        id::TIMECODE_SCALE => scale = uint(&payload).max(1),
                        id::TRACK_NUMBER => entry.0 = Some(uint(&payload)),
                        id::CODEC_ID => {
                            entry.1 = Some(
                                String::from_utf8_lossy(&payload)
                                    .trim_end_matches('\0')
                                    .to_owned(),
                            )
                        }
                        id::CLUSTER_TIMECODE => {
                            cluster_at = i64::try_from(uint(&payload)).unwrap_or(i64::MAX)
                        }
                        id::SIMPLE_BLOCK | id::BLOCK => {
                            let mut b = &payload[..];
                            let Some((Some(track), n)) = vint(&mut b, false)? else {
                                return Ok(true);
                            };
                            if b.len() < 3 {
                                return Ok(true);
                            }
                            let relative = i64::from(i16::from_be_bytes([b[0], b[1]]));
                            let flags = b[2];
                            let data = &payload[n + 3..];
                            if let Some((_, kind, _)) = tracks.iter().find(|t| t.0 == track) {
                                let at = (cluster_at + relative).max(0) as u64;
                                let frame = Frame {
                                    kind: *kind,
                                    at_ns: at.saturating_mul(scale),
                                    key: *kind == Kind::Audio || flags & 0x80 != 0,
                                    data: bytes::Bytes::copy_from_slice(data),
                                };
                                send(Input::Frame(frame))?;
                            }
                        }
                        _ => {}
                    }
                }
            }
            // A track entry is whole once its number and codec are read.
            if let (Some(number), Some(codec)) = (entry.0, entry.1.as_deref()) {
                let track = match codec {
                    "V_VP8" => Some((Kind::Video, Some(VideoCodec::Vp8))),
                    "V_VP9" => Some((Kind::Video, Some(VideoCodec::Vp9))),
                    "A_OPUS" => Some((Kind::Audio, None)),
                    _ => None,
                };
                if let Some((kind, codec)) = track {
                    if !tracks.iter().any(|t| t.0 == number) {
                        tracks.push((number, kind, codec));
                    }
                }
                entry = (None, None);
            }
            if element == id::CLUSTER && !announced {
                announced = true;
                for (_, kind, codec) in &tracks {
                    let input = match (kind, codec) {
                        (Kind::Video, Some(c)) => Input::Video(*c),
                        _ => Input::Audio,
                    };
                    send(input)?;
                }
            }
            Ok(true)
        })();
        match step {
            Ok(true) => {}
            // The end of what was written (a cut inside an element is the crash's), or
            // something that does not parse: what came before is kept either way.
            Ok(false) => return Ok(()),
            Err(_) if gone.get() => anyhow::bail!("the muxer stopped"),
            Err(_) => return Ok(()),
        }
    }
}

fn build(
    writer: SealedWriter,
    audio: bool,
    video: Option<(VideoCodec, (u32, u32))>,
) -> anyhow::Result<Open> {
    let e = |what: &str| anyhow::anyhow!("libwebm: {what}");
    let mut builder = SegmentBuilder::new(Writer::new(writer))
        .map_err(|_| e("segment"))?
        .set_mode(SegmentMode::File)
        .map_err(|_| e("mode"))?
        .set_writing_app("CourtLink recorder")
        .map_err(|_| e("writing app"))?;
    let mut video_track = None;
    if let Some((codec, (w, h))) = video {
        let id = match codec {
            VideoCodec::Vp8 => VideoCodecId::VP8,
            VideoCodec::Vp9 => VideoCodecId::VP9,
        };
        let (b, t) = builder
            .add_video_track(w, h, id, None)
            .map_err(|_| e("video track"))?;
        builder = b;
        video_track = Some(t);
    }
    let mut audio_track = None;
    if audio {
        let (b, t) = builder
            .add_audio_track(48_000, 2, AudioCodecId::Opus, None)
            .map_err(|_| e("audio track"))?;
        // The Opus identification header (RFC 7845 §5.1) that players expect as CodecPrivate:
        // two channels, 312 samples of pre-skip (what libopus encoders use), 48 kHz.
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1);
        head.push(2);
        head.extend_from_slice(&312u16.to_le_bytes());
        head.extend_from_slice(&48_000u32.to_le_bytes());
        head.extend_from_slice(&0u16.to_le_bytes());
        head.push(0);
        builder = b
            .set_codec_private(t, &head)
            .map_err(|_| e("Opus header"))?;
        audio_track = Some(t);
    }
    Ok(Open {
        segment: builder.build(),
        audio: audio_track,
        video: video_track,
        last_ns: 0,
        first_ns: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A VP8 frame as the tests send it: a 640×480 keyframe every 30th (never decoded).
    fn vp8(n: u64) -> bytes::Bytes {
        let mut f = if n % 30 == 0 {
            vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]
        } else {
            vec![0x31, 0x02, 0x00]
        };
        f.resize(if n % 30 == 0 { 3000 } else { 900 }, (n % 251) as u8);
        bytes::Bytes::from(f)
    }

    #[test]
    fn a_file_cut_short_by_a_crash_is_remuxed_whole() {
        let key = [7u8; 32];
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create_new(true)
                .read(true)
                .write(true)
                .open(dir.path().join(name))
                .unwrap()
        };
        // Ten seconds of 30 fps video and 50 fps sound, from 200 ms into the part.
        let (tx, rx) = std::sync::mpsc::sync_channel(2000);
        tx.send(Input::Video(VideoCodec::Vp8)).unwrap();
        tx.send(Input::Audio).unwrap();
        let mut frames = Vec::new();
        for n in 0..300u64 {
            frames.push((
                200_000_000 + n * 33_333_333,
                Kind::Video,
                n % 30 == 0,
                vp8(n),
            ));
        }
        for n in 0..500u64 {
            let data = bytes::Bytes::from(vec![0xfc; 60]);
            frames.push((200_000_000 + n * 20_000_000, Kind::Audio, true, data));
        }
        frames.sort_by_key(|f| f.0);
        for (at_ns, kind, key, data) in frames {
            tx.send(Input::Frame(Frame {
                kind,
                at_ns,
                key,
                data,
            }))
            .unwrap();
        }
        tx.send(Input::End).unwrap();
        let whole = run(open("whole"), &key, rx).unwrap();
        assert!(whole.video && whole.duration_ms > 9_900, "{whole:?}");
        let sealed = std::fs::read(dir.path().join("whole")).unwrap();

        // The crash: the file ends after its third full chunk, unfinished.
        let full = u64::from(super::super::sealed::CHUNK_BYTES) + 20;
        let cut = (super::super::sealed::HEADER_BYTES + 3 * full) as usize;
        assert!(cut < sealed.len());
        let source = super::super::sealed::Salvage::new(&sealed[..cut], &key).unwrap();
        let kept = remux(source, open("salvaged"), &key).unwrap();
        assert!(kept.video, "{kept:?}");
        assert!(
            kept.video_frames > 30 && kept.video_frames < whole.video_frames,
            "{kept:?} of {whole:?}"
        );
        assert!(kept.audio_frames > 50, "{kept:?}");
        assert!(
            (1_000..whole.duration_ms).contains(&kept.duration_ms),
            "{kept:?} of {whole:?}"
        );
        // A finished, sealed WebM: it opens whole, with both tracks.
        let salvaged = std::fs::read(dir.path().join("salvaged")).unwrap();
        let plain = super::super::sealed::open_all(&key, &salvaged[..]).unwrap();
        assert_eq!(&plain[..4], &[0x1a, 0x45, 0xdf, 0xa3]);
        let has = |id: &[u8]| plain.windows(id.len()).any(|w| w == id);
        assert!(has(b"V_VP8") && has(b"A_OPUS"));
        // A finished file salvaged is the same frames again.
        let source = super::super::sealed::Salvage::new(&sealed[..], &key).unwrap();
        let again = remux(source, open("again"), &key).unwrap();
        assert_eq!(
            (again.video_frames, again.audio_frames, again.duration_ms),
            (whole.video_frames, whole.audio_frames, whole.duration_ms)
        );
    }

    /// Ten seconds of 30 fps video from 300 ms into the part, a keyframe every second, and 50
    /// fps sound from `sound_from_ns` if any; the offer sends audio.
    fn late_sound(sound_from_ns: Option<u64>) -> (Closed, Vec<u8>) {
        let key = [7u8; 32];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(2000);
        tx.send(Input::AudioOffered).unwrap();
        tx.send(Input::Video(VideoCodec::Vp8)).unwrap();
        let mut sound_announced = false;
        // As the two track tasks send them: each in its own order, close together in time.
        let mut audio_at = sound_from_ns.unwrap_or(u64::MAX);
        for n in 0..300u64 {
            let at_ns = 300_000_000 + n * 33_333_333;
            while audio_at <= at_ns {
                if !sound_announced {
                    tx.send(Input::Audio).unwrap();
                    sound_announced = true;
                }
                let data = bytes::Bytes::from(vec![0xfc; 60]);
                tx.send(Input::Frame(Frame {
                    kind: Kind::Audio,
                    at_ns: audio_at,
                    key: true,
                    data,
                }))
                .unwrap();
                audio_at += 20_000_000;
            }
            tx.send(Input::Frame(Frame {
                kind: Kind::Video,
                at_ns,
                key: n % 30 == 0,
                data: vp8(n),
            }))
            .unwrap();
        }
        tx.send(Input::End).unwrap();
        let closed = run(file, &key, rx).unwrap();
        let plain =
            super::super::sealed::open_all(&key, &std::fs::read(&path).unwrap()[..]).unwrap();
        (closed, plain)
    }

    fn has(plain: &[u8], id: &[u8]) -> bool {
        plain.windows(id.len()).any(|w| w == id)
    }

    /// The camera's first keyframe at 300 ms, the first sound at 1.5 s: the file waits for it,
    /// and keeps every picture from the first keyframe.
    #[test]
    fn a_sound_after_the_first_keyframe_is_in_the_file() {
        let (closed, plain) = late_sound(Some(1_500_000_000));
        assert!(
            has(&plain, b"V_VP8") && has(&plain, b"A_OPUS"),
            "{closed:?}"
        );
        assert_eq!(closed.video_frames, 300, "{closed:?}");
        assert!(closed.audio_frames > 400, "{closed:?}");
    }

    /// The offer's microphone never sounds: the file starts after [`TRACKS_WAIT_NS`] with the
    /// pictures alone, all of them, and closes.
    #[test]
    fn an_offered_microphone_that_never_sounds_leaves_a_file_of_pictures() {
        let (closed, plain) = late_sound(None);
        assert!(closed.video, "{closed:?}");
        assert_eq!((closed.video_frames, closed.audio_frames), (300, 0));
        assert!(has(&plain, b"V_VP8") && !has(&plain, b"A_OPUS"));
    }

    #[test]
    fn keyframes_are_read_from_the_frame_headers() {
        let key = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
        assert!(is_keyframe(VideoCodec::Vp8, &key));
        assert_eq!(vp8_size(&key), Some((640, 480)));
        assert!(!is_keyframe(VideoCodec::Vp8, &[0x11, 0, 0]));
        // VP9 profile 0: marker 10, profile 00, show_existing 0, frame_type 0 (key).
        assert!(is_keyframe(VideoCodec::Vp9, &[0b1000_0000]));
        assert!(!is_keyframe(VideoCodec::Vp9, &[0b1000_0100]));
    }
}
