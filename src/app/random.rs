//! Random tokens from the operating system's CSPRNG (getrandom), for CSRF tokens, session ids
//! and request ids. Nothing else.

/// `bytes` random bytes as lower-case hex (2 × `bytes` characters).
pub(crate) fn hex_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    if getrandom::fill(&mut raw).is_err() {
        // The OS CSPRNG failing is not recoverable safely; refuse to hand out weak tokens.
        panic!("getrandom failed: no secure randomness available");
    }
    let mut out = String::with_capacity(bytes * 2);
    for byte in raw {
        out.push(char::from(b"0123456789abcdef"[(byte >> 4) as usize]));
        out.push(char::from(b"0123456789abcdef"[(byte & 0x0f) as usize]));
    }
    out
}

/// Compares two byte strings in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
