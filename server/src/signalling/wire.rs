//! The WebSocket transport of a signalling socket: frames in and out over actix-http's codec.
//!
//! actix-ws would do this with a tokio channel of 32 messages between the socket task and the
//! response body, allocated up front (about 1.8 KiB), a boxed body holding a second codec, and
//! read buffers that keep the capacity of the last chunk read. Every idle socket pays for all of
//! it, and issue 3 asks for at most 16 KiB per idle socket. Here the socket task encodes frames
//! straight into a buffer the response body takes whole, and both ends share one small state:
//! an idle socket holds no buffer at all, only the few hundred bytes of [`Shared`].
//!
//! Three ends share that state: the [`Writer`] (the socket task's outbound half), the
//! [`Reader`] (its inbound half, over the request payload) and the response [`Body`]. The body
//! ends after a close frame, or when the writer is dropped; when the connection goes away the
//! body is dropped, and that wakes both halves of the socket task, so a socket whose peer
//! vanished without a close frame ends too (the request payload alone does not always tell).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use actix_codec::{Decoder, Encoder};
use actix_http::body::{BodySize, MessageBody};
use actix_http::ws::{Codec, Frame, Item, Message};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse, http::header};

pub use actix_http::ws::{CloseCode, CloseReason, ProtocolError};

/// The writer waits once this many encoded bytes wait for the connection: a client that does
/// not read then fills its outbox, and the hub drops it (see `outbox`).
const HIGH_WATER: usize = 64 * 1024;

/// RFC 6455 §5.5: a control frame's payload is at most 125 bytes; a close reason's text is what
/// is left after the two-byte code.
const MAX_CONTROL_PAYLOAD: usize = 125;
const MAX_CLOSE_TEXT: usize = MAX_CONTROL_PAYLOAD - 2;

/// The connection is gone, or the socket already sent its close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Frames encoded and not yet taken by the body. Taken whole, so an idle socket holds none.
    out: BytesMut,
    /// The body ends once `out` is empty: a close frame was queued, or the writer is gone.
    finishing: bool,
    /// The response body was dropped: the connection is gone.
    body_gone: bool,
    body_waker: Option<Waker>,
    writer_waker: Option<Waker>,
    reader_waker: Option<Waker>,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // Every change under the lock leaves the state whole: usable even if a holder panicked.
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps `waker` in `slot`, cloning only when it would wake another task.
fn park(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

/// Completes the handshake of a WebSocket request answering with `protocol`, and gives the
/// response to return and the two halves of the socket.
pub fn accept(
    req: &HttpRequest,
    payload: actix_web::web::Payload,
    protocol: &'static str,
    max_message: usize,
) -> Result<(HttpResponse, Writer, Reader), actix_http::ws::HandshakeError> {
    let mut response = actix_http::ws::handshake(req.head())?;
    response.insert_header((header::SEC_WEBSOCKET_PROTOCOL, protocol));
    let (writer, reader, body) = halves(payload.into_inner(), max_message);
    let response = HttpResponse::from(response.body(body)).map_into_boxed_body();
    Ok((response, writer, reader))
}

/// The three ends of one socket over `payload`, sharing their state.
fn halves(payload: actix_http::Payload, max_message: usize) -> (Writer, Reader, Body) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
    });
    let writer = Writer {
        shared: shared.clone(),
        codec: Codec::new(),
    };
    let reader = Reader {
        payload,
        buf: BytesMut::new(),
        codec: Codec::new().max_size(max_message),
        partial: None,
        max_message,
        ended: false,
        shared: shared.clone(),
    };
    (writer, reader, Body { shared })
}

/// The response body: whatever the writer encoded, until the close frame.
pub struct Body {
    shared: Arc<Shared>,
}

impl MessageBody for Body {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, io::Error>>> {
        let mut state = lock(&self.shared);
        if !state.out.is_empty() {
            let frames = std::mem::take(&mut state.out).freeze();
            let writer = state.writer_waker.take();
            drop(state);
            wake(writer);
            return Poll::Ready(Some(Ok(frames)));
        }
        if state.finishing {
            return Poll::Ready(None);
        }
        park(&mut state.body_waker, cx.waker());
        Poll::Pending
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.body_gone = true;
        state.out = BytesMut::new();
        let (reader, writer) = (state.reader_waker.take(), state.writer_waker.take());
        drop(state);
        wake(reader);
        wake(writer);
    }
}

/// The socket's outbound half.
pub struct Writer {
    shared: Arc<Shared>,
    codec: Codec,
}

impl Writer {
    pub async fn text(&mut self, text: String) -> Result<(), Closed> {
        self.send(Message::Text(text.into())).await
    }

    pub async fn ping(&mut self) -> Result<(), Closed> {
        self.send(Message::Ping(Bytes::new())).await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Closed> {
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        self.send(Message::Pong(Bytes::copy_from_slice(payload)))
            .await
    }

    /// Sends the close frame; the body ends once it is out, and nothing more can be sent.
    pub async fn close(&mut self, code: CloseCode, text: &str) -> Result<(), Closed> {
        let mut end = text.len().min(MAX_CLOSE_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let reason = CloseReason {
            code,
            description: Some(text[..end].to_owned()),
        };
        self.send(Message::Close(Some(reason))).await
    }

    /// Queues one frame for the body, waiting while `HIGH_WATER` bytes already wait.
    async fn send(&mut self, message: Message) -> Result<(), Closed> {
        let mut message = Some(message);
        poll_fn(|cx| {
            let mut state = lock(&self.shared);
            if state.body_gone || state.finishing {
                return Poll::Ready(Err(Closed));
            }
            if state.out.len() >= HIGH_WATER {
                park(&mut state.writer_waker, cx.waker());
                return Poll::Pending;
            }
            let Some(message) = message.take() else {
                return Poll::Ready(Err(Closed));
            };
            let closing = matches!(message, Message::Close(_));
            if self.codec.encode(message, &mut state.out).is_err() {
                return Poll::Ready(Err(Closed));
            }
            state.finishing |= closing;
            let body = state.body_waker.take();
            drop(state);
            wake(body);
            Poll::Ready(Ok(()))
        })
        .await
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Nothing more will be written: the body ends after what is queued.
        let mut state = lock(&self.shared);
        state.finishing = true;
        let body = state.body_waker.take();
        drop(state);
        wake(body);
    }
}

/// A whole message from the client: continuation frames are put together first.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseReason>),
}

/// A message arriving in fragments: whether it is text, and what came so far.
type Partial = (bool, BytesMut);

/// The socket's inbound half.
pub struct Reader {
    payload: actix_http::Payload,
    /// Bytes read and not yet decoded. Emptied buffers are given back: an idle socket holds none.
    buf: BytesMut,
    codec: Codec,
    partial: Option<Partial>,
    max_message: usize,
    /// The payload ended or failed: what is buffered is decoded, then the reader ends.
    ended: bool,
    shared: Arc<Shared>,
}

impl Reader {
    /// The next message; `None` once the connection is gone. After an error the caller closes.
    pub async fn recv(&mut self) -> Option<Result<Inbound, ProtocolError>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Inbound, ProtocolError>>> {
        loop {
            match self.decode() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(e) => {
                    self.ended = true;
                    self.buf = BytesMut::new();
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if self.buf.is_empty() && self.buf.capacity() > 0 {
                self.buf = BytesMut::new();
            }
            if self.ended {
                return Poll::Ready(None);
            }
            {
                // Parked before the payload is polled, so a body dropped meanwhile wakes us.
                let mut state = lock(&self.shared);
                if state.body_gone {
                    self.ended = true;
                    continue;
                }
                park(&mut state.reader_waker, cx.waker());
            }
            match futures_util::Stream::poll_next(Pin::new(&mut self.payload), cx) {
                Poll::Ready(Some(Ok(bytes))) => self.buf.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    self.ended = true;
                    self.buf = BytesMut::new();
                    return Poll::Ready(Some(Err(ProtocolError::Io(io::Error::other(e)))));
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// One whole message out of the buffered bytes, if they hold one.
    fn decode(&mut self) -> Result<Option<Inbound>, ProtocolError> {
        loop {
            check_header(&self.buf, self.max_message)?;
            let Some(frame) = self.codec.decode(&mut self.buf)? else {
                break;
            };
            let whole = match frame {
                Frame::Text(bytes) => {
                    self.no_partial()?;
                    text(&bytes)?
                }
                Frame::Binary(bytes) => {
                    self.no_partial()?;
                    Inbound::Binary(bytes)
                }
                Frame::Ping(bytes) => Inbound::Ping(bytes),
                Frame::Pong(bytes) => Inbound::Pong(bytes),
                Frame::Close(reason) => Inbound::Close(reason),
                Frame::Continuation(Item::FirstText(bytes)) => {
                    self.no_partial()?;
                    self.partial = Some((true, BytesMut::from(&bytes[..])));
                    continue;
                }
                Frame::Continuation(Item::FirstBinary(bytes)) => {
                    self.no_partial()?;
                    self.partial = Some((false, BytesMut::from(&bytes[..])));
                    continue;
                }
                Frame::Continuation(Item::Continue(bytes)) => {
                    self.extend(&bytes)?;
                    continue;
                }
                Frame::Continuation(Item::Last(bytes)) => {
                    self.extend(&bytes)?;
                    match self.partial.take() {
                        Some((true, all)) => text(&all)?,
                        Some((false, all)) => Inbound::Binary(all.freeze()),
                        None => return Err(ProtocolError::ContinuationNotStarted),
                    }
                }
            };
            return Ok(Some(whole));
        }
        Ok(None)
    }

    fn no_partial(&self) -> Result<(), ProtocolError> {
        match self.partial {
            Some(_) => Err(ProtocolError::ContinuationStarted),
            None => Ok(()),
        }
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        let Some((_, so_far)) = self.partial.as_mut() else {
            return Err(ProtocolError::ContinuationNotStarted);
        };
        if so_far.len() + bytes.len() > self.max_message {
            return Err(ProtocolError::Overflow);
        }
        so_far.extend_from_slice(bytes);
        Ok(())
    }
}

/// Checks the header of the frame at the front of `buf` as soon as its bytes are in, before
/// its payload: actix-http's codec ignores the reserved bits, and it measures a frame against
/// the limit only once the whole payload has arrived, so a client could hold a socket open
/// with a header that promises a megabyte and never sends it.
///
/// - RSV1–3 must be 0: no extension is negotiated (RFC 6455 §5.2). The socket closes with 1002.
/// - A frame that declares more than `max` bytes closes the socket with 1009 at once.
fn check_header(buf: &[u8], max: usize) -> Result<(), ProtocolError> {
    const RESERVED_BITS: u8 = 0x70;
    let Some(&first) = buf.first() else {
        return Ok(());
    };
    if first & RESERVED_BITS != 0 {
        return Err(ProtocolError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "reserved bits set without an extension",
        )));
    }
    let Some(&second) = buf.get(1) else {
        return Ok(());
    };
    let declared = match second & 0x7f {
        126 => match buf.get(2..4) {
            Some(&[a, b]) => u64::from(u16::from_be_bytes([a, b])),
            _ => return Ok(()),
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(bytes) => u64::from_be_bytes(bytes),
            None => return Ok(()),
        },
        short => u64::from(short),
    };
    if declared > max as u64 {
        return Err(ProtocolError::Overflow);
    }
    Ok(())
}

fn text(bytes: &[u8]) -> Result<Inbound, ProtocolError> {
    std::str::from_utf8(bytes)
        .map(|s| Inbound::Text(s.to_owned()))
        .map_err(|e| ProtocolError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use actix_http::error::PayloadError;

    use super::*;

    /// A client's end: frames encoded as a client does (masked), fed in as the request payload.
    struct Client {
        codec: Codec,
        tx: tokio::sync::mpsc::UnboundedSender<Result<Bytes, PayloadError>>,
    }

    impl Client {
        fn send(&mut self, message: Message) {
            let mut buf = BytesMut::new();
            self.codec.encode(message, &mut buf).unwrap();
            self.tx.send(Ok(buf.freeze())).unwrap();
        }

        fn send_raw(&self, bytes: &[u8]) {
            self.tx.send(Ok(Bytes::copy_from_slice(bytes))).unwrap();
        }
    }

    fn socket(max: usize) -> (Client, Writer, Reader, Body) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let payload = actix_http::Payload::from(Box::pin(stream) as actix_http::BoxedPayloadStream);
        let (writer, reader, body) = halves(payload, max);
        let client = Client {
            codec: Codec::new().client_mode(),
            tx,
        };
        (client, writer, reader, body)
    }

    /// What the client reads from the body: decoded frames, and whether the body ended.
    fn drain(body: &mut Body) -> (Vec<Frame>, bool) {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut bytes = BytesMut::new();
        let ended = loop {
            match Pin::new(&mut *body).poll_next(&mut cx) {
                Poll::Ready(Some(Ok(b))) => bytes.extend_from_slice(&b),
                Poll::Ready(Some(Err(e))) => panic!("body failed: {e}"),
                Poll::Ready(None) => break true,
                Poll::Pending => break false,
            }
        };
        let mut codec = Codec::new().client_mode();
        let mut frames = Vec::new();
        while let Some(f) = codec.decode(&mut bytes).unwrap() {
            frames.push(f);
        }
        (frames, ended)
    }

    #[tokio::test]
    async fn text_ping_and_close_reach_the_client_and_the_body_ends_after_the_close() {
        let (_client, mut writer, _reader, mut body) = socket(1024);
        writer.text("你好".into()).await.unwrap();
        writer.ping().await.unwrap();
        let long = "关".repeat(100);
        writer.close(CloseCode::Other(4003), &long).await.unwrap();
        assert_eq!(writer.text("late".into()).await, Err(Closed));
        let (frames, ended) = drain(&mut body);
        assert!(ended);
        assert_eq!(frames.len(), 3);
        assert!(matches!(&frames[0], Frame::Text(t) if &t[..] == "你好".as_bytes()));
        assert!(matches!(&frames[1], Frame::Ping(p) if p.is_empty()));
        match &frames[2] {
            Frame::Close(Some(r)) => {
                assert_eq!(r.code, CloseCode::Other(4003));
                let text = r.description.as_deref().unwrap();
                assert!(text.len() <= MAX_CLOSE_TEXT && text.chars().all(|c| c == '关'));
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_body_ends_when_the_writer_is_dropped_and_an_idle_socket_keeps_no_buffers() {
        let (mut client, mut writer, mut reader, mut body) = socket(65_536);
        writer.text("x".repeat(10_000)).await.unwrap();
        let (frames, ended) = drain(&mut body);
        assert_eq!((frames.len(), ended), (1, false));
        client.send(Message::Text("y".repeat(10_000).into()));
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Inbound::Text("y".repeat(10_000))
        );
        // Nothing more is waiting: both directions have given their buffers back.
        let waker = futures_util::task::noop_waker();
        assert!(
            reader
                .poll_recv(&mut Context::from_waker(&waker))
                .is_pending()
        );
        assert_eq!(reader.buf.capacity(), 0);
        assert_eq!(lock(&writer.shared).out.capacity(), 0);
        drop(writer);
        assert_eq!(drain(&mut body), (vec![], true));
    }

    #[tokio::test]
    async fn fragments_are_put_together_and_checked() {
        let (mut client, _writer, mut reader, _body) = socket(16);
        client.send(Message::Continuation(Item::FirstText(Bytes::from_static(
            b"{\"a\"",
        ))));
        client.send(Message::Ping(Bytes::from_static(b"p")));
        client.send(Message::Continuation(Item::Continue(Bytes::from_static(
            b":",
        ))));
        client.send(Message::Continuation(Item::Last(Bytes::from_static(b"1}"))));
        // A control frame may arrive between fragments, and comes first.
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Inbound::Ping(Bytes::from_static(b"p"))
        );
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Inbound::Text("{\"a\":1}".into())
        );
        // Over the limit once put together, though each fragment is under it.
        client.send(Message::Continuation(Item::FirstText(Bytes::from(
            vec![b'a'; 10],
        ))));
        client.send(Message::Continuation(Item::Last(Bytes::from(vec![
            b'a';
            10
        ]))));
        assert!(matches!(
            reader.recv().await,
            Some(Err(ProtocolError::Overflow))
        ));
        assert!(reader.recv().await.is_none());
    }

    #[tokio::test]
    async fn bad_frames_are_errors() {
        type Expect = fn(&ProtocolError) -> bool;
        let cases: Vec<(&str, Vec<Message>, Expect)> = vec![
            (
                "a new message inside a fragmented one",
                vec![
                    Message::Continuation(Item::FirstBinary(Bytes::from_static(b"x"))),
                    Message::Text("y".into()),
                ],
                |e| matches!(e, ProtocolError::ContinuationStarted),
            ),
            (
                "a frame over the limit",
                vec![Message::Text("z".repeat(17).into())],
                |e| matches!(e, ProtocolError::Overflow),
            ),
            (
                "text that is not UTF-8",
                vec![
                    Message::Continuation(Item::FirstText(Bytes::from_static(b"\xff"))),
                    Message::Continuation(Item::Last(Bytes::new())),
                ],
                |e| matches!(e, ProtocolError::Io(_)),
            ),
        ];
        for (what, messages, expected) in cases {
            let (mut client, _writer, mut reader, _body) = socket(16);
            for m in messages {
                client.send(m);
            }
            match reader.recv().await {
                Some(Err(e)) if expected(&e) => {}
                other => panic!("{what}: got {other:?}"),
            }
        }
        // A last fragment with nothing begun (masked with a zero key; a client codec refuses
        // to encode it).
        let (client, _writer, mut reader, _body) = socket(16);
        client.send_raw(&[0x80, 0x81, 0, 0, 0, 0, b'x']);
        assert!(matches!(
            reader.recv().await,
            Some(Err(ProtocolError::ContinuationNotStarted))
        ));
        // Unmasked, as only a server may send.
        let (client, _writer, mut reader, _body) = socket(16);
        client.send_raw(&[0x81, 0x01, b'a']);
        assert!(matches!(
            reader.recv().await,
            Some(Err(ProtocolError::UnmaskedFrame))
        ));
    }

    /// Issue 15 item 17: refused on the header alone, with no payload behind it (the payload
    /// never comes, so before this the reader waited for it until the socket timed out).
    #[tokio::test]
    async fn reserved_bits_and_oversized_declarations_are_refused_on_the_header() {
        type Expect = fn(&ProtocolError) -> bool;
        let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
            ("RSV1", vec![0x81 | 0x40, 0x81], |e| {
                matches!(e, ProtocolError::Io(_))
            }),
            ("RSV3", vec![0x81 | 0x10], |e| {
                matches!(e, ProtocolError::Io(_))
            }),
            (
                "a 16-bit length over the limit",
                vec![0x81, 0xFE, 0x00, 0x11],
                |e| matches!(e, ProtocolError::Overflow),
            ),
            (
                "a 64-bit length of a mebibyte",
                vec![0x81, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0],
                |e| matches!(e, ProtocolError::Overflow),
            ),
            (
                "a 7-bit length over the limit",
                vec![0x81, 0x80 | 17],
                |e| matches!(e, ProtocolError::Overflow),
            ),
        ];
        for (what, header, expected) in cases {
            let (client, _writer, mut reader, _body) = socket(16);
            client.send_raw(&header);
            let got = tokio::time::timeout(std::time::Duration::from_secs(1), reader.recv()).await;
            match got {
                Ok(Some(Err(e))) if expected(&e) => {}
                other => panic!("{what}: got {other:?}"),
            }
        }
        // At the limit, a header alone waits for its payload.
        let (client, _writer, mut reader, _body) = socket(16);
        client.send_raw(&[0x81, 0x80 | 16]);
        let got = tokio::time::timeout(std::time::Duration::from_millis(100), reader.recv()).await;
        assert!(got.is_err(), "a frame at the limit is not refused: {got:?}");
    }

    #[tokio::test]
    async fn a_dropped_body_ends_the_reader_and_fails_the_writer() {
        let (_client, mut writer, mut reader, body) = socket(1024);
        // The reader waits on a payload that never ends; the connection going away ends it.
        let connection_lost = async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            drop(body);
        };
        let both = async { tokio::join!(reader.recv(), connection_lost) };
        let (end, ()) = tokio::time::timeout(std::time::Duration::from_secs(5), both)
            .await
            .unwrap();
        assert!(end.is_none());
        assert_eq!(writer.ping().await, Err(Closed));
    }

    #[tokio::test]
    async fn a_writer_waits_while_the_client_does_not_read() {
        let (_client, mut writer, _reader, mut body) = socket(1024);
        let chunk = "w".repeat(16 * 1024);
        for _ in 0..4 {
            writer.text(chunk.clone()).await.unwrap();
        }
        let blocked = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            writer.text(chunk.clone()),
        )
        .await;
        assert!(
            blocked.is_err(),
            "the writer should wait above the high-water mark"
        );
        let (frames, _) = drain(&mut body);
        assert_eq!(frames.len(), 4);
        writer.text(chunk).await.unwrap();
    }
}
