static TEMPLATES: kiln::template::EmbeddedTemplates =
    kiln::templates!("tests/ui/templates/missing");

fn main() {
    let _ = TEMPLATES;
}
