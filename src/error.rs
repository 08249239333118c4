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
    /// An array whose data would take more than 2^63-1 bytes: its shape's repr.
    TooBig(String),
    /// An allocation of this many bytes that failed.
    NoMemory(u64),
    /// An operation along the growth axis (`trim`, `reserve room in`) of a
    /// 0-d array, which has none.
    NoGrowthAxis(&'static str),
    /// A new shape (its repr) for an array of a different element count.
    ShapeMismatch { shape: String, size: u64 },
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

    /// This error as a refusal of a payload: what its data or shape cannot be.
    pub fn in_payload(self) -> Self {
        match self {
            e @ (NpyError::TooBig(_) | NpyError::NoMemory(_) | NpyError::ShapeMismatch { .. }) => {
                NpyError::Invalid(e.to_string())
            }
            other => other,
        }
    }

    /// This error as a refusal of a stored (RDB) encoding.
    pub fn in_stored(self) -> Self {
        match self {
            NpyError::Invalid(reason) => NpyError::Rdb(reason),
            e @ (NpyError::TooBig(_) | NpyError::NoMemory(_) | NpyError::ShapeMismatch { .. }) => {
                NpyError::Rdb(e.to_string())
            }
            other => other,
        }
    }
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::Invalid(reason) => write!(f, "invalid .npy: {reason}"),
            NpyError::Rdb(reason) => write!(f, "invalid stored array: {reason}"),
            NpyError::Append(reason) => write!(f, "cannot append: {reason}"),
            NpyError::Convert(reason) | NpyError::Index(reason) => write!(f, "{reason}"),
            NpyError::TooBig(shape) => write!(f, "array of shape {shape} is too big"),
            NpyError::NoMemory(bytes) => write!(f, "cannot allocate {bytes} bytes"),
            NpyError::NoGrowthAxis(op) => write!(f, "cannot {op} a 0-d array: it has no growth axis"),
            NpyError::ShapeMismatch { shape, size } => write!(f, "shape {shape} does not fit {size} elements"),
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
    use super::NpyError;

    #[test]
    fn each_failure_says_what_failed() {
        let too_big = NpyError::TooBig("(9223372036854775807, 10)".into());
        assert_eq!(
            too_big.to_string(),
            "array of shape (9223372036854775807, 10) is too big"
        );
        assert_eq!(
            too_big.clone().in_payload().to_string(),
            "invalid .npy: array of shape (9223372036854775807, 10) is too big"
        );
        assert_eq!(
            too_big.in_stored().to_string(),
            "invalid stored array: array of shape (9223372036854775807, 10) is too big"
        );
        assert_eq!(
            NpyError::NoMemory(64).in_stored().to_string(),
            "invalid stored array: cannot allocate 64 bytes"
        );
        assert_eq!(
            NpyError::invalid("x").in_stored().to_string(),
            "invalid stored array: x"
        );
        assert_eq!(
            NpyError::NoGrowthAxis("trim").in_payload().to_string(),
            "cannot trim a 0-d array: it has no growth axis"
        );
        let mismatch = NpyError::ShapeMismatch {
            shape: "(3,)".into(),
            size: 4,
        };
        assert_eq!(mismatch.to_string(), "shape (3,) does not fit 4 elements");
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(super::excerpt("abc"), "abc");
        let long = "é".repeat(1000);
        let e = super::excerpt(&long);
        assert!(e.starts_with(&"é".repeat(48)) && e.ends_with("… (2000 bytes)"), "{e}");
    }
}
