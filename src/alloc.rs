//! The process's memory allocator, chosen once per process by its subcommand.
//!
//! `hush server` allocates on one thread and frees on another for every
//! request, which glibc's malloc handles poorly and mimalloc well (the
//! figures are in BENCHMARKS.md's history). Every other command is short
//! and starts many times a day (`hush run` above all): there mimalloc's
//! start-up (a 1 GiB arena advised for huge pages, each first touch zeroing
//! 2 MiB) cost more than it saves, measured 5.7 -> 8.0 ms for `hush run --
//! true`. So the server gets mimalloc and the rest the system allocator.
//!
//! The choice is made at the first allocation, before anything could have
//! been allocated by the other allocator, from `/proc/self/cmdline` read with
//! plain system calls (no allocation), and never changes: every block is
//! freed by the allocator that made it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use mimalloc::MiMalloc;

pub struct HushAllocator;

const UNDECIDED: u8 = 0;
const SYSTEM: u8 = 1;
const MIMALLOC: u8 = 2;

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

#[inline]
fn uses_mimalloc() -> bool {
    match CHOICE.load(Ordering::Acquire) {
        UNDECIDED => decide() == MIMALLOC,
        choice => choice == MIMALLOC,
    }
}

#[cold]
fn decide() -> u8 {
    let wanted = if invoked_as_server() {
        MIMALLOC
    } else {
        SYSTEM
    };
    // Two threads racing here read the same command line; whichever stores
    // first, both go on with the stored choice.
    match CHOICE.compare_exchange(UNDECIDED, wanted, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => wanted,
        Err(stored) => stored,
    }
}

/// Reads the command line into a stack buffer; false when it cannot (no
/// /proc): the system allocator is always correct, only slower for a server.
fn invoked_as_server() -> bool {
    use nix::libc;
    let mut buf = [0u8; 4096];
    // SAFETY: a NUL-terminated path, a buffer we own of the length we pass,
    // and a descriptor closed before returning.
    let len = unsafe {
        let fd = libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return false;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    len > 0 && subcommand_is_server(&buf[..len as usize])
}

/// Whether the NUL-separated command line names the `server` subcommand: the
/// first argument after the program that is neither an option nor the value
/// of `--log` (the only option taking a value before the subcommand).
fn subcommand_is_server(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0).skip(1);
    while let Some(arg) = args.next() {
        if arg == b"--log" {
            args.next();
        } else if !arg.starts_with(b"-") {
            return arg == b"server";
        }
    }
    false
}

// SAFETY: each call goes to one allocator, the same for the process's whole
// life (see `decide`), so every block is freed and resized by its maker.
unsafe impl GlobalAlloc for HushAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if uses_mimalloc() {
            unsafe { MiMalloc.alloc(layout) }
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if uses_mimalloc() {
            unsafe { MiMalloc.alloc_zeroed(layout) }
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if uses_mimalloc() {
            unsafe { MiMalloc.dealloc(ptr, layout) }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if uses_mimalloc() {
            unsafe { MiMalloc.realloc(ptr, layout, new_size) }
        } else {
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subcommand_is_server;

    #[test]
    fn finds_the_subcommand() {
        assert!(subcommand_is_server(b"hush\0server\0--listen\0x\0"));
        assert!(subcommand_is_server(
            b"/usr/bin/hush\0--log\0debug\0server\0"
        ));
        assert!(subcommand_is_server(
            b"hush\0--log=info\0server\0rotate-root-key\0"
        ));
        assert!(!subcommand_is_server(b"hush\0run\0--\0server\0"));
        assert!(!subcommand_is_server(b"hush\0--log\0server\0run\0"));
        assert!(!subcommand_is_server(b"hush\0"));
        assert!(!subcommand_is_server(b""));
    }
}
