//! `assets!`: reads every file under a directory and expands to an `EmbeddedAssets` constant
//! with, per file, its content hash, SRI digest, content type, bytes, and gzip and brotli
//! variants (for compressible types, when smaller than the original).
//!
//! What it does not do: minify, bundle or fingerprint references inside files (a CSS `url()`
//! keeps the name it was written with). The content-type table lives here, and only here: the
//! run time reads the type the expansion carries. Tests: the unit tests at the bottom.

use crate::input::{self, MacroInput};
use proc_macro2::{Literal, TokenStream};
use quote::quote;
use sha2::{Digest, Sha256, Sha384};
use std::io::Write;
use std::path::Path;

/// Where assets are served when the macro call names no `prefix`.
const DEFAULT_PREFIX: &str = "/static";
/// How many hex digits of the SHA-256 name a version of an asset (64 bits).
const HASH_HEX_DIGITS: usize = 16;
/// Brotli quality (0..=11) and window (log2 bytes): the densest settings; this runs once.
const BROTLI_QUALITY: u32 = 11;
const BROTLI_WINDOW_LOG2: u32 = 22;

pub fn expand(input: &MacroInput, call_file: Option<&Path>) -> syn::Result<TokenStream> {
    let span = input.path.span();
    let written = input.path.value();
    let dir = input::resolve_dir(&written, call_file, span)?;
    let krate = &input.krate;
    let mut entries = Vec::new();
    for file in input::list_files(&dir, span)? {
        let shown = input::display_path(&written, &file.name);
        if !is_url_safe(&file.name) {
            return Err(syn::Error::new(
                span,
                format!(
                    "asset {shown}: names may only use ASCII letters, digits, `-`, `_`, `.`, `~` \
                     and `/` (assets are served by exact match on the request path)"
                ),
            ));
        }
        let bytes = std::fs::read(&file.absolute)
            .map_err(|error| syn::Error::new(span, format!("cannot read {shown}: {error}")))?;
        let path = input::path_str(&file.absolute, span)?;
        let asset = Asset::new(&file.name, &bytes);
        let (name, hash, integrity, content_type) = (
            &file.name,
            &asset.hash,
            &asset.integrity,
            asset.content_type,
        );
        let gzip = optional_bytes(asset.gzip.as_deref());
        let brotli = optional_bytes(asset.brotli.as_deref());
        entries.push(quote! {
            #krate::assets::EmbeddedAsset {
                name: #name,
                hash: #hash,
                integrity: #integrity,
                content_type: #content_type,
                raw: ::core::include_bytes!(#path),
                gzip: #gzip,
                brotli: #brotli,
            }
        });
    }
    let prefix = match &input.prefix {
        Some(prefix) => {
            let value = prefix.value();
            if !value.is_empty() && (!value.starts_with('/') || !is_url_safe(&value)) {
                return Err(syn::Error::new(
                    prefix.span(),
                    "prefix: a URL path starting with `/` (ASCII letters, digits, `-_.~/`), or \"\"",
                ));
            }
            value
        }
        None => DEFAULT_PREFIX.to_owned(),
    };
    Ok(quote! {{
        const __KILN_EMBEDDED_ASSETS: #krate::assets::EmbeddedAssets =
            #krate::assets::EmbeddedAssets { prefix: #prefix, files: &[ #( #entries, )* ] };
        __KILN_EMBEDDED_ASSETS
    }})
}

fn optional_bytes(bytes: Option<&[u8]>) -> TokenStream {
    match bytes {
        Some(bytes) => {
            let literal = Literal::byte_string(bytes);
            quote!(::core::option::Option::Some(#literal))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// Everything computed for one file.
struct Asset {
    hash: String,
    integrity: String,
    content_type: &'static str,
    gzip: Option<Vec<u8>>,
    brotli: Option<Vec<u8>>,
}

impl Asset {
    fn new(name: &str, bytes: &[u8]) -> Asset {
        let content_type = content_type(name);
        let compressible = is_compressible(content_type);
        let smaller = |packed: Vec<u8>| (packed.len() < bytes.len()).then_some(packed);
        Asset {
            hash: hex(&Sha256::digest(bytes))[..HASH_HEX_DIGITS].to_owned(),
            integrity: format!("sha384-{}", base64(&Sha384::digest(bytes))),
            content_type,
            gzip: compressible.then(|| gzip(bytes)).and_then(smaller),
            brotli: compressible.then(|| brotli(bytes)).and_then(smaller),
        }
    }
}

fn is_url_safe(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~/".contains(&b))
}

/// The content type for a file name, by extension (case-insensitive).
fn content_type(name: &str) -> &'static str {
    let file_name = name.rsplit('/').next().unwrap_or(name);
    let extension = match file_name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => extension.to_ascii_lowercase(),
        _ => return "application/octet-stream",
    };
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

fn is_compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or(content_type);
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/json"
                | "application/manifest+json"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
        )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // The header's mtime stays 0, so the output is deterministic.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut encoder =
        brotli::CompressorWriter::new(Vec::new(), 64 * 1024, BROTLI_QUALITY, BROTLI_WINDOW_LOG2);
    let _ = encoder.write_all(bytes);
    encoder.into_inner()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (RFC 4648 §4), as SRI wants.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
    }

    #[test]
    fn hash_and_integrity_of_known_content() {
        let asset = Asset::new("a.txt", b"abc");
        // SHA-256("abc") from FIPS 180-2; the SRI value as `openssl dgst -sha384 -binary | base64`.
        assert_eq!(asset.hash, "ba7816bf8f01cfea");
        assert_eq!(
            asset.integrity,
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
    }

    #[test]
    fn compressed_variants_round_trip_and_only_when_smaller() {
        let text = "body { color: red; }\n".repeat(200);
        let asset = Asset::new("app.css", text.as_bytes());
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(asset.gzip.as_deref().unwrap())
            .read_to_string(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, text);
        let mut unbrotlied = String::new();
        brotli::Decompressor::new(asset.brotli.as_deref().unwrap(), 4096)
            .read_to_string(&mut unbrotlied)
            .unwrap();
        assert_eq!(unbrotlied, text);

        let tiny = Asset::new("x.js", b"1");
        assert!(tiny.gzip.is_none() && tiny.brotli.is_none());
        let image = Asset::new("logo.png", &[0u8; 4096]);
        assert!(image.gzip.is_none() && image.brotli.is_none());
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("a/b/app.CSS"), "text/css; charset=utf-8");
        assert_eq!(
            content_type("htmx.min.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("logo.svg"), "image/svg+xml");
        assert_eq!(content_type("font.woff2"), "font/woff2");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
        assert_eq!(content_type(".env"), "application/octet-stream");
        assert!(is_compressible("text/plain; charset=utf-8"));
        assert!(is_compressible("application/wasm"));
        assert!(!is_compressible("image/png"));
    }

    #[test]
    fn url_safe_names() {
        assert!(is_url_safe("css/app-1_2.min.css"));
        assert!(!is_url_safe("my file.css"));
        assert!(!is_url_safe("caf\u{e9}.css"));
        assert!(!is_url_safe("a%2e.css"));
    }
}
