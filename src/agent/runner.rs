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
    let mut auth = Auth::new(cfg.auth.clone(), anonymous, cfg.sinks.clone());
    let mut status = Status {
        pid: std::process::id(),
        started_at: now_iso(),
        freshness: "starting".into(),
        ..Status::default()
    };
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| AgentError::Failed(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| AgentError::Failed(e.to_string()))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| AgentError::Failed(e.to_string()))?;

    // The first token, retried until the server answers.
    let mut login_backoff = Backoff::new();
    let client = loop {
        match auth.login().await {
            Ok(c) => break c,
            Err(e) => {
                let msg = format!("{e}");
                eprintln!("hush agent: {msg}; retrying");
                status.last_error = Some(msg.clone());
                status.save(&cfg.status_file);
                if exit_mode && login_backoff.attempts() + 1 >= EXIT_MODE_ATTEMPTS {
                    return Err(AgentError::Failed(format!(
                        "{msg} (gave up after {EXIT_MODE_ATTEMPTS} attempts)"
                    )));
                }
                tokio::select! {
                    _ = tokio::time::sleep(login_backoff.next_delay()) => {}
                    _ = term.recv() => return Ok(0),
                    _ = int.recv() => return Ok(0),
                }
            }
        }
    };
    status.last_error = None;
    status.last_login_at = Some(now_iso());
    if cfg.exit_after_auth {
        status.save(&cfg.status_file);
        return Ok(0);
    }
    let (events_tx, mut events_rx) = mpsc::channel(64);
    let (ran_tx, mut ran_rx) = mpsc::unbounded_channel();
    let (client_tx, _) = watch::channel(client);
    let exit_after_render = opts.exit_after_render || cfg.exit_after_render;
    let mut agent = Agent {
        opts,
        tpls: Vec::new(),
        cfg,
        auth,
        login_backoff,
        client: client_tx,
        feeds: HashMap::new(),
        events: events_tx,
        ran: ran_tx,
        status,
        debounce_at: None,
        sup: None,
        changed: false,
    };
    agent.tpls = agent.make_tpls(agent.cfg.templates.clone(), !exit_after_render);
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
        let mut sup = Supervisor::start(&exec, vars);
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
        while self
            .tpls
            .iter()
            .any(|t| t.status.last_error.is_some() || t.status.last_render_at.is_none())
        {
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
        match self.env_vars() {
            Ok(vars) => {
                if let Some(sup) = &mut self.sup {
                    sup.changed(vars);
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
        if let Err((_, true)) = &result {
            // The token was refused: a new one, then once more.
            if self.relogin().await {
                result = self.render_text(i).await;
            }
        }
        let now = Instant::now();
        let t = &mut self.tpls[i];
        if let (true, Ok((text, _))) = (t.cfg.env, &result) {
            t.env_text = Some(text.clone());
        }
        t.dirty = false;
        t.next_poll = now + t.cfg.polling;
        t.status.renders += 1;
        match result {
            Ok((text, reads)) => {
                t.reads = reads;
                t.backoff.reset();
                t.retry_at = None;
                t.status.last_render_at = Some(now_iso());
                match write_if_changed(&t.cfg.destination, text.as_bytes(), t.cfg.mode) {
                    Ok(Outcome::Unchanged) => t.status.last_error = None,
                    Ok(Outcome::Written) => {
                        t.status.last_error = None;
                        t.status.writes += 1;
                        t.status.last_write_at = Some(now_iso());
                        self.changed = true;
                        eprintln!("hush agent: rendered {}", t.cfg.destination.display());
                        if let Some(r) = &t.runner {
                            r.trigger();
                        }
                    }
                    Err(e) => {
                        let msg = format!("cannot write {}: {e}", t.cfg.destination.display());
                        eprintln!("hush agent: {}: {msg}", t.cfg.label);
                        t.status.last_error = Some(msg);
                        t.retry_at = Some(now + t.backoff.next_delay());
                    }
                }
            }
            Err((msg, _)) => {
                eprintln!(
                    "hush agent: {}: {msg}; the file keeps its last content, retrying",
                    t.cfg.label
                );
                t.status.last_error = Some(msg);
                t.retry_at = Some(now + t.backoff.next_delay());
            }
        }
        self.ensure_feeds(i);
    }

    /// Renders template `i` on a blocking thread (its functions wait on
    /// requests). Err carries the message and whether a fetch got a 401.
    async fn render_text(
        &self,
        i: usize,
    ) -> Result<(Zeroizing<String>, Vec<Read>), (String, bool)> {
        let template = self.tpls[i].cfg.template.clone();
        let client = self.client.borrow().clone();
        let handle = tokio::runtime::Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            let mut funcs = SecretFuncs::new(handle, client);
            let out = template.render(Value::Nil, &mut funcs, Limits::default());
            (out, funcs.reads, funcs.unauthorized)
        })
        .await;
        match joined {
            Ok((Ok(text), reads, _)) => Ok((Zeroizing::new(text), reads)),
            Ok((Err(e), _, unauthorized)) => Err((e.to_string(), unauthorized)),
            Err(_) => Err(("the render stopped unexpectedly".into(), false)),
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
