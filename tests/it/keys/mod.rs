//! Root key providers (issue 25): each provider runs the same scenarios
//! against the real thing — OpenBao's Transit engine, SoftHSM2, a KMS mock —
//! reached through a proxy the test can cut. A provider's tool missing is a
//! skip with a note, unless `HUSH_REQUIRE_KMS_TESTS=1` (CI) makes it a
//! failure.

mod file;

use crate::harness::*;
use base64::Engine as _;
use std::path::{Path, PathBuf};

/// A file with mode 0600 (credentials and keys).
pub fn private_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// None of `needles` (raw key bytes, tokens, PINs) appears in any file of
/// the data dir or in the server's log, raw, hex or base64.
pub fn never_on_disk(dirs: &[&Path], needles: &[&[u8]]) {
    let mut forms: Vec<Vec<u8>> = Vec::new();
    for n in needles {
        forms.push(n.to_vec());
        forms.push(hex::encode(n).into_bytes());
        forms.push(
            base64::engine::general_purpose::STANDARD
                .encode(n)
                .into_bytes(),
        );
        forms.push(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(n)
                .into_bytes(),
        );
    }
    let mut checked = 0;
    for dir in dirs {
        for file in walk(dir) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            for form in &forms {
                assert!(
                    !bytes.windows(form.len()).any(|w| w == form.as_slice()),
                    "key material found in {}",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
