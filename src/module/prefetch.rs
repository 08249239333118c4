//! Software prefetch: asks the CPU to start loading memory that a later pass
//! reads, so that many cache misses are in flight at once instead of one
//! after another.

/// The cache line size of the CPUs this runs on (x86-64, and most ARM cores).
const LINE: usize = 64;

/// Starts loading every cache line of `bytes` into the cache, without waiting
/// for them. Only a hint: on targets without a prefetch instruction in
/// stable Rust it does nothing.
#[inline]
pub fn read(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = bytes.as_ptr() as usize;
        let mut line = start & !(LINE - 1);
        while line < start + bytes.len() {
            // SAFETY: a prefetch never faults and changes nothing visible;
            // `line` lies within a cache line that `bytes` touches.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
            line += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}
