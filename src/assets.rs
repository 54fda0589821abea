//! Static assets embedded at compile time (`kiln::assets!`) and served from memory.
//!
//! [`StaticAssets`] answers a request for an embedded file under a URL prefix, by exact match
//! on the raw request path, with a content-hashed URL (`/static/app.3f9a0c1d2e4b5a69.css`,
//! cached for a year as `immutable`) and the plain name (`/static/app.css`, `no-cache`: always
//! revalidated). Both carry a strong `ETag`, answer `If-None-Match` with 304, and pick a
//! brotli or gzip variant (computed at compile time) by `Accept-Encoding`.
//!
//! What this module does not do: touch the file system (a path is looked up in the embedded
//! table and nothing else, so `..` and percent-encoded paths simply miss), route (it is a plain
//! function from a request to an optional response; the router decides where to mount it and
//! answers 404 on `None`), serve HEAD bodies (the server strips them), or byte ranges.
//!
//! The htmx scripts that kiln ships live in `assets/htmx/` and are served by [`htmx()`].
//! Tests: `assets/tests.rs` (serving) and `assets/negotiate.rs` (header parsing).

mod htmx;
mod negotiate;
#[cfg(test)]
mod tests;

pub(crate) use htmx::htmx_assets;
pub use htmx::{
    HTMX_EXT_SSE_VERSION, HTMX_PREFIX, HTMX2_VERSION, HTMX4_VERSION, htmx, htmx_errors_script_tag,
    htmx_script_tag, htmx_sse_script_tag,
};

use crate::http::{HeaderValue, Method, Request, Response, StatusCode};
use negotiate::Encoding;
use std::collections::HashMap;

/// One embedded file, as `kiln::assets!` expands it. The fields are public so the expansion can
/// be a constant; build them by hand only in tests.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedAsset {
    /// Path relative to the embedded directory, `/`-separated; URL-safe characters only.
    pub name: &'static str,
    /// The first 16 hex digits of the SHA-256 of `raw`.
    pub hash: &'static str,
    /// Subresource-integrity digest of `raw` (`sha384-<base64>`).
    pub integrity: &'static str,
    /// The `Content-Type` to send (with `charset=utf-8` for text).
    pub content_type: &'static str,
    /// The file's bytes.
    pub raw: &'static [u8],
    /// `raw` gzip-compressed, when that is smaller.
    pub gzip: Option<&'static [u8]>,
    /// `raw` brotli-compressed, when that is smaller.
    pub brotli: Option<&'static [u8]>,
}

/// Every file of one embedded directory, sorted by name (what `kiln::assets!` expands to).
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedAssets {
    /// The URL prefix written in the macro call (`prefix = "/static"`, the default), where
    /// `App::assets` serves the files and `asset()` in templates points.
    pub prefix: &'static str,
    pub files: &'static [EmbeddedAsset],
}

impl EmbeddedAssets {
    /// The asset with this exact name.
    pub fn get(&self, name: &str) -> Option<&'static EmbeddedAsset> {
        let files: &'static [EmbeddedAsset] = self.files;
        files.iter().find(|asset| asset.name == name)
    }
}

/// `Cache-Control` for a content-hashed URL: its content can never change.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for a plain name: cacheable, but revalidated (ETag) on every use.
const CACHE_REVALIDATE: &str = "no-cache";

/// Serves a set of embedded assets under a URL prefix.
///
/// Lookup tables are built once in [`StaticAssets::new`]; answering a request allocates only
/// the response's header list.
#[derive(Debug)]
pub struct StaticAssets {
    assets: &'static EmbeddedAssets,
    /// Starts with `/` or is empty; never ends with `/`.
    prefix: &'static str,
    /// Per file (same index as `assets.files`): its content-hashed URL.
    urls: Vec<String>,
    /// Per file and `Encoding`: the strong ETag of that representation.
    etags: Vec<[Option<HeaderValue>; 3]>,
    /// Path after the prefix (starting with `/`) → file index and whether it is the hashed form.
    by_path: HashMap<Box<str>, Route>,
    by_name: HashMap<&'static str, usize>,
}

#[derive(Clone, Copy, Debug)]
struct Route {
    index: usize,
    hashed: bool,
}

impl StaticAssets {
    /// Serves `assets` under `prefix` (for example `"/static"`; a trailing `/` is ignored, and
    /// `""` serves from the root).
    pub fn new(assets: &'static EmbeddedAssets, prefix: &'static str) -> StaticAssets {
        let prefix = prefix.trim_end_matches('/');
        let mut table = StaticAssets {
            assets,
            prefix,
            urls: Vec::with_capacity(assets.files.len()),
            etags: Vec::with_capacity(assets.files.len()),
            by_path: HashMap::with_capacity(assets.files.len() * 2),
            by_name: HashMap::with_capacity(assets.files.len()),
        };
        for (index, asset) in assets.files.iter().enumerate() {
            let hashed = hashed_name(asset.name, asset.hash);
            table.urls.push(format!("{prefix}/{hashed}"));
            table
                .etags
                .push(Encoding::ALL.map(|encoding| etag(asset.hash, encoding)));
            let plain = Route {
                index,
                hashed: false,
            };
            table
                .by_path
                .insert(format!("/{}", asset.name).into(), plain);
            table.by_path.insert(
                format!("/{hashed}").into(),
                Route {
                    hashed: true,
                    ..plain
                },
            );
            table.by_name.insert(asset.name, index);
        }
        table
    }

    /// The URL prefix, without a trailing `/`.
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// The embedded asset with this name.
    pub fn get(&self, name: &str) -> Option<&'static EmbeddedAsset> {
        let files: &'static [EmbeddedAsset] = self.assets.files;
        self.by_name.get(name).map(|&index| &files[index])
    }

    /// The content-hashed URL of an asset: `{prefix}/{stem}.{hash}.{extension}`
    /// (`/static/css/app.3f9a0c1d2e4b5a69.css`), or `None` for an unknown name.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.by_name
            .get(name)
            .map(|&index| self.urls[index].as_str())
    }

    /// Answers a request for one of the assets, or `None` when the path names none of them.
    ///
    /// GET and HEAD get the asset (or 304); other methods get 405 with `Allow`.
    pub fn respond(&self, request: &Request) -> Option<Response> {
        let rest = request.path().strip_prefix(self.prefix)?;
        let route = *self.by_path.get(rest)?;
        if !matches!(request.method(), Method::Get | Method::Head) {
            let mut response =
                Response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            response = response.with_static_header("allow", "GET, HEAD");
            return Some(response);
        }
        let asset = &self.assets.files[route.index];
        let encoding = negotiate::choose_encoding(
            request.headers_named("accept-encoding"),
            asset.gzip.is_some(),
            asset.brotli.is_some(),
        );
        let etag = self.etags[route.index][encoding as usize].as_ref();
        let not_modified = etag.is_some_and(|etag| {
            negotiate::none_match(request.headers_named("if-none-match"), etag.as_bytes())
        });
        let mut response = if not_modified {
            Response::new(StatusCode::NOT_MODIFIED)
        } else {
            let body = match encoding {
                Encoding::Identity => asset.raw,
                Encoding::Gzip => asset.gzip.unwrap_or(asset.raw),
                Encoding::Brotli => asset.brotli.unwrap_or(asset.raw),
            };
            let response = Response::ok(bytes::Bytes::from_static(body))
                .with_static_header("content-type", asset.content_type);
            match encoding.content_coding() {
                Some(coding) => response.with_static_header("content-encoding", coding),
                None => response,
            }
        };
        if let Some(etag) = etag {
            // The name is a fixed token, so this cannot fail.
            let _ = response.append_header("etag", etag.clone());
        }
        let cache_control = if route.hashed {
            CACHE_IMMUTABLE
        } else {
            CACHE_REVALIDATE
        };
        response = response.with_static_header("cache-control", cache_control);
        if asset.gzip.is_some() || asset.brotli.is_some() {
            response = response.with_static_header("vary", "Accept-Encoding");
        }
        Some(response)
    }
}

/// `css/app.css` → `css/app.<hash>.css`; a name without an extension gets `.<hash>` appended.
fn hashed_name(name: &str, hash: &str) -> String {
    let file_start = name.rfind('/').map_or(0, |i| i + 1);
    match name[file_start..].rfind('.') {
        Some(dot) if dot > 0 => {
            let dot = file_start + dot;
            format!("{}.{hash}{}", &name[..dot], &name[dot..])
        }
        _ => format!("{name}.{hash}"),
    }
}

/// The strong ETag of one representation: the hash, suffixed by its content coding (a strong
/// validator must differ between encodings of the same content, RFC 9110 §8.8.3).
fn etag(hash: &str, encoding: Encoding) -> Option<HeaderValue> {
    let value = match encoding.content_coding() {
        Some(coding) => format!("\"{hash}-{coding}\""),
        None => format!("\"{hash}\""),
    };
    HeaderValue::try_from(value).ok()
}
