//! `hush agent`: secrets rendered into files and kept fresh (issue 26).

pub mod template;
