//! NumPy indexing on stored arrays: `arr[spec]` for reads (`NP.GET … SLICE`)
//! and `arr[spec] = value` for writes (`NP.SETSLICE`).
//!
//! A spec is the text between the brackets, e.g. `"10:20"`, `"::2, -1"`,
//! `"..., 0"`, `"None, 1:"` or `"[3, 17, 99], 2:5"`. Basic indexing produces a
//! strided *view* of the stored buffer; an integer list (NumPy's advanced
//! indexing) adds one axis that gathers a view per listed index. Reading
//! copies only the selected elements, so the cost is O(result), whatever the
//! size of the array.
//!
//! - `spec`: the spec text parsed into [`Item`]s;
//! - `view`: strided views, and Python's rules for one index or slice;
//! - `selection`: `arr[items]` resolved against an array, once per request
//!   ([`Selection`]): what each command asks of it is answered from it;
//! - `distinct`: writes through index lists that repeat an index;
//! - `strided_copy`: the element copy between two views;
//! - `extract`: `arr[items]` built as a new array (`NP.GET … SLICE`);
//! - `assign`: `arr[items] = value` (`NP.SETSLICE`, `NP.UPDATE`);
//! - `run`: selections that are one run of the stored bytes.

mod assign;
mod distinct;
mod extract;
mod run;
mod selection;
mod spec;
mod strided_copy;
#[cfg(test)]
mod tests;
mod view;

pub use distinct::Distinct;
pub use extract::slice;
pub use run::{HeaderInPlace, StoredRun};
pub use selection::Selection;
pub use spec::{parse, Item, MAX_SPEC_LEN};
pub(crate) use view::{resolve_index, resolve_slice};
pub use view::{Dim, View};

use crate::error::NpyError;

/// A spec that is malformed or does not fit the array, in NumPy's words.
fn index_error(reason: impl Into<String>) -> NpyError {
    NpyError::Index(reason.into())
}
