//! `multipart/form-data` bodies (RFC 7578): the `Multipart` extractor for HTML forms that
//! upload files (`<form enctype="multipart/form-data">`).
//!
//! The server has already read the whole body (bounded by `HttpLimits::body_bytes_max`), so
//! this is a parser over one buffer, not a stream: each part's data is a zero-copy slice of
//! the body. Limits are named constants: at most `MULTIPART_PARTS_MAX` parts, part headers of
//! at most `MULTIPART_PART_HEAD_BYTES_MAX` bytes, a boundary of at most
//! `MULTIPART_BOUNDARY_BYTES_MAX` bytes (RFC 2046). A malformed body is refused with 400 and a
//! reason. Not handled: the obsolete `multipart/mixed` nesting for several files in one field
//! (browsers send one part per file), `filename*` (browsers send UTF-8 in `filename`), and a
//! `Content-Transfer-Encoding` other than binary (RFC 7578 deprecates it).

use super::context::RequestContext;
use super::extract::{FromRequest, OptionalFromRequest};
use super::rejection::Rejection;
use crate::http::Request;
use bytes::Bytes;

/// Most parts (fields and files) one body may have.
pub const MULTIPART_PARTS_MAX: usize = 256;
/// Most bytes of one part's header block.
pub const MULTIPART_PART_HEAD_BYTES_MAX: usize = 8 * 1024;
/// Longest boundary RFC 2046 allows.
pub const MULTIPART_BOUNDARY_BYTES_MAX: usize = 70;

const MEDIA_TYPE: &str = "multipart/form-data";

/// One field or file of a multipart body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

impl Part {
    /// The form field's name (`name` in `Content-Disposition`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The uploaded file's name as the browser sent it (only the final path component is
    /// kept, as RFC 7578 asks). `Some("")` for a file input left empty.
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// The part's `Content-Type`, if it had one.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The part's bytes (a slice of the request body, not a copy).
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The part's bytes as UTF-8 text.
    pub fn text(&self) -> Result<&str, Rejection> {
        std::str::from_utf8(&self.data).map_err(|_| {
            Rejection::InvalidMultipart(format!("field {:?} is not valid UTF-8", self.name))
        })
    }
}

/// A parsed `multipart/form-data` body, its parts in the order they were sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Multipart {
    parts: Vec<Part>,
}

impl Multipart {
    /// Parses `body` given the request's `Content-Type` header value.
    pub fn parse(content_type: &str, body: &Bytes) -> Result<Multipart, Rejection> {
        let mut params = content_type.split(';');
        let media = params.next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(MEDIA_TYPE) {
            return Err(Rejection::UnsupportedMediaType {
                expected: MEDIA_TYPE,
            });
        }
        let boundary = params
            .filter_map(|param| param.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, value)| unquote(value.trim()))
            .ok_or_else(|| invalid("the Content-Type has no boundary"))?;
        if boundary.is_empty() || boundary.len() > MULTIPART_BOUNDARY_BYTES_MAX {
            return Err(invalid(format!(
                "the boundary must be 1 to {MULTIPART_BOUNDARY_BYTES_MAX} bytes"
            )));
        }
        parse_body(boundary.as_bytes(), body)
    }

    /// Every part, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The first part with this field name.
    pub fn get(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|part| part.name == name)
    }

    /// The first part with this field name, as text; `Ok(None)` when there is none.
    pub fn text(&self, name: &str) -> Result<Option<&str>, Rejection> {
        self.get(name).map(Part::text).transpose()
    }

    /// The uploaded file of this field: `None` when the field is absent or the file input was
    /// left empty (browsers then send an empty part with `filename=""`).
    pub fn file(&self, name: &str) -> Option<&Part> {
        self.get(name)
            .filter(|part| !(part.filename.as_deref() == Some("") && part.data.is_empty()))
    }

    /// The text fields (parts without a filename), in order, for `serde_html_form`-like use.
    pub fn text_fields(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.parts
            .iter()
            .filter(|part| part.filename.is_none())
            .map(|part| (part.name.as_str(), &part.data[..]))
    }
}

fn invalid(why: impl Into<String>) -> Rejection {
    Rejection::InvalidMultipart(why.into())
}

/// A parameter value without its quotes. Browsers follow the HTML standard: no backslash
/// escapes (a Windows path keeps its backslashes), `"` sent as `%22`, CR and LF as `%0D` and
/// `%0A`; those three are decoded back.
fn unquote(value: &str) -> String {
    let inner = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(value);
    inner
        .replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
}

fn parse_body(boundary: &[u8], body: &Bytes) -> Result<Multipart, Rejection> {
    // Every delimiter after the first is CRLF "--" boundary; the first may open the body.
    let mut delimiter = Vec::with_capacity(boundary.len() + 4);
    delimiter.extend_from_slice(b"\r\n--");
    delimiter.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&delimiter);
    let mut position = if body.starts_with(&delimiter[2..]) {
        delimiter.len() - 2
    } else {
        finder
            .find(body)
            .map(|at| at + delimiter.len())
            .ok_or_else(|| invalid("the body does not contain its boundary"))?
    };
    let mut parts = Vec::new();
    loop {
        // After a delimiter: "--" closes the body; otherwise optional padding and CRLF.
        let rest = &body[position..];
        if rest.starts_with(b"--") {
            return Ok(Multipart { parts });
        }
        let line_end = memchr::memmem::find(rest, b"\r\n")
            .ok_or_else(|| invalid("a boundary line does not end"))?;
        if rest[..line_end].iter().any(|b| *b != b' ' && *b != b'\t') {
            return Err(invalid("unexpected bytes after a boundary"));
        }
        position += line_end + 2;
        if parts.len() == MULTIPART_PARTS_MAX {
            return Err(invalid(format!(
                "more than {MULTIPART_PARTS_MAX} parts in one body"
            )));
        }
        let rest = &body[position..];
        let (head, data_start) = if rest.starts_with(b"\r\n") {
            (&rest[..0], 2)
        } else {
            let search = &rest[..rest.len().min(MULTIPART_PART_HEAD_BYTES_MAX + 4)];
            match memchr::memmem::find(search, b"\r\n\r\n") {
                Some(end) => (&rest[..end], end + 4),
                None if rest.len() > MULTIPART_PART_HEAD_BYTES_MAX => {
                    return Err(invalid(format!(
                        "a part's headers exceed {MULTIPART_PART_HEAD_BYTES_MAX} bytes"
                    )));
                }
                None => return Err(invalid("a part's headers do not end")),
            }
        };
        let data_from = position + data_start;
        let data_len = finder
            .find(&body[data_from..])
            .ok_or_else(|| invalid("the body ends before its closing boundary"))?;
        let mut part = parse_part_head(head)?;
        part.data = body.slice(data_from..data_from + data_len);
        parts.push(part);
        position = data_from + data_len + delimiter.len();
    }
}

fn parse_part_head(head: &[u8]) -> Result<Part, Rejection> {
    let head = std::str::from_utf8(head).map_err(|_| invalid("a part's headers are not UTF-8"))?;
    let mut disposition = None;
    let mut content_type = None;
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("malformed part header {line:?}")))?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.trim());
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    let disposition =
        disposition.ok_or_else(|| invalid("a part has no Content-Disposition header"))?;
    let (kind, params) = split_params(disposition);
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(invalid(format!(
            "a part's Content-Disposition is {kind:?}, not form-data"
        )));
    }
    let mut name = None;
    let mut filename = None;
    for (key, value) in params {
        if key.eq_ignore_ascii_case("name") {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("filename") {
            // Only the last path component: a browser on Windows may send a full path.
            let base = value.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
            filename = Some(base);
        }
    }
    Ok(Part {
        name: name.ok_or_else(|| invalid("a part has no name"))?,
        filename,
        content_type,
        data: Bytes::new(),
    })
}

/// `form-data; name="a"; filename="b;c.txt"` into the kind and its parameters, honouring
/// quoted strings (which may hold `;`; a quote inside is sent as `%22`).
fn split_params(value: &str) -> (&str, Vec<(String, String)>) {
    let (kind, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let mut params = Vec::new();
    while !rest.trim().is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let after = after.trim_start();
        let (raw, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => {
                    let next = quoted[end + 1..].split_once(';').map_or("", |(_, n)| n);
                    (&after[..end + 2], next)
                }
                None => (after, ""),
            }
        } else {
            after.split_once(';').unwrap_or((after, ""))
        };
        params.push((key.trim().to_owned(), unquote(raw.trim())));
        rest = next;
    }
    (kind.trim(), params)
}

fn is_multipart(request: &Request) -> bool {
    request.header_str("content-type").is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case(MEDIA_TYPE))
    })
}

/// Parses the request's body as `multipart/form-data` (415 for another media type, 400 for a
/// malformed body).
pub(crate) fn from_request(request: &Request) -> Result<Multipart, Rejection> {
    let content_type = request.header_str("content-type").unwrap_or("");
    Multipart::parse(content_type, request.body())
}

/// Whether the request says it carries a multipart form.
pub(crate) fn request_is_multipart(request: &Request) -> bool {
    is_multipart(request)
}

impl<S> FromRequest<S> for Multipart {
    type Rejection = Rejection;
    async fn from_request(cx: &mut RequestContext<S>) -> Result<Self, Rejection> {
        from_request(&cx.request)
    }
}

/// Absent: an empty body.
impl<S> OptionalFromRequest<S> for Multipart {
    type Rejection = Rejection;
    async fn from_request_optional(cx: &mut RequestContext<S>) -> Result<Option<Self>, Rejection> {
        if cx.request.body().is_empty() {
            return Ok(None);
        }
        from_request(&cx.request).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=----kiln7MA4YWxk";

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        for (name, filename, data) in parts {
            out.extend_from_slice(b"------kiln7MA4YWxk\r\n");
            match filename {
                Some(file) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"------kiln7MA4YWxk--\r\n");
        Bytes::from(out)
    }

    #[test]
    fn fields_and_files_in_order_with_zero_copy_data() {
        let body = body(&[
            ("csrf_token", None, b"abc"),
            (
                "journal",
                Some("books.journal"),
                b"2024-01-01 x\r\n  a  1\r\n  b\r\n",
            ),
            ("note", None, "caf\u{e9}".as_bytes()),
        ]);
        let form = Multipart::parse(CT, &body).unwrap();
        assert_eq!(form.parts().len(), 3);
        assert_eq!(form.text("csrf_token").unwrap(), Some("abc"));
        assert_eq!(form.text("note").unwrap(), Some("caf\u{e9}"));
        let file = form.file("journal").unwrap();
        assert_eq!(file.filename(), Some("books.journal"));
        assert_eq!(file.content_type(), Some("text/plain"));
        // Data that holds CRLF and dashes stays intact; it points into the body.
        assert_eq!(&file.data()[..], b"2024-01-01 x\r\n  a  1\r\n  b\r\n");
        let start = body.as_ptr() as usize;
        let at = file.data().as_ptr() as usize;
        assert!(at > start && at < start + body.len());
        assert_eq!(
            form.text_fields().map(|(n, _)| n).collect::<Vec<_>>(),
            ["csrf_token", "note"]
        );
    }

    #[test]
    fn an_empty_file_input_is_no_file_and_a_windows_path_keeps_its_name() {
        let body = body(&[
            ("a", Some(""), b""),
            ("b", Some("C:\\Users\\x\\bank.csv"), b"1"),
        ]);
        let form = Multipart::parse(CT, &body).unwrap();
        assert!(form.file("a").is_none());
        assert_eq!(form.file("b").unwrap().filename(), Some("bank.csv"));
        assert!(form.file("missing").is_none());
    }

    #[test]
    fn quoted_parameters_may_hold_semicolons_and_encoded_quotes() {
        let raw = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a;%22b%22.txt\"\r\n\r\nx\r\n--b--";
        let form = Multipart::parse(
            "multipart/form-data; boundary=\"b\"",
            &Bytes::from(&raw[..]),
        )
        .unwrap();
        assert_eq!(form.get("f").unwrap().filename(), Some("a;\"b\".txt"));
    }

    #[test]
    fn a_preamble_and_padding_after_the_boundary_are_allowed() {
        let raw = b"preamble\r\n--b  \r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\nepilogue";
        let form =
            Multipart::parse("multipart/form-data; boundary=b", &Bytes::from(&raw[..])).unwrap();
        assert_eq!(form.text("x").unwrap(), Some("1"));
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("multipart/form-data", b"", "no boundary"),
            ("multipart/form-data; boundary=", b"", "1 to 70"),
            (
                "multipart/form-data; boundary=b",
                b"nothing here",
                "does not contain",
            ),
            (
                "multipart/form-data; boundary=b",
                b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end",
                "closing boundary",
            ),
            (
                "multipart/form-data; boundary=b",
                b"--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--",
                "no Content-Disposition",
            ),
            (
                "multipart/form-data; boundary=b",
                b"--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--",
                "no name",
            ),
            (
                "multipart/form-data; boundary=b",
                b"--b\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\n1\r\n--b--",
                "not form-data",
            ),
            (
                "multipart/form-data; boundary=b",
                b"--bjunk\r\n",
                "after a boundary",
            ),
            (
                "multipart/form-data; boundary=b",
                b"--b\r\nbroken header\r\n\r\n1\r\n--b--",
                "malformed part header",
            ),
            (
                "multipart/form-data; boundary=b",
                b"--b\r\nContent-Disposition: form-data; name=\"x\"",
                "do not end",
            ),
        ];
        for (content_type, raw, expected) in cases {
            let error = Multipart::parse(content_type, &Bytes::from(raw.to_vec())).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{content_type} {raw:?}: {error}"
            );
            assert_eq!(error.status(), crate::http::StatusCode::BAD_REQUEST);
        }
        let error = Multipart::parse("text/plain", &Bytes::new()).unwrap_err();
        assert_eq!(
            error.status(),
            crate::http::StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let long = format!("multipart/form-data; boundary={}", "x".repeat(71));
        assert!(Multipart::parse(&long, &Bytes::new()).is_err());
        let longest = format!("multipart/form-data; boundary={}", "x".repeat(70));
        let raw = format!("--{}--", "x".repeat(70));
        assert!(Multipart::parse(&longest, &Bytes::from(raw)).is_ok());
    }

    #[test]
    fn the_part_count_limit_is_enforced() {
        let names: Vec<String> = (0..=MULTIPART_PARTS_MAX).map(|i| format!("f{i}")).collect();
        let fields: Vec<(&str, Option<&str>, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), None, &b"1"[..]))
            .collect();
        let error = Multipart::parse(CT, &body(&fields)).unwrap_err();
        assert!(error.to_string().contains("more than 256 parts"), "{error}");
        let form = Multipart::parse(CT, &body(&fields[..MULTIPART_PARTS_MAX])).unwrap();
        assert_eq!(form.parts().len(), MULTIPART_PARTS_MAX);
    }

    #[test]
    fn the_part_head_limit_is_enforced() {
        let long = "x".repeat(MULTIPART_PART_HEAD_BYTES_MAX);
        let raw = format!(
            "--b\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Long: {long}\r\n\r\n1\r\n--b--"
        );
        let error =
            Multipart::parse("multipart/form-data; boundary=b", &Bytes::from(raw)).unwrap_err();
        assert!(error.to_string().contains("exceed"), "{error}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bodies(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = Multipart::parse("multipart/form-data; boundary=b", &Bytes::from(raw));
        }

        #[test]
        fn data_round_trips(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            // Arbitrary bytes (CR, LF, dashes) survive unless they contain the delimiter.
            proptest::prop_assume!(memchr::memmem::find(&data, b"\r\n------kiln7MA4YWxk").is_none());
            let body = body(&[("f", Some("x.bin"), &data)]);
            let form = Multipart::parse(CT, &body).unwrap();
            proptest::prop_assert_eq!(&form.file("f").map(|p| p.data().to_vec()).unwrap_or_default(), &data);
        }
    }
}
