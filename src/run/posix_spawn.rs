//! Starting the command with posix_spawn(3) when no terminal is involved.
//!
//! A fork copies hush's page tables and leaves the child to tear down a
//! copy of hush's memory when it execs, and the parent takes copy-on-write
//! faults meanwhile, on every `hush run` whose output is a pipe (CI logs,
//! `| tee`, the benchmark). glibc's posix_spawn uses
//! clone(CLONE_VM | CLONE_VFORK): the child borrows hush's memory until its
//! exec, so none of that happens. It gives the child the same start as the
//! fork path (`pty::configure_child`): every signal at its default
//! disposition, an empty signal mask, its own session (POSIX_SPAWN_SETSID),
//! stdout/stderr on the given pipes, stdin and everything else inherited.
//! The pty path keeps fork: making a terminal the controlling one
//! (TIOCSCTTY) has no posix_spawn equivalent.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

use nix::libc;
use nix::unistd::Pid;

use super::exec_image::ExecImage;

/// Owns a posix_spawnattr_t / posix_spawn_file_actions_t, destroyed on drop.
struct Attr(libc::posix_spawnattr_t);
struct FileActions(libc::posix_spawn_file_actions_t);

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawnattr_init in `spawn`.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised by posix_spawn_file_actions_init in `spawn`.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// Turns a posix_spawn* return value (an errno, not -1) into a Result.
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(ret))
    }
}

/// Starts `image` with stdin, stdout and stderr on `stdin`/`stdout`/`stderr`
/// when given (else inherited). An exec failure comes back as its errno (glibc reports
/// it through the vfork).
pub(super) fn spawn(
    image: &ExecImage,
    stdin: Option<RawFd>,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
) -> io::Result<Pid> {
    let mut argv: Vec<*mut libc::c_char> =
        image.argv.iter().map(|a| a.as_ptr() as *mut _).collect();
    argv.push(std::ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> =
        image.envp.iter().map(|e| e.as_ptr() as *mut _).collect();
    envp.push(std::ptr::null_mut());

    // SAFETY (whole block): each object is initialised before use and
    // destroyed by its guard; the sigsets are plain local values; every
    // pointer handed to posix_spawn (path, the NULL-terminated argv and envp
    // arrays and the strings they point to) stays alive until it returns.
    unsafe {
        let mut attr = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        check(libc::posix_spawnattr_init(attr.as_mut_ptr()))?;
        let mut attr = Attr(attr.assume_init());
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &all))?;
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        check(libc::posix_spawnattr_setsigmask(&mut attr.0, &none))?;
        let flags = libc::POSIX_SPAWN_SETSID
            | libc::POSIX_SPAWN_SETSIGDEF as libc::c_short
            | libc::POSIX_SPAWN_SETSIGMASK as libc::c_short;
        check(libc::posix_spawnattr_setflags(&mut attr.0, flags))?;

        let mut actions = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        check(libc::posix_spawn_file_actions_init(actions.as_mut_ptr()))?;
        let mut actions = FileActions(actions.assume_init());
        for (fd, target) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
            if let Some(fd) = fd {
                check(libc::posix_spawn_file_actions_adddup2(
                    &mut actions.0,
                    fd,
                    target,
                ))?;
            }
        }

        let mut pid: libc::pid_t = 0;
        check(libc::posix_spawn(
            &mut pid,
            image.path.as_ptr(),
            &actions.0,
            &attr.0,
            argv.as_ptr(),
            envp.as_ptr(),
        ))?;
        Ok(Pid::from_raw(pid))
    }
}
