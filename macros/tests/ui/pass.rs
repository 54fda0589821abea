use kiln::assets::{EmbeddedAssets, StaticAssets};
use kiln::template::{EmbeddedTemplates, Templates, minijinja::context};

static TEMPLATES: EmbeddedTemplates = kiln::templates!("tests/ui/templates/ok");
static ASSETS: EmbeddedAssets = kiln::assets!("tests/ui/assets");

fn main() {
    let names: Vec<&str> = TEMPLATES.files.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["base.html", "page.html", "partials/greeting.html"]);

    let templates = Templates::builder(TEMPLATES)
        .dev_mode(false)
        .assets(&ASSETS)
        .build()
        .unwrap();
    let page = templates
        .render("page.html", context! { name => "<trybuild>" })
        .unwrap();
    let page = std::str::from_utf8(&page).unwrap();
    assert!(page.contains("<p>Hello &lt;trybuild&gt;!</p>"), "{page}");

    let assets = StaticAssets::new(&ASSETS, "/static");
    let url = assets.url("app.css").unwrap();
    assert!(page.contains(url), "{page}");
    assert!(ASSETS.get("app.css").unwrap().brotli.is_some());
}
