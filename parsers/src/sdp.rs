//! An SDP offer that a browser sends to one of the server's own peers (the connectivity test's
//! and the recorder's), read before the WebRTC stack sees it.
//!
//! The stack parses the offer itself. What is checked here is what the stack takes on trust and
//! what each peer needs. An ICE candidate's component must be 1 to 256 (RFC 8445, 5.1.2.1):
//! the stack computes a candidate's priority as `… + (256 - component)`, which overflows for a
//! larger component (a panic where overflow is checked, a wrong priority where it is not). The
//! `sdp_offer` fuzz target found it (docs/fuzzing.md).

use crate::error::ApiError;

/// The largest offer either peer reads. A browser's offer with audio, video and a data channel
/// and a dozen candidates is about 6 KiB.
pub const MAX_OFFER_BYTES: usize = 32 * 1024;

/// A kind of media an offer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Audio,
    Video,
}

/// What an offer holds, as far as the peers care.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Offer {
    /// The offer's audio and video, each once, in the offer's order.
    pub media: Vec<Media>,
    pub data_channel: bool,
    /// The candidates' types (`host`, `srflx`, `relay`, …), each once, in the offer's order.
    pub candidate_types: Vec<String>,
}

impl Offer {
    /// Reads an offer: at most [`MAX_OFFER_BYTES`], an SDP description, with at least one ICE
    /// candidate, and every candidate well-formed.
    pub fn read(sdp: &str) -> Result<Offer, ApiError> {
        if sdp.len() > MAX_OFFER_BYTES {
            return Err(ApiError::invalid(format!(
                "offer: over {MAX_OFFER_BYTES} bytes"
            )));
        }
        if !sdp.starts_with("v=0") {
            return Err(ApiError::invalid("offer: not an SDP description"));
        }
        let mut offer = Offer::default();
        for (n, line) in sdp.lines().enumerate() {
            // The stack's SDP reader skips a line's leading `\r` and `\n` and trims its value:
            // a candidate it reads must not get past this reader as some other line.
            let line = line.trim();
            let media = if line.starts_with("m=audio ") {
                Some(Media::Audio)
            } else if line.starts_with("m=video ") {
                Some(Media::Video)
            } else {
                None
            };
            if let Some(m) = media {
                if !offer.media.contains(&m) {
                    offer.media.push(m);
                }
            } else if line.starts_with("m=application ") {
                offer.data_channel = true;
            } else if let Some(raw) = line.strip_prefix("a=candidate:") {
                let typ = candidate_type(raw).map_err(|why| {
                    ApiError::invalid(format!("offer: line {}: ICE candidate {why}", n + 1))
                })?;
                if !offer.candidate_types.iter().any(|t| t == typ) {
                    offer.candidate_types.push(typ.to_owned());
                }
            }
        }
        if offer.candidate_types.is_empty() {
            return Err(ApiError::invalid(
                "offer: no ICE candidates; wait for ICE gathering to complete before sending the offer",
            ));
        }
        Ok(offer)
    }
}

/// The type of a candidate (what follows `a=candidate:`), if it is well-formed:
/// `foundation component transport priority address port typ type [extensions]` (RFC 8839,
/// 5.1), with a component of 1 to 256 and a priority that fits 32 bits.
fn candidate_type(raw: &str) -> Result<&str, &'static str> {
    let fields: Vec<&str> = raw.split_whitespace().collect();
    if fields.len() < 8 || fields[6] != "typ" {
        return Err("is not `foundation component transport priority address port typ type`");
    }
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(fields[1]) || !matches!(fields[1].parse::<u16>(), Ok(1..=256)) {
        return Err("component is not 1 to 256");
    }
    if !digits(fields[3]) || fields[3].parse::<u32>().is_err() {
        return Err("priority is not a number of 32 bits");
    }
    Ok(fields[7])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::ErrorCode;

    const BASE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";

    fn with_candidate(c: &str) -> String {
        format!("{BASE}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=candidate:{c}\r\n")
    }

    #[test]
    fn what_a_browser_sends_is_read() {
        let sdp = format!(
            "{BASE}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
             a=candidate:1 1 udp 2122260223 192.168.1.5 54321 typ host generation 0 network-id 1\r\n\
             a=candidate:2 1 udp 1686052607 203.0.113.7 54321 typ srflx raddr 192.168.1.5 rport 54321\r\n\
             a=candidate:3 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
             a=candidate:4 256 udp 41885439 198.51.100.9 3478 typ relay raddr 0.0.0.0 rport 0\r\n"
        );
        let offer = Offer::read(&sdp).unwrap();
        assert_eq!(offer.media, [Media::Audio, Media::Video]);
        assert!(!offer.data_channel);
        assert_eq!(offer.candidate_types, ["host", "srflx", "relay"]);
    }

    #[test]
    fn bad_candidates_are_refused_with_their_line() {
        for (c, why) in [
            // What the fuzzer found: component 731, priority 0.
            (
                "3 731 u 00 abcd-1234.local 49999 typ host",
                "component is not 1 to 256",
            ),
            ("1 257 udp 1 127.0.0.1 5000 typ host", "component"),
            ("1 0 udp 1 127.0.0.1 5000 typ host", "component"),
            ("1 +1 udp 1 127.0.0.1 5000 typ host", "component"),
            ("1 65537 udp 1 127.0.0.1 5000 typ host", "component"),
            ("1 1 udp -1 127.0.0.1 5000 typ host", "priority"),
            ("1 1 udp 4294967296 127.0.0.1 5000 typ host", "priority"),
            ("1 1 udp 1 127.0.0.1 5000 host", "is not"),
            ("1 1 udp 1 127.0.0.1 5000 type host", "is not"),
            // A lone `\r` before the line: the stack skips it and reads the candidate.
            (
                "1 1 udp 1 127.0.0.1 5000 typ host\r\n\ra=candidate:2 300 udp 0 ::1 9 typ host",
                "line 7",
            ),
        ] {
            let e = Offer::read(&with_candidate(c)).expect_err(c);
            assert_eq!(e.code(), ErrorCode::InvalidInput, "{c}");
            let message = e.to_string();
            assert!(message.contains(": ICE candidate"), "{c}: {message}");
            assert!(message.contains(why), "{c}: {message}");
        }
        assert!(Offer::read(&with_candidate("1 256 udp 0 127.0.0.1 5000 typ host")).is_ok());
    }

    #[test]
    fn offers_that_are_not_offers_are_refused() {
        for (sdp, why) in [
            ("hello".to_owned(), "not an SDP description"),
            (
                format!("{BASE}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
                "no ICE candidates",
            ),
            (
                format!("{BASE}{}", "a=x\r\n".repeat(MAX_OFFER_BYTES / 5)),
                "bytes",
            ),
        ] {
            let e = Offer::read(&sdp).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }
}
