//! The element copy between two views of equal shape, shared by reads
//! (building a slice) and writes (assigning into one).

use smallvec::SmallVec;

use super::view::View;

/// `len` blocks, each `dst_stride` (`src_stride`) bytes after the previous one.
struct Run {
    len: u64,
    dst_stride: i64,
    src_stride: i64,
}

impl Run {
    /// Copies the run's blocks of `block` bytes, the first at `to` and `from`
    /// (offsets of selected elements, so not negative). Blocks of one
    /// element of the common sizes are copied as fixed-size values, not
    /// through `memcpy` calls.
    fn copy(&self, dst: &mut [u8], to: i64, src: &[u8], from: i64, block: usize) {
        fn blocks<const N: usize>(run: &Run, dst: &mut [u8], mut to: i64, src: &[u8], mut from: i64) {
            for _ in 0..run.len {
                let (t, f) = (to as usize, from as usize);
                dst[t..t + N].copy_from_slice(&src[f..f + N]);
                to += run.dst_stride;
                from += run.src_stride;
            }
        }
        match block {
            1 => blocks::<1>(self, dst, to, src, from),
            2 => blocks::<2>(self, dst, to, src, from),
            4 => blocks::<4>(self, dst, to, src, from),
            8 => blocks::<8>(self, dst, to, src, from),
            16 => blocks::<16>(self, dst, to, src, from),
            _ => {
                let (mut to, mut from) = (to, from);
                for _ in 0..self.len {
                    let (t, f) = (to as usize, from as usize);
                    dst[t..t + block].copy_from_slice(&src[f..f + block]);
                    to += self.dst_stride;
                    from += self.src_stride;
                }
            }
        }
    }
}

/// Copies the elements `src_view` selects from `src` to the places `dst_view`
/// selects in `dst` (views of equal shape), visiting them in C order, or Fortran
/// order. Inner dimensions contiguous in both views merge into one block, so a
/// whole row, or a whole contiguous array, is one `memcpy`.
pub(super) fn copy(dst: &mut [u8], dst_view: &View, src: &[u8], src_view: &View, fortran_order: bool) {
    debug_assert_eq!(dst_view.shape(), src_view.shape());
    if dst_view.is_empty() || dst_view.itemsize == 0 {
        return;
    }
    let (dst_dims, src_dims) = (dst_view.visit_order(fortran_order), src_view.visit_order(fortran_order));
    let mut block = dst_view.itemsize;
    let mut outer = dst_dims.len();
    while outer > 0 && dst_dims[outer - 1].stride == block as i64 && src_dims[outer - 1].stride == block as i64 {
        block *= dst_dims[outer - 1].len;
        outer -= 1;
    }
    let block = block as usize;
    // The innermost outer dimension is a run of blocks copied in a tight loop;
    // the odometer walks the dimensions outside it.
    let run = match outer.checked_sub(1) {
        Some(inner) => {
            outer = inner;
            Run {
                len: dst_dims[inner].len,
                dst_stride: dst_dims[inner].stride,
                src_stride: src_dims[inner].stride,
            }
        }
        None => Run {
            len: 1,
            dst_stride: 0,
            src_stride: 0,
        },
    };
    let mut index: SmallVec<[u64; 8]> = SmallVec::from_elem(0, outer);
    let (mut to, mut from) = (dst_view.offset as i64, src_view.offset as i64);
    loop {
        run.copy(dst, to, src, from, block);
        // Odometer over the outer dimensions, the last one fastest.
        let mut axis = outer;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            to += dst_dims[axis].stride;
            from += src_dims[axis].stride;
            if index[axis] < dst_dims[axis].len {
                break;
            }
            let len = dst_dims[axis].len as i64;
            to -= dst_dims[axis].stride * len;
            from -= src_dims[axis].stride * len;
            index[axis] = 0;
        }
    }
}
