//! The messages of `docs/signalling.md`, version 1.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub const SUBPROTOCOL: &str = "courtlink.v1";
/// Prefix of the subprotocol entry that carries the token: `auth.<JWT>`.
pub const AUTH_PREFIX: &str = "auth.";
pub const MAX_CHAT_CHARS: usize = 2000;
/// Close code sent to a connection replaced by a newer one of the same identity.
pub const CLOSE_REPLACED: u16 = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    Host,
    LocalStaff,
    Petitioner,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: String,
    pub role: ParticipantRole,
    pub name: String,
}

/// A message from a client, parsed completely: unknown types and fields are refused.
#[derive(Debug)]
pub enum ClientMessage<'a> {
    /// Relay `data` (a JSON object, passed on byte for byte) to participant `to`.
    Signal {
        to: String,
        data: &'a RawValue,
    },
    Chat {
        text: String,
    },
}

/// The wire form before it is checked against the message's type. serde cannot put a borrowed
/// `RawValue` inside an internally tagged enum, so the tag is read here and the fields are
/// checked per type below.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: String,
    to: Option<String>,
    text: Option<String>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl<'a> ClientMessage<'a> {
    pub fn parse(text: &'a str) -> Result<ClientMessage<'a>, ParseError> {
        let env: Envelope<'a> = serde_json::from_str(text)
            .map_err(|e| ParseError(format!("not a valid message: {e}")))?;
        match env.kind.as_str() {
            "signal" => {
                if env.text.is_some() {
                    return Err(ParseError("`signal` has no field `text`".into()));
                }
                let to = env
                    .to
                    .ok_or_else(|| ParseError("`signal` needs `to`".into()))?;
                let data = env
                    .data
                    .ok_or_else(|| ParseError("`signal` needs `data`".into()))?;
                if !data.get().trim_start().starts_with('{') {
                    return Err(ParseError("`signal.data` must be a JSON object".into()));
                }
                Ok(ClientMessage::Signal { to, data })
            }
            "chat" => {
                if env.to.is_some() || env.data.is_some() {
                    return Err(ParseError("`chat` has only the field `text`".into()));
                }
                let text = env
                    .text
                    .ok_or_else(|| ParseError("`chat` needs `text`".into()))?;
                Ok(ClientMessage::Chat { text })
            }
            other => Err(ParseError(format!("unknown message type '{other}'"))),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PeerInfo<'a> {
    #[serde(flatten)]
    pub participant: &'a Participant,
    pub polite: bool,
}

/// A message from the server. Every one carries the session's next sequence number.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    Welcome {
        seq: u64,
        session_id: i64,
        you: &'a Participant,
        participants: Vec<PeerInfo<'a>>,
    },
    Joined {
        seq: u64,
        participant: &'a Participant,
        polite: bool,
    },
    Left {
        seq: u64,
        participant_id: &'a str,
    },
    Signal {
        seq: u64,
        from: &'a str,
        data: &'a RawValue,
    },
    Chat {
        seq: u64,
        from: &'a str,
        name: &'a str,
        text: &'a str,
        at: DateTime<Utc>,
    },
    Ended {
        seq: u64,
        outcome: &'a str,
    },
    Error {
        seq: u64,
        code: &'a str,
        message: &'a str,
    },
}

impl ServerMessage<'_> {
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every field is a string, number or raw JSON.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signal_and_keeps_data_unchanged() {
        let text = r#"{"type":"signal","to":"user-1","data":{"description":{"type":"offer","sdp":"v=0\r\n"}}}"#;
        match ClientMessage::parse(text).unwrap() {
            ClientMessage::Signal { to, data } => {
                assert_eq!(to, "user-1");
                assert_eq!(
                    data.get(),
                    r#"{"description":{"type":"offer","sdp":"v=0\r\n"}}"#
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_bad_shapes() {
        for bad in [
            "not json",
            "[]",
            r#"{"type":"dance"}"#,
            r#"{"type":"chat"}"#,
            r#"{"type":"chat","text":"x","extra":1}"#,
            r#"{"type":"chat","text":"x","to":"y"}"#,
            r#"{"type":"signal","to":"a","data":"string"}"#,
            r#"{"type":"signal","data":{}}"#,
            r#"{"type":"chat","text":5}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_messages_serialise_as_documented() {
        let p = Participant {
            id: "user-7".into(),
            role: ParticipantRole::Host,
            name: "法官".into(),
        };
        let raw = RawValue::from_string(r#"{"candidate":null}"#.into()).unwrap();
        let m = ServerMessage::Signal {
            seq: 5,
            from: &p.id,
            data: &raw,
        };
        assert_eq!(
            m.to_json(),
            r#"{"type":"signal","seq":5,"from":"user-7","data":{"candidate":null}}"#
        );
        let w = ServerMessage::Welcome {
            seq: 1,
            session_id: 2,
            you: &p,
            participants: vec![PeerInfo {
                participant: &p,
                polite: false,
            }],
        };
        let v: serde_json::Value = serde_json::from_str(&w.to_json()).unwrap();
        assert_eq!(v["participants"][0]["role"], "host");
        assert_eq!(v["participants"][0]["polite"], false);
    }
}
