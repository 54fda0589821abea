//! A small JSON object writer for htmx header values (`HX-Trigger`, `HX-Location`).
//!
//! Every key, string and payload is serialised by sonic-rs; this module only joins the pieces
//! into an object and makes the result ASCII: browsers read response header bytes as
//! ISO-8859-1, so any character above U+007F is written as a `\uXXXX` escape (which JSON
//! allows inside strings, the only place such characters can appear). JSON escapes control
//! characters, so the result never holds CR or LF. It does not parse JSON.

use serde::Serialize;
use std::fmt::Write;

/// A JSON object built field by field, in insertion order.
#[derive(Clone, Debug)]
pub(crate) struct JsonObject {
    buf: String,
}

impl JsonObject {
    pub(crate) fn new() -> JsonObject {
        JsonObject {
            buf: String::from("{"),
        }
    }

    /// Appends `"key":<raw>` where `raw` is JSON already serialised by sonic-rs.
    pub(crate) fn raw_field(&mut self, key: &str, raw: &str) -> Result<(), sonic_rs::Error> {
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        self.buf.push_str(&sonic_rs::to_string(key)?);
        self.buf.push(':');
        self.buf.push_str(raw);
        Ok(())
    }

    /// Appends `"key":<value serialised by sonic-rs>`.
    pub(crate) fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), sonic_rs::Error> {
        let raw = sonic_rs::to_string(value)?;
        self.raw_field(key, &raw)
    }

    /// The finished object, ASCII only.
    pub(crate) fn finish(mut self) -> String {
        self.buf.push('}');
        ascii_only(self.buf)
    }
}

/// Replaces every non-ASCII character of serialised JSON with `\uXXXX` escapes (UTF-16 code
/// units, so characters beyond the BMP become surrogate pairs).
pub(crate) fn ascii_only(json: String) -> String {
    if json.is_ascii() {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    let mut units = [0u16; 2];
    for ch in json.chars() {
        if ch.is_ascii() {
            out.push(ch);
            continue;
        }
        for unit in ch.encode_utf16(&mut units) {
            // Writing into a String cannot fail.
            let _ = write!(out, "\\u{unit:04x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_insertion_order_and_escape_keys() {
        let mut object = JsonObject::new();
        object.raw_field("b", "null").unwrap();
        object.field("a\"\n", &1).unwrap();
        assert_eq!(object.finish(), r#"{"b":null,"a\"\n":1}"#);
    }

    #[test]
    fn non_ascii_becomes_utf16_escapes() {
        let mut object = JsonObject::new();
        object.field("msg", "café 🎉").unwrap();
        let json = object.finish();
        assert!(json.is_ascii());
        assert_eq!(json, r#"{"msg":"caf\u00e9 \ud83c\udf89"}"#);
        let back: std::collections::BTreeMap<String, String> = sonic_rs::from_str(&json).unwrap();
        assert_eq!(back["msg"], "café 🎉");
    }
}
