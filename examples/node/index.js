// A tiny app that takes its configuration from the environment, the way
// `hush run -- npm start` provides it. No dependencies: Node 18+'s global fetch.
//
// Run it:   hush run --env dev -- npm start
// (API_URL is an ordinary variable: set it in your shell or store it in hush too.)

const EXPECTED = ["API_KEY", "DATABASE_URL"];

function main() {
  // Names only: never print a secret's value on purpose.
  let missing = 0;
  for (const name of EXPECTED) {
    const set = typeof process.env[name] === "string" && process.env[name] !== "";
    console.log(`${name}: ${set ? "set" : "missing"}`);
    if (!set) missing += 1;
  }

  // A careless log line, left in to show that hush masks it: under `hush run`
  // the value prints as *** in the terminal, the CI log and the container log.
  console.log(`using key: ${process.env.API_KEY ?? ""}`);

  if (missing > 0) {
    console.error(`${missing} expected variable(s) missing; run me under \`hush run\``);
    return Promise.resolve(1);
  }

  const url = process.env.API_URL;
  if (!url) {
    console.log("API_URL not set: skipping the API call");
    return Promise.resolve(0);
  }
  return fetch(url, {
    headers: { Authorization: `Bearer ${process.env.API_KEY}` },
    signal: AbortSignal.timeout(10000),
  }).then(
    (res) => {
      console.log(`API responded: ${res.status}`);
      return res.ok ? 0 : 1;
    },
    (err) => {
      console.error(`API call failed: ${err.message}`);
      return 1;
    },
  );
}

main().then((code) => {
  process.exitCode = code;
});
