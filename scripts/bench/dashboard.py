#!/usr/bin/env python3
"""Page weight and server time of the web dashboard (issue 27), standard library only.

  dashboard.py URL TOKEN OUTDIR

Seeds project `default` with 200 keys in each of dev, staging and prod (one batch
per environment; a third of the keys differ between environments), signs in to
the dashboard with the admin's password, then for each page:

- bytes: the HTML body and its headers as sent (no compression is offered by
  the server), and for the overview also the first visit's total with the
  stylesheet and the script (each cached for an hour after that);
- server time: wall time from sending the request to the last byte, over a
  keep-alive connection on 127.0.0.1, after 5 warm-up requests; median and
  p95 of BENCH_DASH_REQUESTS (default 60) requests, one at a time.

Writes OUTDIR/dashboard.md (a markdown table) and prints it.
"""
import http.client
import os
import re
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hush_api import EMAIL, PASSWORD, PROJECT, Api  # noqa: E402

KEYS = 200
ENVS = ("dev", "staging", "prod")
REQUESTS = int(os.environ.get("BENCH_DASH_REQUESTS", "60"))


def seed(api):
    for env in ENVS:
        secrets = []
        for i in range(KEYS):
            # Every third key differs by environment; the rest are equal.
            value = "value-%d-%s" % (i, env if i % 3 == 0 else "same")
            secrets.append({"secretKey": "KEY_%03d" % i, "secretValue": value})
        api.call("POST", "/api/v1/hush/secrets/batch",
                 {"workspaceId": PROJECT, "environment": env, "secretPath": "/",
                  "secrets": secrets}, ok=(200, 201))


class Browser:
    """One keep-alive connection with a cookie jar, like a browser tab."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.cookies = {}

    def request(self, method, path, body=None):
        headers = {"Cookie": "; ".join("%s=%s" % kv for kv in self.cookies.items()),
                   "Accept-Encoding": "gzip, br"}
        if body is not None:
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        took = time.perf_counter() - start
        head = sum(len(k) + len(v) + 4 for k, v in resp.getheaders()) + 17
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie":
                name, value = v.split(";", 1)[0].split("=", 1)
                self.cookies[name] = value
        return resp, raw, head, took

    def csrf(self, html):
        m = re.search(rb'name="csrf" value="([^"]+)"', html)
        return m.group(1).decode()


def main():
    url, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
    seed(Api(url, token))
    b = Browser(url)
    _, page, _, _ = b.request("GET", "/sign-in")
    resp, _, _, _ = b.request("POST", "/sign-in",
                              {"csrf": b.csrf(page), "email": EMAIL, "password": PASSWORD})
    if resp.status != 303:
        raise SystemExit("dashboard bench: sign-in answered %d" % resp.status)
    pages = [
        ("overview, 200 keys x 3 environments", "/p/default?path=%2F"),
        ("folder (dev, 200 secrets, masked)", "/p/default/env/dev?path=%2F"),
        ("one secret and its history", "/p/default/env/dev/secrets/KEY_000?path=%2F"),
        ("audit log, first page (50 events)", "/p/default/audit"),
        ("projects", "/projects"),
    ]
    rows = []
    for name, path in pages:
        resp, body, head, _ = b.request("GET", path)
        if resp.status != 200:
            raise SystemExit("dashboard bench: %s answered %d" % (path, resp.status))
        if resp.getheader("Content-Encoding"):
            raise SystemExit("dashboard bench: the body is compressed; count it as sent")
        for _ in range(5):
            b.request("GET", path)
        times = sorted(b.request("GET", path)[3] * 1000 for _ in range(REQUESTS))
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        rows.append((name, len(body), head, statistics.median(times), p95))
    assets = 0
    for path in ("/assets/app.css", "/assets/app.js"):
        _, body, head, _ = b.request("GET", path)
        assets += len(body) + head
    lines = [
        "| page | HTML bytes | headers | server time median ms | p95 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, size, head, median, p95 in rows:
        lines.append("| %s | %d | %d | %.1f | %.1f |" % (name, size, head, median, p95))
    first = rows[0][1] + rows[0][2] + assets
    lines.append("")
    lines.append("First visit to the overview, with the stylesheet and the script: %d bytes "
                 "(%d of them the two assets, cached for an hour after)." % (first, assets))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "dashboard.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
