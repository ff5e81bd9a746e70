"""Dynamic secrets through Infisical's official Python SDK (infisicalsdk):
defines a Redis dynamic secret, leases a credential, checks that its user
can AUTH, changes the definition, renews and revokes the lease, checks that the user is gone, and
deletes the definition.

Run by tests/it/sdk.rs with HUSH_URL, CLIENT_ID, CLIENT_SECRET (a project
admin identity), REDIS_HOST and REDIS_PORT in the environment. Prints
"SDK CHECK OK" at the end.
"""
import os
import socket
import sys

from infisical_sdk import InfisicalSDKClient


def redis_auth(user, password):
    """Whether Redis accepts AUTH user password (one RESP command)."""
    parts = [b"AUTH", user.encode(), password.encode()]
    command = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection((os.environ["REDIS_HOST"], int(os.environ["REDIS_PORT"])), timeout=5) as s:
        s.sendall(command)
        return s.recv(256).startswith(b"+OK")


client = InfisicalSDKClient(host=os.environ["HUSH_URL"], cache_ttl=None)
client.auth.universal_auth.login(client_id=os.environ["CLIENT_ID"], client_secret=os.environ["CLIENT_SECRET"])
where = dict(project_slug="default", environment_slug="dev", path="/")

created = client.dynamic_secrets.create(
    name="sdk-cache",
    provider_type="redis",
    inputs={
        "host": os.environ["REDIS_HOST"],
        "port": int(os.environ["REDIS_PORT"]),
        "creationStatement": "ACL SETUSER {{username}} on >{{password}} ~* +ping",
        "revocationStatement": "ACL DELUSER {{username}}",
    },
    default_ttl="1h",
    max_ttl="2h",
    **where,
)
if created.name != "sdk-cache" or created.type != "redis" or created.defaultTTL != "1h":
    sys.exit(f"FAILED: create: {created}")
if "password" in (created.inputs or {}):
    sys.exit("FAILED: the definition answered a password field")
if client.dynamic_secrets.get_by_name(name="sdk-cache", **where).id != created.id:
    sys.exit("FAILED: get_by_name")

updated = client.dynamic_secrets.update(name="sdk-cache", default_ttl="30m", **where)
if updated.defaultTTL != "30m" or updated.id != created.id:
    sys.exit(f"FAILED: update: {updated}")

lease = client.dynamic_secrets.leases.create(dynamic_secret_name="sdk-cache", ttl="1h", **where)
user, password = lease.data["DB_USERNAME"], lease.data["DB_PASSWORD"]
if lease.lease.externalEntityId != user or lease.dynamicSecret.id != created.id:
    sys.exit(f"FAILED: lease: {lease.lease}")
if not redis_auth(user, password):
    sys.exit("FAILED: the leased user cannot AUTH")
got = client.dynamic_secrets.leases.get(lease_id=lease.lease.id, **where)
if got.id != lease.lease.id or got.dynamicSecret is None:
    sys.exit(f"FAILED: leases.get: {got}")
renewed = client.dynamic_secrets.leases.renew(lease_id=lease.lease.id, ttl="2h", **where)
if renewed.expireAt <= lease.lease.expireAt or renewed.version != 2:
    sys.exit(f"FAILED: renew: {renewed}")

revoked = client.dynamic_secrets.leases.revoke(lease_id=lease.lease.id, **where)
if revoked.id != lease.lease.id:
    sys.exit(f"FAILED: revoke: {revoked}")
if redis_auth(user, password):
    sys.exit("FAILED: the revoked user can still AUTH")

deleted = client.dynamic_secrets.delete(name="sdk-cache", **where)
if deleted.id != created.id:
    sys.exit(f"FAILED: delete: {deleted}")
print("SDK CHECK OK")
