//! One part's WebM, muxed by libwebm (the `webm` crate) from frames as they were encoded: no
//! decoding, no re-encoding. Runs on a thread of its own (libwebm and the file are blocking),
//! fed through a bounded channel by the peer's track tasks.
//!
//! libwebm wants every frame's timestamp to rise across all tracks, and a cluster to start on a
//! video keyframe; audio and video come from two tasks. Frames wait in a small heap for
//! [`REORDER_NS`] and leave it in timestamp order; one that still arrives too late is clamped
//! to the last timestamp written (a few milliseconds at most). The segment is built once the
//! first video keyframe has come (its size is read from the VP8 header), or after
//! [`TRACKS_WAIT_NS`] without one: then the file is audio only (`audio/webm`).

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
    /// The offer has audio (a track is made for it even before its first frame).
    Audio,
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
            if key_video.is_some() || waited || ending {
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
