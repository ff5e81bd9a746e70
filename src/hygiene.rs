//! Process hygiene for the server and `hush run`: no key material on disk by
//! accident, no same-user process reading hush's memory.
//!
//! - No core dumps: `RLIMIT_CORE=0` stops the kernel writing a core file (it
//!   would hold the root key, data keys and decrypted values), and
//!   `PR_SET_DUMPABLE=0` also stops same-user processes from attaching a
//!   debugger or reading `/proc/PID/mem` and `/proc/PID/environ`.
//! - The inline root key (`HUSH_ROOT_KEY`) is taken out of the environment:
//!   removing the variable is not enough, because `/proc/PID/environ` shows the
//!   process's original environment block, not libc's current list. The value's
//!   bytes in that block are overwritten first.
//!
//! This is the one module outside `run/pty.rs` and the allocator that needs
//! `unsafe`: the environment block is C memory only libc can point us to.
#![allow(unsafe_code)]

use std::ffi::CString;
use zeroize::Zeroizing;

/// Stops core files and same-user debugger access for the rest of the process's
/// life. Best effort: returns what could not be set, for a warning.
pub fn forbid_core_dumps() -> Vec<String> {
    use nix::sys::resource::{setrlimit, Resource};
    let mut failed = Vec::new();
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        failed.push(format!("cannot set RLIMIT_CORE to 0 ({e})"));
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        failed.push(format!("cannot set PR_SET_DUMPABLE to 0 ({e})"));
    }
    failed
}

/// `hush run`'s half of the above: `PR_SET_DUMPABLE=0` only. It must not
/// touch `RLIMIT_CORE`, which the child inherits (a developer's crashing
/// program should still dump core); the dumpable flag is reset by exec, so the
/// child is unaffected. Returns what could not be set, for a warning.
pub fn forbid_inspection() -> Vec<String> {
    let mut failed = Vec::new();
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        failed.push(format!("cannot set PR_SET_DUMPABLE to 0 ({e})"));
    }
    failed
}

/// Reads `name` from the environment, wipes its value in the process's
/// environment block and removes it. Call it before any thread starts:
/// changing the environment while another thread reads it is undefined
/// behaviour in libc.
pub fn take_env(name: &str) -> Option<Zeroizing<String>> {
    let value = std::env::var(name).ok().map(Zeroizing::new);
    if let Ok(c_name) = CString::new(name) {
        // SAFETY: `getenv` returns null or a pointer to the NUL-terminated value
        // inside the environment block, which stays valid and writable for the
        // life of the process (libc never frees the initial block). No other
        // thread exists yet (the caller's contract), so nothing reads the
        // value while we overwrite it; we write only within its length, which
        // keeps the string NUL-terminated.
        unsafe {
            let ptr = nix::libc::getenv(c_name.as_ptr());
            if !ptr.is_null() {
                let len = nix::libc::strlen(ptr);
                std::ptr::write_bytes(ptr, 0, len);
            }
        }
    }
    // Edition 2021: `remove_var` is safe to call but has the same
    // single-thread requirement as above.
    std::env::remove_var(name);
    value.filter(|v| !v.is_empty())
}
