//! The one error type of the pure layer. Its `Display` text is what a client
//! sees after `ERR ` (redis-module turns any `std::error::Error` into `ERR <text>`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NpyError {
    /// The payload is not a valid `.npy`: the reason names the offending values.
    Invalid(String),
    /// A stored (RDB) encoding that this build cannot read.
    Rdb(String),
    /// A valid payload that cannot be appended to the stored array.
    Append(String),
    /// A cast or element read (`AS`, `VALUES`) that is not possible.
    Convert(String),
    /// A slice spec that is malformed or does not fit the array (NumPy's wording).
    Index(String),
    /// `NP.GET … MAXBYTES`: the reply's array data would be larger. Clients
    /// match the start of its text to fall back to reading the array in
    /// pieces (docs/commands.md documents it as stable).
    OverMaxBytes { nbytes: u64, max: u64 },
}

impl NpyError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        NpyError::Invalid(reason.into())
    }

    pub fn rdb(reason: impl Into<String>) -> Self {
        NpyError::Rdb(reason.into())
    }

    pub fn append(reason: impl Into<String>) -> Self {
        NpyError::Append(reason.into())
    }
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::Invalid(reason) => write!(f, "invalid .npy: {reason}"),
            NpyError::Rdb(reason) => write!(f, "invalid stored array: {reason}"),
            NpyError::Append(reason) => write!(f, "cannot append: {reason}"),
            NpyError::Convert(reason) | NpyError::Index(reason) => write!(f, "{reason}"),
            NpyError::OverMaxBytes { nbytes, max } => {
                write!(f, "reply array would be {nbytes} bytes, over MAXBYTES {max}")
            }
        }
    }
}

impl std::error::Error for NpyError {}

pub type Result<T> = std::result::Result<T, NpyError>;

/// Longest piece of client text an error message repeats.
const EXCERPT_CHARS: usize = 48;

/// `text` for an error message: whole when short, else its start and its
/// length, so a megabyte-long name or number is never echoed back whole.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpts_are_short() {
        assert_eq!(super::excerpt("abc"), "abc");
        let long = "é".repeat(1000);
        let e = super::excerpt(&long);
        assert!(e.starts_with(&"é".repeat(48)) && e.ends_with("… (2000 bytes)"), "{e}");
    }
}
