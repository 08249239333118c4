//! Writes through index lists that repeat an index: NumPy writes every
//! repeat, the last one winning; these visit the last of each only.

use super::selection::Gather;
use super::spec::Item;
use super::view::View;
use crate::array::NpArray;
use crate::error::Result;
use crate::shape::Shape;

impl Gather {
    /// The positions of the gathered axis that a write must visit: the last
    /// position of each distinct offset, in order, or `None` when no offset
    /// repeats. NumPy's `a[[1, 1]] = v` (and `+=`) writes every repeat, the
    /// last one winning; visiting only that one writes the same result once.
    pub(super) fn last_of_each(&self) -> Option<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.offsets.len()).collect();
        order.sort_unstable_by_key(|&position| (self.offsets[position], position));
        let mut kept: Vec<usize> = order
            .windows(2)
            .filter(|pair| self.offsets[pair[0]] != self.offsets[pair[1]])
            .map(|pair| pair[0])
            .chain(order.last().copied())
            .collect();
        if kept.len() == self.offsets.len() {
            return None;
        }
        kept.sort_unstable();
        Some(kept)
    }
}

/// `arr[items]` for a write whose index lists repeat an index: the items
/// with every repeat dropped but the last, so that the write does its work
/// once per distinct element and ends as NumPy's does (the last repeat wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distinct {
    /// The items with each index list cut to the kept positions.
    pub items: Vec<Item>,
    /// The shape of `arr[items]` with its repeats (the one NumPy's errors name).
    pub full_shape: Shape,
    /// Where the gathered axis sits in the result.
    pub axis: usize,
    /// The positions kept along the gathered axis, in order.
    pub kept: Vec<usize>,
}

/// [`Distinct`] for `arr[items]`, or `None` when no index repeats (NumPy's
/// index errors come first, as for any selection).
pub fn distinct(array: &NpArray, items: &[Item]) -> Result<Option<Distinct>> {
    let selection = View::whole(array.shape(), array.itemsize(), array.fortran_order()).select(items)?;
    let Some(gather) = &selection.gather else {
        return Ok(None);
    };
    let Some(kept) = gather.last_of_each() else {
        return Ok(None);
    };
    // Lists of one index broadcast over the others and stay as they are.
    let items = items
        .iter()
        .map(|item| match item {
            Item::List(indices) if indices.len() > 1 => Item::List(kept.iter().map(|&p| indices[p]).collect()),
            other => other.clone(),
        })
        .collect();
    Ok(Some(Distinct {
        items,
        full_shape: selection.shape(),
        axis: gather.axis,
        kept,
    }))
}
