//! The allocator `export_plugin!` installs in a component: a bump allocator that never frees.
//!
//! The host gives every call a fresh instance and throws it away afterwards, so memory freed
//! inside a call would never be reused for long anyway. Bumping a pointer instead of running
//! dlmalloc removed most of a plugin's cost over string-heavy records (see the README's
//! performance section); what a call may allocate in total is bounded by the host's memory cap.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

const PAGE: usize = 64 * 1024;
/// Grow linear memory 512 KiB at a time. Each growth is a system call in the host's pooled
/// memory, and each page grown is reset after the call: 1 page at a time made batches of 100
/// about 25% slower, 16 pages made single-record calls slower.
const MIN_GROW_PAGES: usize = 8;

pub struct BumpAllocator {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: a component instance is single-threaded.
unsafe impl Sync for BumpAllocator {}

impl BumpAllocator {
    pub const fn new() -> Self {
        BumpAllocator { next: Cell::new(0), end: Cell::new(0) }
    }

    fn grow(&self, at_least: usize) -> bool {
        let pages = at_least.div_ceil(PAGE).max(MIN_GROW_PAGES);
        let previous = core::arch::wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return false;
        }
        let start = previous * PAGE;
        if start != self.end.get() {
            // First growth: the region starts at the old end of memory.
            self.next.set(start);
        }
        self.end.set(start + pages * PAGE);
        true
    }
}

impl Default for BumpAllocator {
    fn default() -> Self {
        BumpAllocator::new()
    }
}

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let align = layout.align();
        loop {
            let start = (self.next.get() + align - 1) & !(align - 1);
            let Some(new_next) = start.checked_add(layout.size()) else { return core::ptr::null_mut() };
            if self.next.get() != 0 && new_next <= self.end.get() {
                self.next.set(new_next);
                return start as *mut u8;
            }
            if !self.grow(layout.size() + align) {
                return core::ptr::null_mut();
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Only the most recent allocation can be given back.
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_end = ptr as usize + layout.size();
        // The most recent allocation grows (or shrinks) in place: how a String or Vec being
        // pushed to usually grows.
        if old_end == self.next.get() {
            let new_end = ptr as usize + new_size;
            if new_end <= self.end.get() {
                self.next.set(new_end);
                return ptr;
            }
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller's layout is valid; the new block does not overlap the old one.
        unsafe {
            let new_ptr = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new_ptr.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size());
            }
            new_ptr
        }
    }
}
