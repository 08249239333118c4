//! The block sizes Redis's allocator hands out, so a layout can tell whether
//! keeping the `.npy` header beside the data costs a bigger block.
//!
//! jemalloc (Redis's default) rounds a request up to its size class: multiples
//! of 16 up to 128 bytes, then four classes per power of two (`2^k`,
//! `1.25 × 2^k`, `1.5 × 2^k`, `1.75 × 2^k`). A buffer of `2^k + 128` bytes
//! therefore takes `1.25 × 2^k`. On other allocators this is only a model;
//! what MEMORY USAGE reports is always the allocator's own answer.

use std::sync::atomic::{AtomicBool, Ordering};

static CLASSES_HOLD: AtomicBool = AtomicBool::new(true);

/// Whether the allocator rounds requests up to these classes (checked when
/// the module loads; true until then). Bytes kept in a class's slack are
/// free only where they do.
pub fn classes_hold() -> bool {
    CLASSES_HOLD.load(Ordering::Relaxed)
}

/// Records what the module found the allocator to do (see [`classes_hold`]).
pub fn set_classes_hold(hold: bool) {
    CLASSES_HOLD.store(hold, Ordering::Relaxed);
}

/// The jemalloc size class a request of `n` bytes is served from.
pub fn class(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.next_multiple_of(16);
    }
    if n > usize::MAX >> 2 {
        return n; // beyond any real allocation
    }
    let lg = usize::BITS - 1 - (n - 1).leading_zeros(); // floor(log2(n - 1))
    let spacing = 1usize << (lg - 2);
    n.next_multiple_of(spacing)
}

/// Whether `extra` bytes stored in front of `n` bytes of data are worth
/// keeping in the same block: they fit the data's own size class, or add at
/// most 1/16 of the data.
pub fn extra_fits(extra: usize, n: usize) -> bool {
    let together = class(n.saturating_add(extra));
    together == class(n) || together - n <= n / 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_jemalloc() {
        let cases = [
            (1, 8),
            (9, 16),
            (64, 64),
            (65, 80),
            (129, 160),
            (4096, 4096),
            (4097, 5120),
            (4224, 5120),
            (6000, 6144),
            (1 << 20, 1 << 20),
            ((1 << 20) + 1, 1_310_720),
            (7 << 17, 7 << 17),
        ];
        for (n, expected) in cases {
            assert_eq!(class(n), expected, "{n}");
        }
    }

    #[test]
    fn header_fits_unless_it_crosses_a_class() {
        assert!(!extra_fits(128, 4096), "2^k + header takes 1.25 × 2^k");
        assert!(extra_fits(128, 4100), "the data's own class has room for it");
        assert!(extra_fits(128, 6000));
        assert!(!extra_fits(128, 5000));
    }
}
