//! Per-worker buffers and caches of the connection loop: a bounded pool of output buffers
//! (reclaimed once the heads sent from them are dropped) and the `Date` value, formatted once
//! per second.
//!
//! What it does not do: send anything (`conn.rs` does).

use crate::http::HttpDate;
use crate::runtime;
use bytes::BytesMut;
use std::cell::{Cell, RefCell};

/// Output buffers kept per worker for reuse by connections that have something to write.
const OUTPUT_POOL_MAX: usize = 256;
/// Capacity of a fresh output buffer.
const OUTPUT_BUFFER_BYTES: usize = 8192;

thread_local! {
    static OUTPUT_POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static DATE: Cell<(u64, Option<HttpDate>)> = const { Cell::new((0, None)) };
}

pub(super) fn take_output_buffer() -> BytesMut {
    OUTPUT_POOL
        .with(|pool| pool.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(OUTPUT_BUFFER_BYTES))
}

pub(super) fn return_output_buffer(mut buffer: BytesMut) {
    buffer.clear();
    // The sent heads were split off this buffer; once they are all dropped its whole
    // allocation is free again (no copy, no allocation). Otherwise it is not pooled.
    if !buffer.try_reclaim(OUTPUT_BUFFER_BYTES) {
        return;
    }
    OUTPUT_POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < OUTPUT_POOL_MAX {
            pool.push(buffer);
        }
    });
}

/// The `Date` value for this second, formatted once per second per worker.
pub(super) fn current_date() -> HttpDate {
    let secs = runtime::unix_secs();
    DATE.with(|cache| match cache.get() {
        (cached, Some(date)) if cached == secs => date,
        _ => {
            let date = HttpDate::from_unix_secs(secs);
            cache.set((secs, Some(date)));
            date
        }
    })
}
