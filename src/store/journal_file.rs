//! An append-only file of lines written through a shared memory mapping.
//!
//! The audit journal must have each read's event in the page cache before the
//! read is answered (a killed process then cannot lose it). A `write(2)` per
//! event did that, at the cost of a system call and the filesystem's write
//! path on every read: a sixth of a cached list's CPU. Through a `MAP_SHARED`
//! mapping an append is a copy into the same page cache, which keeps it if
//! the process dies just as it keeps a written buffer.
//!
//! A store into a mapped page the file does not back is a SIGBUS, so the
//! mapping is only ever written below the space `fallocate` has reserved on
//! disk (reserved blocks cannot run out later), in steps of `CHUNK`. Where the
//! reservation fails (a full disk, a filesystem without `fallocate`) or the
//! mapping is used up, appends fall back to `pwrite(2)` at the same offsets,
//! so the file stays one sequence of lines either way. (Only something else
//! truncating a live journal file, which lives in the server's 0700 data
//! directory, could still make a store fault.)
//!
//! The reserved space after the last line reads as zero bytes; a reader takes
//! only whole lines (each ends in a newline, which no line holds inside) and
//! ignores the rest.

// The mapping is raw memory: mmap, munmap and the copy into it.
#![allow(unsafe_code)]

use nix::fcntl::{fallocate, FallocateFlags};
use nix::sys::mman::{madvise, mmap, munmap, MapFlags, MmapAdvise, ProtFlags};
use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::num::NonZeroUsize;
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;

/// Disk space reserved at a time.
const CHUNK: u64 = 4 << 20;
/// The least a new file has reserved and mapped in advance.
const PREPARE_MIN: u64 = 64 << 10;
/// Address space mapped per file: room for a few seconds of reads at full
/// load; a longer file goes on with `pwrite`.
const MAP_LEN: u64 = 256 << 20;

pub(super) struct JournalFile {
    file: File,
    map: Option<Mapping>,
    /// Bytes of the file reserved by `fallocate` (and so safe to store into
    /// through the mapping).
    reserved: u64,
    /// Bytes of whole lines.
    len: u64,
    chunk: u64,
}

struct Mapping {
    ptr: NonNull<c_void>,
    len: u64,
}

// The mapping is only touched through `&mut JournalFile`.
unsafe impl Send for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are what `mmap` returned and was given; the
        // mapping is dropped once, with its owner.
        let _ = unsafe { munmap(self.ptr, self.len as usize) };
    }
}

impl JournalFile {
    /// `file`, new and empty, opened for reading and writing, with room for
    /// about `expected` bytes reserved and its pages mapped in advance (by
    /// the caller's thread, so appends do not take a page fault each 4 KiB).
    pub fn new(file: File, expected: u64) -> JournalFile {
        let mut journal = JournalFile::with_sizes(file, CHUNK, MAP_LEN);
        if journal.reserve(expected.clamp(PREPARE_MIN, CHUNK)) {
            journal.populate();
        }
        journal
    }

    /// Bytes of whole lines.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Maps the reserved pages writable now. Best effort: a kernel without
    /// MADV_POPULATE_WRITE (before 5.14) faults them in on first use instead.
    fn populate(&self) {
        if let (Some(map), Ok(len)) = (&self.map, usize::try_from(self.reserved)) {
            // SAFETY: the range is inside the mapping and backed by the file.
            let _ = unsafe { madvise(map.ptr, len, MmapAdvise::MADV_POPULATE_WRITE) };
        }
    }

    fn with_sizes(file: File, chunk: u64, map_len: u64) -> JournalFile {
        let map = NonZeroUsize::new(map_len as usize).and_then(|length| {
            // SAFETY: a fresh shared mapping of our own file; it is written only
            // below `reserved` (see `append`) and unmapped on drop.
            unsafe {
                mmap(
                    None,
                    length,
                    ProtFlags::PROT_WRITE | ProtFlags::PROT_READ,
                    MapFlags::MAP_SHARED,
                    &file,
                    0,
                )
            }
            .ok()
            .map(|ptr| Mapping { ptr, len: map_len })
        });
        JournalFile {
            file,
            map,
            reserved: 0,
            len: 0,
            chunk,
        }
    }

    /// Appends `line` (which ends in its only newline). On an error the file
    /// holds exactly the lines before it.
    pub fn append(&mut self, line: &[u8]) -> io::Result<()> {
        let end = self.len + line.len() as u64;
        if self.mappable(end) {
            if let (Some(map), Some((newline, body))) = (&self.map, line.split_last()) {
                // SAFETY: `len..end` lies inside the mapping and below `reserved`,
                // so the file backs every byte stored.
                unsafe {
                    let at = map.ptr.as_ptr().cast::<u8>().add(self.len as usize);
                    std::ptr::copy_nonoverlapping(body.as_ptr(), at, body.len());
                    // The newline is what marks the line whole to a reader: it
                    // is stored after the rest, so a process killed mid-copy
                    // leaves a line without one, which a reader ignores.
                    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
                    std::ptr::write_volatile(at.add(body.len()), *newline);
                }
                self.len = end;
                return Ok(());
            }
        }
        if let Err(e) = self.file.write_all_at(line, self.len) {
            // A partial line would corrupt the next one: cut it off. The
            // reservation shrinks with the file, so the mapping is never
            // stored into past its end.
            let _ = self.file.set_len(self.len);
            self.reserved = self.reserved.min(self.len);
            return Err(e);
        }
        self.len = end;
        Ok(())
    }

    /// Whether the bytes up to `end` can be stored through the mapping,
    /// reserving another chunk if needed.
    fn mappable(&mut self, end: u64) -> bool {
        let Some(map) = &self.map else {
            return false;
        };
        if end <= self.reserved {
            return true;
        }
        let target = (self.reserved + self.chunk).max(end).min(map.len);
        end <= target && self.reserve(target)
    }

    /// Reserves the file's first `target` bytes (within the mapping).
    fn reserve(&mut self, target: u64) -> bool {
        if self.map.as_ref().is_none_or(|map| target > map.len) {
            return false;
        }
        if target <= self.reserved {
            return true;
        }
        let reserved = fallocate(
            &self.file,
            FallocateFlags::empty(),
            self.reserved as i64,
            (target - self.reserved) as i64,
        );
        if reserved.is_err() {
            // No space, or no fallocate here: write(2) from now on.
            self.map = None;
            return false;
        }
        self.reserved = target;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    fn open(dir: &std::path::Path) -> (std::path::PathBuf, File) {
        let path = dir.join("j.jsonl");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        (path, file)
    }

    fn whole_lines(bytes: &[u8]) -> Vec<&[u8]> {
        bytes
            .split_inclusive(|b| *b == b'\n')
            .filter(|l| l.ends_with(b"\n"))
            .collect()
    }

    #[test]
    fn lines_go_through_the_mapping_then_past_it_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = open(dir.path());
        // 64-byte chunks in a 256-byte mapping: reservations, then pwrite.
        let mut journal = JournalFile::with_sizes(file, 64, 256);
        assert!(journal.map.is_some());
        let lines: Vec<Vec<u8>> = (0..40)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 7)).into_bytes())
            .collect();
        for line in &lines {
            journal.append(line).unwrap();
        }
        assert!(journal.reserved <= 256 && journal.len > 256);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            whole_lines(&bytes),
            lines.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
        // Nothing but zeros after the lines (the unused reservation).
        assert!(bytes[journal.len as usize..].iter().all(|b| *b == 0));
    }

    #[test]
    fn a_reserved_but_unused_tail_reads_as_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = open(dir.path());
        let mut journal = JournalFile::new(file, 0);
        assert_eq!(journal.reserved, PREPARE_MIN, "reserved in advance");
        journal.append(b"{\"a\":1}\n").unwrap();
        journal.append(b"{\"b\":2}\n").unwrap();
        assert_eq!(journal.len(), 16);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, PREPARE_MIN);
        assert_eq!(
            whole_lines(&bytes),
            vec![&b"{\"a\":1}\n"[..], b"{\"b\":2}\n"]
        );
    }
}
