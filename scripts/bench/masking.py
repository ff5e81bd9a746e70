#!/usr/bin/env python3
"""Masking throughput of `hush run` by secret shape (scripts/bench/masking.sh).

  masking.py HUSH OUTDIR      (HUSH_SERVER and HUSH_TOKEN in the environment)

For each secret set (1,000 secrets; shapes below) it writes OUTDIR/sets/NAME.json,
loads it into environment NAME of project `default` with `hush import`, writes a
log corpus where 1 line in 16 carries one of the set's secrets (some as JSON, a
Bearer header or a URL, PEM keys line by line), and streams it
BENCH_MASK_REPEAT times (default 8; BENCH_MASK_MIB MiB per copy, default 32)
through

  pipe:  sh -c 'cat F F ... | cat > /dev/null'
  hush:  hush run --env NAME -- cat F F ... > /dev/null

interleaved, BENCH_MASK_ROUNDS rounds (default 3). Start-up (median of 3
`hush run --env NAME -- true`) is taken out of hush's time, as the peers
harness does ("net"); the gross figure keeps it. The ratio is the median of
per-round ratios to the pipe run right before. Writes OUTDIR/masking.md and
OUTDIR/masking.tsv and prints the table.
"""
import base64
import json
import os
import random
import statistics
import string
import subprocess
import sys
import time

ALNUM = string.ascii_letters + string.digits
SYMBOLS = "-_.!@#%+/="
WORDS = ("request completed cache miss for key connection pool stats retrying upstream "
         "call rendered template user session refreshed").split()
TARGET = 0.40  # worst case >= 40% of the pipe (issue 21)


def rand(rng, n, alphabet=ALNUM):
    return "".join(rng.choice(alphabet) for _ in range(n))


def pem(rng):
    body = base64.b64encode(rng.randbytes(1190)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n"


def make_sets():
    rng = random.Random(21)
    typical = [rand(rng, 22) for _ in range(1000)]
    sets = {
        # the baseline: 1,000 random 22-character secrets
        "random22": typical,
        # ... plus two 12-character ones with a hex-like run (the cliff)
        "random22+short12": typical + ["Tk9-abcdef12", "Zq3-fedcba98"],
        "mixed8-64": [rand(rng, rng.randint(8, 64), ALNUM + SYMBOLS) for _ in range(1000)],
        # common substrings: vendor prefixes and URL templates
        "prefixes": [
            rng.choice([
                lambda: "sk_live_" + rand(rng, 24),
                lambda: "ghp_" + rand(rng, 36),
                lambda: "postgres://app:" + rand(rng, 16) + "@db.internal:5432/app",
                lambda: "xoxb-" + rand(rng, 12, string.digits) + "-" + rand(rng, 24),
                lambda: "AKIA" + rand(rng, 16, string.ascii_uppercase + string.digits),
            ])()
            for _ in range(1000)
        ],
        "hex": [rand(rng, rng.choice([16, 32, 40, 64]), "0123456789abcdef") for _ in range(1000)],
        "base64": [base64.b64encode(rng.randbytes(rng.randint(9, 48))).decode() for _ in range(1000)],
        "pem": [pem(rng) for _ in range(10)] + typical[:990],
        "short8": [rand(rng, 8) for _ in range(1000)],
    }
    for name, values in sets.items():
        assert len(set(values)) == len(values), name
    return sets


def filler(rng, i):
    ts = "2025-01-%02dT%02d:%02d:%02d.%03dZ" % (1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000)
    return "%s %s svc-%d[%d]: %s id=%08x took=%dms" % (
        ts, rng.choice(("INFO", "INFO", "DEBUG", "WARN", "ERROR")), rng.randint(1, 9),
        rng.randint(100, 99999), " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))),
        rng.getrandbits(32), rng.randint(0, 999))


def secret_line(rng, i, secret):
    if "\n" in secret:
        return filler(rng, i) + " key follows\n" + secret.rstrip("\n")
    k = rng.randint(0, 3)
    if k == 0:
        return filler(rng, i) + " auth token=" + secret
    if k == 1:
        return filler(rng, i) + ' body=' + json.dumps({"api_key": secret, "n": i})
    if k == 2:
        return "Authorization: Bearer %s %s" % (secret, filler(rng, i))
    return filler(rng, i) + " url=https://u:%s@db.internal/x" % secret


def write_corpus(path, secrets, size):
    rng = random.Random(len(secrets) * 7919 + size)
    out, total, i = [], 0, 0
    while total < size:
        line = (secret_line(rng, i, rng.choice(secrets)) if i % 16 == 5 else filler(rng, i)) + "\n"
        out.append(line)
        total += len(line)
        i += 1
    with open(path, "w") as f:
        f.write("".join(out))


def timed(argv, **kw):
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s" % (r.returncode, " ".join(argv[:6]), r.stderr.decode()[-2000:]))
    return time.perf_counter() - t


def main(hush, outdir):
    mib = int(os.environ.get("BENCH_MASK_MIB", "32"))
    repeat = int(os.environ.get("BENCH_MASK_REPEAT", "8"))
    rounds = int(os.environ.get("BENCH_MASK_ROUNDS", "3"))
    only = [s for s in os.environ.get("BENCH_MASK_SETS", "").split(",") if s]
    sets_dir = os.path.join(outdir, "sets")
    os.makedirs(sets_dir, exist_ok=True)
    rows = []
    for name, secrets in make_sets().items():
        if only and name not in only:
            continue
        env = name.replace("+", "-")
        spath = os.path.join(sets_dir, name + ".json")
        with open(spath, "w") as f:
            json.dump({"S%04d" % i: v for i, v in enumerate(secrets)}, f)
        subprocess.run([hush, "envs", "create", env], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([hush, "import", spath, "--env", env, "--overwrite"], check=True,
                       stdout=subprocess.DEVNULL)
        corpus = os.path.join(sets_dir, name + ".log")
        write_corpus(corpus, secrets, mib << 20)
        files = [corpus] * repeat
        nbytes = os.path.getsize(corpus) * repeat
        startup = statistics.median(timed([hush, "run", "--env", env, "--", "true"]) for _ in range(3))
        # the first run also proves the output is masked: no secret survives
        check = subprocess.run([hush, "run", "--env", env, "--", "cat", corpus], capture_output=True)
        leaked = sum(1 for s in secrets if ("\n" not in s and s.encode() in check.stdout))
        pipe_t, hush_t, ratios, gross = [], [], [], []
        for _ in range(rounds):
            p = timed(["sh", "-c", 'cat "$@" | cat > /dev/null', "sh"] + files)
            h = timed([hush, "run", "--env", env, "--", "cat"] + files)
            pipe_t.append(p)
            hush_t.append(h)
            ratios.append(p / max(h - startup, 1e-6))
            gross.append(p / h)
        row = {
            "set": name, "secrets": len(secrets),
            "lengths": "%d-%d" % (min(map(len, secrets)), max(map(len, secrets))),
            "mb": nbytes / 1e6, "startup_ms": startup * 1e3,
            "pipe": nbytes / statistics.median(pipe_t) / 1e6,
            "hush_net": nbytes / (statistics.median(hush_t) - startup) / 1e6,
            "x_net": statistics.median(ratios), "x_gross": statistics.median(gross),
            "leaked": leaked,
        }
        rows.append(row)
        print("[masking] %-18s net %7.0f MB/s  pipe %6.0f MB/s  x%.2f (gross x%.2f)  leaked %d"
              % (name, row["hush_net"], row["pipe"], row["x_net"], row["x_gross"], leaked), file=sys.stderr)
    report(rows, outdir, mib, repeat, rounds)


def report(rows, outdir, mib, repeat, rounds):
    md = []
    w = md.append
    w("### Masking throughput by secret shape")
    w("")
    w("`scripts/bench/masking.sh` (`BENCH_ONLY=masking scripts/bench.sh` runs only this): 1,000 "
      "secrets per set, a log corpus (%d MiB, 1 line in 16 carries a secret) streamed %d times "
      "through `hush run --env SET -- cat` and through `cat | cat` (the pipe), interleaved, median "
      "of %d rounds. net = with hush's start-up (fetch, mask set build) taken out; x pipe = median "
      "of per-round ratios of net rates. leaked = secrets found in hush's output (must be 0)."
      % (mib, repeat, rounds))
    w("")
    w("| set | secrets | lengths | streamed | start-up ms | hush net MB/s | pipe MB/s | x pipe (net) | x pipe (gross) | leaked |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        w("| %s | %d | %s | %.0f MB | %.0f | %.0f | %.0f | %.2f | %.2f | %d |" % (
            r["set"], r["secrets"], r["lengths"], r["mb"], r["startup_ms"], r["hush_net"],
            r["pipe"], r["x_net"], r["x_gross"], r["leaked"]))
    w("")
    if rows:
        typical = next((r for r in rows if r["set"] == "random22"), rows[0])
        worst = min(rows, key=lambda r: r["x_net"])
        w("Typical (`%s`): x%.2f of the pipe. Worst case (`%s`): x%.2f; target >= x%.2f: %s." % (
            typical["set"], typical["x_net"], worst["set"], worst["x_net"], TARGET,
            "**met**" if worst["x_net"] >= TARGET else "**not met**"))
        w("")
        w("Read the ratios with the pipe's own rate beside them: `cat | cat` moves 64-128 KiB "
          "blocks between two processes that do no work, and on a 2-core machine its rate swings "
          "between about 0.8 and 6 GB/s with the other load (both ends need a core), while hush's "
          "rate, bound by the masker's CPU, moves much less.")
        w("")
    with open(os.path.join(outdir, "masking.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(outdir, "masking.tsv"), "w") as f:
        for r in rows:
            f.write("\t".join(str(r[k]) for k in ("set", "hush_net", "pipe", "x_net", "x_gross", "leaked")) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
