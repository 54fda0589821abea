//! The `Host` field's grammar (RFC 9110 §7.2 over RFC 3986 §3.2.2-3): what `head.rs` checks a
//! Host value against before accepting a request (an invalid one is a 400).
//!
//! Pure byte checks: it allocates nothing and knows nothing of the rest of the head. Tests at
//! the bottom; the 400 itself is tested with the other head rules in `head.rs`.

/// RFC 9110 §7.2 `Host = uri-host [ ":" port ]`, the grammar of RFC 3986 §3.2.2 and §3.2.3:
/// the host is an IP-literal in brackets (IPv6 or IPvFuture) or a reg-name (unreserved,
/// pct-encoded and sub-delims bytes, which covers IPv4 addresses), possibly empty; the port is
/// digits, possibly none (`a:`). An empty value is valid (RFC 9110 §7.2, no authority).
pub(super) fn is_host_value(value: &[u8]) -> bool {
    let (host, port) = split_port(value);
    let host_is_valid = match host {
        [b'[', literal @ .., b']'] => is_ip_literal(literal),
        _ => is_reg_name(host),
    };
    host_is_valid && port.is_none_or(|port| port.iter().all(u8::is_ascii_digit))
}

/// Splits `host:port` at the first `:` after the last `]` (a reg-name has no `:`; an IPv6
/// literal's are inside the brackets). The port is `None` without a `:`.
fn split_port(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    let host_min = value
        .iter()
        .rposition(|&b| b == b']')
        .map_or(0, |at| at + 1);
    let colon = value
        .iter()
        .skip(host_min)
        .position(|&b| b == b':')
        .map(|at| host_min + at);
    match colon {
        Some(colon) => {
            let (host, port) = value.split_at(colon);
            (host, port.get(1..))
        }
        None => (value, None),
    }
}

/// RFC 3986 §3.2.2 `IP-literal` without its brackets: `IPv6address` (checked by `core::net`,
/// which, like RFC 3986, takes no zone identifier) or `IPvFuture`.
fn is_ip_literal(literal: &[u8]) -> bool {
    match literal {
        [b'v' | b'V', future @ ..] => is_ip_future(future),
        _ => std::str::from_utf8(literal)
            .is_ok_and(|text| text.parse::<core::net::Ipv6Addr>().is_ok()),
    }
}

/// RFC 3986 §3.2.2 `IPvFuture` after its `v`: `1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
fn is_ip_future(future: &[u8]) -> bool {
    let Some(dot) = future.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (version, address) = future.split_at(dot);
    let address = address.get(1..).unwrap_or_default();
    !version.is_empty()
        && version.iter().all(u8::is_ascii_hexdigit)
        && !address.is_empty()
        && address
            .iter()
            .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':')
}

/// RFC 3986 §3.2.2 `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(mut name: &[u8]) -> bool {
    while let Some((&first, rest)) = name.split_first() {
        name = match (first, rest) {
            (b'%', [high, low, after @ ..])
                if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
            {
                after
            }
            _ if is_unreserved(first) || is_sub_delim(first) => rest,
            _ => return false,
        };
    }
    true
}

/// RFC 3986 §2.3 `unreserved`.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)
}

/// RFC 3986 §2.2 `sub-delims`.
fn is_sub_delim(byte: u8) -> bool {
    b"!$&'()*+,;=".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_value_grammar() {
        let cases: &[(&[u8], bool)] = &[
            (b"", true),
            (b"example.com", true),
            (b"EXAMPLE.com.", true),
            (b"a-b_c~d", true),
            (b"!$&'()*+,;=", true),
            (b"%7E%7e", true),
            (b"999.1.1.1", true),
            (b"a:", true),
            (b":80", true),
            (b"a:0080", true),
            (b"[::]", true),
            (b"[2001:db8::1]:443", true),
            (b"[::ffff:192.0.2.1]", true),
            (b"[v1.fe80::a+en1]", true),
            (b"[V7.a]:1", true),
            (b"a\x01b", false),
            (b"a\x7fb", false),
            (b"\xff", false),
            (b"ex\xc3\xa4mple", false),
            (b"a%", false),
            (b"a%4", false),
            (b"a%4g", false),
            (b"a:b", false),
            (b"a:-1", false),
            (b"[]", false),
            (b"[::1]]", false),
            (b"[[::1]", false),
            (b"[::1]x", false),
            (b"[::1]:8x", false),
            (b"[1::2::3]", false),
            (b"[fe80::1%25en0]", false),
            (b"[127.0.0.1]", false),
            (b"[v.a]", false),
            (b"[v1.]", false),
            (b"[vg.a]", false),
            (b"a]", false),
            (b"a?b", false),
            (b"a#b", false),
            (b"a\\b", false),
        ];
        for (value, expected) in cases {
            let shown = value.escape_ascii();
            assert_eq!(is_host_value(value), *expected, "{shown}");
        }
    }
}
