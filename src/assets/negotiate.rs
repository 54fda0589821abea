//! Header parsing for static assets: `Accept-Encoding` negotiation (RFC 9110 §12.5.3) and
//! `If-None-Match` matching (RFC 9110 §13.1.2).
//!
//! Pure functions over header bytes; malformed input never panics, it just does not match.
//! Tests: at the bottom of this file.

/// A representation of an asset. The discriminant indexes per-encoding tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity = 0,
    Gzip = 1,
    Brotli = 2,
}

impl Encoding {
    pub(crate) const ALL: [Encoding; 3] = [Encoding::Identity, Encoding::Gzip, Encoding::Brotli];

    /// The `Content-Encoding` token, `None` for identity.
    pub(crate) fn content_coding(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// A quality value in thousandths (`q=0.5` → 500).
type Quality = u16;
const QUALITY_MAX: Quality = 1000;
/// The rank of identity when the header does not name it: acceptable, but last.
const QUALITY_IMPLICIT_IDENTITY: Quality = 1;

/// Picks the representation to send: the acceptable one with the highest `q`, preferring
/// brotli, then gzip, then identity on ties. Identity not named in the header is acceptable
/// (RFC 9110 §12.5.3) but ranks below any coding the client listed. Without the header (or
/// when the client refuses everything, identity included) the answer is identity, as
/// RFC 9110 §12.5.3 allows.
pub(crate) fn choose_encoding<'a>(
    headers: impl Iterator<Item = &'a [u8]>,
    has_gzip: bool,
    has_brotli: bool,
) -> Encoding {
    let mut brotli = None;
    let mut gzip = None;
    let mut identity = None;
    let mut any = None;
    for header in headers {
        let Ok(header) = std::str::from_utf8(header) else {
            continue;
        };
        for element in header.split(',') {
            let Some((coding, quality)) = parse_element(element) else {
                continue;
            };
            let slot = match coding {
                c if c.eq_ignore_ascii_case("br") => &mut brotli,
                c if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") => {
                    &mut gzip
                }
                c if c.eq_ignore_ascii_case("identity") => &mut identity,
                "*" => &mut any,
                _ => continue,
            };
            *slot = Some(quality.max(slot.unwrap_or(0)));
        }
    }
    let mut best = (Encoding::Identity, 0);
    let candidates = [
        (Encoding::Brotli, has_brotli, brotli.or(any).unwrap_or(0)),
        (Encoding::Gzip, has_gzip, gzip.or(any).unwrap_or(0)),
        (
            Encoding::Identity,
            true,
            identity.or(any).unwrap_or(QUALITY_IMPLICIT_IDENTITY),
        ),
    ];
    for (encoding, available, quality) in candidates {
        if available && quality > best.1 {
            best = (encoding, quality);
        }
    }
    best.0
}

/// `coding[;q=value][;other=params]` → the coding and its quality; `None` when malformed.
fn parse_element(element: &str) -> Option<(&str, Quality)> {
    let mut parts = element.split(';');
    let coding = parts.next()?.trim();
    if coding.is_empty() {
        return None;
    }
    let mut quality = QUALITY_MAX;
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            quality = parse_quality(value.trim())?;
        }
    }
    Some((coding, quality))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2).
fn parse_quality(text: &str) -> Option<Quality> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n, b| n * 10 + Quality::from(b - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(QUALITY_MAX),
        _ => None,
    }
}

/// Whether any `If-None-Match` list matches `etag` (a quoted tag, `"..."`) by the weak
/// comparison RFC 9110 §13.1.2 requires (a `W/` prefix on either side is ignored), or is `*`.
pub(crate) fn none_match<'a>(headers: impl Iterator<Item = &'a [u8]>, etag: &[u8]) -> bool {
    let etag = etag.strip_prefix(b"W/").unwrap_or(etag);
    headers.into_iter().any(|header| list_matches(header, etag))
}

fn list_matches(mut list: &[u8], etag: &[u8]) -> bool {
    loop {
        while let [b' ' | b'\t' | b',', rest @ ..] = list {
            list = rest;
        }
        if list.is_empty() {
            return false;
        }
        if list[0] == b'*' {
            return true;
        }
        let tag_start = list.strip_prefix(b"W/").unwrap_or(list);
        let [b'"', after_quote @ ..] = tag_start else {
            return false;
        };
        let Some(close) = after_quote.iter().position(|&b| b == b'"') else {
            return false;
        };
        if tag_start[..close + 2] == *etag {
            return true;
        }
        list = &after_quote[close + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(header: Option<&str>) -> Encoding {
        choose_encoding(header.map(str::as_bytes).into_iter(), true, true)
    }

    #[test]
    fn brotli_is_preferred_then_gzip() {
        assert_eq!(choose(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(choose(Some("gzip, deflate")), Encoding::Gzip);
        assert_eq!(choose(Some("x-gzip")), Encoding::Gzip);
        assert_eq!(choose(Some("BR;Q=1.0")), Encoding::Brotli);
        assert_eq!(choose(Some("*")), Encoding::Brotli);
        let no_brotli = choose_encoding([&b"br, gzip"[..]].into_iter(), true, false);
        assert_eq!(no_brotli, Encoding::Gzip);
    }

    #[test]
    fn no_header_or_unknown_codings_mean_identity() {
        assert_eq!(choose(None), Encoding::Identity);
        assert_eq!(choose(Some("")), Encoding::Identity);
        assert_eq!(choose(Some("deflate, zstd")), Encoding::Identity);
    }

    #[test]
    fn q_zero_refuses_a_coding() {
        assert_eq!(choose(Some("br;q=0, gzip")), Encoding::Gzip);
        assert_eq!(choose(Some("br;q=0.000, gzip;q=0")), Encoding::Identity);
        assert_eq!(choose(Some("*;q=0, gzip;q=0.1")), Encoding::Gzip);
        // Refusing everything still gets identity (RFC 9110 §12.5.3 allows it).
        assert_eq!(choose(Some("*;q=0")), Encoding::Identity);
    }

    #[test]
    fn higher_q_wins_over_preference() {
        assert_eq!(choose(Some("br;q=0.5, gzip;q=0.8")), Encoding::Gzip);
        assert_eq!(choose(Some("gzip;q=0.5, identity")), Encoding::Identity);
        assert_eq!(choose(Some("br;q=0.9, gzip;q=0.9")), Encoding::Brotli);
    }

    #[test]
    fn malformed_quality_drops_the_element() {
        assert_eq!(choose(Some("br;q=2, gzip")), Encoding::Gzip);
        assert_eq!(choose(Some("br;q=0.5555, gzip;q=0.1")), Encoding::Gzip);
        assert_eq!(choose(Some("br;q, gzip;q=abc")), Encoding::Identity);
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("1.001"), None);
        assert_eq!(parse_quality("0."), Some(0));
    }

    #[test]
    fn several_headers_are_one_list() {
        let headers = [&b"br;q=0"[..], &b"gzip"[..]];
        assert_eq!(
            choose_encoding(headers.into_iter(), true, true),
            Encoding::Gzip
        );
        let not_utf8 = [&b"\xff\xfe"[..]];
        assert_eq!(
            choose_encoding(not_utf8.into_iter(), true, true),
            Encoding::Identity
        );
    }

    fn matches(header: &str, etag: &str) -> bool {
        none_match([header.as_bytes()].into_iter(), etag.as_bytes())
    }

    #[test]
    fn if_none_match_lists_and_weak_comparison() {
        assert!(matches("\"abc\"", "\"abc\""));
        assert!(matches("W/\"abc\"", "\"abc\""));
        assert!(matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(matches("\"x\",\"abc\"", "\"abc\""));
        assert!(matches("*", "\"abc\""));
        assert!(matches("\"a,b\", \"abc\"", "\"abc\""));
        assert!(!matches("\"abcd\"", "\"abc\""));
        assert!(!matches("abc", "\"abc\""));
        assert!(!matches("\"abc", "\"abc\""));
        assert!(!matches("", "\"abc\""));
    }
}
