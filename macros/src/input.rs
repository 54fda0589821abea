//! The macros' shared input handling: parsing `("dir")` (plus a hidden `crate = path` for use
//! inside kiln itself), resolving the directory, and listing its files deterministically.
//!
//! It reads the file system (directory listing only; the callers read file contents) and
//! nothing else. Tests: the unit tests at the bottom.

use proc_macro2::Span;
use std::path::{Path, PathBuf};
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

/// How deep a directory tree may nest (guards against symlink loops).
const DIRECTORY_DEPTH_MAX: usize = 32;
/// How many files one macro call may embed.
const FILE_COUNT_MAX: usize = 10_000;

/// `"path"`, then optionally `prefix = "/static"` (assets only) and a hidden
/// `crate = some::path`, comma-separated.
pub struct MacroInput {
    pub path: LitStr,
    /// `prefix = "..."`: the URL prefix the assets are served under.
    pub prefix: Option<LitStr>,
    /// The path of the kiln crate in the expansion: `::kiln`, or `crate` inside kiln itself.
    pub krate: syn::Path,
}

impl Parse for MacroInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut krate: syn::Path = syn::parse_quote!(::kiln);
        let mut prefix = None;
        while input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            if input.peek(Token![crate]) {
                input.parse::<Token![crate]>()?;
                input.parse::<Token![=]>()?;
                krate = syn::Path::parse_mod_style(input)?;
            } else {
                let key: syn::Ident = input.parse()?;
                if key != "prefix" {
                    return Err(syn::Error::new(key.span(), "expected `prefix = \"/...\"`"));
                }
                input.parse::<Token![=]>()?;
                prefix = Some(input.parse::<LitStr>()?);
            }
        }
        if !input.is_empty() {
            return Err(input.error(
                "expected a string literal (the directory to embed), then optionally `prefix = \"/static\"`",
            ));
        }
        Ok(MacroInput {
            path,
            prefix,
            krate,
        })
    }
}

/// The source file that invoked the macro, as an absolute path, when the compiler knows it.
pub fn call_site_file() -> Option<PathBuf> {
    let file = proc_macro::Span::call_site().local_file()?;
    if file.is_absolute() {
        return Some(file);
    }
    // Cargo passes workspace members' files relative to rustc's working directory.
    std::env::current_dir().ok().map(|cwd| cwd.join(file))
}

/// Finds the directory named by `written` (see the crate docs for the search order).
pub fn resolve_dir(written: &str, call_file: Option<&Path>, span: Span) -> syn::Result<PathBuf> {
    let relative = Path::new(written);
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let call_dir = call_file.and_then(Path::parent).map(Path::to_path_buf);
    let bases = manifest_dir.iter().chain(call_dir.iter());
    for base in bases.flat_map(|base| base.ancestors()) {
        let candidate = base.join(relative);
        if candidate.is_dir() {
            return candidate.canonicalize().map_err(|error| {
                syn::Error::new(span, format!("cannot open `{written}`: {error}"))
            });
        }
    }
    Err(syn::Error::new(
        span,
        format!(
            "directory `{written}` not found relative to CARGO_MANIFEST_DIR ({}), the invoking \
             file's directory, or any of their parents",
            manifest_dir.as_deref().unwrap_or(Path::new("?")).display()
        ),
    ))
}

/// One file found under the embedded directory.
pub struct FoundFile {
    /// Path relative to the directory, `/`-separated (the template or asset name).
    pub name: String,
    pub absolute: PathBuf,
}

/// Every file under `dir` (recursively), sorted by name; names starting with `.` are skipped.
pub fn list_files(dir: &Path, span: Span) -> syn::Result<Vec<FoundFile>> {
    let mut files = Vec::new();
    walk(dir, "", 0, &mut files).map_err(|message| syn::Error::new(span, message))?;
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<FoundFile>) -> Result<(), String> {
    if depth > DIRECTORY_DEPTH_MAX {
        return Err(format!(
            "{} nests deeper than {DIRECTORY_DEPTH_MAX} directories (a symlink loop?)",
            dir.display()
        ));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let Ok(file_name) = entry.file_name().into_string() else {
            return Err(format!("{}: a file name is not UTF-8", dir.display()));
        };
        if file_name.starts_with('.') {
            continue;
        }
        let name = format!("{prefix}{file_name}");
        let path = entry.path();
        // `metadata` follows symlinks, so a linked file or folder is embedded like a real one.
        let metadata = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if metadata.is_dir() {
            walk(&path, &format!("{name}/"), depth + 1, out)?;
        } else if metadata.is_file() {
            if out.len() == FILE_COUNT_MAX {
                return Err(format!(
                    "more than {FILE_COUNT_MAX} files under {}",
                    dir.display()
                ));
            }
            out.push(FoundFile {
                name,
                absolute: path,
            });
        }
    }
    Ok(())
}

/// The path to show in messages: the directory as written, then the file's name.
pub fn display_path(written: &str, name: &str) -> String {
    format!("{}/{name}", written.trim_end_matches('/'))
}

/// A path as a string for `include_str!`/`include_bytes!` (which need UTF-8).
pub fn path_str(path: &Path, span: Span) -> syn::Result<String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| syn::Error::new(span, format!("{} is not UTF-8", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-macros-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn list_files_is_sorted_recursive_and_skips_hidden() {
        let dir = scratch_dir("list");
        std::fs::create_dir_all(dir.join("b/c")).unwrap();
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        for name in [
            "z.html",
            "a.html",
            "b/c/d.txt",
            "b/a.html",
            ".hidden",
            ".git/x",
        ] {
            std::fs::write(dir.join(name), "x").unwrap();
        }
        let names: Vec<String> = list_files(&dir, Span::call_site())
            .unwrap()
            .into_iter()
            .map(|file| file.name)
            .collect();
        assert_eq!(names, ["a.html", "b/a.html", "b/c/d.txt", "z.html"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resolve_dir_walks_up_from_the_calling_file() {
        let dir = scratch_dir("resolve");
        std::fs::create_dir_all(dir.join("templates/app")).unwrap();
        std::fs::create_dir_all(dir.join("examples/app/src")).unwrap();
        let call_file = dir.join("examples/app/src/main.rs");
        let found = resolve_dir("templates/app", Some(&call_file), Span::call_site()).unwrap();
        assert_eq!(found, dir.join("templates/app").canonicalize().unwrap());
        assert!(resolve_dir("no/such/dir", Some(&call_file), Span::call_site()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
