//! What a memory dump of the running server shows, per provider.
//!
//! The dump is what an attacker on the host can take without a core file
//! (the server forbids those: `RLIMIT_CORE=0`, see `src/hygiene.rs`): every
//! readable mapping of `/proc/PID/maps`, read through `/proc/PID/mem`. The
//! server also sets `PR_SET_DUMPABLE=0`, so the kernel refuses that read
//! to a process of the same user without `CAP_SYS_PTRACE`; these tests take
//! the dump as root (as CI runs them), which is the attacker the claims are
//! about. Without the capability, the refusal itself is checked and the
//! scan cannot run: a note says so, and under `HUSH_REQUIRE_KMS_TESTS=1` the
//! test fails instead.
//!
//! What a dump can prove: that given bytes were nowhere in the process's
//! readable memory at the moment of the dump (raw, hex or base64). What it
//! cannot: that they were never there between dumps, or that they are not
//! in a form the test does not look for (an expanded AES key schedule, an
//! XOR-masked copy). Each test also looks for something the server must
//! hold — a positive control — so a scan that sees nothing fails.
//!
//! The `file` and `env` tests are here; the `pkcs11` and `transit` ones
//! beside their providers' helpers.

use super::*;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;

/// Raw, lowercase hex, uppercase hex, base64 (padded and not), base64url.
pub fn forms(needle: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    vec![
        needle.to_vec(),
        hex::encode(needle).into_bytes(),
        hex::encode_upper(needle).into_bytes(),
        STANDARD.encode(needle).into_bytes(),
        STANDARD_NO_PAD.encode(needle).into_bytes(),
        URL_SAFE_NO_PAD.encode(needle).into_bytes(),
    ]
}

/// What a scan found: for each needle, the forms seen (by index into
/// `forms`), and how many bytes were read.
pub struct Scan {
    pub found: Vec<Vec<usize>>,
    pub bytes: u64,
}

impl Scan {
    pub fn seen(&self, needle: usize) -> bool {
        !self.found[needle].is_empty()
    }
}

/// Reads every readable mapping of `pid` and looks for each needle in each
/// of its `forms`. None when the kernel refuses the read (no
/// `CAP_SYS_PTRACE`); then the test has a note printed, or fails under
/// `HUSH_REQUIRE_KMS_TESTS=1`.
pub fn scan_memory(test: &str, pid: u32, needles: &[&[u8]]) -> Option<Scan> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = match std::fs::File::open(format!("/proc/{pid}/mem")) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            refused(test, &e);
            return None;
        }
        Err(e) => panic!("{test}: cannot open /proc/{pid}/mem: {e}"),
    };
    let patterns: Vec<Vec<Vec<u8>>> = needles.iter().map(|n| forms(n)).collect();
    let finders: Vec<Vec<memchr::memmem::Finder>> = patterns
        .iter()
        .map(|fs| fs.iter().map(memchr::memmem::Finder::new).collect())
        .collect();
    let longest = patterns.iter().flatten().map(Vec::len).max().unwrap_or(1);
    let mut found = vec![Vec::new(); needles.len()];
    let mut bytes = 0u64;
    const CHUNK: u64 = 8 << 20;
    let mut buf = vec![0u8; CHUNK as usize + longest];
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let name = line.split_whitespace().nth(5).unwrap_or("");
        // The vsyscall and vvar pages are kernel data, not the process's.
        if !perms.starts_with('r') || name.starts_with("[vvar") || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut at = start;
        while at < end {
            // Overlapping reads: a needle across a chunk border is still seen.
            let want = (end - at).min(CHUNK + longest as u64) as usize;
            let n = match mem.read_at(&mut buf[..want], at) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    refused(test, &e);
                    return None;
                }
                // A mapping that vanished or is not backed (EIO): skip it.
                Err(_) => break,
            };
            if n == 0 {
                break;
            }
            bytes += n as u64;
            for (i, fs) in finders.iter().enumerate() {
                for (j, f) in fs.iter().enumerate() {
                    if !found[i].contains(&j) && f.find(&buf[..n]).is_some() {
                        found[i].push(j);
                    }
                }
            }
            at += CHUNK.min(n as u64);
        }
    }
    assert!(
        bytes > 1 << 20,
        "{test}: read only {bytes} bytes of the server's memory"
    );
    Some(Scan { found, bytes })
}

fn refused(test: &str, e: &std::io::Error) {
    // PR_SET_DUMPABLE=0 at work: a same-user process cannot read the memory.
    if std::env::var("HUSH_REQUIRE_KMS_TESTS").as_deref() == Ok("1") {
        panic!("{test}: reading the server's memory needs root or CAP_SYS_PTRACE ({e}) but HUSH_REQUIRE_KMS_TESTS=1");
    }
    eprintln!(
        "NOTE {test}: the kernel refused to read the server's memory ({e}): the server is not dumpable, as intended; run as root to scan it"
    );
}

/// `/proc/PID/environ`: the environment block the process started with.
pub fn environ(pid: u32) -> Option<Vec<u8>> {
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => None,
        Err(e) => panic!("cannot read /proc/{pid}/environ: {e}"),
    }
}

const KEY_HEX: &str = "c3a1f07e5d2b4c6a8e9f01d2b3c4a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6";

async fn exercise(s: &TestServer) {
    set(&s.client(), "MEMORY_TEST", "canary-value-in-memory")
        .await
        .unwrap();
    assert_eq!(
        get(&s.client(), "MEMORY_TEST", None).await.unwrap()["secretValue"],
        "canary-value-in-memory"
    );
}

/// `file`: the root key is in the server's memory — it must be, hush
/// encrypts with it — and that is what the dump shows; it is not in the
/// data dir or the log. The key file's hex text is not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_root_key_is_in_memory_not_on_disk() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("root.key");
    private_file(&key_file, KEY_HEX);
    let s = TestServer::start(&[
        "--root-key-provider",
        "file",
        "--root-key-file",
        key_file.to_str().unwrap(),
    ])
    .await;
    exercise(&s).await;
    let key = hex::decode(KEY_HEX).unwrap();
    let pid = s.pid().unwrap();
    if let Some(scan) = scan_memory("file_root_key_is_in_memory", pid, &[&key]) {
        assert!(
            scan.found[0].contains(&0),
            "the raw root key was not found in {} bytes of the server's memory: the scan does not see it",
            scan.bytes
        );
        eprintln!(
            "file provider: root key forms in memory {:?} (0 = raw) over {} bytes",
            scan.found[0], scan.bytes
        );
    }
    never_on_disk(&[&s.data_dir], &[&key]);
}

/// `env`: as `file`, and the variable's value is wiped from the process's
/// environment block (`/proc/PID/environ`), not only unset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_root_key_is_scrubbed_from_environ() {
    let s = TestServer::start_with(
        &["--root-key-provider", "env"],
        &[("HUSH_ROOT_KEY", KEY_HEX)],
    )
    .await;
    exercise(&s).await;
    let pid = s.pid().unwrap();
    match environ(pid) {
        Some(block) => {
            assert!(!block.is_empty());
            for form in forms(&hex::decode(KEY_HEX).unwrap()) {
                assert!(
                    memchr::memmem::find(&block, &form).is_none(),
                    "the root key is still in /proc/{pid}/environ"
                );
            }
            // The rest of the environment is still there: the check read
            // the real block.
            assert!(memchr::memmem::find(&block, b"HUSH_LOG=info").is_some());
        }
        None => refused(
            "env_root_key_is_scrubbed_from_environ",
            &std::io::Error::from(ErrorKind::PermissionDenied),
        ),
    }
    let key = hex::decode(KEY_HEX).unwrap();
    if let Some(scan) = scan_memory("env_root_key_is_scrubbed", pid, &[&key]) {
        assert!(
            scan.found[0].contains(&0),
            "the raw root key was not found in the server's memory: the scan does not see it"
        );
    }
    never_on_disk(&[&s.data_dir], &[&key]);
}
