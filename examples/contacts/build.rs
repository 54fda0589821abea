//! Re-runs the build when a template is added or changed, so `kiln::templates!` picks it up.
fn main() {
    println!("cargo:rerun-if-changed=../../templates/contacts");
}
