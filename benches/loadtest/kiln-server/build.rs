//! Re-runs the build when a bench template is added or changed, so `kiln::templates!` sees it.
fn main() {
    println!("cargo:rerun-if-changed=../../../templates/bench");
}
