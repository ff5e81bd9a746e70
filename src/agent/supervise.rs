//! Supervisor mode (`hush agent --exec -- CMD`, or `exec:` in the config):
//! the agent starts CMD once every template has rendered, with the env
//! templates' variables in its environment, and applies the restart policy
//! on each effective change.
//!
//! The child is run by `crate::run` exactly as `hush run` runs it — its own
//! session, output masked (every secret value any template read, not only
//! the env templates'), signals forwarded,
//! the child's exit code or 128+N — on a blocking thread; restarts and
//! "signal" reloads go through `crate::run`'s restart channel. While the
//! child runs, `crate::run` owns SIGINT/SIGTERM/SIGHUP (they go to the
//! child, as with `hush run`; SIGHUP therefore does not reload the agent's
//! config in this mode) and reaps every child of the process.
//!
//! An env template (`env: true`) renders dotenv text (`KEY=value` lines);
//! its variables are layered over the agent's own environment with `hush
//! run`'s rules (loader hooks such as LD_PRELOAD and hush's credentials are
//! never passed on).

use super::config::{ExecConfig, RestartPolicy};
use crate::mask::{LazyMaskSet, MaskOptions};
use crate::run::environment::{self, EnvOptions};
use crate::run::pump::MaskHold;
use crate::run::{Env, LaunchSpec, Restart};
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// Variables from env templates, in template order (later templates win).
pub type Vars = BTreeMap<String, Zeroizing<String>>;

/// Parse one env template's rendered text; errors name the line, never a
/// value.
pub fn parse_env(text: &str) -> Result<Vec<(String, Zeroizing<String>)>, String> {
    let mut out = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (k, v) = item.map_err(|e| match e {
            dotenvy::Error::LineParse(_, at) => {
                format!("the rendered env file is not KEY=value lines (at byte {at})")
            }
            _ => "the rendered env file is not KEY=value lines".to_string(),
        })?;
        out.push((k, Zeroizing::new(v)));
    }
    Ok(out)
}

/// The running child and the way to restart or signal it.
pub struct Supervisor {
    restarts: Option<mpsc::Sender<Restart>>,
    /// The exit code, once (taken by the caller's event loop).
    pub done: Option<oneshot::Receiver<i32>>,
    policy: RestartPolicy,
    /// The set the running command's output is masked with, and the values
    /// in it: a command that is signalled (or left alone) rather than
    /// restarted may print new values and still the old ones, so on a
    /// change the set is replaced with both, before the command hears of it.
    live_mask: Arc<LazyMaskSet>,
    masked_values: MaskValues,
    masked_digests: HashSet<[u8; 32]>,
}

/// Values a long-running command's mask set keeps at most (the newest).
const MAX_MASKED_VALUES: usize = 4096;

fn digests(values: &MaskValues) -> HashSet<[u8; 32]> {
    use sha2::Digest;
    values
        .iter()
        .map(|(_, v)| sha2::Sha256::digest(v.as_bytes()).into())
        .collect()
}

fn child_env(vars: &Vars) -> Env {
    let secrets: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().to_owned()))
        .collect();
    let opts = EnvOptions {
        inherit: true,
        ..EnvOptions::default()
    };
    // The agent's own credentials (INFISICAL_* overrides) stay with it.
    let inherited =
        std::env::vars_os().filter(|(k, _)| !super::command::SCRUBBED.iter().any(|s| k == s));
    let built = environment::build(inherited, &secrets, &opts);
    for name in &built.skipped_dangerous {
        eprintln!("{}", crate::run::dangerous::skipped_warning(name));
    }
    built.vars
}

/// Values to mask, named (a name may repeat): the env templates' variables
/// and every secret value any template read.
pub type MaskValues = Vec<(String, Zeroizing<String>)>;

fn mask_input(values: &MaskValues) -> Vec<(String, Vec<u8>)> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect()
}

fn warn_skipped(set: &crate::mask::MaskSet) {
    if !set.skipped_keys().is_empty() {
        eprintln!(
            "hush agent: warning: not masking {} (values too short or too common to mask)",
            set.skipped_keys().join(", ")
        );
    }
}

fn mask(values: &MaskValues) -> Arc<LazyMaskSet> {
    LazyMaskSet::build_in_background(mask_input(values), MaskOptions::default(), warn_skipped)
}

impl Supervisor {
    /// Start the command on a blocking thread; `done` yields hush's exit
    /// code for it.
    pub fn start(exec: &ExecConfig, vars: Vars, masked: &MaskValues) -> Supervisor {
        let (tx, rx) = mpsc::channel();
        let (done_tx, done) = oneshot::channel();
        let mut argv = exec.command.iter().map(OsString::from);
        let program = argv.next().unwrap_or_default();
        let mut spec = LaunchSpec::new(program, argv.collect(), child_env(&vars));
        let live_mask = mask(masked);
        spec.mask = Some((live_mask.clone(), MaskHold::For(Duration::from_millis(250))));
        let restarts = Some(tx);
        tokio::task::spawn_blocking(move || {
            let code = match crate::run::run(spec, Some(rx)) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("hush: {e}");
                    e.exit_code()
                }
            };
            let _ = done_tx.send(code);
        });
        Supervisor {
            restarts,
            done: Some(done),
            policy: exec.restart,
            live_mask,
            masked_values: masked.clone(),
            masked_digests: digests(masked),
        }
    }

    /// Send `sig` to the command's process group (through the launcher).
    pub fn forward(&self, sig: nix::sys::signal::Signal) {
        if let Some(tx) = &self.restarts {
            let _ = tx.send(Restart {
                env: Vec::new(),
                mask: None,
                signal_only: Some(sig),
            });
        }
    }

    /// A command that keeps running: its mask set becomes the old values
    /// and the new ones (the newest `MAX_MASKED_VALUES`), in place, before
    /// it is signalled.
    fn mask_new_values(&mut self, masked: &MaskValues) {
        use sha2::Digest;
        for (k, v) in masked {
            let d: [u8; 32] = sha2::Sha256::digest(v.as_bytes()).into();
            if self.masked_digests.insert(d) {
                self.masked_values.push((k.clone(), v.clone()));
            }
        }
        if self.masked_values.len() > MAX_MASKED_VALUES {
            let extra = self.masked_values.len() - MAX_MASKED_VALUES;
            self.masked_values.drain(..extra);
            self.masked_digests = digests(&self.masked_values);
        }
        let set =
            crate::mask::MaskSet::new(&mask_input(&self.masked_values), &MaskOptions::default());
        warn_skipped(&set);
        self.live_mask.replace(set);
    }

    /// A template was rewritten (an effective change): apply the policy.
    /// `vars` is the env templates' current content.
    pub fn changed(&mut self, vars: Vars, masked: &MaskValues) {
        let Some(tx) = self.restarts.clone() else {
            return;
        };
        let restart = match self.policy {
            RestartPolicy::Never => {
                self.mask_new_values(masked);
                return;
            }
            RestartPolicy::Signal(sig) => {
                // Masked before the command hears of the change.
                self.mask_new_values(masked);
                eprintln!("hush agent: a template changed; signalling the command");
                Restart {
                    env: Vec::new(),
                    mask: None,
                    signal_only: Some(sig),
                }
            }
            RestartPolicy::Always => {
                eprintln!("hush agent: a template changed; restarting the command");
                self.live_mask = mask(masked);
                self.masked_values = masked.clone();
                self.masked_digests = digests(masked);
                Restart {
                    env: child_env(&vars),
                    mask: Some(self.live_mask.clone()),
                    signal_only: None,
                }
            }
        };
        let _ = tx.send(restart);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_text_parses_and_errors_carry_no_value() {
        let v = parse_env("A=1\nB=\"two words\"\n# c\n").unwrap();
        assert_eq!(v[0].0, "A");
        assert_eq!(v[1].1.as_str(), "two words");
        let e = parse_env("A=1\nnot a line canary-supervise-77\n").unwrap_err();
        assert!(!e.contains("canary"), "{e}");
    }
}
