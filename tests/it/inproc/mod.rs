//! The API served in-process: `hush::server::assemble` on a SQLite store in
//! a temporary data dir (or a PostgreSQL test database: `InProc::on`),
//! served on 127.0.0.1 port 0 by a task of the test's own runtime. No process to spawn, and the test can reach behind the HTTP
//! API: wrap the store (`faulty::FaultyStore`) or move the clock (every
//! in-process server runs on a `ManualClock`, so expiry is tested by moving
//! it, never by sleeping).

mod api;
mod clock;
mod faults;
pub mod faulty;

use crate::pg::Backend;
use hush::client::ApiClient;
use hush::config::{ServerArgs, ServerConfig};
use hush::server::app::{open, App};
use hush::store::Store;
use hush::time_ids::ManualClock;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use zeroize::Zeroizing;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct InProc {
    pub url: String,
    /// The bootstrapped admin's session token.
    pub token: String,
    /// The service's clock: expiry happens when a test moves it.
    pub clock: Arc<ManualClock>,
    app: Option<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _tmp: tempfile::TempDir,
}

impl InProc {
    /// A bootstrapped server on a fresh SQLite data dir.
    pub async fn start() -> InProc {
        InProc::start_custom(|_| {}, |store| store).await
    }

    /// A bootstrapped server on `backend` (a fresh SQLite data dir, or the
    /// PostgreSQL test database), with server flags set by `configure`.
    pub async fn on(backend: &Backend, configure: impl FnOnce(&mut ServerArgs)) -> InProc {
        match backend {
            Backend::Sqlite => InProc::start_custom(configure, |store| store).await,
            Backend::Postgres(db) => {
                let url = db.url.clone();
                InProc::start_custom(
                    move |args| {
                        args.database_url = Some(url);
                        configure(args);
                    },
                    |store| store,
                )
                .await
            }
        }
    }

    /// `start`, with the store `wrap` makes of the real one.
    pub async fn start_wrapped(wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>) -> InProc {
        InProc::start_custom(|_| {}, wrap).await
    }

    /// `start`, with server flags set by `configure` and the store `wrap`
    /// makes of the real one.
    pub async fn start_custom(
        configure: impl FnOnce(&mut ServerArgs),
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> InProc {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut args = ServerArgs {
            data_dir: Some(tmp.path().to_owned()),
            listen: Some("127.0.0.1:0".into()),
            ..Default::default()
        };
        configure(&mut args);
        // PostgreSQL takes no generated key: the one its tests share.
        let root_key = args
            .database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres"))
            .then(|| Zeroizing::new(crate::pg::ROOT_KEY.to_owned()));
        let config = ServerConfig::load(&args, root_key).expect("config");
        let mut opened = open(&config).await.expect("open the store");
        opened.store = wrap(opened.store);
        let clock = ManualClock::new();
        opened.clock = clock.clone();
        let app = hush::server::assemble(&config, opened)
            .await
            .expect("assemble");
        let code = app
            .fresh_bootstrap_code
            .as_ref()
            .expect("a new server has a bootstrap code")
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(hush::server::serve(
            listener,
            None,
            app.state.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        let mut srv = InProc {
            url,
            token: String::new(),
            clock,
            app: Some(app),
            stop: Some(stop),
            served: Some(served),
            _tmp: tmp,
        };
        srv.token = srv.bootstrap(&code).await;
        srv
    }

    async fn bootstrap(&self, code: &str) -> String {
        let r = ApiClient::new(&self.url, None)
            .unwrap()
            .send(
                Method::POST,
                "/api/v1/hush/bootstrap",
                &json!({ "email": "admin@example.com", "password": PASSWORD,
                         "bootstrapCode": code }),
            )
            .await
            .expect("bootstrap");
        r["accessToken"].as_str().unwrap().to_owned()
    }

    /// The admin's API client.
    pub fn client(&self) -> ApiClient {
        self.client_with(&self.token)
    }

    pub fn client_with(&self, token: &str) -> ApiClient {
        ApiClient::new(&self.url, Some(Zeroizing::new(token.to_owned()))).unwrap()
    }

    /// A client without a token.
    pub fn anonymous(&self) -> ApiClient {
        ApiClient::new(&self.url, None).unwrap()
    }

    /// A request with the admin's token; the status and the raw body, so a
    /// test can look at every byte the server sent.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, String) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// Stops serving, then shuts the app down as `hush server` does.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        // A test that did not `stop`: the runtime ending takes the tasks
        // with it; end the listener now so its port is not held until then.
        if let Some(served) = self.served.take() {
            served.abort();
        }
    }
}
