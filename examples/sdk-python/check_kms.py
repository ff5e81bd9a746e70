"""Encryption as a service through Infisical's official Python SDK
(infisicalsdk): creates a KMS key, encrypts and decrypts with it, finds it
by name and in the list, disables, enables and deletes it.

Run by tests/it/sdk.rs with HUSH_URL, PROJECT_ID, CLIENT_ID and
CLIENT_SECRET (a project admin identity) in the environment. Prints
"SDK CHECK OK" at the end.
"""
import base64
import os

from infisical_sdk import InfisicalSDKClient
from infisical_sdk.api_types import SymmetricEncryption

client = InfisicalSDKClient(host=os.environ["HUSH_URL"], cache_ttl=None)
client.auth.universal_auth.login(client_id=os.environ["CLIENT_ID"], client_secret=os.environ["CLIENT_SECRET"])
project = os.environ["PROJECT_ID"]

key = client.kms.create_key(
    name="sdk-kms-key",
    project_id=project,
    encryption_algorithm=SymmetricEncryption.AES_GCM_256,
    description="made by the SDK check",
)
assert key.name == "sdk-kms-key" and not key.isDisabled, key
assert key.encryptionAlgorithm == "aes-256-gcm", key

plaintext = base64.b64encode(b"the eagle lands at noon").decode()
ciphertext = client.kms.encrypt_data(key_id=key.id, base64EncodedPlaintext=plaintext)
assert ciphertext and ciphertext != plaintext
assert client.kms.decrypt_data(key_id=key.id, ciphertext=ciphertext) == plaintext

assert client.kms.get_key_by_id(key.id).name == "sdk-kms-key"
assert client.kms.get_key_by_name(key_name="sdk-kms-key", project_id=project).id == key.id
listed = client.kms.list_keys(project_id=project)
assert listed.totalCount >= 1 and any(k.id == key.id for k in listed.keys), listed

disabled = client.kms.update_key(key_id=key.id, is_disabled=True)
assert disabled.isDisabled
try:
    client.kms.encrypt_data(key_id=key.id, base64EncodedPlaintext=plaintext)
    raise SystemExit("a disabled key encrypted")
except SystemExit:
    raise
except Exception:
    pass
client.kms.update_key(key_id=key.id, is_disabled=False, description="re-enabled")
assert client.kms.decrypt_data(key_id=key.id, ciphertext=ciphertext) == plaintext

deleted = client.kms.delete_key(key_id=key.id)
assert deleted.id == key.id
print("SDK CHECK OK")
