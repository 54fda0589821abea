//! The per-thread render buffer: every render on a worker writes into one `BytesMut` and splits
//! the output off as a `Bytes`, so rendering reuses a few allocations per worker instead of
//! allocating a `String` per render.
//!
//! How the reuse works: `split()` hands the written bytes away and keeps the spare capacity,
//! so consecutive renders are cut from the same allocation. When the spare room runs low,
//! `reserve` reclaims the whole original allocation if every earlier output has been sent and
//! dropped, and allocates a fresh one otherwise (see `BytesMut::reserve`).
//! Nothing here knows about templates. Tests: `template/tests.rs`.

use bytes::{Bytes, BytesMut};
use std::cell::Cell;

/// Capacity the buffer is topped up to when its spare room runs low.
pub const RENDER_BUFFER_BYTES_MIN: usize = 16 * 1024;
/// Spare room below which the buffer is topped up before a render. Above it, consecutive
/// renders are cut from the same allocation (a render that outgrows it makes `BytesMut` grow).
pub const RENDER_BUFFER_SPARE_BYTES_MIN: usize = 2 * 1024;

thread_local! {
    static BUFFER: Cell<BytesMut> = Cell::new(BytesMut::new());
}

/// Runs `render` with this thread's buffer (empty on entry) and returns what it wrote.
///
/// On error the partial output is dropped. A render nested inside another (a template
/// function that renders) finds the buffer taken and works in a fresh one: correct, just not
/// reused.
pub(crate) fn render_with<E>(
    render: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<Bytes, E> {
    let mut buffer = BUFFER.try_with(Cell::take).unwrap_or_default();
    if buffer.capacity() < RENDER_BUFFER_SPARE_BYTES_MIN {
        buffer.reserve(RENDER_BUFFER_BYTES_MIN);
    }
    let result = render(&mut buffer);
    let output = match result {
        Ok(()) => Ok(buffer.split().freeze()),
        Err(error) => {
            buffer.clear();
            Err(error)
        }
    };
    // Fails only while the thread is being torn down; the buffer is then simply dropped.
    let _ = BUFFER.try_with(|slot| slot.set(buffer));
    output
}
