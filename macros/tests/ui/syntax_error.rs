static TEMPLATES: kiln::template::EmbeddedTemplates = kiln::templates!("tests/ui/templates/syntax");

fn main() {
    let _ = TEMPLATES;
}
