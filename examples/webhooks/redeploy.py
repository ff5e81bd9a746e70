#!/usr/bin/env python3
"""A redeploy hook: receives hush (or Infisical) webhooks, verifies each one,
and runs a command when secrets of the watched environment change.

    WEBHOOK_SECRET=... python3 redeploy.py --port 8088 --env prod -- ./deploy.sh

Register it with:

    hush webhooks add --url https://deploy.internal:8088/ --env prod --path '/**' \
        --secret-key-env WEBHOOK_SECRET

What it checks, in this order, and why:
  1. the `x-infisical-signature` header: `t=<unix ms>;<hex HMAC-SHA256 of the raw
     body under the shared secret>`, compared in constant time (anyone can POST);
  2. that `t` is within 5 minutes of now and equals the body's `timestamp`
     (a captured delivery cannot be replayed later);
  3. the delivery's id (`hush.eventId`): deliveries are at least once, so a
     repeat is acknowledged but not acted on again.
It answers 2xx only once it has taken the delivery; anything else makes hush
retry it later with backoff. Standard library only.
"""

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024
MAX_AGE_MS = 5 * 60 * 1000


def verify(secret: bytes, header: str, body: bytes, now_ms: int) -> bool:
    """True when `header` signs `body` under `secret` and is fresh."""
    if not header.startswith("t=") or ";" not in header:
        return False
    stamp, digest = header[2:].split(";", 1)
    try:
        t = int(stamp)
    except ValueError:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.strip()):
        return False
    return abs(now_ms - t) <= MAX_AGE_MS


class Hook(BaseHTTPRequestHandler):
    seen = set()

    def answer(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            return self.answer(413, "too large")
        body = self.rfile.read(length)
        header = self.headers.get("x-infisical-signature", "")
        if not verify(self.server.secret, header, body, int(time.time() * 1000)):
            # Never say why: a forger learns nothing.
            return self.answer(401, "unauthorized")
        event = json.loads(body)
        if str(event.get("timestamp")) != header[2:].split(";", 1)[0]:
            return self.answer(401, "unauthorized")
        delivery = (event.get("hush") or {}).get("eventId") or header
        if delivery in Hook.seen:
            return self.answer(200, "already done")
        project = event.get("project") or {}
        wanted = self.server.env in (None, project.get("environment"))
        if event.get("event") == "secrets.modified" and wanted:
            env = dict(os.environ, HUSH_CHANGED_ENV=str(project.get("environment")),
                       HUSH_CHANGED_PATH=str(project.get("secretPath")))
            if subprocess.run(self.server.command, env=env).returncode != 0:
                # Not acknowledged: hush retries, and we try again then.
                return self.answer(503, "redeploy failed")
        Hook.seen.add(delivery)
        self.answer(204, "")

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("redeploy-hook: " + (fmt % args) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--env", help="act only on this environment's changes")
    p.add_argument("command", nargs="+", help="the redeploy command (after --)")
    args = p.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET", "").encode()
    if not secret:
        sys.exit("redeploy-hook: set WEBHOOK_SECRET to the webhook's secret key")
    server = ThreadingHTTPServer((args.bind, args.port), Hook)
    server.secret, server.env, server.command = secret, args.env, args.command
    print(f"redeploy-hook: listening on {args.bind}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
