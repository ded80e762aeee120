//! The messages of `docs/signalling.md` (protocol `courtlink.v1`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

pub const SUBPROTOCOL: &str = "courtlink.v1";
/// Prefix of the subprotocol entry that carries the token: `auth.<JWT>`.
pub const AUTH_PREFIX: &str = "auth.";
/// Prefix of the subprotocol entry that asks to resume after sequence number N: `resume.<N>`.
pub const RESUME_PREFIX: &str = "resume.";
pub const MAX_CHAT_CHARS: usize = 2000;

/// Why the server closes a signalling socket: each with its close code and the reason text sent
/// with it (`docs/signalling.md`, "Close codes"; a test checks that the table lists every code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// 1000: the participant said `leave`.
    Left,
    /// 1000: the host ended the session.
    SessionEnded,
    /// 1001: nothing heard from the client within the timeout.
    Timeout,
    /// 1002: a frame the protocol forbids.
    ProtocolViolation,
    /// 1008: the client did not read fast enough; its queue was dropped.
    TooSlow,
    /// 1009: a frame (or message) over the size limit.
    FrameTooLarge,
    /// 1012: this instance drains; reconnect (with `resume.<seq>`) elsewhere.
    Restarting,
    /// 4000: replaced by a newer connection of the same identity.
    Replaced,
    /// 4001: the host removed the participant.
    Removed,
    /// 4003: the staff member's tokens, or the join code, were revoked.
    Revoked,
    /// 4008: a message flood.
    RateLimited,
    /// 4009: refused at join; the reason is the refusal's code.
    Refused(SignalError),
}

impl Closing {
    pub const fn code(self) -> u16 {
        match self {
            Closing::Left | Closing::SessionEnded => 1000,
            Closing::Timeout => 1001,
            Closing::ProtocolViolation => 1002,
            Closing::TooSlow => 1008,
            Closing::FrameTooLarge => 1009,
            Closing::Restarting => 1012,
            Closing::Replaced => 4000,
            Closing::Removed => 4001,
            Closing::Revoked => 4003,
            Closing::RateLimited => 4008,
            Closing::Refused(_) => 4009,
        }
    }

    /// The close frame's reason text (at most 123 bytes: these are short).
    pub fn reason(self) -> &'static str {
        match self {
            Closing::Left => "left",
            Closing::SessionEnded => "session ended",
            Closing::Timeout => "timeout",
            Closing::ProtocolViolation => "protocol violation",
            Closing::TooSlow => "too slow",
            Closing::FrameTooLarge => "frame too large",
            Closing::Restarting => "instance restarting",
            Closing::Replaced => "replaced",
            Closing::Removed => "removed",
            Closing::Revoked => "revoked",
            Closing::RateLimited => "rate limited",
            Closing::Refused(e) => e.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// The host court's officer.
    Host,
    /// An officer of the second higher court in a joint reception (联合接访).
    CoHost,
    /// The booking court's coordinator, beside the petitioner.
    LocalStaff,
    Petitioner,
    /// Listen-only: a supervisor of the host court or a court above it.
    Observer,
    /// A leader of the booking court named on the session (领导包案): camera and microphone,
    /// admitted by the host like the petitioner.
    Leader,
}

impl ParticipantRole {
    /// Hosts and co-hosts run the waiting room.
    pub fn moderates(self) -> bool {
        matches!(self, ParticipantRole::Host | ParticipantRole::CoHost)
    }

    /// Who waits in the waiting room until a host admits them (when the room is on): the
    /// petitioner, and a leader of the booking court, who comes from outside the host's court.
    pub fn waits(self) -> bool {
        matches!(self, ParticipantRole::Petitioner | ParticipantRole::Leader)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: String,
    pub role: ParticipantRole,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
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
    /// Host: let a waiting participant in.
    Admit {
        participant: String,
    },
    /// Host: send a participant out.
    Remove {
        participant: String,
    },
    /// Host: ask a participant to mute their microphone or camera.
    Mute {
        participant: String,
        kind: MediaKind,
    },
    /// Leave now, without the grace period kept for a dropped connection.
    Leave,
    /// Connection quality from the client's `getStats`, every 10 s; kept on the timeline.
    Quality {
        rtt_ms: f64,
        packet_loss: f64,
        bitrate_kbps: f64,
    },
    /// Media from participant `peer` stopped reaching this client (a dropped line: no packets
    /// for a few seconds, or the connection disconnected), or came back after `seconds`. Kept on
    /// the timeline (`media_lost`, `media_restored`), so that a drop leaves a trace.
    Media {
        peer: String,
        change: MediaChange,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MediaChange {
    Lost,
    Restored { seconds: f64 },
}

/// The longest outage a `media` message may report: a day.
pub const MAX_OUTAGE_SECONDS: f64 = 86_400.0;

/// The wire form before it is checked against the message's type. serde cannot put a borrowed
/// `RawValue` inside an internally tagged enum, so the tag is read here and each type's fields
/// are checked below.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    ty: String,
    to: Option<String>,
    text: Option<String>,
    participant: Option<String>,
    kind: Option<MediaKind>,
    rtt_ms: Option<f64>,
    packet_loss: Option<f64>,
    bitrate_kbps: Option<f64>,
    peer: Option<String>,
    media: Option<String>,
    seconds: Option<f64>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl<'a> ClientMessage<'a> {
    pub fn parse(text: &'a str) -> Result<ClientMessage<'a>, ParseError> {
        let env: Envelope<'a> = serde_json::from_str(text)
            .map_err(|e| ParseError(format!("not a valid message: {e}")))?;
        let only = |allowed: &[&str]| -> Result<(), ParseError> {
            let present = [
                ("to", env.to.is_some()),
                ("text", env.text.is_some()),
                ("participant", env.participant.is_some()),
                ("kind", env.kind.is_some()),
                ("data", env.data.is_some()),
                ("rtt_ms", env.rtt_ms.is_some()),
                ("packet_loss", env.packet_loss.is_some()),
                ("bitrate_kbps", env.bitrate_kbps.is_some()),
                ("peer", env.peer.is_some()),
                ("media", env.media.is_some()),
                ("seconds", env.seconds.is_some()),
            ];
            match present
                .iter()
                .find(|(name, set)| *set && !allowed.contains(name))
            {
                Some((name, _)) => Err(ParseError(format!("`{}` has no field `{name}`", env.ty))),
                None => Ok(()),
            }
        };
        let need = |field: Option<String>, name: &str| {
            field.ok_or_else(|| ParseError(format!("`{}` needs `{name}`", env.ty)))
        };
        match env.ty.as_str() {
            "signal" => {
                only(&["to", "data"])?;
                let data = env
                    .data
                    .ok_or_else(|| ParseError("`signal` needs `data`".into()))?;
                if !data.get().trim_start().starts_with('{') {
                    return Err(ParseError("`signal.data` must be a JSON object".into()));
                }
                Ok(ClientMessage::Signal {
                    to: need(env.to.clone(), "to")?,
                    data,
                })
            }
            "chat" => {
                only(&["text"])?;
                Ok(ClientMessage::Chat {
                    text: need(env.text.clone(), "text")?,
                })
            }
            "admit" => {
                only(&["participant"])?;
                Ok(ClientMessage::Admit {
                    participant: need(env.participant.clone(), "participant")?,
                })
            }
            "remove" => {
                only(&["participant"])?;
                Ok(ClientMessage::Remove {
                    participant: need(env.participant.clone(), "participant")?,
                })
            }
            "mute" => {
                only(&["participant", "kind"])?;
                let kind = env
                    .kind
                    .ok_or_else(|| ParseError("`mute` needs `kind` (audio or video)".into()))?;
                Ok(ClientMessage::Mute {
                    participant: need(env.participant.clone(), "participant")?,
                    kind,
                })
            }
            "leave" => {
                only(&[])?;
                Ok(ClientMessage::Leave)
            }
            "quality" => {
                only(&["rtt_ms", "packet_loss", "bitrate_kbps"])?;
                let field = |v: Option<f64>, name: &str, max: f64| match v {
                    Some(x) if x.is_finite() && (0.0..=max).contains(&x) => Ok(x),
                    Some(_) => Err(ParseError(format!(
                        "`quality.{name}` must be between 0 and {max}"
                    ))),
                    None => Err(ParseError(format!("`quality` needs `{name}`"))),
                };
                Ok(ClientMessage::Quality {
                    rtt_ms: field(env.rtt_ms, "rtt_ms", 60_000.0)?,
                    packet_loss: field(env.packet_loss, "packet_loss", 1.0)?,
                    bitrate_kbps: field(env.bitrate_kbps, "bitrate_kbps", 1_000_000.0)?,
                })
            }
            "media" => {
                only(&["peer", "media", "seconds"])?;
                let peer = need(env.peer.clone(), "peer")?;
                if peer.is_empty() || peer.len() > 64 {
                    return Err(ParseError("`media.peer` must be a participant id".into()));
                }
                let change = match (env.media.as_deref(), env.seconds) {
                    (Some("lost"), None) => MediaChange::Lost,
                    (Some("lost"), Some(_)) => {
                        return Err(ParseError("`media` lost has no `seconds`".into()));
                    }
                    (Some("restored"), Some(s))
                        if s.is_finite() && (0.0..=MAX_OUTAGE_SECONDS).contains(&s) =>
                    {
                        MediaChange::Restored { seconds: s }
                    }
                    (Some("restored"), _) => {
                        return Err(ParseError(format!(
                            "`media` restored needs `seconds` between 0 and {MAX_OUTAGE_SECONDS}"
                        )));
                    }
                    _ => return Err(ParseError("`media.media` is lost or restored".into())),
                };
                Ok(ClientMessage::Media { peer, change })
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

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, Serialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberState {
    /// In the waiting room: can chat with the hosts, cannot signal.
    Waiting,
    Admitted,
}

/// A message from the server, without its sequence number: the bus numbers each copy per
/// recipient and writes `{"seq":N,` in front of [`ServerMessage::body`].
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    Welcome {
        session_id: i64,
        you: &'a Participant,
        state: MemberState,
        participants: Vec<PeerInfo<'a>>,
        ice_servers: &'a [IceServer],
    },
    /// After a resume: the missed messages came first; this closes the replay. It says again who
    /// the participant is, its place and the ICE servers, as the welcome did: a page reloaded in
    /// the call resumes with the seq it kept, and has nothing else of its earlier life.
    Resumed {
        you: &'a Participant,
        state: MemberState,
        participants: Vec<PeerInfo<'a>>,
        ice_servers: &'a [IceServer],
    },
    /// To hosts: someone is in the waiting room.
    Waiting {
        participant: &'a Participant,
    },
    /// To the admitted participant: whom to offer to.
    Admitted {
        participants: Vec<PeerInfo<'a>>,
    },
    Joined {
        participant: &'a Participant,
        polite: bool,
    },
    Left {
        participant_id: &'a str,
    },
    Removed {
        by: &'a str,
    },
    Mute {
        by: &'a str,
        kind: MediaKind,
    },
    Signal {
        from: &'a str,
        data: &'a RawValue,
    },
    Chat {
        from: &'a str,
        name: &'a str,
        text: &'a str,
        at: DateTime<Utc>,
    },
    Ended {
        outcome: &'a str,
    },
    /// The recording of the session (docs/recording.md): `on` from the petitioner's admission,
    /// `interrupted` while the recorder has lost someone's stream, `off` at the end. Sent to
    /// everyone when it changes, and to whoever joins or resumes while it is not `off`.
    Recording {
        state: &'a str,
        at: DateTime<Utc>,
    },
    /// The instance is draining: reconnect with `resume.<last seq>`.
    Reconnect {},
    Error {
        code: SignalError,
        message: &'a str,
    },
}

string_enum!(
    /// Why the server refused a client's message (`{"type": "error", "code": …}`): one closed
    /// set, each with words in both catalogues (`signal.error.<code>`; tests/server/
    /// catalogue_sets.rs), which the call page shows. The socket stays open.
    SignalError {
        RateLimited => "rate_limited",
        BinaryNotSupported => "binary_not_supported",
        MalformedMessage => "malformed_message",
        ChatTooLong => "chat_too_long",
        StoreUnavailable => "store_unavailable",
        UnknownParticipant => "unknown_participant",
        NotAdmitted => "not_admitted",
        NotAllowed => "not_allowed",
        NotWaiting => "not_waiting",
        SessionFull => "session_full",
    }
);

impl ServerMessage<'_> {
    /// The JSON object without its opening brace, ready to be numbered.
    pub fn body(&self) -> String {
        // Serialising these types cannot fail: every field is a string, number, enum or raw JSON.
        let json = serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"));
        json[1..].to_owned()
    }

    /// The fields each server message type carries besides `type` and `seq`, as documented.
    pub const FIELDS: &'static [(&'static str, &'static [&'static str])] = &[
        (
            "welcome",
            &["session_id", "you", "state", "participants", "ice_servers"],
        ),
        ("resumed", &["you", "state", "participants", "ice_servers"]),
        ("waiting", &["participant"]),
        ("admitted", &["participants"]),
        ("joined", &["participant", "polite"]),
        ("left", &["participant_id"]),
        ("removed", &["by"]),
        ("mute", &["by", "kind"]),
        ("signal", &["from", "data"]),
        ("chat", &["from", "name", "text", "at"]),
        ("ended", &["outcome"]),
        ("recording", &["state", "at"]),
        ("reconnect", &[]),
        ("error", &["code", "message"]),
    ];
}

/// Numbers a message body for one recipient.
pub fn numbered(seq: u64, body: &str) -> String {
    format!("{{\"seq\":{seq},{body}")
}

/// The sequence number at the front of a numbered message.
pub fn seq_of(message: &str) -> Option<u64> {
    let rest = message.strip_prefix("{\"seq\":")?;
    let end = rest.find(',')?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every close code the server sends is in the table of `docs/signalling.md`.
    #[test]
    fn close_codes_are_documented() {
        let doc = include_str!("../../docs/signalling.md");
        for c in [
            Closing::Left,
            Closing::SessionEnded,
            Closing::Timeout,
            Closing::ProtocolViolation,
            Closing::TooSlow,
            Closing::FrameTooLarge,
            Closing::Restarting,
            Closing::Replaced,
            Closing::Removed,
            Closing::Revoked,
            Closing::RateLimited,
            Closing::Refused(SignalError::SessionFull),
        ] {
            let row = format!("\n| {} |", c.code());
            assert!(doc.contains(&row), "{c:?}: no row for {}", c.code());
            assert!(c.reason().len() <= 123, "{c:?}");
        }
    }

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
    fn signal_data_may_mention_kind() {
        let text = r#"{"type":"signal","to":"a","data":{"kind":"x","candidate":null}}"#;
        match ClientMessage::parse(text).unwrap() {
            ClientMessage::Signal { data, .. } => {
                assert_eq!(data.get(), r#"{"kind":"x","candidate":null}"#)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_media_drops() {
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"media","peer":"petitioner","media":"lost"}"#).unwrap(),
            ClientMessage::Media {
                change: MediaChange::Lost,
                ..
            }
        ));
        match ClientMessage::parse(
            r#"{"type":"media","peer":"user-3","media":"restored","seconds":7.25}"#,
        )
        .unwrap()
        {
            ClientMessage::Media { peer, change } => {
                assert_eq!(peer, "user-3");
                assert_eq!(change, MediaChange::Restored { seconds: 7.25 });
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_host_actions() {
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"mute","participant":"petitioner","kind":"audio"}"#)
                .unwrap(),
            ClientMessage::Mute {
                kind: MediaKind::Audio,
                ..
            }
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"admit","participant":"petitioner"}"#).unwrap(),
            ClientMessage::Admit { .. }
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"leave"}"#).unwrap(),
            ClientMessage::Leave
        ));
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
            r#"{"type":"mute","participant":"p","kind":"smell"}"#,
            r#"{"type":"mute","participant":"p"}"#,
            r#"{"type":"leave","participant":"p"}"#,
            r#"{"type":"admit"}"#,
            r#"{"type":"quality","rtt_ms":-1,"packet_loss":0,"bitrate_kbps":1}"#,
            r#"{"type":"quality","rtt_ms":1,"packet_loss":2,"bitrate_kbps":1}"#,
            r#"{"type":"quality","rtt_ms":1,"packet_loss":0}"#,
            r#"{"type":"media","peer":"petitioner"}"#,
            r#"{"type":"media","peer":"","media":"lost"}"#,
            r#"{"type":"media","peer":"petitioner","media":"gone"}"#,
            r#"{"type":"media","peer":"petitioner","media":"lost","seconds":3}"#,
            r#"{"type":"media","peer":"petitioner","media":"restored"}"#,
            r#"{"type":"media","peer":"petitioner","media":"restored","seconds":-1}"#,
            r#"{"type":"media","peer":"petitioner","media":"restored","seconds":1e9}"#,
            r#"{"type":"media","peer":"petitioner","media":"lost","text":"x"}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbering_round_trips() {
        let p = Participant {
            id: "user-7".into(),
            role: ParticipantRole::Host,
            name: "法官".into(),
        };
        let raw = RawValue::from_string(r#"{"candidate":null}"#.into()).unwrap();
        let m = numbered(
            5,
            &ServerMessage::Signal {
                from: &p.id,
                data: &raw,
            }
            .body(),
        );
        assert_eq!(
            m,
            r#"{"seq":5,"type":"signal","from":"user-7","data":{"candidate":null}}"#
        );
        assert_eq!(seq_of(&m), Some(5));
        let r = numbered(9, &ServerMessage::Reconnect {}.body());
        assert_eq!(r, r#"{"seq":9,"type":"reconnect"}"#);
    }

    #[test]
    fn field_table_matches_the_enum() {
        let p = Participant {
            id: "a".into(),
            role: ParticipantRole::Observer,
            name: "n".into(),
        };
        let raw = RawValue::from_string("{}".into()).unwrap();
        let all = [
            ServerMessage::Welcome {
                session_id: 1,
                you: &p,
                state: MemberState::Admitted,
                participants: vec![],
                ice_servers: &[],
            },
            ServerMessage::Resumed {
                you: &p,
                state: MemberState::Admitted,
                participants: vec![],
                ice_servers: &[],
            },
            ServerMessage::Waiting { participant: &p },
            ServerMessage::Admitted {
                participants: vec![],
            },
            ServerMessage::Joined {
                participant: &p,
                polite: true,
            },
            ServerMessage::Left {
                participant_id: "a",
            },
            ServerMessage::Removed { by: "a" },
            ServerMessage::Mute {
                by: "a",
                kind: MediaKind::Video,
            },
            ServerMessage::Signal {
                from: "a",
                data: &raw,
            },
            ServerMessage::Chat {
                from: "a",
                name: "n",
                text: "t",
                at: Utc::now(),
            },
            ServerMessage::Ended {
                outcome: "explained_law",
            },
            ServerMessage::Recording {
                state: "on",
                at: Utc::now(),
            },
            ServerMessage::Reconnect {},
            ServerMessage::Error {
                code: SignalError::NotAllowed,
                message: "m",
            },
        ];
        assert_eq!(all.len(), ServerMessage::FIELDS.len());
        for m in all {
            let v: serde_json::Value = serde_json::from_str(&numbered(1, &m.body())).unwrap();
            let kind = v["type"].as_str().unwrap();
            let (_, fields) = ServerMessage::FIELDS
                .iter()
                .find(|(k, _)| *k == kind)
                .unwrap();
            let mut got: Vec<&str> = v
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "type" && *k != "seq")
                .collect();
            let mut want = fields.to_vec();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{kind}");
        }
    }
}
