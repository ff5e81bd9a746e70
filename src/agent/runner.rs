//! The long-running agent: log in, render every template, then keep the
//! files fresh until SIGTERM.
//!
//! - A change from a project's feed marks the templates whose last render
//!   read something it touched; after the debounce window they render again.
//!   Polling at `polling-interval` replaces the feed only while it is down.
//! - A render writes its file only when the bytes differ, and only a write
//!   triggers the on-change command.
//! - A failed render (server down, 5xx, template error) leaves the file as
//!   it was and retries with backoff and jitter.
//! - A new token (renewal, or a 401) is handed to the feeds and renders;
//!   it never causes a render by itself.
//! - SIGHUP reloads the config (a bad one is reported and the old one kept);
//!   SIGTERM and SIGINT exit cleanly.

use super::auth::Auth;
use super::backoff::Backoff;
use super::command::{CommandRunner, Ran};
use super::config::{self, AgentConfig, ExecConfig, RestartPolicy, TemplateConfig};
use super::feed::{follow, FeedEvent};
use super::files::{write_if_changed, Outcome};
use super::secrets::{Read, SecretFuncs};
use super::status::{Status, TemplateStatus};
use super::supervise::{parse_env, Supervisor, Vars};
use super::template::{Limits, Value};
use crate::client::ApiClient;
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use zeroize::Zeroizing;

/// Attempts at logging in or rendering before `exit-after-render` (or
/// `exit-after-auth`) gives up: about half a minute with the backoff.
const EXIT_MODE_ATTEMPTS: u32 = 7;

pub struct Options {
    pub config_path: PathBuf,
    pub debounce: Duration,
    pub exit_after_render: bool,
    /// Supervisor mode: `--exec`; `exec_command` (after --) overrides the
    /// config's `exec.command`.
    pub exec: bool,
    pub exec_command: Vec<std::ffi::OsString>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Failed(String),
}

fn now_iso() -> String {
    crate::time_ids::iso(crate::time_ids::now_ms())
}

impl Tpl {
    /// Its file holds a render: from the server, or from the offline cache
    /// while the server is unreachable.
    fn in_place(&self) -> bool {
        self.status.last_render_at.is_some()
            && (self.status.last_error.is_none() || self.status.offline_since.is_some())
    }
}

/// A successful render: the text, what it read, and its fetches.
struct Rendered {
    text: Zeroizing<String>,
    reads: Vec<Read>,
    memo: super::offline::Memo,
    /// A dynamic-secret lease it used wants a new render then (unix ms).
    rerender_at_ms: Option<i64>,
}

/// A failed render: the message (no value in it), and whether a fetch got
/// a 401 or found no server.
struct RenderFailure {
    msg: String,
    unauthorized: bool,
    unreachable: bool,
}

struct Tpl {
    cfg: TemplateConfig,
    /// What the last successful render read (empty before the first).
    reads: Vec<Read>,
    dirty: bool,
    backoff: Backoff,
    retry_at: Option<Instant>,
    next_poll: Instant,
    runner: Option<CommandRunner>,
    status: TemplateStatus,
    /// An env template's last rendered text (supervisor mode).
    env_text: Option<Zeroizing<String>>,
    /// The secret values its last render read (masked in supervisor mode).
    secret_values: Vec<(String, Zeroizing<String>)>,
    /// Render again then: a dynamic-secret lease it uses is ending.
    lease_at: Option<Instant>,
}

struct Agent {
    opts: Options,
    cfg: AgentConfig,
    auth: Auth,
    login_backoff: Backoff,
    client: watch::Sender<Arc<ApiClient>>,
    /// Per project: whether its feed is down (then its templates poll).
    feeds: HashMap<String, bool>,
    events: mpsc::Sender<FeedEvent>,
    ran: mpsc::UnboundedSender<Ran>,
    tpls: Vec<Tpl>,
    status: Status,
    debounce_at: Option<Instant>,
    /// Supervisor mode: the command and whether a template was rewritten
    /// since the policy was last applied.
    sup: Option<Supervisor>,
    changed: bool,
    /// On-change signals are sent (not with exit-after-render, which runs
    /// no on-change commands either).
    notify: bool,
    /// Dynamic-secret leases, shared by every template and kept across
    /// renders and reloads.
    leases: Arc<super::leases::Leases>,
}

/// The supervisor settings from the command line and the config, checked.
fn exec_config(opts: &Options, cfg: &AgentConfig) -> Result<Option<ExecConfig>, AgentError> {
    let bad = |m: &str| AgentError::Config(config::ConfigError(m.to_string()));
    if !opts.exec && cfg.exec.is_none() {
        return Ok(None);
    }
    let mut exec = cfg.exec.clone().unwrap_or(ExecConfig {
        command: Vec::new(),
        restart: RestartPolicy::Always,
    });
    if !opts.exec_command.is_empty() {
        exec.command = opts
            .exec_command
            .iter()
            .map(|a| a.clone().into_string())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("the command to supervise must be UTF-8"))?;
    }
    if exec.command.is_empty() {
        return Err(bad(
            "supervisor mode needs a command: hush agent --exec -- CMD, or exec.command in the config",
        ));
    }
    if opts.exit_after_render || cfg.exit_after_render || cfg.exit_after_auth {
        return Err(bad(
            "exec cannot be combined with exit-after-render or exit-after-auth",
        ));
    }
    if let Some(t) = cfg.templates.iter().find(|t| t.command.is_some()) {
        return Err(bad(&format!(
            "{}: execute.command cannot be used with exec (the supervisor owns child processes; use exec.restart)",
            t.label
        )));
    }
    Ok(Some(exec))
}

/// Runs the agent; returns the exit code.
pub async fn run(opts: Options) -> Result<i32, AgentError> {
    let cfg = config::load(&opts.config_path)?;
    let exec = exec_config(&opts, &cfg)?;
    let exit_mode = opts.exit_after_render || cfg.exit_after_render || cfg.exit_after_auth;
    let anonymous =
        ApiClient::new(&cfg.address, None).map_err(|e| AgentError::Failed(e.to_string()))?;
    let auth = Auth::new(cfg.auth.clone(), anonymous, cfg.sinks.clone());
    let status = Status {
        pid: std::process::id(),
        started_at: now_iso(),
        freshness: "starting".into(),
        ..Status::default()
    };
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| AgentError::Failed(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| AgentError::Failed(e.to_string()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| AgentError::Failed(e.to_string()))?;

    let (events_tx, mut events_rx) = mpsc::channel(64);
    let (ran_tx, mut ran_rx) = mpsc::unbounded_channel();
    let (client_tx, _) = watch::channel(Arc::new(auth.anonymous()));
    let exit_after_render = opts.exit_after_render || cfg.exit_after_render;
    let mut agent = Agent {
        opts,
        tpls: Vec::new(),
        cfg,
        auth,
        login_backoff: Backoff::new(),
        client: client_tx,
        feeds: HashMap::new(),
        events: events_tx,
        ran: ran_tx,
        status,
        debounce_at: None,
        sup: None,
        changed: false,
        notify: !exit_after_render,
        leases: Arc::new(super::leases::Leases::default()),
    };
    agent.tpls = agent.make_tpls(agent.cfg.templates.clone(), !exit_after_render);

    // The first token, retried until the server answers. Meanwhile the
    // offline cache (when allowed) stands in, once.
    let mut tried_offline = false;
    let client = loop {
        match agent.auth.login().await {
            Ok(c) => break c,
            Err(e) => {
                let msg = format!("{e}");
                eprintln!("hush agent: {msg}; retrying");
                agent.status.last_error = Some(msg.clone());
                agent.save_status();
                if !tried_offline && agent.cfg.offline.is_some() && e.unreachable() {
                    tried_offline = true;
                    if agent.render_all_offline().await && exit_after_render {
                        eprintln!("hush agent: every template rendered from the offline cache");
                        return Ok(0);
                    }
                }
                if exit_mode && agent.login_backoff.attempts() + 1 >= EXIT_MODE_ATTEMPTS {
                    return Err(AgentError::Failed(format!(
                        "{msg} (gave up after {EXIT_MODE_ATTEMPTS} attempts)"
                    )));
                }
                tokio::select! {
                    _ = tokio::time::sleep(agent.login_backoff.next_delay()) => {}
                    _ = term.recv() => return Ok(0),
                    _ = int.recv() => return Ok(0),
                }
            }
        }
    };
    agent.login_backoff.reset();
    agent.client.send_replace(client);
    agent.status.last_error = None;
    agent.status.last_login_at = Some(now_iso());
    if agent.cfg.exit_after_auth {
        agent.save_status();
        return Ok(0);
    }
    agent.render_all().await;

    if exit_after_render {
        return agent.finish_exit_after_render(&mut term).await;
    }

    let mut child_done = None;
    if let Some(exec) = exec {
        if !agent.wait_first_render(&mut term, &mut int).await {
            agent.status.freshness = "stopped".into();
            agent.save_status();
            return Ok(0);
        }
        let vars = agent.env_vars().map_err(AgentError::Failed)?;
        agent.changed = false;
        let mut sup = Supervisor::start(&exec, vars, &agent.mask_values());
        child_done = sup.done.take();
        agent.sup = Some(sup);
    }
    let mut exit_code = 0;

    loop {
        let deadline = agent.next_deadline();
        tokio::select! {
            _ = term.recv() => if agent.pass_on(Signal::SIGTERM) { continue } else { break },
            _ = int.recv() => if agent.pass_on(Signal::SIGINT) { continue } else { break },
            code = wait_child(&mut child_done) => {
                exit_code = code;
                break;
            }
            _ = hup.recv() => agent.reload().await,
            Some(ev) = events_rx.recv() => agent.on_feed(ev),
            Some(ran) = ran_rx.recv() => agent.on_ran(ran),
            _ = sleep_until(deadline) => {
                // A render waiting on a slow server must not delay SIGTERM;
                // one cut short has written nothing (the write is not async).
                tokio::select! {
                    _ = agent.on_timer() => {}
                    _ = term.recv() => if agent.pass_on(Signal::SIGTERM) { continue } else { break },
                    _ = int.recv() => if agent.pass_on(Signal::SIGINT) { continue } else { break },
                }
            }
        }
        agent.apply_changes();
    }
    agent.status.freshness = "stopped".into();
    agent.save_status();
    Ok(exit_code)
}

/// The supervised command's exit code; never resolves without one.
async fn wait_child(done: &mut Option<tokio::sync::oneshot::Receiver<i32>>) -> i32 {
    match done {
        Some(rx) => rx
            .await
            .unwrap_or(crate::run::status::EXIT_LAUNCHER_FAILURE),
        None => std::future::pending().await,
    }
}

impl Agent {
    /// Supervisor mode: retries until every template has rendered once.
    /// False when SIGTERM/SIGINT came first.
    async fn wait_first_render(
        &mut self,
        term: &mut tokio::signal::unix::Signal,
        int: &mut tokio::signal::unix::Signal,
    ) -> bool {
        while !self.tpls.iter().all(Tpl::in_place) {
            let next = self.next_deadline();
            tokio::select! {
                _ = sleep_until(next) => {}
                _ = term.recv() => return false,
                _ = int.recv() => return false,
            }
            self.on_timer().await;
        }
        true
    }

    /// Supervisor mode: a SIGTERM/SIGINT that reached the agent rather than
    /// the launcher (it arrived before the launcher's handlers were in
    /// place) goes to the command, and the agent waits for its exit instead
    /// of leaving it behind. False when there is no command.
    fn pass_on(&self, sig: Signal) -> bool {
        match &self.sup {
            Some(sup) => {
                sup.forward(sig);
                true
            }
            None => false,
        }
    }

    /// What the supervised command's output is masked for: the env
    /// templates' variables and every secret value a template read.
    fn mask_values(&self) -> super::supervise::MaskValues {
        let mut out: super::supervise::MaskValues = Vec::new();
        if let Ok(vars) = self.env_vars() {
            out.extend(vars);
        }
        for t in &self.tpls {
            out.extend(t.secret_values.iter().cloned());
        }
        out
    }

    /// The env templates' variables, later templates winning.
    fn env_vars(&self) -> Result<Vars, String> {
        let mut vars = Vars::new();
        for t in self.tpls.iter().filter(|t| t.cfg.env) {
            let text = t.env_text.as_ref().map(|s| s.as_str()).unwrap_or("");
            for (k, v) in parse_env(text).map_err(|e| format!("{}: {e}", t.cfg.label))? {
                vars.insert(k, v);
            }
        }
        Ok(vars)
    }

    /// After renders: an effective change goes to the supervisor's policy,
    /// once per batch of renders.
    fn apply_changes(&mut self) {
        if !std::mem::take(&mut self.changed) || self.sup.is_none() {
            return;
        }
        let masked = self.mask_values();
        match self.env_vars() {
            Ok(vars) => {
                if let Some(sup) = &mut self.sup {
                    sup.changed(vars, &masked);
                }
            }
            Err(e) => eprintln!("hush agent: {e}; the command keeps its environment"),
        }
    }

    fn make_tpls(&self, templates: Vec<TemplateConfig>, commands: bool) -> Vec<Tpl> {
        let now = Instant::now();
        templates
            .into_iter()
            .map(|cfg| {
                let runner = cfg.command.clone().filter(|_| commands).map(|c| {
                    CommandRunner::spawn(
                        cfg.label.clone(),
                        c,
                        cfg.command_timeout,
                        self.ran.clone(),
                    )
                });
                Tpl {
                    status: TemplateStatus {
                        destination: cfg.destination.display().to_string(),
                        ..TemplateStatus::default()
                    },
                    next_poll: now + cfg.polling,
                    cfg,
                    reads: Vec::new(),
                    dirty: false,
                    backoff: Backoff::new(),
                    retry_at: None,
                    runner,
                    env_text: None,
                    secret_values: Vec::new(),
                    lease_at: None,
                }
            })
            .collect()
    }

    fn save_status(&mut self) {
        self.status.templates = self.tpls.iter().map(|t| t.status.clone()).collect();
        let path = self.cfg.status_file.clone();
        self.status.save(&path);
    }

    /// Retries what failed until every template rendered, or gives up.
    async fn finish_exit_after_render(
        mut self,
        term: &mut tokio::signal::unix::Signal,
    ) -> Result<i32, AgentError> {
        let mut attempts = 1;
        loop {
            let failed: Vec<String> = self
                .tpls
                .iter()
                .filter(|t| !t.in_place())
                .filter_map(|t| {
                    t.status
                        .last_error
                        .as_ref()
                        .map(|e| format!("{}: {e}", t.cfg.label))
                })
                .collect();
            if failed.is_empty() {
                return Ok(0);
            }
            if attempts >= EXIT_MODE_ATTEMPTS {
                return Err(AgentError::Failed(format!(
                    "{} (gave up after {EXIT_MODE_ATTEMPTS} attempts)",
                    failed.join("; ")
                )));
            }
            attempts += 1;
            let next = self.next_deadline();
            tokio::select! {
                _ = sleep_until(next) => {}
                _ = term.recv() => return Ok(0),
            }
            self.on_timer().await;
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut at = Instant::now() + Duration::from_secs(3600);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                at = at.min(t);
            }
        };
        consider(self.auth.renew_at);
        consider(self.debounce_at);
        for t in &self.tpls {
            consider(t.retry_at);
            consider(t.lease_at);
            if self.polls(t) {
                consider(Some(t.next_poll));
            }
        }
        at
    }

    /// A template polls while a feed it depends on is down.
    fn polls(&self, t: &Tpl) -> bool {
        t.reads
            .iter()
            .any(|r| self.feeds.get(&r.project).copied().unwrap_or(true))
    }

    fn mark_dirty(&mut self, pick: impl Fn(&Tpl) -> bool) {
        let mut any = false;
        for t in self.tpls.iter_mut().filter(|t| pick(t)) {
            t.dirty = true;
            any = true;
        }
        if any && self.debounce_at.is_none() {
            self.debounce_at = Some(Instant::now() + self.opts.debounce);
        }
    }

    fn on_feed(&mut self, ev: FeedEvent) {
        match ev {
            FeedEvent::Changes(project, changes) => self.mark_dirty(|t| {
                t.reads
                    .iter()
                    .any(|r| r.project == project && changes.iter().any(|c| r.touched_by(c)))
            }),
            FeedEvent::Down(project) => {
                eprintln!("hush agent: no change notifications for project {project}; polling until they return");
                self.feeds.insert(project, true);
                self.status.freshness = "polling".into();
                self.save_status();
            }
            FeedEvent::Up(project) => {
                self.feeds.insert(project.clone(), false);
                if self.feeds.values().all(|down| !down) {
                    self.status.freshness = "push".into();
                }
                // Whatever changed while it was down.
                self.mark_dirty(|t| t.reads.iter().any(|r| r.project == project));
            }
        }
    }

    fn on_ran(&mut self, ran: Ran) {
        if let Some(t) = self.tpls.iter_mut().find(|t| t.cfg.label == ran.label) {
            t.status.command_runs += 1;
            if let Some(e) = ran.error {
                t.status.last_error = Some(format!("on-change command: {e}"));
            }
        }
        self.save_status();
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        if self.auth.renew_at.is_some_and(|at| at <= now) {
            self.relogin().await;
        }
        let debounced = self.debounce_at.is_some_and(|at| at <= now);
        if debounced {
            self.debounce_at = None;
        }
        let due: Vec<usize> = (0..self.tpls.len())
            .filter(|&i| {
                let t = &self.tpls[i];
                (debounced && t.dirty)
                    || t.retry_at.is_some_and(|at| at <= now)
                    || t.lease_at.is_some_and(|at| at <= now)
                    || (self.polls(t) && t.next_poll <= now)
            })
            .collect();
        for i in due {
            self.render(i).await;
        }
        self.save_status();
    }

    /// A new token for the feeds and renders; no render of its own.
    async fn relogin(&mut self) -> bool {
        match self.auth.login().await {
            Ok(client) => {
                self.login_backoff.reset();
                self.client.send_replace(client);
                self.status.last_login_at = Some(now_iso());
                self.status.last_error = None;
                true
            }
            Err(e) => {
                let wait = self.login_backoff.next_delay();
                self.auth.retry_in(wait);
                eprintln!("hush agent: could not log in again ({e}); retrying");
                self.status.last_error = Some(e.to_string());
                false
            }
        }
    }

    async fn render_all(&mut self) {
        for i in 0..self.tpls.len() {
            self.render(i).await;
        }
        self.save_status();
    }

    async fn render(&mut self, i: usize) {
        let mut result = self.render_text(i).await;
        if let Err(f) = &result {
            if f.unauthorized && self.relogin().await {
                // The token was refused: a new one, then once more.
                result = self.render_text(i).await;
            }
        }
        let now = Instant::now();
        {
            let t = &mut self.tpls[i];
            t.dirty = false;
            // A failed render retries on its backoff, not on the lease.
            t.lease_at = None;
            t.next_poll = now + t.cfg.polling;
            t.status.renders += 1;
        }
        match result {
            Ok(r) => {
                self.save_offline(i, &r.memo);
                let t = &mut self.tpls[i];
                t.secret_values = super::secrets::secret_values(&r.memo);
                t.lease_at = r.rerender_at_ms.map(|ms| {
                    let wait = (ms - crate::time_ids::now_ms()).max(0) as u64;
                    now + Duration::from_millis(wait)
                });
                t.reads = r.reads;
                t.backoff.reset();
                t.retry_at = None;
                t.status.last_render_at = Some(now_iso());
                t.status.offline_since = None;
                self.write(i, r.text, None);
            }
            Err(f) => {
                let offline = match (&self.cfg.offline, f.unreachable) {
                    (Some(_), true) => Some(self.offline_text(i).await),
                    _ => None,
                };
                let t = &mut self.tpls[i];
                t.retry_at = Some(now + t.backoff.next_delay());
                match offline {
                    Some(Ok((text, age))) => {
                        if t.status.offline_since.is_none() {
                            t.status.offline_since = Some(now_iso());
                        }
                        t.status.last_render_at = Some(now_iso());
                        let note = format!("{}; rendered from the offline cache ({age})", f.msg);
                        self.write(i, text, Some(note));
                    }
                    other => {
                        let msg = match other {
                            Some(Err(e)) => format!("{}; offline cache: {e}", f.msg),
                            _ => f.msg,
                        };
                        eprintln!(
                            "hush agent: {}: {msg}; the file keeps its last content, retrying",
                            t.cfg.label
                        );
                        t.status.last_error = Some(msg);
                    }
                }
            }
        }
        self.ensure_feeds(i);
    }

    /// Writes template `i`'s rendered text if it changed, then runs its
    /// on-change actions. `note` (a render from the offline cache) becomes
    /// the template's reported error once the write succeeded.
    fn write(&mut self, i: usize, text: Zeroizing<String>, note: Option<String>) {
        let now = Instant::now();
        let t = &mut self.tpls[i];
        if t.cfg.env {
            t.env_text = Some(text.clone());
        }
        match write_if_changed(
            &t.cfg.destination,
            text.as_bytes(),
            t.cfg.mode,
            t.cfg.owner.as_ref(),
        ) {
            Ok(Outcome::Unchanged) => t.status.last_error = note,
            Ok(Outcome::Written) => {
                t.status.last_error = note;
                t.status.writes += 1;
                t.status.last_write_at = Some(now_iso());
                self.changed = true;
                eprintln!("hush agent: rendered {}", t.cfg.destination.display());
                if let Some(r) = &t.runner {
                    r.trigger();
                }
                // Renders are already debounced and this is a real change
                // of bytes: one signal, now.
                if let Some(sig) = t.cfg.on_change.as_ref().filter(|_| self.notify) {
                    match sig.send() {
                        Ok(pid) => {
                            t.status.signals_sent += 1;
                            eprintln!("hush agent: sent {} to pid {pid}", sig.signal.as_str());
                        }
                        Err(e) => {
                            eprintln!("hush agent: {}: on-change signal: {e}", t.cfg.label);
                            t.status.last_error = Some(format!("on-change signal: {e}"));
                        }
                    }
                }
            }
            Err(e) => {
                let msg = format!("cannot write {}: {e}", t.cfg.destination.display());
                eprintln!("hush agent: {}: {msg}", t.cfg.label);
                // Whatever it rendered from, the file is not in place.
                t.status.offline_since = None;
                t.status.last_error = Some(msg);
                t.retry_at = Some(now + t.backoff.next_delay());
            }
        }
    }

    /// Keeps what a successful render fetched for offline renders.
    fn save_offline(&self, i: usize, memo: &super::offline::Memo) {
        let Some(off) = &self.cfg.offline else { return };
        let Some(credential) = self.auth.cache_credential() else {
            return;
        };
        let dest = &self.tpls[i].cfg.destination;
        if let Err(e) = super::offline::save(off, &credential, &self.cfg.address, dest, memo) {
            eprintln!(
                "hush agent: {}: could not update the offline cache: {e}",
                self.tpls[i].cfg.label
            );
        }
    }

    /// Renders template `i` from the offline cache only.
    async fn offline_text(&self, i: usize) -> Result<(Zeroizing<String>, String), String> {
        let off = self.cfg.offline.as_ref().ok_or("offline-cache is off")?;
        let credential = self
            .auth
            .cache_credential()
            .ok_or("the credential that opens it cannot be read")?;
        let (memo, age) = super::offline::load(
            off,
            &credential,
            &self.cfg.address,
            &self.tpls[i].cfg.destination,
        )?;
        let template = self.tpls[i].cfg.template.clone();
        let client = self.client.borrow().clone();
        let handle = tokio::runtime::Handle::current();
        let out = tokio::task::spawn_blocking(move || {
            let mut funcs = SecretFuncs::offline(handle, client, memo);
            template.render(Value::Nil, &mut funcs, Limits::default())
        })
        .await
        .map_err(|_| "the render stopped unexpectedly".to_string())?;
        out.map(|text| (Zeroizing::new(text), age))
            .map_err(|e| e.to_string())
    }

    /// Before the first login succeeded: every template from the offline
    /// cache, once. True when all of them rendered.
    async fn render_all_offline(&mut self) -> bool {
        let mut all = true;
        for i in 0..self.tpls.len() {
            match self.offline_text(i).await {
                Ok((text, age)) => {
                    self.tpls[i].status.last_render_at = Some(now_iso());
                    self.tpls[i].status.offline_since = Some(now_iso());
                    let note = format!(
                        "the server is unreachable; rendered from the offline cache ({age})"
                    );
                    eprintln!("hush agent: {}: {note}", self.tpls[i].cfg.label);
                    self.write(i, text, Some(note));
                }
                Err(e) => {
                    all = false;
                    let msg = format!(
                        "the server is unreachable and the offline cache cannot stand in: {e}"
                    );
                    eprintln!("hush agent: {}: {msg}", self.tpls[i].cfg.label);
                    self.tpls[i].status.last_error = Some(msg);
                }
            }
        }
        self.save_status();
        all
    }

    /// Renders template `i` on a blocking thread (its functions wait on
    /// requests).
    async fn render_text(&self, i: usize) -> Result<Rendered, RenderFailure> {
        let template = self.tpls[i].cfg.template.clone();
        let client = self.client.borrow().clone();
        let handle = tokio::runtime::Handle::current();
        let leases = self.leases.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut funcs = SecretFuncs::new(handle, client).with_leases(leases);
            let out = template.render(Value::Nil, &mut funcs, Limits::default());
            (out, funcs)
        })
        .await;
        match joined {
            Ok((Ok(text), funcs)) => Ok(Rendered {
                text: Zeroizing::new(text),
                reads: funcs.reads,
                memo: funcs.memo,
                rerender_at_ms: funcs.rerender_at_ms,
            }),
            Ok((Err(e), funcs)) => Err(RenderFailure {
                msg: e.to_string(),
                unauthorized: funcs.unauthorized,
                unreachable: funcs.unreachable,
            }),
            Err(_) => Err(RenderFailure {
                msg: "the render stopped unexpectedly".into(),
                unauthorized: false,
                unreachable: false,
            }),
        }
    }

    /// Starts the feed of every project template `i` read, once.
    fn ensure_feeds(&mut self, i: usize) {
        let projects: Vec<String> = self.tpls[i]
            .reads
            .iter()
            .map(|r| r.project.clone())
            .collect();
        for project in projects {
            if self.feeds.contains_key(&project) {
                continue;
            }
            self.feeds.insert(project.clone(), false);
            if self.status.freshness == "starting" {
                self.status.freshness = "push".into();
            }
            tokio::spawn(follow(
                project,
                self.client.subscribe(),
                self.events.clone(),
            ));
        }
    }

    /// SIGHUP: the config read again; a bad one changes nothing.
    async fn reload(&mut self) {
        let new = match config::load(&self.opts.config_path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("hush agent: reload failed, keeping the running config: {e}");
                self.status.last_error = Some(format!("reload: {e}"));
                self.save_status();
                return;
            }
        };
        if new.address != self.cfg.address || !self.auth.same_config(&new.auth) {
            let anonymous = match ApiClient::new(&new.address, None) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("hush agent: reload failed, keeping the running config: {e}");
                    return;
                }
            };
            self.auth = Auth::new(new.auth.clone(), anonymous, new.sinks.clone());
            if !self.relogin().await {
                self.save_status();
                return;
            }
        } else {
            self.auth.set_sinks(new.sinks.clone());
        }
        self.tpls = self.make_tpls(new.templates.clone(), true);
        self.cfg = new;
        self.status.last_error = None;
        eprintln!("hush agent: configuration reloaded");
        self.render_all().await;
    }
}
