//! Names as people write them: of persons, of courts and rooms, and usernames. Every write of a
//! name goes through one of these checks.

use crate::error::{ApiError, ErrorCode};

/// Whether a character may not appear in a name: controls, line and paragraph separators, and
/// the invisible format characters (zero-width spaces and joiners, bidirectional overrides and
/// isolates, the BOM, invisible fillers) that make two names look alike or a name display
/// backwards.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
            | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Empty once trimmed, or longer than the limit (in characters).
    Length(usize),
    /// It contains a control or an invisible formatting character.
    Hidden,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::Length(max) => write!(f, "a name is 1 to {max} characters"),
            NameError::Hidden => f.write_str(
                "a name may not contain control, line-break, bidirectional-override or invisible \
                 (zero-width) characters",
            ),
        }
    }
}

/// A person's name as stored: NFKC, trimmed, with no control or invisible format characters.
/// Every write of a person's name goes through it, by way of [`name_input`]. (Courts' and
/// rooms' names refuse the same characters but keep their full-width punctuation.)
pub fn normalize_name(raw: &str, max_chars: usize) -> Result<String, NameError> {
    use unicode_normalization::UnicodeNormalization;
    let name: String = raw.nfkc().collect::<String>().trim().to_owned();
    if name.chars().any(is_hidden_char) {
        return Err(NameError::Hidden);
    }
    if name.is_empty() || name.chars().count() > max_chars {
        return Err(NameError::Length(max_chars));
    }
    Ok(name)
}

/// A name from a request body's `field`, normalized: 422 `invalid_input` for its length, 422
/// `invalid_name` for a control or invisible character.
/// A new account's username: 3 to 64 of ASCII letters, digits, `.`, `_` and `-`, stored
/// lower-case (login lower-cases what it is given: `normalize_username`), so that `Xihu.Coord`
/// is refused as taken when `xihu.coord` exists rather than created as a second user.
pub fn username_input(text: &str) -> Result<String, ApiError> {
    let ok = (3..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(ApiError::invalid(
            "username: 3 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

pub fn name_input(field: &str, raw: &str, max_chars: usize) -> Result<String, ApiError> {
    normalize_name(raw, max_chars).map_err(|e| match e {
        NameError::Length(max) => ApiError::invalid(format!("{field}: 1 to {max} characters")),
        NameError::Hidden => ApiError::Unprocessable {
            code: ErrorCode::InvalidName,
            message: format!("{field}: {e}"),
        },
    })
}

/// A username as looked up and stored: a normalized name, lower-cased, so that `Xihu.Coord` and
/// `xihu.coord` are one user.
pub fn normalize_username(raw: &str) -> Result<String, String> {
    normalize_name(raw, 64)
        .map(|n| n.to_lowercase())
        .map_err(|_| {
            "username (1–64, no control or invisible characters) and password (1–256) are required"
                .into()
        })
}

/// A name of a court or room: trimmed, 1 to 100 characters, no control or invisible
/// characters (422 `invalid_name`). Not NFKC: a court's name is written with full-width
/// brackets (`杭州市中级人民法院（新）`), which NFKC would turn into ASCII ones.
pub fn name_field(field: &str, text: &str) -> Result<String, ApiError> {
    let name = text.trim();
    if name.chars().any(is_hidden_char) {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::InvalidName,
            message: format!("{field}: {}", NameError::Hidden),
        });
    }
    let chars = name.chars().count();
    if chars == 0 || chars > 100 {
        return Err(ApiError::invalid(format!("{field}: 1 to 100 characters")));
    }
    Ok(name.to_owned())
}

/// A person's display name: normalized like every name, 1 to 64 characters.
pub fn display_name_field(text: &str) -> Result<String, ApiError> {
    name_input("display_name", text, 64)
}
