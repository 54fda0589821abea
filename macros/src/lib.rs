//! `kiln-macros`: procedural macros for kiln.
//!
//! For now this crate is empty on purpose: template embedding with compile-time checks
//! (`kiln::templates!`) arrives with the app layer. It exists so the workspace layout matches
//! ARCHITECTURE.md from the start.
