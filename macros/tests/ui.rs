//! trybuild cases for `kiln::templates!` and `kiln::assets!`: one crate that embeds templates
//! and assets and renders them (compile-pass, then run), and two that must fail to compile
//! with the template's file, line and column: a syntax error, and an `{% extends %}` of a
//! template that does not exist. Fixtures are in `tests/ui/templates/` and `tests/ui/assets/`.
//!
//! Each case is a build against the real `kiln` crate, so the list stays short.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass.rs");
    cases.compile_fail("tests/ui/syntax_error.rs");
    cases.compile_fail("tests/ui/missing_template.rs");
}
