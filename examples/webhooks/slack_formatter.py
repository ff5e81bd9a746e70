#!/usr/bin/env python3
"""Turns verified hush (or Infisical) webhooks into Slack messages.

    WEBHOOK_SECRET=... SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... \
        python3 slack_formatter.py --port 8089

hush can post Slack's format itself (`hush webhooks add --type slack --url
https://hooks.slack.com/...`); this relay is for when you want your own
wording, a channel per environment, or the signature checked first. The
message names the project, environment, folder and (for a reminder) the
secret; hush never sends a value, so there is none to leak into Slack.
With --print it writes the message to stdout instead of posting it.
"""

import argparse
import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from redeploy import MAX_BODY, verify

TITLES = {
    "secrets.modified": ":key: Secrets changed",
    "secrets.reminder-expired": ":alarm_clock: A secret is overdue for rotation",
    "test": ":wave: Test delivery from hush",
}


def message(event: dict) -> dict:
    """The Slack message (Block Kit) for one webhook body."""
    p = event.get("project") or {}
    lines = [
        f"*Project:* {p.get('projectName') or p.get('workspaceId')}",
        f"*Environment:* `{p.get('environment')}`",
        f"*Folder:* `{p.get('secretPath')}`",
    ]
    if p.get("secretName"):
        lines.append(f"*Secret:* `{p['secretName']}`")
    if p.get("reminderNote"):
        lines.append(f"*Note:* {p['reminderNote']}")
    title = TITLES.get(event.get("event"), str(event.get("event")))
    return {
        "text": title,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
    }


class Relay(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(min(length, MAX_BODY))
        header = self.headers.get("x-infisical-signature", "")
        if length > MAX_BODY or not verify(self.server.secret, header, body, int(time.time() * 1000)):
            self.send_response(401)
            self.end_headers()
            return
        out = json.dumps(message(json.loads(body))).encode()
        if self.server.slack_url:
            req = urllib.request.Request(self.server.slack_url, data=out,
                                         headers={"content-type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=10).close()
            except OSError:
                self.send_response(502)  # hush retries later
                self.end_headers()
                return
        else:
            print(out.decode(), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("slack-relay: " + (fmt % args) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--print", action="store_true", help="print instead of posting to Slack")
    args = p.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET", "").encode()
    slack_url = None if args.print else os.environ.get("SLACK_WEBHOOK_URL")
    if not secret or not (args.print or slack_url):
        sys.exit("slack-relay: set WEBHOOK_SECRET, and SLACK_WEBHOOK_URL (or use --print)")
    server = ThreadingHTTPServer((args.bind, args.port), Relay)
    server.secret, server.slack_url = secret, slack_url
    print(f"slack-relay: listening on {args.bind}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
