#!/usr/bin/env python3
"""`hush scan` against detect-secrets and trufflehog3 on one generated corpus.

  scan.py HUSH OUTDIR VENV        (started by scripts/bench/scan.sh, which runs the
                                   hush server and sets HUSH_SERVER / HUSH_TOKEN)

1. Generates OUTDIR/scan-corpus: source, config and docs files of ordinary
   text with *plants* (real-format secrets: AWS key pairs, GitHub and Slack
   tokens, private keys, JWTs, passwords inside connection strings, and
   format-less passwords, some base64- or URL-encoded) and *lookalike noise*
   (hashes, UUIDs, base64 blobs, the AWS documentation's example keys,
   placeholders such as `postgres://user:password@localhost`). Deterministic
   (seeded). Every plant's value is also stored in hush (environment `dev`),
   with unrelated values and configuration (`PORT=8080`) beside them.
2. Runs each tool BENCH_SCAN_ROUNDS times (median wall time): hush in
   known-values mode, hush in pattern mode (`--offline`), detect-secrets
   (`scan --all-files`) and trufflehog3 (`--no-history`), all from the venv.
3. Scores by line: a plant is found when some finding is on one of its lines;
   a finding on a line without a plant is a false positive. Writes
   OUTDIR/scan.md (the BENCHMARKS.md section), OUTDIR/scan.json and
   OUTDIR/scan-false-positives.txt (file:line and rule of each), and each
   tool's own output of its last run (OUTDIR/scan-raw-TOOL.out).

Environment: BENCH_SCAN_FILES (200), BENCH_SCAN_ROUNDS (3), BENCH_SCAN_SEED (28).
"""
import base64
import json
import os
import random
import resource
import shutil
import statistics
import string
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hush_api  # noqa: E402

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits


class Corpus:
    """Files being generated: each a list of lines; plants remember their lines."""

    def __init__(self, rng):
        self.rng = rng
        self.files = {}
        self.plants = []   # dicts: id, kind, category, path, first, last
        self.secrets = {}  # hush key -> value

    def add_file(self, path):
        self.files.setdefault(path, [])

    def put(self, path, lines):
        """Insert `lines` at a random place of `path`; returns its first line (1-based)."""
        body = self.files[path]
        # Never inside another plant (a PEM block spans lines).
        spans = [(p["first"], p["last"]) for p in self.plants if p["path"] == path]
        while True:
            at = self.rng.randint(0, len(body))
            if not any(first <= at < last for first, last in spans):
                break
        body[at:at] = lines
        # Lines after the insertion moved: shift the plants already there.
        for p in self.plants:
            if p["path"] == path and p["first"] > at:
                p["first"] += len(lines)
                p["last"] += len(lines)
        return at + 1

    def plant(self, kind, category, path, lines, secrets):
        first = self.put(path, lines)
        self.plants.append({"id": len(self.plants), "kind": kind, "category": category,
                            "path": path, "first": first, "last": first + len(lines) - 1})
        self.secrets.update(secrets)

    def noise(self, path, lines):
        self.put(path, lines)

    def write(self, root):
        shutil.rmtree(root, ignore_errors=True)
        for path, lines in self.files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write("\n".join(lines) + "\n")
        # A repository of its own, so that no enclosing one's .gitignore
        # (target/ is ignored in hush's) hides the files from a tool.
        subprocess.run(["git", "init", "-q", root], check=True)


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def password(rng, n=22):
    # letters, digits and a few symbols that need escaping in URLs and JSON
    return rand(rng, ALNUM + "!#%&*+/=?@^_-", n)


def pem(rng, label="RSA PRIVATE KEY"):
    body = base64.b64encode(rng.randbytes(1190)).decode()
    lines = ["-----BEGIN %s-----" % label]
    lines += [body[i:i + 64] for i in range(0, len(body), 64)]
    lines.append("-----END %s-----" % label)
    return lines


def jwt(rng):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": "svc-%d" % rng.randint(1, 999), "iat": 1760000000 + rng.randint(0, 10**6),
                              "scope": "deploy"}).encode())
    return "%s.%s.%s" % (head, body, b64url(rng.randbytes(32)))


CODE = [
    "def handle(request):", "    return render(request, 'index.html', context)",
    "for item in items:", "    total += item.price * item.quantity",
    "const app = express();", "app.listen(port, () => console.log(`listening on ${port}`));",
    "if (!user) { throw new Error('not found'); }", "# TODO: retry with backoff",
    "    logger.info('processed %d rows', count)", "import os, sys, json",
    "resource \"aws_s3_bucket\" \"logs\" {", "  bucket = \"acme-logs-prod\"", "}",
    "SELECT id, email FROM users WHERE created_at > now() - interval '1 day';",
    "The service reads its configuration from the environment at start-up.",
    "timeout: 30s", "replicas: 3", "image: ghcr.io/acme/api:1.42.0", "",
]


def noise_lines(rng):
    """One lookalike (or a plain line): what a scanner should not report."""
    r = rng.random()
    if r < 0.55:
        return [rng.choice(CODE)]
    choices = [
        lambda: ['    "integrity": "sha512-%s",' % base64.b64encode(rng.randbytes(64)).decode()],
        lambda: ["commit %s" % rng.randbytes(20).hex()],
        lambda: ["sha256: %s" % rng.randbytes(32).hex()],
        lambda: ['  "etag": "%s",' % rng.randbytes(16).hex()],
        lambda: ["request_id = \"%s\"" % "-".join(rng.randbytes(n).hex() for n in (4, 2, 2, 2, 6))],
        lambda: ['  "thumbnail": "data:image/png;base64,%s",' % base64.b64encode(rng.randbytes(rng.randint(200, 600))).decode()],
        lambda: ['  "nonce": "%s",' % base64.b64encode(rng.randbytes(24)).decode()],
        lambda: ["aws_access_key_id = AKIAIOSFODNN7EXAMPLE"],
        lambda: ["aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
        lambda: ["DATABASE_URL=postgres://user:password@localhost:5432/mydb"],
        lambda: ["password: changeme"],
        lambda: ['api_key = "<YOUR_API_KEY>"'],
        lambda: ["token: ${GITHUB_TOKEN}"],
        lambda: ["SLACK_TOKEN=xoxb-your-token-here"],
        lambda: ["export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
        lambda: ["password = os.environ[\"DB_PASSWORD\"]"],
        lambda: ["  build_id: %s" % rand(rng, UPPER_DIGITS, 20)],
        lambda: ["    cache_version = \"%s\"" % rand(rng, ALNUM, 32)],
    ]
    return rng.choice(choices)()


def build(seed, n_files):
    rng = random.Random(seed)
    c = Corpus(rng)
    exts = ["py", "js", "yml", "json", "sh", "md", "tf", "env.txt", "conf"]
    dirs = ["src", "src/api", "config", "deploy", "docs", "scripts", "test/fixtures"]
    paths = ["%s/file%04d.%s" % (rng.choice(dirs), i, rng.choice(exts)) for i in range(n_files)]
    for p in paths:
        c.add_file(p)
        for _ in range(rng.randint(20, 400)):
            c.noise(p, noise_lines(rng))

    def where():
        return rng.choice(paths)

    per_kind = 5
    for i in range(per_kind):
        akid = "AKIA" + rand(rng, UPPER_DIGITS, 16)
        secret = rand(rng, ALNUM + "/+", 40)
        p = where()
        c.plant("aws-access-key-id", "format", p, ["aws_access_key_id = %s" % akid],
                {"AWS_ACCESS_KEY_ID_%d" % i: akid})
        c.plant("aws-secret-access-key", "format", p, ["aws_secret_access_key = %s" % secret],
                {"AWS_SECRET_ACCESS_KEY_%d" % i: secret})
        gh = "ghp_" + rand(rng, ALNUM, 36)
        c.plant("github-token", "format", where(), ['GITHUB_TOKEN = "%s"' % gh], {"GITHUB_TOKEN_%d" % i: gh})
        ghf = "github_pat_" + rand(rng, ALNUM, 22) + "_" + rand(rng, ALNUM, 59)
        c.plant("github-fine-grained", "format", where(), ["  token: %s" % ghf], {"GH_PAT_%d" % i: ghf})
        slack = "xoxb-%d-%d-%s" % (rng.randint(10**12, 10**13 - 1), rng.randint(10**12, 10**13 - 1),
                                   rand(rng, ALNUM, 24))
        c.plant("slack-token", "format", where(), ["slack_bot_token: %s" % slack], {"SLACK_BOT_TOKEN_%d" % i: slack})
        key = pem(rng, rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY"]))
        c.plant("private-key", "format", where(), key, {"TLS_KEY_%d" % i: "\n".join(key) + "\n"})
        sa = pem(rng, "PRIVATE KEY")
        escaped = json.dumps("\n".join(sa) + "\n")
        c.plant("private-key-json", "format", where(), ['  "private_key": %s,' % escaped],
                {"GCP_SA_KEY_%d" % i: "\n".join(sa) + "\n"})
        tok = jwt(rng)
        c.plant("jwt", "format", where(), ["Authorization: Bearer %s" % tok], {"SERVICE_JWT_%d" % i: tok})
        pw = password(rng)
        url = "postgres://app_%d:%s@db-%d.internal:5432/app" % (i, urllib.parse.quote(pw, safe=""), i)
        c.plant("connection-string", "format", where(), ["DATABASE_URL=%s" % url], {"DB_PASSWORD_%d" % i: pw})
        mpw = rand(rng, ALNUM, 24)
        c.plant("connection-string", "format", where(),
                ['  uri: "mongodb+srv://svc:%s@cluster%d.mongo.example.net/prod"' % (mpw, i)],
                {"MONGO_PASSWORD_%d" % i: mpw})
        # Format-less values: only a scanner that knows them can tell.
        plain = password(rng)
        c.plant("password", "known-only", where(), ['    smtp_pass: "%s"' % plain.replace('"', "")],
                {"SMTP_PASS_%d" % i: plain.replace('"', "")})
        b64 = password(rng)
        c.plant("password-base64", "known-only", where(),
                ["  REDIS_AUTH: %s" % base64.b64encode(b64.encode()).decode()], {"REDIS_AUTH_%d" % i: b64})
        cli = rand(rng, ALNUM, 20)
        c.plant("password-cli", "known-only", where(),
                ["curl -u deploy:%s https://registry.internal/v2/" % cli], {"REGISTRY_PASSWORD_%d" % i: cli})
        api = rand(rng, string.hexdigits[:16], 32)
        c.plant("api-key-hex", "known-only", where(), ["client = Client('%s')" % api], {"VENDOR_API_KEY_%d" % i: api})
    # Values in hush that appear nowhere, and configuration that is not secret.
    for i in range(40):
        c.secrets["UNUSED_%d" % i] = password(rng, 28)
    c.secrets.update({"PORT": "8080", "NODE_ENV": "production", "LOG_LEVEL": "info",
                      "DB_HOST": "localhost", "FEATURE_X": "true"})
    return c


def run(cmd, env=None, cwd=None):
    """(wall s, CPU s of the tool and the processes it waited for, result)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, p


def parse_hush(out, root):
    doc = json.loads(out)
    return [(f["path"], f["line"], f.get("secret", {}).get("key") if f.get("secret") else f["rule"])
            for f in doc["findings"]]


def parse_detect_secrets(out, root):
    doc = json.loads(out)
    found = []
    for path, items in doc.get("results", {}).items():
        for it in items:
            found.append((os.path.normpath(path), it["line_number"], it["type"]))
    return found


def parse_trufflehog3(out, root):
    doc = json.loads(out) if out.strip() else []
    found = []
    for it in doc:
        path = it.get("path") or it.get("file") or ""
        path = os.path.relpath(path, root) if os.path.isabs(path) else os.path.normpath(path)
        rule = it.get("rule", {})
        name = rule.get("id") or rule.get("message") if isinstance(rule, dict) else str(rule)
        found.append((path, int(it.get("line", 0) or 0), name or "?"))
    return found


def score(found, plants):
    by_path = {}
    for p in plants:
        by_path.setdefault(p["path"], []).append(p)
    hit = set()
    fps = []
    lines = set()
    for path, line, rule in found:
        if (path, line) in lines:
            continue
        lines.add((path, line))
        owners = [p for p in by_path.get(path, []) if p["first"] <= line <= p["last"]]
        if owners:
            hit.update(p["id"] for p in owners)
        else:
            fps.append((path, line, rule))
    return {"findings": len(found), "lines": len(lines), "false_positives": fps, "found": hit}


def main(hush, out, venv):
    n_files = int(os.environ.get("BENCH_SCAN_FILES", "200"))
    rounds = int(os.environ.get("BENCH_SCAN_ROUNDS", "3"))
    seed = int(os.environ.get("BENCH_SCAN_SEED", "28"))
    root = os.path.join(out, "scan-corpus")
    corpus = build(seed, n_files)
    corpus.write(root)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)

    api = hush_api.Api(os.environ["HUSH_SERVER"], os.environ["HUSH_TOKEN"])
    for k, v in corpus.secrets.items():
        api.put_secret("dev", k, v)

    env = dict(os.environ, HUSH_PROJECT="default", HUSH_ENV="dev")
    offline = {k: v for k, v in env.items() if k not in ("HUSH_SERVER", "HUSH_TOKEN")}
    bin_dir = os.path.join(venv, "bin")
    tools = [
        # (name, key, command, environment, exit codes meaning success, parser)
        ("hush scan (known values)", "hush_known",
         [hush, "scan", "--json", "."], env, (0, 1), parse_hush),
        ("hush scan --offline (patterns)", "hush_patterns",
         [hush, "scan", "--offline", "--json", "."], offline, (0, 1), parse_hush),
        ("detect-secrets", "detect_secrets",
         [os.path.join(bin_dir, "detect-secrets"), "scan", "--all-files", "."], offline, (0,),
         parse_detect_secrets),
        ("trufflehog3", "trufflehog3",
         [os.path.join(bin_dir, "trufflehog3"), "--no-history", "--format", "json", "."], offline, (0, 2),
         parse_trufflehog3),
    ]
    versions = {
        "detect_secrets": subprocess.run([os.path.join(bin_dir, "detect-secrets"), "--version"],
                                         capture_output=True, text=True).stdout.strip(),
        "trufflehog3": subprocess.run([os.path.join(bin_dir, "trufflehog3"), "--version"],
                                      capture_output=True, text=True).stdout.strip().split()[-1:],
    }
    results = {}
    for name, key, cmd, tool_env, ok, parse in tools:
        times, cpus, last = [], [], None
        for _ in range(rounds):
            # Interleaving would not help here: each tool reads the same
            # files, which stay in the page cache after the first run.
            dt, cpu, p = run(cmd, env=tool_env, cwd=root)
            times.append(dt)
            cpus.append(cpu)
            last = p
        # hush exits 1 and trufflehog3 2 when they find something.
        if last.returncode not in ok or not last.stdout.strip():
            raise SystemExit("scan bench: %s failed (exit %d): %s" % (
                name, last.returncode, last.stderr.decode(errors="replace")[-600:]))
        with open(os.path.join(out, "scan-raw-%s.out" % key), "wb") as f:
            f.write(last.stdout)
        found = parse(last.stdout.decode(errors="replace"), root)
        s = score(found, corpus.plants)
        s.update(name=name, times=times, median=statistics.median(times), cpus=cpus,
                 cpu=statistics.median(cpus))
        results[key] = s
        print("[scan bench] %s: %d findings, %d false positives, %d/%d plants, %.2f s (CPU %.2f s)" % (
            name, s["findings"], len(s["false_positives"]), len(s["found"]), len(corpus.plants),
            s["median"], s["cpu"]), file=sys.stderr)

    plants = corpus.plants
    fmt = [p for p in plants if p["category"] == "format"]
    known_only = [p for p in plants if p["category"] == "known-only"]
    with open(os.path.join(out, "scan-false-positives.txt"), "w") as f:
        for key, s in results.items():
            for path, line, rule in s["false_positives"]:
                f.write("%s\t%s:%d\t%s\n" % (key, path, line, rule))
    with open(os.path.join(out, "scan.json"), "w") as f:
        json.dump({"files": len(corpus.files), "bytes": size, "plants": plants,
                   "results": {k: dict(v, found=sorted(v["found"]), false_positives=v["false_positives"])
                               for k, v in results.items()}}, f, indent=1)

    L = []
    w = L.append
    w("### Scan: hush scan against detect-secrets and trufflehog3")
    w("")
    w("`scripts/bench/scan.sh` (`BENCH_ONLY=scan scripts/bench.sh` runs only this): a generated corpus of "
      "%d files (%.1f MB, seed %d) with %d planted secrets on %d lines: %d in credential formats (AWS key "
      "ids and secret keys, GitHub classic and fine-grained tokens, Slack bot tokens, PEM private keys, "
      "the same in a service-account JSON string, JWTs, passwords in PostgreSQL and MongoDB URLs, "
      "URL-encoded where needed) and %d without one (passwords, one base64-encoded, one on a `curl -u` "
      "line, hex API keys), among lookalike noise (hashes, UUID-like ids, base64 blobs, the AWS "
      "documentation's example keys, placeholders such as `postgres://user:password@localhost`). Every "
      "planted value is stored in hush (with 40 unused values and 5 configuration values such as "
      "`PORT=8080`). Scored by line: a plant is found when a finding is on one of its lines; a finding "
      "on any other line is a false positive. Wall and CPU time (user + system, of the tool and the "
      "processes it started): median of %d runs, the files in the page cache; hush's known-values "
      "time includes fetching the values from a local server (the server's CPU is not counted). Peers: detect-secrets "
      "%s (`scan --all-files`), trufflehog3 %s (`--no-history`), default settings, from PyPI."
      % (len(corpus.files), size / 1e6, seed, len(plants), sum(p["last"] - p["first"] + 1 for p in plants),
         len(fmt), len(known_only), rounds, versions["detect_secrets"] or "?",
         (versions["trufflehog3"] or ["?"])[0]))
    w("")
    w("| tool | findings | lines flagged | false positives | format plants found | format-less plants found "
      "| missed | wall s | CPU s | CPU x hush (patterns) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = results["hush_patterns"]["cpu"] or 1e-9
    for key, s in results.items():
        f_found = sum(1 for p in fmt if p["id"] in s["found"])
        k_found = sum(1 for p in known_only if p["id"] in s["found"])
        w("| %s | %d | %d | %d | %d / %d | %d / %d | %d | %.2f | %.2f | %.1f |" % (
            s["name"], s["findings"], s["lines"], len(s["false_positives"]), f_found, len(fmt), k_found,
            len(known_only), len(plants) - f_found - k_found, s["median"], s["cpu"], s["cpu"] / base))
    w("")
    for key, s in results.items():
        kinds = {}
        for p in plants:
            if p["id"] not in s["found"]:
                kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
        rules = {}
        for _, _, rule in s["false_positives"]:
            rules[rule] = rules.get(rule, 0) + 1
        w("- %s: missed %s; false positives by rule: %s." % (
            s["name"],
            ", ".join("%s x%d" % kv for kv in sorted(kinds.items())) or "none",
            ", ".join("%s x%d" % kv for kv in sorted(rules.items(), key=lambda kv: -kv[1])) or "none"))
    w("")
    with open(os.path.join(out, "scan.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3])
