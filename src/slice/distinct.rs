//! Writes through index lists that repeat an index: NumPy writes every
//! repeat, the last one winning; these visit the last of each only.

use super::selection::{Gather, Selection};
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

/// A selection whose index lists repeat an index, for a write: the same
/// selection with every repeat dropped but the last, so that the write does
/// its work once per distinct element and ends as NumPy's does (the last
/// repeat wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distinct {
    /// The selection of the kept positions only: what resolving the items
    /// with each index list cut to those positions gives.
    pub selection: Selection,
    /// The shape of the whole selection, repeats included (the one NumPy's
    /// errors name).
    pub full_shape: Shape,
    /// Where the gathered axis sits in the result.
    pub axis: usize,
    /// The positions kept along the gathered axis, in order.
    pub kept: Vec<usize>,
}

impl Selection {
    /// [`Distinct`] for this selection, or `None` when no index repeats.
    pub fn distinct(&self) -> Option<Distinct> {
        let gather = self.gather.as_ref()?;
        let kept = gather.last_of_each()?;
        let selection = Selection {
            gather: Some(Gather {
                axis: gather.axis,
                offsets: kept.iter().map(|&p| gather.offsets[p]).collect(),
            }),
            ..self.clone()
        };
        Some(Distinct {
            selection,
            full_shape: self.shape(),
            axis: gather.axis,
            kept,
        })
    }
}
