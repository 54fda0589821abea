//! The per-worker provided-buffer ring (IORING_REGISTER_PBUF_RING) that multishot receives
//! draw from.
//!
//! The kernel picks a free buffer when data arrives, so an idle connection holds no receive
//! buffer at all. The driver copies a completed buffer's bytes out at once and hands the buffer
//! back with `recycle`, so the ring stays full. This module only manages memory; it submits
//! nothing.

use io_uring::types::BufRingEntry;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::sync::atomic::{AtomicU16, Ordering};

const RING_ALIGN_BYTES: usize = 4096;

pub(crate) struct BufRing {
    /// Page-aligned array of `count` entries shared with the kernel.
    entries: *mut BufRingEntry,
    entries_layout: Layout,
    /// `count * size` bytes of buffer memory; never moves while registered.
    memory: Box<[u8]>,
    count: u16,
    size: u32,
    tail: u16,
    pub(crate) group: u16,
}

impl BufRing {
    /// Allocates the ring and fills it with every buffer. `count` must be a power of two.
    pub(crate) fn new(count: u16, size: u32, group: u16) -> BufRing {
        assert!(
            count.is_power_of_two(),
            "recv_buffer_count must be a power of two"
        );
        let entries_layout = Layout::from_size_align(
            count as usize * std::mem::size_of::<BufRingEntry>(),
            RING_ALIGN_BYTES,
        )
        .expect("buffer ring layout");
        // SAFETY: the layout has a non-zero size (count >= 1) and a valid power-of-two alignment.
        let entries = unsafe { alloc_zeroed(entries_layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            std::alloc::handle_alloc_error(entries_layout);
        }
        let memory = vec![0u8; count as usize * size as usize].into_boxed_slice();
        let mut ring = BufRing {
            entries,
            entries_layout,
            memory,
            count,
            size,
            tail: 0,
            group,
        };
        for bid in 0..count {
            ring.push(bid);
        }
        ring.publish();
        ring
    }

    pub(crate) fn ring_addr(&self) -> u64 {
        self.entries as u64
    }

    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    /// The first `len` bytes of buffer `bid`, as filled by the kernel.
    pub(crate) fn filled(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * self.size as usize;
        let len = len.min(self.size as usize);
        &self.memory[start..start + len]
    }

    /// Gives buffer `bid` back to the kernel.
    pub(crate) fn recycle(&mut self, bid: u16) {
        if bid < self.count {
            self.push(bid);
            self.publish();
        }
    }

    fn push(&mut self, bid: u16) {
        let index = (self.tail & (self.count - 1)) as usize;
        let addr = self.memory.as_ptr() as u64 + bid as u64 * self.size as u64;
        // SAFETY: `index < count`, so the pointer stays inside the `count`-entry allocation;
        // the kernel only reads entries between its head and our published tail, and this
        // entry is past the published tail until `publish` runs.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(addr);
        entry.set_len(self.size);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: `entries` is the first entry of the ring, so `tail` returns the address of
        // the shared tail field, which is a naturally aligned u16 that the kernel reads
        // atomically; a Release store orders the entry writes above before it.
        unsafe {
            let tail = BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: `entries` came from `alloc_zeroed` with exactly this layout. The kernel no
        // longer uses it: the driver drops a `BufRing` only after it has seen the final
        // completion of every receive that selects from it (closing the ring is not enough,
        // the kernel cancels asynchronously), and otherwise keeps it for good.
        unsafe { dealloc(self.entries.cast(), self.entries_layout) };
    }
}
