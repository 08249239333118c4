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
        }
    }
}

impl std::error::Error for NpyError {}

pub type Result<T> = std::result::Result<T, NpyError>;
