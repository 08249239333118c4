//! Selections that are one run of the stored bytes, replied from the stored
//! buffer with a header written in front for a moment.

use smallvec::SmallVec;

use super::selection::Selection;
use super::view::View;
use crate::dtype::Dtype;
use crate::meta::Meta;

/// `arr[items]` when `np.save` of it is a header followed by one run of the
/// stored data, unchanged: a reply can send that run without building the
/// slice (rows `a:b` of a C-ordered array, columns of a Fortran one, one row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// The slice's dtype, shape and order, as its header says them.
    pub meta: Meta,
    /// The run within the array's data (in data order, whatever segments hold it).
    pub bytes: std::ops::Range<usize>,
}

impl Selection {
    /// The [`StoredRun`] this selection is, if it is one: not for gathers,
    /// empty results, or single elements (which NumPy saves as scalars).
    /// `dtype` is the array's.
    pub fn stored_run(&self, dtype: &Dtype) -> Option<StoredRun> {
        let view = &self.view;
        if self.gather.is_some() || view.is_empty() || view.itemsize == 0 || self.element {
            return None;
        }
        let fortran_order = self.saves_fortran_order();
        let shape = self.shape();
        // np.save writes the elements in `fortran_order`; they are the stored
        // bytes as they are when the view has the strides of a contiguous array
        // of its shape in that order (axes of length 1 are never stepped along).
        let out = View::whole(&shape, view.itemsize, fortran_order);
        if view
            .dims
            .iter()
            .zip(&out.dims)
            .any(|(v, o)| v.len != 1 && v.stride != o.stride)
        {
            return None;
        }
        let start = view.offset as usize;
        // Without a gathered axis the result is no larger than the array.
        let len = usize::try_from(self.nbytes().ok()?).ok()?;
        Some(StoredRun {
            meta: Meta::new(dtype.clone(), shape, fortran_order),
            bytes: start..start + len,
        })
    }
}

/// A header written over the bytes in front of a run, for as long as this
/// lives: [`HeaderInPlace::bytes`] is then the whole `.npy` in one span. The
/// bytes it covered are put back when it is dropped, on unwinding too.
pub struct HeaderInPlace<'a> {
    span: &'a mut [u8],
    saved: SmallVec<[u8; 256]>,
}

impl<'a> HeaderInPlace<'a> {
    /// `header` over the `header.len()` bytes before `run` in `block`, or
    /// `None` when fewer bytes than that lie before it.
    pub fn new(block: &'a mut [u8], run: std::ops::Range<usize>, header: &[u8]) -> Option<HeaderInPlace<'a>> {
        let at = run.start.checked_sub(header.len())?;
        let span = &mut block[at..run.end];
        let saved = SmallVec::from_slice(&span[..header.len()]);
        span[..header.len()].copy_from_slice(header);
        Some(HeaderInPlace { span, saved })
    }

    /// The header, then the run.
    pub fn bytes(&self) -> &[u8] {
        self.span
    }
}

impl Drop for HeaderInPlace<'_> {
    fn drop(&mut self) {
        self.span[..self.saved.len()].copy_from_slice(&self.saved);
    }
}
