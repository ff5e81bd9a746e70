// Drives a hush server through Infisical's official Node SDK (@infisical/sdk).
// Run by tests/it/sdk.rs with HUSH_URL, CLIENT_ID, CLIENT_SECRET, PROJECT_ID,
// VIEWER_ID, VIEWER_SECRET set. Prints "SDK CHECK OK" when every check passed.
import { InfisicalSDK } from "@infisical/sdk";

const url = process.env.HUSH_URL;
const projectId = process.env.PROJECT_ID;

function check(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    const m = /StatusCode=(\d+)/.exec(String(e.message ?? e));
    return m ? Number(m[1]) : (e?.response?.status ?? e?.statusCode ?? -1);
  }
}

const client = new InfisicalSDK({ siteUrl: url });
await client.auth().universalAuth.login({ clientId: process.env.CLIENT_ID, clientSecret: process.env.CLIENT_SECRET });

const listed = await client.secrets().listSecrets({ environment: "dev", projectId, secretPath: "/", includeImports: true });
const values = Object.fromEntries(listed.secrets.map((s) => [s.secretKey, s.secretValue]));
check(values.DB_PASSWORD === "py-db-password-1", "list returns the seeded secret");
check(values.DB_URL === "postgres://app:py-db-password-1@db/app", "references are expanded");
check(values.ODD === "$HOME and ${PATH}", "an unresolvable reference stays as written");
check(listed.imports.some((i) => i.environment === "staging" && i.secretPath === "/shared"), "imports are listed");
const withImports = await client.secrets().listSecretsWithImports({ environment: "dev", projectId, secretPath: "/" });
check(withImports.some((s) => s.secretKey === "SHARED_KEY" && s.secretValue === "from-staging"), "listSecretsWithImports merges imports");

const recursive = await client.secrets().listSecrets({ environment: "dev", projectId, secretPath: "/", recursive: true });
check(recursive.secrets.some((s) => s.secretKey === "NESTED" && s.secretPath === "/api"), "recursive list reaches /api");

const current = await client.secrets().getSecret({ environment: "dev", projectId, secretName: "DB_PASSWORD", secretPath: "/" });
check(current.version === 2 && current.secretValue === "py-db-password-1", "get returns the current version");
const old = await client.secrets().getSecret({ environment: "dev", projectId, secretName: "DB_PASSWORD", secretPath: "/", version: 1 });
check(old.version === 1 && old.secretValue === "py-db-password-0", "get an older version");

const created = await client.secrets().createSecret("NODE_NEW", { environment: "dev", projectId, secretPath: "/", secretValue: "created-by-node" });
check(created.secret.secretKey === "NODE_NEW" && created.secret.version === 1, "create");
const updated = await client.secrets().updateSecret("NODE_NEW", { environment: "dev", projectId, secretPath: "/", secretValue: "updated-by-node" });
check(updated.secret.version === 2, "update");
const renamed = await client.secrets().updateSecret("NODE_NEW", { environment: "dev", projectId, secretPath: "/", newSecretName: "NODE_RENAMED" });
check(renamed.secret.secretKey === "NODE_RENAMED", "rename");
const deleted = await client.secrets().deleteSecret("NODE_RENAMED", { environment: "dev", projectId, secretPath: "/" });
check(deleted.secret.secretKey === "NODE_RENAMED", "delete");

const folder = await client.folders().create({ name: "nodefolder", path: "/", projectId, environment: "dev" });
check(folder.name === "nodefolder", "create a folder");

check((await status(client.secrets().getSecret({ environment: "dev", projectId, secretName: "NOT_THERE", secretPath: "/" }))) === 404, "404 for a missing secret");

const viewer = new InfisicalSDK({ siteUrl: url });
await viewer.auth().universalAuth.login({ clientId: process.env.VIEWER_ID, clientSecret: process.env.VIEWER_SECRET });
check((await status(viewer.secrets().createSecret("NOPE", { environment: "dev", projectId, secretPath: "/", secretValue: "x" }))) === 403, "403 for a viewer's write");

console.log("SDK CHECK OK");
