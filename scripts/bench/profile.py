#!/usr/bin/env python3
"""Groups a `perf report --no-children --sort dso,symbol -g none --stdio` listing
(on stdin) into a few cost categories; prints "category<TAB>percent<TAB>top symbols".
Used by scripts/bench.sh for the bottleneck note of BENCHMARKS.md."""
import re
import sys

CATS = [
    ("kernel: scheduling, futex wake-ups, context switches",
     r"^\[k\] .*(sched|switch|futex|wake|spin_unlock|irqentry|exit_to_user|syscall|lock)"),
    ("kernel: network, files and the rest", r"^\[k\] "),
    ("memory allocation (malloc/free)",
     r"(^|\W)(malloc|_int_malloc|_int_free|cfree|free|realloc|calloc|malloc_consolidate|unlink_chunk"
     r"|tcache|__libc_malloc|__libc_free)\b"),
    ("threads: locks and condvars in user space", r"(pthread_|lll_lock|futex::|Condvar|Mutex|parking)"),
    ("SQLite", r"sqlite3"),
    ("crypto (AES-GCM, hashes)", r"(aes|ghash|polyval|sha2|hmac|Sha256|argon|blake)"),
    ("JSON (serde_json) and formatting", r"(serde|fmt::|format|itoa|ryu|time::formatting)"),
    ("collections and copies (BTreeMap, memmove, memcmp)", r"(btree|BTree|memmove|memcpy|memcmp|memset|hashbrown)"),
    ("tokio, hyper, axum (runtime and HTTP)", r"(tokio|hyper|axum|tower|mio|http::)"),
]


def main():
    totals = {c: 0.0 for c, _ in CATS}
    tops = {c: [] for c, _ in CATS}
    other, other_top = 0.0, []
    for line in sys.stdin:
        m = re.match(r"^\s+([0-9.]+)%\s+(\S+)\s+(\[[.k]\])\s+(.*?)\s*(-\s+-\s*)?$", line)
        if not m:
            continue
        pct, sym = float(m.group(1)), m.group(3) + " " + m.group(4).strip()
        for cat, rx in CATS:
            if re.search(rx, sym):
                totals[cat] += pct
                tops[cat].append((pct, sym))
                break
        else:
            other += pct
            other_top.append((pct, sym))
    rows = [(totals[c], c, tops[c]) for c, _ in CATS] + [(other, "other (hush's own code and the rest)", other_top)]
    for pct, cat, syms in sorted(rows, key=lambda r: -r[0]):
        if pct < 0.5:
            continue
        best = ", ".join("`%s` %.1f%%" % (s[4:][:60], p) for p, s in sorted(syms, reverse=True)[:3])
        print("%s\t%.1f\t%s" % (cat, pct, best))


if __name__ == "__main__":
    main()
