//! Issue 20, item 6: audit log streams. Local collectors (an HTTP endpoint
//! and a syslog server on 127.0.0.1, port 0) that fail, go down and come
//! back receive every event exactly once and in chain order, across server
//! restarts and between replicas; header values never leave the server
//! except towards their collector. Also `hush audit export`.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend, PgDb};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HEADER_CANARY: &str = "canary-header-value-5d1e9b";
const SECRET_CANARY: &str = "canary-secret-value-a71c04";

/// One acknowledged request: its head (request line and headers) and body.
#[derive(Clone)]
pub(crate) struct Received {
    pub head: String,
    pub body: Vec<u8>,
}

/// A tiny HTTP/1.1 collector: answers 500 to its first `fail_first`
/// requests, 200 after; `down()` closes its port, `up()` opens it again.
pub(crate) struct HttpCollector {
    pub port: u16,
    pub acked: Arc<Mutex<Vec<Received>>>,
    pub refused: Arc<AtomicUsize>,
    pub fail_first: Arc<AtomicUsize>,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        head,
        body: buf[head_end..head_end + len].to_vec(),
    })
}

impl HttpCollector {
    pub async fn start(fail_first: usize) -> HttpCollector {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = HttpCollector {
            port: listener.local_addr().unwrap().port(),
            acked: Default::default(),
            refused: Default::default(),
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
            task: None,
        };
        c.serve(listener);
        c
    }

    fn serve(&mut self, listener: TcpListener) {
        let (acked, refused, fail_first) = (
            self.acked.clone(),
            self.refused.clone(),
            self.fail_first.clone(),
        );
        self.task = Some(tokio::spawn(async move {
            // Connections live in this set: aborting the accept loop (down)
            // drops it and so closes every open connection too.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (acked, refused, fail_first) =
                    (acked.clone(), refused.clone(), fail_first.clone());
                conns.spawn(async move {
                    while let Some(req) = read_request(&mut sock).await {
                        let fail = fail_first
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        let status = if fail {
                            refused.fetch_add(1, Ordering::SeqCst);
                            "500 Internal Server Error"
                        } else {
                            acked.lock().unwrap().push(req);
                            "200 OK"
                        };
                        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                        if sock.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        }));
    }

    pub fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ingest", self.port)
    }

    /// Every event acknowledged, in the order received.
    fn events(&self) -> Vec<Value> {
        self.acked
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| {
                serde_json::from_slice::<Vec<Value>>(&r.body).expect("a JSON array of events")
            })
            .collect()
    }

    fn seqs(&self) -> Vec<i64> {
        self.events()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    }

    fn raw(&self) -> String {
        self.acked
            .lock()
            .unwrap()
            .iter()
            .map(|r| format!("{}{}", r.head, String::from_utf8_lossy(&r.body)))
            .collect()
    }
}

/// The seqs are 1, 2, 3, ... : every event, in order, none twice.
fn assert_every_event_once_in_order(seqs: &[i64]) {
    let want: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(
        seqs,
        want.as_slice(),
        "events out of order, missing or twice"
    );
}

async fn add_stream(s: &TestServer, url: &str, headers: Value) -> Value {
    s.client()
        .send(
            Method::POST,
            "/api/v1/audit-log-streams",
            &json!({ "url": url, "headers": headers, "fromStart": true }),
        )
        .await
        .expect("add stream")["auditLogStream"]
        .clone()
}

/// A few audited actions: writes, reads, a list.
async fn activity(s: &TestServer, round: usize) {
    let c = s.client();
    for i in 0..5 {
        set(
            &c,
            &format!("KEY_{round}_{i}"),
            &format!("value-{round}-{i}"),
        )
        .await
        .unwrap();
        get(&c, &format!("KEY_{round}_{i}"), None).await.unwrap();
    }
    c.get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap();
}

/// The stream's cursor, read from the database (not through the API, whose
/// reads are themselves audited events).
async fn cursor(b: &Backend, s: &TestServer) -> i64 {
    b.query_i64(s, "SELECT cursor_seq FROM audit_streams").await
}

/// Waits until the collector holds `want` events or more and the stream's
/// cursor has reached its newest one, and nothing moved for a while.
async fn settled(b: &Backend, s: &TestServer, seqs: impl Fn() -> Vec<i64>, want: usize) {
    let mut last = (0, 0);
    let mut still = 0;
    for _ in 0..600 {
        let got = seqs();
        let now = (got.len(), cursor(b, s).await);
        if now.0 >= want && now.1 == got.last().copied().unwrap_or(0) && now == last {
            still += 1;
            if still >= 8 {
                return;
            }
        } else {
            still = 0;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "the collector did not settle: {} events (want {want}), cursor {}; server log:\n{}",
        seqs().len(),
        cursor(b, s).await,
        s.log()
    );
}

/// The proof: a collector that fails its first requests and is down
/// for a while receives every event exactly in order, and none twice after a
/// server restart. Header values and secret values stay where they belong.
async fn http_stream_delivers_every_event_once_in_order(b: &Backend) {
    let mut s = b.start(&[]).await;
    let mut collector = HttpCollector::start(3).await;
    set(&s.client(), "CANARY", SECRET_CANARY).await.unwrap();
    let stream = add_stream(
        &s,
        &collector.url(),
        json!([{ "key": "Authorization", "value": format!("Bearer {HEADER_CANARY}") }]),
    )
    .await;
    let id = stream["id"].as_str().unwrap().to_owned();
    assert_eq!(stream["headers"], json!([{ "key": "Authorization" }]));
    activity(&s, 0).await;
    // Three refusals, then acknowledged batches.
    assert!(
        eventually(Duration::from_secs(30), async || !collector
            .seqs()
            .is_empty())
        .await,
        "nothing delivered; log:\n{}",
        s.log()
    );
    assert_eq!(collector.refused.load(Ordering::SeqCst), 3);

    // Down for a while: events pile up, the stream reports why.
    collector.down();
    activity(&s, 1).await;
    let c = s.client();
    assert!(
        eventually(Duration::from_secs(20), async || {
            let v = c
                .get(&format!("/api/v1/audit-log-streams/{id}"), &[])
                .await
                .unwrap();
            v["auditLogStream"]["lastError"].is_string()
                && v["auditLogStream"]["failures"].as_i64() > Some(0)
                && v["auditLogStream"]["lag"].as_i64() > Some(0)
        })
        .await
    );
    collector.up().await;
    activity(&s, 2).await;
    let seqs = || collector.seqs();
    settled(b, &s, seqs, 30).await;
    let before_restart = collector.seqs();
    assert_every_event_once_in_order(&before_restart);

    // A graceful restart, then a crash (kill -9) once settled: nothing the
    // collector acknowledged is sent again.
    s.stop();
    s.restart();
    activity(&s, 3).await;
    settled(b, &s, seqs, before_restart.len() + 11).await;
    s.restart();
    activity(&s, 4).await;
    settled(b, &s, seqs, before_restart.len() + 22).await;
    let all = collector.seqs();
    assert_every_event_once_in_order(&all);

    // What the collector got is the log, event for event.
    let log = s
        .client()
        .get("/api/v1/hush/audit", &[("limit", "1000".to_string())])
        .await
        .unwrap();
    let by_seq: std::collections::HashMap<i64, String> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for e in collector.events() {
        assert_eq!(
            by_seq.get(&e["seq"].as_i64().unwrap()),
            Some(&e["id"].as_str().unwrap().to_owned()),
            "{e}"
        );
        assert!(e["hash"].is_string() && e["timeIso"].is_string());
    }

    // The header reached its collector, and nowhere else; no secret value
    // reached the collector.
    let raw = collector.raw();
    assert!(raw.contains(&format!("authorization: Bearer {HEADER_CANARY}")));
    assert!(raw.contains(&format!("x-hush-stream: {id}")));
    assert!(
        !raw.contains(SECRET_CANARY),
        "a secret value reached the collector"
    );
    let listed = s
        .client()
        .get("/api/v1/audit-log-streams", &[])
        .await
        .unwrap();
    let shown = s
        .client()
        .get(&format!("/api/v1/audit-log-streams/{id}"), &[])
        .await
        .unwrap();
    for answer in [&listed, &shown] {
        let text = answer.to_string();
        assert!(!text.contains(HEADER_CANARY), "{text}");
        assert!(!text.contains(SECRET_CANARY), "{text}");
    }
    assert_eq!(listed["auditLogStreams"][0]["id"], id.as_str());
    let log = s.log();
    assert!(!log.contains(HEADER_CANARY), "a header value is in the log");
    assert!(!log.contains(SECRET_CANARY), "a secret value is in the log");
    assert!(log.contains("audit stream delivery failed"), "{log}");
    assert_audit_chain_ok(&s.client()).await;

    // Deleted: delivery stops, and the deletion is itself on record.
    let deleted = s
        .client()
        .call(
            Method::DELETE,
            &format!("/api/v1/audit-log-streams/{id}"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(deleted["auditLogStream"]["id"], id.as_str());
    let events = audit_events(
        &s.client(),
        &[("action", "delete-audit-stream".to_string())],
    )
    .await;
    assert_eq!(events.len(), 1);
}

/// A syslog server gets RFC 5424 messages, octet-counted (RFC 6587), in order.
async fn syslog_stream_sends_rfc5424_frames(b: &Backend) {
    let s = b.start(&[]).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bytes = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = bytes.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut conn = Vec::new();
                let _ = sock.read_to_end(&mut conn).await;
                sink.lock().unwrap().extend_from_slice(&conn);
            });
        }
    });
    add_stream(&s, &format!("syslog+tcp://127.0.0.1:{port}"), json!([])).await;
    activity(&s, 0).await;
    let frames = || parse_frames(&bytes.lock().unwrap());
    let seqs = || frames().iter().map(|m| frame_seq(m)).collect::<Vec<_>>();
    settled(b, &s, seqs, 12).await;
    assert_every_event_once_in_order(&seqs());
    for m in frames() {
        // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
        let parts: Vec<&str> = m.splitn(8, ' ').collect();
        assert!(parts[0] == "<109>1" || parts[0] == "<108>1", "{m}");
        assert!(parts[1].ends_with('Z') && parts[1].contains('T'), "{m}");
        assert_eq!(parts[3], "hush");
        assert!(parts[4].parse::<u32>().is_ok());
        assert_eq!(parts[6], "-");
        let json: Value = serde_json::from_str(parts[7]).unwrap();
        assert_eq!(json["action"], parts[5]);
    }
}

/// RFC 6587 octet-counted frames, each an RFC 5424 message.
fn parse_frames(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(sp) = rest.iter().position(|&b| b == b' ') {
        let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        let msg = &rest[sp + 1..sp + 1 + len];
        out.push(String::from_utf8(msg.to_vec()).unwrap());
        rest = &rest[sp + 1 + len..];
    }
    assert!(rest.is_empty(), "a frame was cut");
    out
}

fn frame_seq(m: &str) -> i64 {
    let json: Value = serde_json::from_str(m.split_once(" - ").unwrap().1).unwrap();
    json["seq"].as_i64().unwrap()
}

/// Syslog over TLS to a collector behind a private CA: refused while the
/// stream trusts the wrong CA (the error is on the stream), delivered from
/// the start once an update gives the right one.
async fn syslog_over_tls_trusts_the_given_ca(b: &Backend) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let s = b.start(&[]).await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let wrong = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.cert.der().to_vec())],
        PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bytes = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = bytes.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (sink, acceptor) = (sink.clone(), acceptor.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut conn = Vec::new();
                if tls.read_to_end(&mut conn).await.is_ok() {
                    sink.lock().unwrap().extend_from_slice(&conn);
                }
            });
        }
    });
    let c = s.client();
    let stream = c
        .send(
            Method::POST,
            "/api/v1/audit-log-streams",
            &json!({ "url": format!("syslog+tls://localhost:{port}"),
                     "caCert": wrong.cert.pem(), "fromStart": true }),
        )
        .await
        .unwrap()["auditLogStream"]
        .clone();
    assert_eq!(stream["kind"], "syslog");
    assert_eq!(stream["caCert"], true);
    let path = format!(
        "/api/v1/audit-log-streams/{}",
        stream["id"].as_str().unwrap()
    );
    assert!(
        eventually(Duration::from_secs(20), async || {
            let v = c.get(&path, &[]).await.unwrap();
            v["auditLogStream"]["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("TLS"))
        })
        .await
    );
    assert!(bytes.lock().unwrap().is_empty());
    c.send(Method::PATCH, &path, &json!({ "caCert": cert.cert.pem() }))
        .await
        .unwrap();
    activity(&s, 0).await;
    let seqs = || {
        parse_frames(&bytes.lock().unwrap())
            .iter()
            .map(|m| frame_seq(m))
            .collect::<Vec<_>>()
    };
    settled(b, &s, seqs, 12).await;
    assert_every_event_once_in_order(&seqs());
}

/// Streams are for server admins, and every input is checked.
async fn stream_input_is_checked(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    let add = |body: Value| {
        let c = &c;
        async move {
            status(
                c.send(Method::POST, "/api/v1/audit-log-streams", &body)
                    .await,
            )
        }
    };
    for url in [
        "http://collector.example/ingest",
        "https://169.254.169.254/latest",
        "https://user:pw@collector.example/",
        "syslog+tcp://10.1.2.3:514",
        "ftp://collector.example/",
    ] {
        assert_eq!(add(json!({ "url": url })).await, 422, "{url}");
    }
    let many: Vec<Value> = (0..17)
        .map(|i| json!({ "key": format!("X-H{i}"), "value": "v" }))
        .collect();
    assert_eq!(
        add(json!({ "url": "https://c.example/", "headers": many })).await,
        422
    );
    let bad = json!([{ "key": "Authorization", "value": format!("a\r\nb{HEADER_CANARY}") }]);
    let r = c
        .send(
            Method::POST,
            "/api/v1/audit-log-streams",
            &json!({ "url": "https://c.example/", "headers": bad }),
        )
        .await;
    assert!(!format!("{r:?}").contains(HEADER_CANARY));
    // A credential given where the list belongs is refused without quoting it.
    let r = c
        .send(
            Method::POST,
            "/api/v1/audit-log-streams",
            &json!({ "url": "https://127.0.0.1:9/in", "headers": format!("Authorization: {HEADER_CANARY}") }),
        )
        .await;
    assert!(!format!("{r:?}").contains(HEADER_CANARY), "{r:?}");
    assert_eq!(status(r), 422);
    for _ in 0..10 {
        assert_eq!(add(json!({ "url": "https://127.0.0.1:9/in" })).await, 200);
    }
    assert_eq!(add(json!({ "url": "https://127.0.0.1:9/in" })).await, 400);
    assert_eq!(
        status(c.get("/api/v1/audit-log-streams/not-a-uuid", &[]).await),
        404
    );
}

/// `hush audit export`: NDJSON and CSV, oldest first, the events of the range.
async fn export_writes_the_range_oldest_first(b: &Backend) {
    let s = b.start(&[]).await;
    activity(&s, 0).await;
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("audit.ndjson");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--server", s.url.as_str(), "--token", s.token.as_str()]);
        hush(home.path(), &all, None)
    };
    let o = run(&[
        "audit",
        "export",
        "--since",
        "1h",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let seqs: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(seqs.len() >= 11, "{text}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "not oldest first");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let o = run(&["audit", "export", "--since", "1h", "--format", "csv"]);
    assert!(o.status.success());
    let csv = String::from_utf8(o.stdout).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("seq,id,time,timeIso,"));
    assert!(
        lines.count() > seqs.len(),
        "the CSV export holds the newer events too"
    );
    let o = run(&[
        "audit",
        "export",
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        "2000-01-02T00:00:00Z",
    ]);
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    // The export is on record.
    let events = audit_events(&s.client(), &[("action", "export-audit-log".to_string())]).await;
    assert_eq!(events.len(), 3);
}

on_both_backends!(
    http_stream_delivers_every_event_once_in_order,
    syslog_stream_sends_rfc5424_frames,
    syslog_over_tls_trusts_the_given_ca,
    stream_input_is_checked,
    export_writes_the_range_oldest_first,
);

/// Two replicas on one PostgreSQL database deliver each event once between
/// them; when the one delivering stops, the other takes over.
#[tokio::test]
async fn replicas_deliver_each_event_once() {
    let Some(db) = PgDb::create("streams::replicas_deliver_each_event_once").await else {
        return;
    };
    let b = Backend::Postgres(db);
    let Backend::Postgres(db) = &b else {
        unreachable!()
    };
    let mut first = db.start(&[]).await;
    let second = db.replica(&first);
    let collector = HttpCollector::start(0).await;
    add_stream(&first, &collector.url(), json!([])).await;
    for round in 0..3 {
        activity(&first, round * 2).await;
        activity(&second, round * 2 + 1).await;
    }
    let seqs = || collector.seqs();
    settled(&b, &second, seqs, 60).await;
    let n = collector.seqs().len();
    first.stop();
    activity(&second, 10).await;
    settled(&b, &second, seqs, n + 11).await;
    assert_every_event_once_in_order(&collector.seqs());
}

/// The commands of the brief, through the real binary: `add` with a header,
/// `list` and `show` naming the header but never its value; and a root-key
/// rotation re-wraps the stream's key, so its header still reaches the
/// collector afterwards.
#[tokio::test]
async fn cli_manages_streams_and_rotation_keeps_their_headers() {
    let mut s = TestServer::start(&[]).await;
    let collector = HttpCollector::start(0).await;
    let home = tempfile::tempdir().unwrap();
    let run = |s: &TestServer, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--server", s.url.as_str(), "--token", s.token.as_str()]);
        let o = hush(home.path(), &all, None);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(!out.contains(HEADER_CANARY), "{out}");
        out
    };
    let auth = format!("Authorization: Bearer {HEADER_CANARY}");
    let added = run(
        &s,
        &[
            "audit",
            "streams",
            "add",
            "--url",
            &collector.url(),
            "--header",
            &auth,
            "--from-start",
            "--json",
        ],
    );
    let id = serde_json::from_str::<Value>(&added).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = run(&s, &["audit", "streams", "list"]);
    assert!(
        listed.contains(&id[..8]) && listed.contains("Authorization"),
        "{listed}"
    );
    let shown: Value =
        serde_json::from_str(&run(&s, &["audit", "streams", "show", &id, "--json"])).unwrap();
    assert_eq!(shown["headers"], json!([{ "key": "Authorization" }]));
    assert_eq!(shown["kind"], "http");
    assert!(shown["lag"].is_i64() && shown["lastDeliveredSeq"].is_i64());

    // Offline rotation of the root key.
    s.stop();
    let new_key = s.data_dir.join("new.key");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&new_key)
            .unwrap();
        let key = hush::crypto::Key::generate().unwrap().to_base64();
        std::io::Write::write_all(&mut f, key.as_bytes()).unwrap();
    }
    let data_dir = s.data_dir.to_str().unwrap().to_owned();
    let o = hush(
        home.path(),
        &[
            "server",
            "--data-dir",
            &data_dir,
            "rotate-root-key",
            "--new-root-key-file",
            new_key.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 audit stream key(s)"));
    let mut again =
        TestServer::spawn(&s.data_dir, &["--root-key-file", new_key.to_str().unwrap()]).unwrap();
    again.token = s.token.clone();
    let before = collector.acked.lock().unwrap().len();
    activity(&again, 1).await;
    assert!(
        eventually(Duration::from_secs(20), async || {
            collector.acked.lock().unwrap().len() > before
        })
        .await,
        "no delivery after the rotation; log:\n{}",
        again.log()
    );
    let last = collector.acked.lock().unwrap().last().cloned().unwrap();
    assert!(last
        .head
        .contains(&format!("authorization: Bearer {HEADER_CANARY}")));
    let deleted = run(&again, &["audit", "streams", "delete", &id]);
    assert!(deleted.contains(&id), "{deleted}");
    assert!(!again.log().contains(HEADER_CANARY));
}

/// A replica that crashes while holding a stream's lease (kill -9: no hand
/// over) is replaced once the lease expires (by the database's clock): the
/// other replica delivers what came after, and nothing twice.
#[tokio::test]
async fn a_crashed_replicas_lease_expires_and_another_takes_over() {
    let Some(db) =
        PgDb::create("streams::a_crashed_replicas_lease_expires_and_another_takes_over").await
    else {
        return;
    };
    let b = Backend::Postgres(db);
    let Backend::Postgres(db) = &b else {
        unreachable!()
    };
    let mut first = db.start(&[]).await;
    let collector = HttpCollector::start(0).await;
    add_stream(&first, &collector.url(), json!([])).await;
    activity(&first, 0).await;
    let seqs = || collector.seqs();
    settled(&b, &first, seqs, 11).await;
    // Only the first replica ran so far: the lease is its own.
    assert!(
        b.query_i64(
            &first,
            "SELECT COUNT(*) FROM audit_streams WHERE lease_owner IS NOT NULL"
        )
        .await
            == 1
    );
    let second = db.replica(&first);
    first.kill9();
    let n = collector.seqs().len();
    activity(&second, 1).await;
    settled(&b, &second, seqs, n + 11).await;
    assert_every_event_once_in_order(&collector.seqs());
}
