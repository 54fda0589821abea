//! Incremental scanners that run before httparse: they find where a field section (a request
//! head or a chunked trailer section) ends, enforce the line-ending policy, and spot an overlong
//! request target early.
//!
//! Each scanner remembers how far it got, so bytes arriving one at a time are each looked at
//! once, not rescanned from the start. They only look; they neither parse fields nor consume
//! bytes. Tests are at the bottom of this file.

use super::RequestError;

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const SP: u8 = b' ';
/// The blank line that ends a field section, with the line end before it.
const SECTION_END: &[u8] = b"\r\n\r\n";
/// Bytes tested at once by `find_byte`.
const WORD_BYTES: usize = 8;
/// 0x0101..01: one in every byte of a word.
const ONES: u64 = u64::MAX / 0xff;
/// 0x8080..80: the high bit of every byte of a word.
const HIGH_BITS: u64 = ONES << 7;
/// A section made of the blank line alone (an empty trailer section).
const EMPTY_SECTION_LEN: usize = 2;

/// Finds the end of a field section: the first CRLF CRLF, or a CRLF at the very start (an empty
/// section). Rejects any LF not preceded by CR as soon as it arrives (RFC 9112 §2.2 allows
/// accepting a bare LF as a line end; we do not, since other parsers may not agree).
///
/// A bare CR (not followed by LF) is left to httparse, which refuses one anywhere in a head or a
/// field section; `decode/tests.rs` checks that for every position.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SectionScan {
    /// Bytes already checked, from the start of the section.
    scanned_bytes: usize,
}

/// Why a section was refused while scanning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScanError {
    BareLf,
    /// No end within the allowed number of bytes.
    TooLong,
}

impl SectionScan {
    /// Whether any byte of the section has been checked yet.
    pub(super) fn started(&self) -> bool {
        self.scanned_bytes > 0
    }

    /// Scans the new bytes of `section` (which starts at the section's first byte). Returns the
    /// section's length, blank line included, once it is complete; `Ok(None)` if more is needed.
    /// A section may be at most `section_bytes_max` long.
    pub(super) fn scan(
        &mut self,
        section: &[u8],
        section_bytes_max: usize,
    ) -> Result<Option<usize>, ScanError> {
        let scan_end = section.len().min(section_bytes_max);
        let mut index = self.scanned_bytes;
        while let Some(lf) = section
            .get(index..scan_end)
            .and_then(|unscanned| find_byte(unscanned, LF))
            .map(|offset| index + offset)
        {
            if let Some(len) = check_line_end(section, lf)? {
                return Ok(Some(len));
            }
            index = lf + 1;
        }
        self.scanned_bytes = scan_end.max(self.scanned_bytes);
        if scan_end >= section_bytes_max {
            return Err(ScanError::TooLong);
        }
        Ok(None)
    }
}

/// Checks the LF at `lf`; returns the section length if it ends the section.
fn check_line_end(section: &[u8], lf: usize) -> Result<Option<usize>, ScanError> {
    let previous = lf.checked_sub(1).and_then(|i| section.get(i));
    if previous != Some(&CR) {
        return Err(ScanError::BareLf);
    }
    let len = lf + 1;
    let tail = len
        .checked_sub(SECTION_END.len())
        .and_then(|start| section.get(start..len));
    let ends_section = len == EMPTY_SECTION_LEN || tail == Some(SECTION_END);
    Ok(ends_section.then_some(len))
}

/// The offset of the first `needle` in `bytes`.
///
/// Speed hack, measured: a byte-by-byte scan of the head cost more than httparse itself on a
/// typical 400-byte head; testing a machine word at a time for the needle makes the scan a
/// small part of decoding.
pub(super) fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    const BITS_PER_BYTE: u32 = 8;
    let pattern = ONES * u64::from(needle);
    let mut offset = 0;
    for block in bytes.chunks_exact(WORD_BYTES) {
        let Ok(block) = <[u8; WORD_BYTES]>::try_from(block) else {
            break;
        };
        let zeros = zero_byte_mask(u64::from_le_bytes(block) ^ pattern);
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / BITS_PER_BYTE) as usize);
        }
        offset += WORD_BYTES;
    }
    let position = bytes.get(offset..)?.iter().position(|&byte| byte == needle);
    position.map(|position| offset + position)
}

/// The high bit of each zero byte of `word` is set, and no bit below the first zero byte: the
/// classic "haszero" bit trick. Bytes above the first zero byte may be flagged wrongly (a borrow
/// carries into them), so only the lowest flag is meaningful, which is all `find_byte` needs.
fn zero_byte_mask(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH_BITS
}

/// Watches the request line while it arrives and reports a target longer than
/// `uri_bytes_max` as soon as one more byte of it is seen, instead of waiting for the head limit.
/// It trusts httparse for everything else: it only counts bytes between the first and second SP.
#[derive(Clone, Debug, Default)]
pub(super) struct TargetScan {
    scanned_bytes: usize,
    /// Offset of the first target byte, once the SP after the method has arrived.
    target_start: Option<usize>,
    /// The request line (or the target in it) has ended; nothing left to watch.
    finished: bool,
}

impl TargetScan {
    /// Scans the new bytes of `head` (which starts at the request line).
    pub(super) fn scan(&mut self, head: &[u8], uri_bytes_max: usize) -> Result<(), RequestError> {
        if self.finished {
            return Ok(());
        }
        let unscanned = head.get(self.scanned_bytes..).unwrap_or_default();
        for (offset, &byte) in unscanned.iter().enumerate() {
            let index = self.scanned_bytes + offset;
            match (byte, self.target_start) {
                (SP, None) => self.target_start = Some(index + 1),
                (SP | CR | LF, Some(_)) | (CR | LF, None) => {
                    self.finished = true;
                    return Ok(());
                }
                (_, Some(start)) if index + 1 - start > uri_bytes_max => {
                    return Err(RequestError::URI_TOO_LONG);
                }
                _ => {}
            }
        }
        self.scanned_bytes = head.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64;

    fn scan_all(section: &[u8]) -> Result<Option<usize>, ScanError> {
        SectionScan::default().scan(section, MAX)
    }

    fn scan_byte_at_a_time(section: &[u8]) -> Result<Option<usize>, ScanError> {
        let mut scan = SectionScan::default();
        for end in 1..=section.len() {
            if let Some(len) = scan.scan(&section[..end], MAX)? {
                return Ok(Some(len));
            }
        }
        Ok(None)
    }

    #[test]
    fn section_scan_table() {
        type Scanned = Result<Option<usize>, ScanError>;
        let cases: &[(&[u8], Scanned)] = &[
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Ok(Some(27))),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", Ok(Some(27))),
            (b"\r\n", Ok(Some(2))),
            (b"\r\nrest", Ok(Some(2))),
            (b"X: y\r\n\r\n", Ok(Some(8))),
            (b"GET / HTTP/1.1\r\nHost: a\r\n", Ok(None)),
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r", Ok(None)),
            (b"GET / HTTP/1.1\nHost: a\r\n\r\n", Err(ScanError::BareLf)),
            (b"GET / HTTP/1.1\r\nHost: a\n\n", Err(ScanError::BareLf)),
            (b"\n", Err(ScanError::BareLf)),
            // Bare CRs are httparse's to refuse.
            (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", Ok(Some(29))),
            (b"GET / HTTP/1.1\r\r\n", Ok(None)),
            (&[b'a'; MAX], Err(ScanError::TooLong)),
            (&[b'a'; MAX + 10], Err(ScanError::TooLong)),
        ];
        for (input, expected) in cases {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(&scan_all(input), expected, "all at once: {shown:?}");
            assert_eq!(
                &scan_byte_at_a_time(input),
                expected,
                "byte at a time: {shown:?}"
            );
        }
    }

    #[test]
    fn find_byte_finds_the_first_occurrence_anywhere() {
        for len in 0..(3 * WORD_BYTES) {
            for position in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[position] = LF;
                if position + 1 < len {
                    bytes[len - 1] = LF;
                }
                assert_eq!(find_byte(&bytes, LF), Some(position), "{len} {position}");
            }
            assert_eq!(find_byte(&vec![b'a'; len], LF), None);
        }
        let high = [0xff, 0x80, 0x8a, 0x0b, 0x09, 0x7f, 0xfe, 0x0d, 0x0a];
        assert_eq!(find_byte(&high, LF), Some(8));
        assert_eq!(find_byte(&high, 0x80), Some(1));
    }

    #[test]
    fn bare_lf_anywhere_is_found() {
        for position in 0..(3 * WORD_BYTES) {
            let mut section = vec![b'a'; 4 * WORD_BYTES];
            section.extend_from_slice(SECTION_END);
            section[position] = LF;
            assert_eq!(
                scan_all(&section),
                Err(ScanError::BareLf),
                "LF at {position}"
            );
            assert_eq!(scan_byte_at_a_time(&section), Err(ScanError::BareLf));
        }
    }

    #[test]
    fn section_of_exactly_the_maximum_is_accepted() {
        let mut section = vec![b'a'; MAX - 4];
        section.extend_from_slice(SECTION_END);
        assert_eq!(scan_all(&section), Ok(Some(MAX)));
        section.insert(0, b'a');
        assert_eq!(scan_all(&section), Err(ScanError::TooLong));
    }

    #[test]
    fn target_scan_reports_overlong_target_before_the_line_ends() {
        let uri_max = 8;
        let cases: &[(&[u8], bool)] = &[
            (b"GET /2345678", false),
            (b"GET /23456789", true),
            (b"GET /2345678 HTTP/1.1\r\n", false),
            (b"GET /23456789 HTTP/1.1\r\n", true),
            (b"LONGMETHODNAMEWITHOUTSPACE", false),
            (b"GET\r\n/23456789012345", false),
        ];
        for &(input, too_long) in cases {
            let mut all = TargetScan::default();
            let mut bytewise = TargetScan::default();
            let all_result = all.scan(input, uri_max);
            let bytewise_result =
                (1..=input.len()).try_for_each(|end| bytewise.scan(&input[..end], uri_max));
            let expected = if too_long {
                Err(RequestError::URI_TOO_LONG)
            } else {
                Ok(())
            };
            let shown = String::from_utf8_lossy(input);
            assert_eq!(all_result, expected, "{shown:?}");
            assert_eq!(bytewise_result, expected, "{shown:?}");
        }
    }
}
