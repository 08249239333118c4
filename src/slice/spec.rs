//! The spec: the text between NumPy's brackets, parsed into [`Item`]s.

use super::index_error;
use crate::error::Result;

/// The longest spec accepted: room for index lists of many thousands of rows.
pub const MAX_SPEC_LEN: usize = 1 << 20;

/// One comma-separated item of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Index(i64),
    Slice {
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
    },
    /// `[3, 17, 99]`: an integer list, NumPy's integer-array indexing.
    List(Vec<i64>),
    Ellipsis,
    NewAxis,
}

/// The spec as error messages quote it: whole, or its start when it is long.
fn quoted(spec: &str) -> String {
    const SHOWN: usize = 60;
    match spec.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{:?} (the first {SHOWN} characters)", &spec[..end]),
        None => format!("{spec:?}"),
    }
}

fn parse_int(text: &str, spec: &str) -> Result<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(index_error(format!(
            "invalid slice {}: {text:?} is not an integer (use integers, start:stop:step, ... or None)",
            quoted(spec)
        )));
    }
    text.parse::<i64>().map_err(|_| {
        index_error(format!(
            "invalid slice {}: {text} does not fit in 64 bits",
            quoted(spec)
        ))
    })
}

/// NumPy's error for an index that is neither an integer, a slice, `...`,
/// `None` nor an integer or boolean array, such as a float.
pub(super) const NOT_AN_INDEX: &str = "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean arrays are valid indices";

/// Parses `[i, j, …]` (the brackets included).
fn parse_list(part: &str, spec: &str) -> Result<Vec<i64>> {
    let inner = part
        .strip_prefix('[')
        .and_then(|p| p.strip_suffix(']'))
        .ok_or_else(|| index_error(format!("invalid slice {}: {part:?} is not an index list", quoted(spec))))?;
    if inner.contains(['[', ']']) {
        return Err(index_error(
            "nested index lists are not supported: give one list of integers, e.g. [0, 2]",
        ));
    }
    let inner = inner.trim();
    if inner.is_empty() {
        return Ok(Vec::new()); // arr[[]]: NumPy selects nothing along the axis
    }
    let mut elements: Vec<&str> = inner.split(',').map(str::trim).collect();
    if elements.len() > 1 && elements.last() == Some(&"") {
        elements.pop(); // [5,] is the list [5]
    }
    elements
        .into_iter()
        .map(|text| match text {
            "" => Err(index_error(format!(
                "invalid slice {}: empty index in a list",
                quoted(spec)
            ))),
            "True" | "False" => Err(index_error(
                "boolean index lists are not supported: give the positions as integers",
            )),
            _ if text.parse::<i64>().is_err() && text.parse::<f64>().is_ok() => Err(index_error(NOT_AN_INDEX)),
            _ => parse_int(text, spec),
        })
        .collect()
}

/// Splits a spec at the commas outside brackets.
fn split_items<'a>(trimmed: &'a str, spec: &str) -> Result<Vec<&'a str>> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, byte) in trimmed.bytes().enumerate() {
        match byte {
            b'[' => depth += 1,
            b']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| index_error(format!("invalid slice {}: unbalanced ']'", quoted(spec))))?
            }
            b',' if depth == 0 => {
                parts.push(trimmed[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(index_error(format!("invalid slice {}: unbalanced '['", quoted(spec))));
    }
    parts.push(trimmed[start..].trim());
    Ok(parts)
}

/// Parses a spec. An empty spec (or `()`) selects the whole array, like `arr[()]`.
pub fn parse(spec: &str) -> Result<Vec<Item>> {
    if spec.len() > MAX_SPEC_LEN {
        return Err(index_error(format!("slice spec is longer than {MAX_SPEC_LEN} bytes")));
    }
    let trimmed = spec.trim();
    if trimmed.is_empty() || trimmed == "()" {
        return Ok(Vec::new());
    }
    let mut parts = split_items(trimmed, spec)?;
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop(); // "5," is the tuple (5,)
    }
    let items = parts
        .into_iter()
        .map(|part| match part {
            "" => Err(index_error(format!("invalid slice {}: empty index", quoted(spec)))),
            "..." | "Ellipsis" => Ok(Item::Ellipsis),
            "None" | "np.newaxis" | "newaxis" => Ok(Item::NewAxis),
            _ if part.starts_with('[') => parse_list(part, spec).map(Item::List),
            _ if part.contains(':') => {
                let bounds: Vec<&str> = part.split(':').map(str::trim).collect();
                if bounds.len() > 3 {
                    return Err(index_error(format!(
                        "invalid slice {}: {part:?} has more than two ':'",
                        quoted(spec)
                    )));
                }
                let bound = |i: usize| -> Result<Option<i64>> {
                    match bounds.get(i) {
                        None | Some(&"") => Ok(None),
                        Some(text) => parse_int(text, spec).map(Some),
                    }
                };
                Ok(Item::Slice {
                    start: bound(0)?,
                    stop: bound(1)?,
                    step: bound(2)?,
                })
            }
            _ => parse_int(part, spec).map(Item::Index),
        })
        .collect::<Result<Vec<_>>>()?;
    if items.iter().filter(|item| **item == Item::Ellipsis).count() > 1 {
        return Err(index_error("an index can only have a single ellipsis ('...')"));
    }
    Ok(items)
}
