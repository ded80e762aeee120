//! The offer of a connectivity test (`POST /api/v1/connectivity/tests`, open to staff and to a
//! petitioner with a join token) and of a recording goes to the WebRTC stack's SDP parser and
//! its ICE-candidate parser, once CourtLink's own check (`courtlink_parsers::sdp::Offer::read`)
//! has passed it. A panic there would take an actix worker down with every request on it.
//!
//! Properties: the SDP parser does not panic on any text, and a parsed description can be
//! written out again (`marshal`) without panicking. For an offer CourtLink accepts, every
//! candidate the stack reads from it (the `a=candidate` attributes of its media sections, as the
//! stack's peer connection reads them) has a component of 1 to 256 and can be written out again
//! without panicking. (The stack computes a priority as
//! `… + (256 - component)`: a larger component overflowed, which this target found.)

#![no_main]

use std::io::Cursor;

use courtlink_parsers::sdp::Offer;
use libfuzzer_sys::fuzz_target;
use rtc::ice::candidate::unmarshal_candidate;
use rtc::sdp::description::session::SessionDescription;

fuzz_target!(|data: &[u8]| {
    // The offer arrives in a JSON string: always UTF-8.
    let Ok(sdp) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(description) = SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())) else {
        return;
    };
    let _ = description.marshal();
    if Offer::read(sdp).is_err() {
        return;
    }
    // The candidates as the stack reads them from an accepted offer: the `a=candidate`
    // attributes of each media section of the parsed description.
    for media in &description.media_descriptions {
        for attribute in &media.attributes {
            let (true, Some(raw)) = (attribute.is_ice_candidate(), &attribute.value) else {
                continue;
            };
            if let Ok(candidate) = unmarshal_candidate(raw) {
                assert!(
                    (1..=256).contains(&candidate.component()),
                    "accepted a candidate of component {}",
                    candidate.component()
                );
                let _ = candidate.marshal();
            }
        }
    }
});
