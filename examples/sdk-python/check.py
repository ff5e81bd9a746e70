"""Drives a hush server through Infisical's official Python SDK (infisicalsdk).

Run by tests/it/sdk.rs with: HUSH_URL, CLIENT_ID, CLIENT_SECRET, PROJECT_ID,
VIEWER_ID, VIEWER_SECRET in the environment. Exits non-zero on the first
mismatch; prints "SDK CHECK OK" at the end.
"""
import os
import sys

from infisical_sdk import InfisicalSDKClient
from infisical_sdk.infisical_requests import APIError

url = os.environ["HUSH_URL"]
project = os.environ["PROJECT_ID"]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


client = InfisicalSDKClient(host=url, cache_ttl=None)
client.auth.universal_auth.login(client_id=os.environ["CLIENT_ID"], client_secret=os.environ["CLIENT_SECRET"])

listed = client.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=project)
values = {s.secretKey: s.secretValue for s in listed.secrets}
check(values.get("DB_PASSWORD") == "py-db-password-1", "list returns the seeded secret")
check(values.get("DB_URL") == "postgres://app:py-db-password-1@db/app", "references are expanded")
check(values.get("ODD") == "$HOME and ${PATH}", "an unresolvable reference stays as written")
check(any(i.environment == "staging" and i.secretPath == "/shared" for i in listed.imports), "imports are listed")
# The SDK leaves imported secrets as plain dicts.
imported = [s if isinstance(s, dict) else s.to_dict() for i in listed.imports for s in i.secrets]
check(any(s["secretKey"] == "SHARED_KEY" and s["secretValue"] == "from-staging" for s in imported), "imported secret values")
check(all("createdAt" in s and "updatedAt" in s for s in imported), "imported secrets carry createdAt/updatedAt")

recursive = client.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=project, recursive=True)
check(any(s.secretKey == "NESTED" and s.secretPath == "/api" for s in recursive.secrets), "recursive list reaches /api")

current = client.secrets.get_secret_by_name(secret_name="DB_PASSWORD", project_id=project, environment_slug="dev", secret_path="/")
check(current.version == 2 and current.secretValue == "py-db-password-1", "get returns the current version")
old = client.secrets.get_secret_by_name(secret_name="DB_PASSWORD", project_id=project, environment_slug="dev", secret_path="/", version="1")
check(old.version == 1 and old.secretValue == "py-db-password-0", "get an older version")

created = client.secrets.create_secret_by_name(secret_name="PY_NEW", project_id=project, secret_path="/", environment_slug="dev", secret_value="created-by-python", secret_comment="from the SDK")
check(created.secretKey == "PY_NEW" and created.version == 1, "create")
updated = client.secrets.update_secret_by_name(current_secret_name="PY_NEW", project_id=project, secret_path="/", environment_slug="dev", secret_value="updated-by-python")
check(updated.version == 2 and updated.secretValue == "updated-by-python", "update")
renamed = client.secrets.update_secret_by_name(current_secret_name="PY_NEW", project_id=project, secret_path="/", environment_slug="dev", new_secret_name="PY_RENAMED")
check(renamed.secretKey == "PY_RENAMED" and renamed.version == 3, "rename")
again = client.secrets.get_secret_by_name(secret_name="PY_RENAMED", project_id=project, environment_slug="dev", secret_path="/", version="1")
check(again.secretValue == "created-by-python", "history survives a rename")
deleted = client.secrets.delete_secret_by_name(secret_name="PY_RENAMED", project_id=project, environment_slug="dev", secret_path="/")
check(deleted.secretKey == "PY_RENAMED", "delete")

folder = client.folders.create_folder(name="pyfolder", environment_slug="dev", project_id=project, path="/")
check(folder.name == "pyfolder", "create a folder")

try:
    client.secrets.get_secret_by_name(secret_name="NOT_THERE", project_id=project, environment_slug="dev", secret_path="/")
    check(False, "404 for a missing secret")
except APIError as e:
    check(e.status_code == 404, "404 for a missing secret")

viewer = InfisicalSDKClient(host=url, cache_ttl=None)
viewer.auth.universal_auth.login(client_id=os.environ["VIEWER_ID"], client_secret=os.environ["VIEWER_SECRET"])
try:
    viewer.secrets.create_secret_by_name(secret_name="NOPE", project_id=project, secret_path="/", environment_slug="dev", secret_value="x")
    check(False, "403 for a viewer's write")
except APIError as e:
    check(e.status_code == 403, "403 for a viewer's write")

print("SDK CHECK OK")
