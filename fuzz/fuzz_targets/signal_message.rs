//! The signalling parser (`ClientMessage::parse`) on arbitrary text, and the numbering of the
//! server's messages (`numbered` / `seq_of`).
//!
//! Properties:
//! - neither panics, whatever the input;
//! - an accepted message was a JSON object whose `type` is one of the seven client types, with
//!   every required field and no field outside that type's own (a `null` field counts as absent);
//! - an accepted message written back to JSON parses to the same message (signal `data` kept
//!   byte for byte, quality figures finite and in range);
//! - `seq_of(numbered(n, body)) == Some(n)` for every `n` and every body.

#![no_main]

use std::collections::BTreeMap;

use courtlink_parsers::protocol::{
    ClientMessage, MAX_OUTAGE_SECONDS, MediaChange, MediaKind, ParseError, numbered, seq_of,
};
use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    if data.len() >= 8 {
        numbering(data);
    }
    // The socket passes text frames only, and a text frame is UTF-8: other bytes never reach
    // the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Whatever the server is sent, reading a sequence number off it must not panic.
    let _ = seq_of(text);
    match ClientMessage::parse(text) {
        Ok(message) => accepted(text, &message),
        Err(ParseError(why)) => assert!(!why.is_empty(), "a refusal says why"),
    }
});

fn numbering(data: &[u8]) {
    let (n, body) = data.split_at(8);
    let n = u64::from_le_bytes(n.try_into().unwrap_or([0; 8]));
    let body = String::from_utf8_lossy(body);
    let message = numbered(n, &body);
    assert_eq!(seq_of(&message), Some(n), "{message:?}");
}

/// The fields each type takes besides `type`: (required, optional).
fn fields(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "signal" => &["to", "data"],
        "chat" => &["text"],
        "admit" | "remove" => &["participant"],
        "mute" => &["participant", "kind"],
        "leave" => &[],
        "quality" => &["rtt_ms", "packet_loss", "bitrate_kbps"],
        // `seconds` comes with `restored` only: checked on the parsed message below.
        "media" => &["peer", "media", "seconds"],
        _ => return None,
    })
}

fn accepted(text: &str, message: &ClientMessage<'_>) {
    // An independent reading of the same text. Values stay raw: the relayed `data` may hold
    // numbers no f64 holds (`1e400`), which JSON allows and the peer's JSON.parse reads.
    let object: BTreeMap<String, &RawValue> =
        serde_json::from_str(text).expect("an accepted message is a JSON object");
    let null = |v: &RawValue| v.get() == "null";
    let ty: String = object
        .get("type")
        .and_then(|v| serde_json::from_str(v.get()).ok())
        .expect("an accepted message has a string type");
    let ty = ty.as_str();
    let allowed = fields(ty).unwrap_or_else(|| panic!("accepted an unknown type {ty:?}"));
    for (key, v) in &object {
        if key != "type" && !null(v) {
            assert!(allowed.contains(&key.as_str()), "{ty} accepted field {key}");
        }
    }
    // Every field a type takes is required (a `null` is no value), but a `media` lost has no
    // `seconds`.
    let lost = matches!(
        message,
        ClientMessage::Media {
            change: MediaChange::Lost,
            ..
        }
    );
    for key in allowed.iter().filter(|k| !(lost && **k == "seconds")) {
        assert!(
            object.get(*key).is_some_and(|v| !null(v)),
            "{ty} accepted without {key}"
        );
    }
    assert_eq!(type_of(message), ty);

    match message {
        ClientMessage::Signal { data, .. } => {
            // Passed on byte for byte: the relayed text is a slice of what was sent.
            assert!(text.contains(data.get()));
            // Strings inside are not decoded (a lone surrogate escape passes, as in JavaScript).
            assert!(
                data.get().starts_with('{')
                    && serde_json::from_str::<IgnoredAny>(data.get()).is_ok(),
                "signal data is an object: {}",
                data.get()
            );
        }
        ClientMessage::Quality {
            rtt_ms,
            packet_loss,
            bitrate_kbps,
        } => {
            assert!(rtt_ms.is_finite() && (0.0..=60_000.0).contains(rtt_ms));
            assert!(packet_loss.is_finite() && (0.0..=1.0).contains(packet_loss));
            assert!(bitrate_kbps.is_finite() && (0.0..=1_000_000.0).contains(bitrate_kbps));
        }
        ClientMessage::Media { peer, change } => {
            assert!(!peer.is_empty() && peer.len() <= 64);
            match change {
                MediaChange::Lost => assert!(object.get("seconds").is_none_or(|v| null(v))),
                MediaChange::Restored { seconds } => {
                    assert!(seconds.is_finite() && (0.0..=MAX_OUTAGE_SECONDS).contains(seconds));
                }
            }
        }
        _ => {}
    }

    // Written back and read again: the same message.
    let wire = write(message);
    let again = ClientMessage::parse(&wire)
        .unwrap_or_else(|e| panic!("written back, {wire} is refused: {}", e.0));
    assert_same(message, &again);
}

fn type_of(m: &ClientMessage<'_>) -> &'static str {
    match m {
        ClientMessage::Signal { .. } => "signal",
        ClientMessage::Chat { .. } => "chat",
        ClientMessage::Admit { .. } => "admit",
        ClientMessage::Remove { .. } => "remove",
        ClientMessage::Mute { .. } => "mute",
        ClientMessage::Leave => "leave",
        ClientMessage::Quality { .. } => "quality",
        ClientMessage::Media { .. } => "media",
    }
}

/// The message as a client would send it. `data` goes in as it came, not re-encoded.
fn write(m: &ClientMessage<'_>) -> String {
    let mut o = Map::new();
    o.insert("type".into(), type_of(m).into());
    match m {
        ClientMessage::Signal { to, data } => {
            o.insert("to".into(), to.as_str().into());
            let head = Value::Object(o).to_string();
            return format!("{},\"data\":{}}}", &head[..head.len() - 1], data.get());
        }
        ClientMessage::Chat { text } => {
            o.insert("text".into(), text.as_str().into());
        }
        ClientMessage::Admit { participant } | ClientMessage::Remove { participant } => {
            o.insert("participant".into(), participant.as_str().into());
        }
        ClientMessage::Mute { participant, kind } => {
            o.insert("participant".into(), participant.as_str().into());
            let kind = match kind {
                MediaKind::Audio => "audio",
                MediaKind::Video => "video",
            };
            o.insert("kind".into(), kind.into());
        }
        ClientMessage::Leave => {}
        ClientMessage::Quality {
            rtt_ms,
            packet_loss,
            bitrate_kbps,
        } => {
            o.insert("rtt_ms".into(), (*rtt_ms).into());
            o.insert("packet_loss".into(), (*packet_loss).into());
            o.insert("bitrate_kbps".into(), (*bitrate_kbps).into());
        }
        ClientMessage::Media { peer, change } => {
            o.insert("peer".into(), peer.as_str().into());
            match change {
                MediaChange::Lost => {
                    o.insert("media".into(), "lost".into());
                }
                MediaChange::Restored { seconds } => {
                    o.insert("media".into(), "restored".into());
                    o.insert("seconds".into(), (*seconds).into());
                }
            }
        }
    }
    Value::Object(o).to_string()
}

/// serde_json reads floats to within an ulp or so unless its `float_roundtrip` feature is on;
/// the figures are statistics, so "the same" allows that.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= a.abs().max(b.abs()) * 1e-15
}

fn assert_same(a: &ClientMessage<'_>, b: &ClientMessage<'_>) {
    let same = match (a, b) {
        (ClientMessage::Signal { to, data }, ClientMessage::Signal { to: t, data: d }) => {
            to == t && data.get() == d.get()
        }
        (ClientMessage::Chat { text }, ClientMessage::Chat { text: t }) => text == t,
        (ClientMessage::Admit { participant: p }, ClientMessage::Admit { participant: q })
        | (ClientMessage::Remove { participant: p }, ClientMessage::Remove { participant: q }) => {
            p == q
        }
        (
            ClientMessage::Mute { participant, kind },
            ClientMessage::Mute {
                participant: p,
                kind: k,
            },
        ) => participant == p && kind == k,
        (ClientMessage::Leave, ClientMessage::Leave) => true,
        (
            ClientMessage::Quality {
                rtt_ms,
                packet_loss,
                bitrate_kbps,
            },
            ClientMessage::Quality {
                rtt_ms: r,
                packet_loss: l,
                bitrate_kbps: k,
            },
        ) => close(*rtt_ms, *r) && close(*packet_loss, *l) && close(*bitrate_kbps, *k),
        (ClientMessage::Media { peer, change }, ClientMessage::Media { peer: p, change: c }) => {
            peer == p
                && match (change, c) {
                    (MediaChange::Lost, MediaChange::Lost) => true,
                    (
                        MediaChange::Restored { seconds: s },
                        MediaChange::Restored { seconds: t },
                    ) => close(*s, *t),
                    _ => false,
                }
        }
        _ => false,
    };
    assert!(same, "{a:?} came back as {b:?}");
}
