//! The offer of a connectivity test (`POST /api/v1/connectivity/tests`, open to staff and to a
//! petitioner with a join token) goes to the WebRTC stack's SDP parser and its ICE-candidate
//! parser. A panic there would take an actix worker down with every request on it.
//!
//! Properties: neither parser panics on any text; a parsed description can be written out
//! again (`marshal`) without panicking, and so can every candidate read from its
//! `a=candidate` lines.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use rtc::ice::candidate::unmarshal_candidate;
use rtc::sdp::description::session::SessionDescription;

fuzz_target!(|data: &[u8]| {
    // The offer arrives in a JSON string: always UTF-8.
    let Ok(sdp) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(description) = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())) {
        let _ = description.marshal();
    }
    for line in sdp.lines() {
        if let Some(raw) = line.trim_end().strip_prefix("a=candidate:") {
            if let Ok(candidate) = unmarshal_candidate(raw) {
                let _ = candidate.marshal();
            }
        }
    }
});
