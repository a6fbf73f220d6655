//! The generator writes an export of any size in the same memory: it writes each record as it
//! makes it. Measured by the heap's peak (this binary's allocator counts live bytes), which
//! unlike the resident set does not depend on the machine; one test, so that nothing else
//! allocates beside it.

// A counting allocator implements `GlobalAlloc`, an unsafe trait, over the system's.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use usercom_export_gen::{Dialect, Options, generate};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller's contract for `alloc`.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: as the caller's contract for `dealloc`.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The heap's peak while `options`' export is written, above what was live before.
fn peak_while_generating(options: &Options) -> usize {
    let dir = std::env::temp_dir().join(format!(
        "usercom-export-gen-memory-{}-{}-{}",
        std::process::id(),
        options.contacts,
        options.dialect.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let planted = generate(&dir, options).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop(planted);
    std::fs::remove_dir_all(&dir).unwrap();
    peak
}

#[test]
fn writing_ten_times_the_contacts_takes_about_the_same_memory() {
    // Holding the account took about 2 KB a contact: 41 MB of heap for 20,000. Streamed, about
    // 1 MB: what grows with the account is the plan (a few bytes a contact) and the planted values.
    for dialect in [Dialect::Sample, Dialect::PanelPl] {
        let small = peak_while_generating(&Options { contacts: 2_000, dialect, ..Options::default() });
        let large = peak_while_generating(&Options { contacts: 20_000, changes: true, dialect, ..Options::default() });
        assert!(large < 2 << 20, "{}: {large} bytes at 20,000 contacts", dialect.name());
        assert!(large < small + (1 << 20), "{}: {small} bytes at 2,000 contacts, {large} at 20,000", dialect.name());
    }
}
