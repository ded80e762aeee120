//! The join-code parser (`JoinCode::parse`) and its hash, on arbitrary text: what a petitioner
//! types into the join page.
//!
//! Properties:
//! - never panics;
//! - an accepted code is the input's digits, in order, once spaces, dashes and ideographic
//!   spaces are dropped, and nothing else was dropped; it shows as `dddd-dddd-dddd`;
//! - parsing is idempotent: the shown form, and the bare digits, parse to the same code;
//! - a refusal is right (the input without separators is not 12 ASCII digits) and says so
//!   in the one documented message;
//! - the hash is the SHA-256 of the 12 digits, as 64 lowercase hex characters, and two codes
//!   have the same hash only if they are the same code;
//! - `Debug` never shows the digits.

#![no_main]

use courtlink_parsers::domain::JoinCode;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '\u{3000}')
}

fuzz_target!(|data: &[u8]| {
    // The body is JSON, so the code is a string: text that is not UTF-8 never gets here.
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    check(input);
    // A second code from the two halves of the input, to compare hashes.
    let mid = input.len() / 2;
    if let (Some(a), Some(b)) = (input.get(..mid), input.get(mid..)) {
        if let (Some(a), Some(b)) = (check(a), check(b)) {
            assert_eq!(a == b, a.hash() == b.hash());
        }
    }
});

fn check(input: &str) -> Option<JoinCode> {
    let kept: Vec<char> = input.chars().filter(|c| !separator(*c)).collect();
    let should = kept.len() == JoinCode::DIGITS && kept.iter().all(char::is_ascii_digit);
    match JoinCode::parse(input) {
        Err(message) => {
            assert!(!should, "refused a good code: {input:?}");
            assert_eq!(message, "a join code is 12 digits");
            None
        }
        Ok(code) => {
            assert!(should, "accepted {input:?}");
            let digits: String = kept.iter().collect();
            let shown = code.display();
            assert_eq!(shown.len(), 14);
            for (i, b) in shown.bytes().enumerate() {
                if i == 4 || i == 9 {
                    assert_eq!(b, b'-', "{shown}");
                } else {
                    assert!(b.is_ascii_digit(), "{shown}");
                }
            }
            assert_eq!(shown.replace('-', ""), digits);
            assert_eq!(JoinCode::parse(&shown).ok().as_ref(), Some(&code));
            assert_eq!(JoinCode::parse(&digits).ok().as_ref(), Some(&code));
            let hash = code.hash();
            assert_eq!(hash, hex::encode(Sha256::digest(digits.as_bytes())));
            assert!(
                hash.len() == 64
                    && hash
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(format!("{code:?}"), "JoinCode(****)");
            Some(code)
        }
    }
}
