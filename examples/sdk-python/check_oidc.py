"""Logs in to a hush server with OIDC auth through Infisical's official
Python SDK (infisicalsdk), then lists secrets with the minted token.

Run by tests/it/sdk.rs with HUSH_URL, PROJECT_ID, IDENTITY_ID and OIDC_JWT
(an ID token the test's issuer signed) in the environment. Prints
"SDK CHECK OK" at the end.
"""
import os
import sys

from infisical_sdk import InfisicalSDKClient
from infisical_sdk.infisical_requests import APIError

client = InfisicalSDKClient(host=os.environ["HUSH_URL"], cache_ttl=None)
answer = client.auth.oidc_auth.login(identity_id=os.environ["IDENTITY_ID"], jwt=os.environ["OIDC_JWT"])
if not answer.accessToken or answer.tokenType != "Bearer":
    sys.exit("FAILED: the OIDC login answer")
listed = client.secrets.list_secrets(environment_slug="dev", secret_path="/", project_id=os.environ["PROJECT_ID"])
values = {s.secretKey: s.secretValue for s in listed.secrets}
if values.get("OIDC_SDK_KEY") != "oidc-sdk-value":
    sys.exit(f"FAILED: list after OIDC login: {sorted(values)}")

try:
    InfisicalSDKClient(host=os.environ["HUSH_URL"], cache_ttl=None).auth.oidc_auth.login(
        identity_id=os.environ["IDENTITY_ID"], jwt=os.environ["OIDC_JWT"] + "x"
    )
    sys.exit("FAILED: a tampered token logged in")
except APIError as e:
    if "401" not in str(e) and getattr(e, "status_code", None) != 401:
        sys.exit(f"FAILED: a tampered token: {e}")
print("SDK CHECK OK")
