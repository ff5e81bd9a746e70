//! A mask set built on a background thread, so `hush run` starts the command
//! without waiting for it: building the trie and filter for 1,000 secrets and their
//! encoded forms takes milliseconds, longer than the rest of start-up.
//! Output waits for the set (it is never passed through unmasked); a command
//! that prints nothing never waits at all.

use super::masker::{MaskOptions, MaskSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

type Build = Box<dyn FnOnce() + Send>;

pub struct LazyMaskSet {
    built: Mutex<Option<Arc<MaskSet>>>,
    ready: Condvar,
    /// The build, until `start` hands it to its thread.
    pending: Mutex<Option<Build>>,
    /// Bumped by `replace`: a pump masking with this set takes the new one
    /// before it masks its next read.
    generation: AtomicU64,
}

impl LazyMaskSet {
    /// Starts building; `on_ready` runs on the builder thread once the set exists
    /// (e.g. to warn about values too short to mask).
    pub fn build_in_background(
        secrets: Vec<(String, Vec<u8>)>,
        opts: MaskOptions,
        on_ready: impl FnOnce(&MaskSet) + Send + 'static,
    ) -> Arc<LazyMaskSet> {
        let lazy = Self::deferred(secrets, opts, on_ready);
        lazy.start();
        lazy
    }

    /// Like `build_in_background`, but the build begins at `start` (or at the
    /// first `get`). `hush run` starts it at the command's first output or
    /// after a moment of silence (`pump_lazy`), never while the launcher forks:
    /// a thread filling the heap then makes the fork copy-on-write every page
    /// it touches, which delayed the command by milliseconds.
    pub fn deferred(
        secrets: Vec<(String, Vec<u8>)>,
        opts: MaskOptions,
        on_ready: impl FnOnce(&MaskSet) + Send + 'static,
    ) -> Arc<LazyMaskSet> {
        Arc::new_cyclic(|me: &Weak<LazyMaskSet>| {
            let target = me.clone();
            let build: Build = Box::new(move || {
                let set = Arc::new(MaskSet::new(&secrets, &opts));
                on_ready(&set);
                if let Some(target) = target.upgrade() {
                    target.set_built(set);
                }
            });
            LazyMaskSet {
                built: Mutex::new(None),
                ready: Condvar::new(),
                pending: Mutex::new(Some(build)),
                generation: AtomicU64::new(0),
            }
        })
    }

    /// Starts the build on its own thread; later calls do nothing.
    pub fn start(&self) {
        let build = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(build) = build else { return };
        if let Err(e) = std::thread::Builder::new()
            .name("hush-mask-build".into())
            .spawn(build)
        {
            // No thread: the first `get` would wait forever, so fail loudly instead
            // of ever passing output through unmasked.
            eprintln!("hush: cannot start the masker ({e}); output will be dropped");
        }
    }

    /// An already built set (for callers that have one).
    pub fn ready(set: MaskSet) -> Arc<LazyMaskSet> {
        Arc::new(LazyMaskSet {
            built: Mutex::new(Some(Arc::new(set))),
            ready: Condvar::new(),
            pending: Mutex::new(None),
            generation: AtomicU64::new(0),
        })
    }

    /// Puts `set` in place of the current one while output is being masked:
    /// a command that keeps running (signalled rather than restarted) may
    /// print values that are new since it started. `set` should hold the
    /// old values too, which the command may still print.
    pub fn replace(&self, set: MaskSet) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.set(Arc::new(set));
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times `replace` ran.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The build's result, unless `replace` put a set in place meanwhile
    /// (the newer set must not be overwritten by the older build).
    fn set_built(&self, set: Arc<MaskSet>) {
        let mut slot = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(set);
        }
        self.ready.notify_all();
    }

    fn set(&self, set: Arc<MaskSet>) {
        let mut slot = self.built.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(set);
        self.ready.notify_all();
    }

    /// The set, waiting until it is built.
    pub fn get(&self) -> Arc<MaskSet> {
        self.start();
        let mut slot = self.built.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(set) = slot.as_ref() {
                return Arc::clone(set);
            }
            slot = self.ready.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_build_is_awaited() {
        let lazy = LazyMaskSet::build_in_background(
            vec![("K".into(), b"secret-value".to_vec())],
            MaskOptions::default(),
            |_| {},
        );
        assert!(lazy.get().pattern_count() > 0);
        assert!(
            LazyMaskSet::ready(MaskSet::new(&[], &MaskOptions::default()))
                .get()
                .is_empty()
        );
    }

    #[test]
    fn a_deferred_build_starts_once_and_at_the_latest_on_get() {
        let lazy = LazyMaskSet::deferred(
            vec![("K".into(), b"secret-value".to_vec())],
            MaskOptions::default(),
            |_| {},
        );
        assert!(lazy.built.lock().unwrap().is_none(), "built before start");
        assert!(lazy.get().pattern_count() > 0);
        lazy.start();
        assert!(lazy.get().pattern_count() > 0);
    }
}
