//! Re-runs the build when a template or asset is added or changed, so `kiln::templates!` and
//! `kiln::assets!` pick it up.
fn main() {
    println!("cargo:rerun-if-changed=../../templates/ledger");
    println!("cargo:rerun-if-changed=../../assets/ledger");
}
