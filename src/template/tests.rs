//! `Templates` end to end: embedded templates (the fixtures in `src/template/testdata/`,
//! embedded by the real macro), rendering into the reused buffer, blocks, several blocks from
//! one evaluation, escaping, globals, errors, and development-mode reload from a scratch
//! directory.

use super::*;
use crate::http::{Body, StatusCode};
use minijinja::context;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

pub(super) static FIXTURES: EmbeddedTemplates =
    kiln_macros::templates!("src/template/testdata", crate = crate);
static ASSETS: EmbeddedAssets = kiln_macros::assets!("src/assets/testdata", crate = crate);

/// The fixtures' builder: `oob.html` calls `count_evaluation()`, which the build's name check
/// wants registered (`counting_templates` registers a counting one over this stand-in).
pub(super) fn fixtures(dev_mode: bool) -> TemplatesBuilder {
    Templates::builder(FIXTURES)
        .dev_mode(dev_mode)
        .configure(|env| env.add_function("count_evaluation", || 0))
}

fn templates() -> Templates {
    fixtures(false).build().unwrap()
}

fn templates_with_assets() -> Templates {
    fixtures(false).assets(&ASSETS).build().unwrap()
}

fn text(bytes: &Bytes) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn macro_embeds_every_template_sorted() {
    let names: Vec<&str> = FIXTURES.files.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "base.html",
            "helpers.html",
            "oob.html",
            "page.html",
            "partials/item.html",
            "plain.txt",
            "scripts.html"
        ]
    );
    assert_eq!(
        FIXTURES.get("plain.txt"),
        Some(include_str!("testdata/plain.txt"))
    );
    assert!(Path::new(FIXTURES.dir).is_absolute());
    assert!(Path::new(FIXTURES.dir).join("base.html").is_file());
}

#[test]
fn renders_a_page_with_extends_include_and_autoescape() {
    let page = templates()
        .render(
            "page.html",
            context! { title => "A & B", items => ["<x>", "y"] },
        )
        .unwrap();
    let page = text(&page);
    assert!(page.contains("<title>A &amp; B</title>"), "{page}");
    assert!(page.contains("<h1>A &amp; B</h1>"), "{page}");
    assert!(
        page.contains("<ul><li>&lt;x&gt;</li><li>y</li></ul>"),
        "{page}"
    );
    assert!(page.contains("<footer>base footer</footer>"), "{page}");
}

#[derive(serde::Serialize)]
struct Greeting<'a> {
    name: &'a str,
}

#[test]
fn text_templates_are_not_escaped_and_serialize_contexts_work() {
    let rendered = templates()
        .render("plain.txt", Greeting { name: "<Ann>" })
        .unwrap();
    assert_eq!(text(&rendered), "Hello <Ann> <b>not escaped</b>");
}

#[test]
fn renders_reuse_the_thread_buffer() {
    let templates = templates();
    let first = templates
        .render("plain.txt", context! { name => "a" })
        .unwrap();
    let second = templates
        .render("plain.txt", context! { name => "b" })
        .unwrap();
    // Both outputs were split off one allocation, back to back.
    let first_end = first.as_ptr() as usize + first.len();
    assert_eq!(second.as_ptr() as usize, first_end);
    assert_eq!(text(&first), "Hello a <b>not escaped</b>");
    assert_eq!(text(&second), "Hello b <b>not escaped</b>");
}

#[test]
fn a_failed_render_leaves_no_partial_output_behind() {
    let templates = templates();
    let error = templates
        .render(
            "helpers.html",
            context! { when => "not a date", cents => 1 },
        )
        .unwrap_err();
    assert_eq!(error.kind(), TemplateErrorKind::Render);
    let next = templates
        .render("plain.txt", context! { name => "c" })
        .unwrap();
    assert_eq!(text(&next), "Hello c <b>not escaped</b>");
}

#[test]
fn renders_one_block() {
    let block = templates()
        .render_block("page.html", "title", context! { title => "<T>" })
        .unwrap();
    assert_eq!(text(&block), "&lt;T&gt;");
    let footer = templates().render_block("page.html", "footer", ()).unwrap();
    assert_eq!(text(&footer), "<footer>base footer</footer>");
}

fn counting_templates(evaluations: &'static AtomicUsize) -> Templates {
    fixtures(false)
        .configure(move |env| {
            env.add_function("count_evaluation", move || {
                evaluations.fetch_add(1, Ordering::SeqCst) + 1
            });
        })
        .build()
        .unwrap()
}

#[test]
fn renders_several_blocks_from_one_evaluation() {
    static EVALUATIONS: AtomicUsize = AtomicUsize::new(0);
    let templates = counting_templates(&EVALUATIONS);
    let context = context! { total => 3, id => 7, name => "<Bob>" };
    let both = templates
        .render_blocks("oob.html", &["row", "count"], context)
        .unwrap();
    assert_eq!(EVALUATIONS.load(Ordering::SeqCst), 1);
    assert_eq!(
        text(&both),
        "<tr id=\"row-7\"><td>&lt;Bob&gt;</td></tr>\
         <span id=\"count\" hx-swap-oob=\"true\">3 (evaluation 1)</span>"
    );
}

#[test]
fn unknown_template_or_block_is_not_found() {
    let templates = templates();
    for name in [
        "missing.html",
        "../Cargo.toml",
        "/etc/passwd",
        "",
        "page.html\0",
    ] {
        let error = templates.render(name, ()).unwrap_err();
        assert_eq!(error.kind(), TemplateErrorKind::NotFound, "{name:?}");
        assert!(!templates.contains(name));
    }
    let error = templates.render_block("page.html", "nope", ()).unwrap_err();
    assert_eq!(error.kind(), TemplateErrorKind::NotFound);
    assert_eq!(error.template_name(), Some("page.html"));
}

#[test]
fn helper_globals_and_filters() {
    let templates = templates_with_assets();
    let css_url = templates
        .static_assets()
        .unwrap()
        .url("app.css")
        .unwrap()
        .to_owned();
    let context = context! {
        csrf_token => csrf_token_value("tok123"),
        cents => 123456789,
        when => "2024-03-05T10:00:00Z",
    };
    let rendered = templates.render("helpers.html", context).unwrap();
    assert_eq!(
        text(&rendered),
        format!("{css_url}|tok123|tok123|1,234,567.891|3.14|1,234,567.89|05 Mar 2024")
    );
}

#[test]
fn csrf_token_fails_loudly_without_a_token() {
    // Regression: without a token, `{{ csrf_token }}` printed the function's name, and every
    // htmx request from the page then failed with 403.
    let env = templates();
    for source in ["[{{ csrf_token() }}]", "[{{ csrf_token }}]"] {
        let tmpl = env.environment().template_from_str(source).unwrap();
        let error = tmpl.render(()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("csrf_token: only available while a request"),
            "{source}: {error}"
        );
    }
}

#[test]
fn asset_errors_name_the_asset() {
    let without_assets = templates();
    let error = without_assets
        .render("helpers.html", context! { cents => 1, when => 0 })
        .unwrap_err();
    assert!(
        error.to_string().contains("no assets configured"),
        "{error}"
    );

    let with_assets = templates_with_assets();
    let tmpl = with_assets
        .environment()
        .template_from_str("{{ asset('nope.css') }}")
        .unwrap();
    let error = tmpl.render(()).unwrap_err();
    assert!(error.to_string().contains("asset(\"nope.css\")"), "{error}");
}

#[test]
fn htmx_script_globals() {
    let rendered = templates().render("scripts.html", ()).unwrap();
    let lines: Vec<&str> = text(&rendered).lines().collect();
    let htmx2 = crate::assets::htmx_script_tag(2).unwrap();
    assert_eq!(
        lines[0],
        format!("{htmx2}{}", crate::assets::htmx_errors_script_tag())
    );
    assert_eq!(lines[1], crate::assets::htmx_script_tag(4).unwrap());
    assert_eq!(lines[2], crate::assets::htmx_sse_script_tag());
    let env = templates();
    let positional = env
        .environment()
        .render_str("{{ htmx_script(4) }}", ())
        .unwrap();
    assert_eq!(positional, crate::assets::htmx_script_tag(4).unwrap());
    let without_error_swaps = env
        .environment()
        .render_str("{{ htmx_script(swap_errors=false) }}", ())
        .unwrap();
    assert_eq!(without_error_swaps, htmx2);
    assert!(
        env.environment()
            .render_str("{{ htmx_script(version=3) }}", ())
            .is_err()
    );
    assert!(
        env.environment()
            .render_str("{{ htmx_script(vers=2) }}", ())
            .is_err()
    );
}

#[test]
fn error_display_and_responses() {
    let templates = templates_with_assets();
    let error = templates
        .render(
            "helpers.html",
            context! { when => "bad", cents => 1, csrf_token => csrf_token_value("t") },
        )
        .unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.starts_with("template `helpers.html` line 1: "),
        "{shown}"
    );
    assert_eq!(error.line(), Some(1));

    let production = error.to_response(false);
    assert_eq!(production.status, StatusCode::INTERNAL_SERVER_ERROR);
    let Body::Full(body) = &production.body else {
        panic!("error responses have a whole body");
    };
    assert_eq!(text(body), "Internal Server Error\n");

    let development = error.to_response(true);
    assert_eq!(development.status, StatusCode::INTERNAL_SERVER_ERROR);
    let Body::Full(body) = &development.body else {
        panic!("error responses have a whole body");
    };
    assert!(text(body).contains("helpers.html"), "{}", text(body));
    assert!(
        text(body).contains("date: expected an ISO 8601"),
        "{}",
        text(body)
    );
}

#[test]
fn templates_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_send_sync::<Templates>();
    assert_error::<TemplateError>();
    let templates = templates();
    let clone = templates.clone();
    let handle = std::thread::spawn(move || {
        clone
            .render("plain.txt", context! { name => "thread" })
            .unwrap()
    });
    assert_eq!(
        text(&handle.join().unwrap()),
        "Hello thread <b>not escaped</b>"
    );
    assert!(!templates.dev_mode());
}

/// A scratch directory removed on drop.
pub(super) struct ScratchDir(pub(super) std::path::PathBuf);

impl ScratchDir {
    pub(super) fn new(label: &str) -> ScratchDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("kiln-template-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    pub(super) fn write(&self, name: &str, source: &str) {
        std::fs::write(self.0.join(name), source).unwrap();
    }

    pub(super) fn embedded(&self) -> EmbeddedTemplates {
        // `dir` is `&'static str`: the path lives in a static slot (one per scratch directory)
        // instead of a leaked box, so LeakSanitizer has nothing to report here.
        static PATHS: [std::sync::OnceLock<String>; 8] = [const { std::sync::OnceLock::new() }; 8];
        let path = self.0.to_str().unwrap();
        let dir = PATHS
            .iter()
            .map(|slot| slot.get_or_init(|| path.to_owned()).as_str())
            .find(|dir| *dir == path)
            .expect("more scratch directories than PATHS has slots");
        EmbeddedTemplates { dir, files: &[] }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn dev_mode_reloads_changed_and_new_templates() {
    let scratch = ScratchDir::new("reload");
    scratch.write("page.html", "v1 {{ x }}");
    let templates = Templates::builder(scratch.embedded())
        .dev_mode(true)
        .build()
        .unwrap();
    assert!(templates.dev_mode());
    assert_eq!(
        text(&templates.render("page.html", context! { x => 1 }).unwrap()),
        "v1 1"
    );

    // A change of size is seen whatever the file system's timestamp granularity.
    scratch.write("page.html", "version 2 {{ x }}");
    assert_eq!(
        text(&templates.render("page.html", context! { x => 1 }).unwrap()),
        "version 2 1"
    );

    // Same size, new content: the loader compares mtimes, so move the mtime on explicitly.
    scratch.write("page.html", "version 3 {{ x }}");
    let file = std::fs::File::options()
        .write(true)
        .open(scratch.0.join("page.html"))
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        text(&templates.render("page.html", context! { x => 1 }).unwrap()),
        "version 3 1"
    );

    // New files (and templates they extend) are found without a rebuild.
    scratch.write("layout.html", "[{% block body %}{% endblock %}]");
    scratch.write(
        "new.html",
        "{% extends 'layout.html' %}{% block body %}new{% endblock %}",
    );
    assert_eq!(text(&templates.render("new.html", ()).unwrap()), "[new]");
}

#[test]
fn dev_mode_reports_syntax_errors_with_line_at_render() {
    let scratch = ScratchDir::new("syntax");
    scratch.write("broken.html", "<p>\n{{ oops }\n</p>");
    let templates = Templates::builder(scratch.embedded())
        .dev_mode(true)
        .build()
        .unwrap();
    let error = templates.render("broken.html", ()).unwrap_err();
    assert_eq!(error.kind(), TemplateErrorKind::Syntax);
    assert_eq!(error.template_name(), Some("broken.html"));
    assert_eq!(error.line(), Some(2));
    let Body::Full(body) = error.to_response(true).body else {
        panic!("error responses have a whole body");
    };
    assert!(text(&body).contains("broken.html"), "{}", text(&body));
}

#[test]
fn dev_mode_without_the_directory_falls_back_to_embedded() {
    let embedded = EmbeddedTemplates {
        dir: "/nonexistent/kiln/templates",
        files: FIXTURES.files,
    };
    let templates = Templates::builder(embedded)
        .dev_mode(true)
        .configure(|env| env.add_function("count_evaluation", || 0))
        .build()
        .unwrap();
    let rendered = templates
        .render("plain.txt", context! { name => "x" })
        .unwrap();
    assert_eq!(text(&rendered), "Hello x <b>not escaped</b>");
}

#[test]
fn production_mode_rejects_a_broken_embedded_template_at_build() {
    let embedded = EmbeddedTemplates {
        dir: "/nonexistent",
        files: &[("bad.html", "{% if %}")],
    };
    let error = Templates::builder(embedded)
        .dev_mode(false)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), TemplateErrorKind::Syntax);
    assert_eq!(error.template_name(), Some("bad.html"));
}

/// Templates of many shapes, for comparing direct block renders with full evaluations.
static SHAPES: EmbeddedTemplates = EmbeddedTemplates {
    dir: "/nonexistent/kiln-template-shapes",
    files: &[
        (
            "base.html",
            "{% from \"macros.html\" import badge %}{% set site = \"Ledger\" %}<title>{% block title %}{{ site }}{% endblock %}</title><main>{% block content %}base{% endblock %}</main>",
        ),
        (
            "child.html",
            "{% extends \"base.html\" %}{% set heading = \"Accounts\" %}{% block content %}<h1>{{ heading }} @ {{ site }}</h1>{% block rows %}{% for row in rows %}<tr>{{ badge(row) }}</tr>{% endfor %}{% endblock %}{% endblock %}",
        ),
        (
            "escaped.html",
            "<p>{{ page_only() }}</p>{% block cell %}<td>{{ value }}</td>{% endblock %}",
        ),
        (
            "escaped.txt",
            "{% block cell %}<td>{{ value }}</td>{% endblock %}",
        ),
        (
            "inherits.html",
            "{% extends \"base.html\" %}{% block title %}{{ super() }} | Child{% endblock %}",
        ),
        (
            "loop_set.html",
            "{% if flag %}{% set value = \"from if\" %}{% endif %}{% block cell %}{{ value }}{% endblock %}",
        ),
        (
            "macros.html",
            "{% macro badge(x) %}<b>{{ x }}</b>{% endmacro %}",
        ),
        (
            "namespace.html",
            "{% set ns = namespace(n=0) %}{% block a %}{% set ns.n = ns.n + 1 %}{% endblock %}{% block b %}{{ ns.n }}{% endblock %}",
        ),
        (
            "nested.html",
            "{% for i in [1, 2] %}{% block inner %}[{{ i }}|{{ value }}]{% endblock %}{% endfor %}{% with value = 5 %}{% block scoped %}{{ value }}{% endblock %}{% endwith %}",
        ),
        (
            "trimmed.html",
            "<ul>\n  {%- block items -%}\n  {% for i in items %}<li>{{ i }}</li>\n{% endfor -%}\n  {%- endblock %}\n</ul>\n",
        ),
        (
            "unknown_parent.html",
            "{% extends layout %}{% block x %}{{ value }}{% endblock %}",
        ),
    ],
};

fn shapes(direct: bool, evaluations: &'static AtomicUsize) -> Templates {
    Templates::builder(SHAPES)
        .dev_mode(false)
        .direct_blocks(direct)
        .configure(move |env| {
            env.add_function("page_only", move || {
                evaluations.fetch_add(1, Ordering::SeqCst);
                "page"
            });
        })
        .build()
        .unwrap()
}

#[test]
fn direct_block_renders_match_full_evaluations() {
    static DIRECT: AtomicUsize = AtomicUsize::new(0);
    static FULL: AtomicUsize = AtomicUsize::new(0);
    let direct = shapes(true, &DIRECT);
    let full = shapes(false, &FULL);
    let context = context! {
        rows => ["<a>", "b"], value => "<v>", flag => true, items => [1, 2], layout => "base.html"
    };
    let cases: &[(&str, &[&str], bool)] = &[
        ("base.html", &["title"], true),
        ("base.html", &["content"], true),
        ("child.html", &["content"], true),
        ("child.html", &["rows"], true),
        ("child.html", &["title"], false),
        ("escaped.html", &["cell"], true),
        ("escaped.txt", &["cell"], true),
        ("inherits.html", &["title"], false),
        ("loop_set.html", &["cell"], false),
        ("namespace.html", &["b"], false),
        ("nested.html", &["inner"], true),
        ("nested.html", &["scoped"], true),
        ("nested.html", &["inner", "scoped"], true),
        ("child.html", &["rows", "content"], false),
        ("trimmed.html", &["items"], true),
        ("unknown_parent.html", &["x"], false),
    ];
    for (name, blocks, expect_direct) in cases {
        let ours = direct.render_blocks(name, blocks, &context);
        let theirs = full.render_blocks(name, blocks, &context);
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(text(ours), text(theirs), "{name} {blocks:?}"),
            (Err(ours), Err(theirs)) => assert_eq!(ours.kind(), theirs.kind(), "{name} {blocks:?}"),
            _ => panic!("{name} {blocks:?}: direct {ours:?}, full {theirs:?}"),
        }
        let goes_direct = blocks.len() == 1 && direct.renders_block_directly(name, blocks[0]);
        if blocks.len() == 1 {
            assert_eq!(goes_direct, *expect_direct, "{name} {blocks:?}");
        }
        assert!(!full.renders_block_directly(name, blocks[0]));
    }
    // Spot checks of what both gave.
    let rows = direct.render_block("child.html", "rows", &context).unwrap();
    assert_eq!(text(&rows), "<tr><b>&lt;a&gt;</b></tr><tr><b>b</b></tr>");
    let content = direct
        .render_block("child.html", "content", &context)
        .unwrap();
    assert!(text(&content).starts_with("<h1>Accounts @ Ledger</h1>"));
    let cell = direct
        .render_block("escaped.txt", "cell", &context)
        .unwrap();
    assert_eq!(text(&cell), "<td><v></td>", "no autoescape for .txt");
    let cell = direct
        .render_block("escaped.html", "cell", &context)
        .unwrap();
    assert_eq!(text(&cell), "<td>&lt;v&gt;</td>");
    let title = direct
        .render_block("inherits.html", "title", &context)
        .unwrap();
    assert_eq!(text(&title), "Ledger | Child");
}

#[test]
fn direct_block_renders_skip_the_rest_of_the_template() {
    static DIRECT: AtomicUsize = AtomicUsize::new(0);
    static FULL: AtomicUsize = AtomicUsize::new(0);
    let context = context! { value => 1 };
    shapes(true, &DIRECT)
        .render_block("escaped.html", "cell", &context)
        .unwrap();
    shapes(false, &FULL)
        .render_block("escaped.html", "cell", &context)
        .unwrap();
    assert_eq!(DIRECT.load(Ordering::SeqCst), 0);
    assert_eq!(FULL.load(Ordering::SeqCst), 1);
}

#[test]
fn direct_block_names_keep_directory_and_suffix() {
    assert_eq!(blocks::derived_name("a.html", "rows"), "@block:rows:a.html");
    assert_eq!(
        blocks::derived_name("pages/accounts.html", "rows"),
        "pages/@block:rows:accounts.html"
    );
}

#[test]
fn development_mode_renders_blocks_the_full_way() {
    let dev = fixtures(true).build().unwrap();
    assert!(!dev.renders_block_directly("page.html", "title"));
    assert!(templates().renders_block_directly("page.html", "title"));
    // Inherited from base.html, not defined by page.html: rendered the full way.
    assert!(!templates().renders_block_directly("page.html", "footer"));
}
