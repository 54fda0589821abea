//! The build-time name check (`check.rs`) through `TemplatesBuilder::build`: unknown filters,
//! tests and functions refused with template and line; what the environment, the templates
//! and the render context provide accepted; the repository's template directories building.

use super::tests::{FIXTURES, ScratchDir, fixtures};
use super::*;
use minijinja::context;
use minijinja::value::Value;

/// `(name, source)` of embedded templates.
type Files = &'static [(&'static str, &'static str)];

fn builder(files: Files) -> TemplatesBuilder {
    let embedded = EmbeddedTemplates {
        dir: "/nonexistent/kiln-template-check",
        files,
    };
    Templates::builder(embedded).dev_mode(false)
}

fn refused(builder: TemplatesBuilder) -> TemplateError {
    match builder.build() {
        Ok(_) => panic!("the build should fail the name check"),
        Err(error) => error,
    }
}

#[test]
fn check_refuses_unknown_filters_tests_and_functions_with_template_and_line() {
    let cases: &[(Files, &str, usize)] = &[
        (
            &[("page.html", "<p>\n{{ x }}\n{{ x|no_such_filter }}</p>")],
            "unknown filter: `no_such_filter`",
            3,
        ),
        (
            &[("page.html", "\n{% if x is no_such_test %}y{% endif %}")],
            "unknown test: `no_such_test`",
            2,
        ),
        (
            &[("page.html", "{{ x }}\n\n\n{{ no_such_fn() }}")],
            "unknown function: `no_such_fn`",
            4,
        ),
        // Filter blocks, `set` blocks, filter arguments, dotted names, nested calls.
        (
            &[("a.txt", "{% filter no_such_filter %}x{% endfilter %}")],
            "unknown filter: `no_such_filter`",
            1,
        ),
        (
            &[("a.txt", "{% set x | upper | nope %}x{% endset %}")],
            "unknown filter: `nope`",
            1,
        ),
        (
            &[("a.txt", "{{ x|default(y|nope) }}")],
            "unknown filter: `nope`",
            1,
        ),
        (
            &[("a.txt", "{{ x|my . filter }}")],
            "unknown filter: `my.filter`",
            1,
        ),
        (
            &[("a.txt", "{{ x.items(nope()) }}")],
            "unknown function: `nope`",
            1,
        ),
        (
            &[("a.txt", "{% for i in range(3) if i is nope %}{% endfor %}")],
            "unknown test: `nope`",
            1,
        ),
        (
            &[("a.txt", "{% call nope() %}x{% endcall %}")],
            "unknown function: `nope`",
            1,
        ),
        (
            &[("a.txt", "{% do nope() %}")],
            "unknown function: `nope`",
            1,
        ),
        (
            &[("a.txt", "{% macro m(x=nope()) %}{% endmacro %}")],
            "unknown function: `nope`",
            1,
        ),
    ];
    for (files, message, line) in cases {
        let name = files[0].0;
        let error = refused(builder(files));
        let shown = error.to_string();
        assert_eq!(error.kind(), TemplateErrorKind::UnknownName, "{shown}");
        assert_eq!(error.template_name(), Some(name), "{shown}");
        assert_eq!(error.line(), Some(*line), "{shown}");
        let start = format!("template `{name}` line {line}: {message} is not ");
        assert!(shown.starts_with(&start), "{shown}");
    }
}

#[test]
fn check_names_the_first_unknown_and_lists_the_others() {
    let error = refused(builder(&[
        ("a.html", "{{ one() }}\n{{ x|two }}"),
        ("b.html", "\n\n{% if x is three %}{% endif %}"),
    ]));
    let shown = error.to_string();
    assert_eq!(error.template_name(), Some("a.html"));
    assert_eq!(error.line(), Some(1));
    assert!(shown.contains("unknown function: `one`"), "{shown}");
    assert!(
        shown.contains(
            "also unknown: filter `two` (`a.html` line 2), test `three` (`b.html` line 3)"
        ),
        "{shown}"
    );
}

#[test]
fn check_accepts_what_configure_registers() {
    let files = &[(
        "page.html",
        "{{ x|shout }}{% if x is loud %}!{% endif %}{{ now() }}{{ helper() }}",
    )];
    let error = refused(builder(files).configure(|env| env.add_filter("shout", str::to_uppercase)));
    assert!(error.to_string().contains("`loud`"), "{error}");
    let templates = builder(files)
        .configure(|env| env.add_filter("shout", str::to_uppercase))
        .configure(|env| {
            env.add_test("loud", |x: &str| x.ends_with('!'));
            env.add_function("now", || "12:00");
            env.add_global("helper", Value::from_function(|| "h"));
        })
        .build()
        .unwrap();
    let page = templates
        .render("page.html", context! { x => "hi!" })
        .unwrap();
    assert_eq!(&page[..], b"HI!!12:00h");
}

#[test]
fn check_follows_filters_that_configure_removes() {
    let files = &[("page.html", "{{ x|upper }}")];
    let error = refused(builder(files).configure(|env| env.remove_filter("upper")));
    assert!(error.to_string().contains("`upper`"), "{error}");
    builder(files).build().unwrap();
}

#[test]
fn check_accepts_builtins_kiln_helpers_and_template_bindings() {
    static FILES: &[(&str, &str)] = &[
        (
            "base.html",
            "{% from \"macros.html\" import badge as label %}{% import \"macros.html\" as m %}\
             {% macro local(f) %}{{ f() }}{{ caller() }}{% endmacro %}\
             <title>{% block title %}T{% endblock %}</title>{% block body %}{% endblock %}",
        ),
        (
            "child.html",
            "{% extends \"base.html\" %}\
             {% block title %}{{ super() }} {{ self.body() }}{% endblock %}\
             {% block body %}{{ label(1) }}{{ m.badge(2) }}{{ local(range) }}\
             {% call local(dict) %}c{% endcall %}\
             {% for f in [range] %}{{ f(1) }}{{ loop.cycle(1, 2) }}{% endfor %}\
             {% for node in tree recursive %}{{ loop(node.children) }}{% endfor %}\
             {% set ns = namespace(n=0) %}{% set ns.n = 1 %}{% set (a, b) = (range, dict) %}\
             {{ a(1) }}{{ b() }}{% with g = range %}{{ g(1) }}{% endwith %}\
             {{ debug() is string }}{{ x.items() }}{% include \"partial.html\" %}{% endblock %}",
        ),
        (
            "kiln.html",
            "{{ asset is defined }}{{ csrf_token() }}{{ htmx_script() }}{{ htmx_sse_script() }}\
             {{ 1|thousands }}{{ 1|fixed(2) }}{{ 1|decimal(2) }}{{ x|date('%Y') }}\
             {{ x|tojson }}{{ x|urlencode }}{{ x is filter }}{{ x is test }}\
             {{ url_for('home') }}{{ flash_messages() }}",
        ),
        (
            "macros.html",
            "{% macro badge(x) %}<b>{{ x }}</b>{% endmacro %}",
        ),
        // Called from `child.html`, whose parent defines `local`: included templates see it.
        ("partial.html", "{{ local(range) }}"),
    ];
    builder(FILES).build().unwrap();
}

#[test]
fn check_accepts_declared_context_functions() {
    let files = &[("page.html", "{{ format_price(x) }}")];
    let error = refused(builder(files));
    assert!(error.to_string().contains("`format_price`"), "{error}");
    let templates = builder(files)
        .context_functions(&["other"])
        .context_functions(&["format_price"])
        .build()
        .unwrap();
    let price = Value::from_function(|cents: i64| format!("${}", cents / 100));
    let page = templates
        .render("page.html", context! { format_price => price, x => 1200 })
        .unwrap();
    assert_eq!(&page[..], b"$12");
}

/// The bug this check exists for: `oob.html` calls `count_evaluation()`, which only
/// `configure` provides; without it, the build (not the first render) fails.
#[test]
fn check_refuses_the_fixtures_without_their_configured_function() {
    let error = refused(Templates::builder(FIXTURES).dev_mode(false));
    assert_eq!(error.template_name(), Some("oob.html"));
    assert_eq!(error.line(), Some(1));
    assert!(error.to_string().contains("`count_evaluation`"), "{error}");
    fixtures(false).build().unwrap();
    fixtures(true).build().unwrap();
}

#[test]
fn check_passes_every_template_directory_of_the_repository() {
    static DIRECTORIES: &[EmbeddedTemplates] = &[
        kiln_macros::templates!("src/htmx/testdata", crate = crate),
        kiln_macros::templates!("templates/bench", crate = crate),
        kiln_macros::templates!("templates/fortunes", crate = crate),
        kiln_macros::templates!("macros/tests/ui/templates/ok", crate = crate),
    ];
    for embedded in DIRECTORIES {
        for dev_mode in [false, true] {
            let built = Templates::builder(*embedded).dev_mode(dev_mode).build();
            assert!(built.is_ok(), "{}: {:?}", embedded.dir, built.err());
        }
    }
}

#[test]
fn check_reads_the_directory_in_development_mode() {
    let scratch = ScratchDir::new("check");
    std::fs::create_dir_all(scratch.0.join("partials")).unwrap();
    scratch.write("page.html", "{% include 'partials/row.html' %}");
    scratch.write("partials/row.html", "<td>\n{{ x|no_such_filter }}</td>");
    // Hidden files are not templates, as for `kiln::templates!`.
    scratch.write(".draft.html", "{{ nope() }}");
    // A syntax error still surfaces at render in development mode, not at build.
    scratch.write("broken.html", "{{ oops }");
    let build = || {
        Templates::builder(scratch.embedded())
            .dev_mode(true)
            .build()
    };
    let error = build().unwrap_err();
    assert_eq!(error.kind(), TemplateErrorKind::UnknownName);
    assert_eq!(error.template_name(), Some("partials/row.html"));
    assert_eq!(error.line(), Some(2));

    scratch.write("partials/row.html", "<td>{{ x|upper }}</td>");
    let templates = build().unwrap();
    let page = templates
        .render("page.html", context! { x => "a" })
        .unwrap();
    assert_eq!(&page[..], b"<td>A</td>");
    let error = templates.render("broken.html", ()).unwrap_err();
    assert_eq!(error.kind(), TemplateErrorKind::Syntax);
}
