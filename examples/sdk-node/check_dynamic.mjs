// Dynamic secrets through Infisical's official Node SDK (@infisical/sdk):
// defines a Redis dynamic secret, leases a credential, checks that its user
// can AUTH, renews and revokes the lease, checks that the user is gone, and
// deletes the definition. Run by tests/it/sdk.rs with HUSH_URL, CLIENT_ID,
// CLIENT_SECRET (a project admin identity), REDIS_HOST and REDIS_PORT set.
// Prints "SDK CHECK OK" when every check passed.
import { InfisicalSDK } from "@infisical/sdk";
import net from "node:net";

function check(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

// Whether Redis accepts AUTH user password (one RESP command).
function redisAuth(user, password) {
  const parts = ["AUTH", user, password];
  const command = `*${parts.length}\r\n` + parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join("");
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: process.env.REDIS_HOST, port: Number(process.env.REDIS_PORT) }, () => socket.write(command));
    socket.setTimeout(5000, () => { socket.destroy(); resolve(false); });
    socket.once("data", (data) => { socket.end(); resolve(data.toString().startsWith("+OK")); });
    socket.once("error", () => resolve(false));
  });
}

const client = new InfisicalSDK({ siteUrl: process.env.HUSH_URL });
await client.auth().universalAuth.login({ clientId: process.env.CLIENT_ID, clientSecret: process.env.CLIENT_SECRET });
const where = { projectSlug: "default", environmentSlug: "dev", path: "/" };

const created = await client.dynamicSecrets().create({
  name: "node-cache",
  provider: {
    type: "redis",
    inputs: {
      host: process.env.REDIS_HOST,
      port: Number(process.env.REDIS_PORT),
      creationStatement: "ACL SETUSER {{username}} on >{{password}} ~* +ping",
      revocationStatement: "ACL DELUSER {{username}}",
    },
  },
  defaultTTL: "1h",
  maxTTL: "2h",
  ...where,
});
check(created.name === "node-cache" && created.type === "redis", "create a dynamic secret");
check(!("password" in (created.inputs ?? {})), "no password read back");

const leased = await client.dynamicSecrets().leases.create({ dynamicSecretName: "node-cache", ttl: "1h", ...where });
const user = leased.data.DB_USERNAME;
const password = leased.data.DB_PASSWORD;
check(leased.lease.externalEntityId === user && leased.dynamicSecret.id === created.id, "lease a credential");
check(await redisAuth(user, password), "the leased user can AUTH");

const renewed = await client.dynamicSecrets().leases.renew(leased.lease.id, { ttl: "2h", ...where });
check(renewed.lease.expireAt > leased.lease.expireAt, "renew the lease");

const revoked = await client.dynamicSecrets().leases.delete(leased.lease.id, where);
check(revoked.lease.id === leased.lease.id, "revoke the lease");
check(!(await redisAuth(user, password)), "the revoked user cannot AUTH");

const deleted = await client.dynamicSecrets().delete("node-cache", where);
check(deleted.id === created.id, "delete the dynamic secret");
console.log("SDK CHECK OK");
