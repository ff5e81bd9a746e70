//! Links `hush` with packed relative relocations (DT_RELR) where the
//! toolchain and the C library support them: a 22 MB Rust binary carries some
//! 24,000 relative relocations, and packing them cut `hush --version` from
//! about 3.4 to 2.9 ms on the 2-core benchmark machine (every `hush run` pays
//! that start-up). The probe links and runs a tiny C program with the flag, so
//! an older linker (binutils < 2.38) or C library (glibc < 2.36) simply gets
//! the default relocations.

use std::path::PathBuf;
use std::process::Command;

const RELR: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    // Only where the probe can run what it built.
    if target != host || !target.contains("linux-gnu") {
        return;
    }
    if relr_works() {
        println!("cargo:rustc-link-arg-bins={RELR}");
    }
}

fn relr_works() -> bool {
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let source = out.join("relr_probe.c");
    let program = out.join("relr_probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let linked = Command::new("cc")
        .arg(&source)
        .args(["-fPIE", "-pie", RELR, "-o"])
        .arg(&program)
        .output()
        .is_ok_and(|o| o.status.success());
    linked && Command::new(&program).status().is_ok_and(|s| s.success())
}
