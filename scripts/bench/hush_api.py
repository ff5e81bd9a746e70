#!/usr/bin/env python3
"""Small HTTP client for hush's API, used by scripts/bench.sh (standard library only).

  hush_api.py bootstrap URL CODE_FILE               print the admin's access token
                                                    (CODE_FILE: the server's data dir/bootstrap-code)
  hush_api.py seed URL TOKEN ENV COUNT              set K1..K<COUNT> in ENV at "/"
  hush_api.py seed-file ENV DOTENV_FILE             load a KEY=VALUE file into ENV
                                                    (creates ENV; uses $HUSH_SERVER, $HUSH_TOKEN)

`seed-file` is the peers harness's HUSH_SETUP hook: it runs several times per
fixture, so it is idempotent (it creates the environment only if missing and
writes only the keys whose value differs from the server's).
"""
import http.client
import json
import os
import sys
import urllib.parse

PROJECT = "default"
EMAIL = "admin@example.com"
PASSWORD = "a-long-password-123"


class Api:
    def __init__(self, url, token=None):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http":
            raise SystemExit("hush_api: only http:// URLs are supported, got %r" % url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        self.token = token

    def call(self, method, path, body=None, ok=(200,)):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            # keep-alive connection dropped by the server: retry once on a new one
            self.conn.close()
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        if resp.status not in ok:
            raise SystemExit("hush_api: %s %s -> HTTP %d: %s"
                             % (method, path, resp.status, raw[:300].decode("utf-8", "replace")))
        return resp.status, (json.loads(raw) if raw else None)

    def put_secret(self, env, key, value):
        self.call("PUT", "/api/v1/hush/secrets/" + urllib.parse.quote(key, safe=""),
                  {"workspaceId": PROJECT, "environment": env, "secretPath": "/",
                   "secretValue": value})

    def list_secrets(self, env):
        q = urllib.parse.urlencode({"workspaceId": PROJECT, "environment": env, "secretPath": "/"})
        _, body = self.call("GET", "/api/v3/secrets/raw?" + q)
        return {s.get("secretKey"): s.get("secretValue") for s in body.get("secrets", [])}

    def ensure_env(self, env):
        _, body = self.call("GET", "/api/v1/workspace/%s/environments" % PROJECT)
        text = json.dumps(body)
        if '"slug": "%s"' % env in text:
            return
        self.call("POST", "/api/v1/workspace/%s/environments" % PROJECT,
                  {"slug": env, "name": env})


def parse_dotenv(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            k, v = line.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            out[k.strip()] = v
    return out


def main(argv):
    if len(argv) >= 2 and argv[1] == "bootstrap" and len(argv) == 4:
        with open(argv[3]) as f:
            code = f.read().strip()
        _, body = Api(argv[2]).call("POST", "/api/v1/hush/bootstrap",
                                    {"email": EMAIL, "password": PASSWORD,
                                     "bootstrapCode": code}, ok=(200, 201))
        tok = body.get("accessToken")
        if not tok:
            raise SystemExit("hush_api: bootstrap answer has no accessToken: %r" % body)
        print(tok)
    elif len(argv) == 6 and argv[1] == "seed":
        api = Api(argv[2], argv[3])
        env, n = argv[4], int(argv[5])
        for i in range(1, n + 1):
            api.put_secret(env, "K%d" % i, "value-%d-abcdefghijklmnop" % i)
        got = api.list_secrets(env)
        if len(got) != n:
            raise SystemExit("hush_api: seeded %d secrets but the list has %d" % (n, len(got)))
    elif len(argv) == 4 and argv[1] == "seed-file":
        url, token = os.environ.get("HUSH_SERVER"), os.environ.get("HUSH_TOKEN")
        if not url or not token:
            raise SystemExit("hush_api: seed-file needs HUSH_SERVER and HUSH_TOKEN")
        api = Api(url, token)
        env, want = argv[2], parse_dotenv(argv[3])
        api.ensure_env(env)
        have = api.list_secrets(env)
        todo = [k for k, v in want.items() if have.get(k) != v]
        for k in todo:
            api.put_secret(env, k, want[k])
        print("hush_api: env %s: %d secrets, %d written" % (env, len(want), len(todo)),
              file=sys.stderr)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
