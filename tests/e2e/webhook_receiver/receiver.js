// A webhook receiver for the end-to-end tests (tests/e2e/test_webhooks.py). Every delivery is
// checked twice: with the Standard Webhooks reference library (the npm package standardwebhooks)
// and with this file's own HMAC-SHA256, against every secret it was given. It answers as the
// test scripts it: 2xx, 500, 429 with Retry-After, 410, slowly, or not at all.
//
//   node receiver.js PORT [CERT KEY] (0: any free port; prints "listening PORT"; https with
//                                    a certificate and key)
//   POST /_control/secrets {secrets: ["whsec_…", …]}
//   POST /_control/script  {script: [{status, retry_after?, delay_ms?, drop?}, …], default?}
//   GET  /_control/received          every delivery seen, in arrival order
// With RECEIVER_LOG=FILE every delivery is also appended to FILE, and read back at start: a
// receiver restarted on the same file remembers what it received before.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const https = require("https");
const { Webhook } = require("standardwebhooks");

// RECEIVER_SECRETS (comma-separated) gives the secrets from the start (a restarted receiver).
let secrets = (process.env.RECEIVER_SECRETS || "").split(",").filter((s) => s);
let script = [];
let fallback = { status: 200 };
const received = [];
const logFile = process.env.RECEIVER_LOG;
if (logFile && fs.existsSync(logFile)) {
  for (const line of fs.readFileSync(logFile, "utf8").split("\n")) {
    if (line) received.push(JSON.parse(line));
  }
}

function ownVerify(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const content = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`;
  const expected = crypto.createHmac("sha256", key).update(content).digest("base64");
  const given = (headers["webhook-signature"] || "").split(" ");
  return given.some((signature) => {
    const [version, value] = signature.split(",", 2);
    return version === "v1" && value !== undefined && value.length === expected.length &&
      crypto.timingSafeEqual(Buffer.from(value), Buffer.from(expected));
  });
}

function libraryVerify(secret, headers, body) {
  try {
    new Webhook(secret).verify(body, headers);
    return true;
  } catch (e) {
    return false;
  }
}

function readBody(request) {
  return new Promise((resolve) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function answer(response, status, value) {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(value));
}

async function handle(request, response) {
  const body = await readBody(request);
  if (request.url === "/_control/secrets") {
    secrets = JSON.parse(body).secrets;
    return answer(response, 200, { secrets: secrets.length });
  }
  if (request.url === "/_control/script") {
    const given = JSON.parse(body);
    script = given.script || [];
    if (given.default) fallback = given.default;
    return answer(response, 200, { steps: script.length });
  }
  if (request.url === "/_control/received") {
    return answer(response, 200, { received });
  }
  const step = script.length > 0 ? script.shift() : fallback;
  let parsed = {};
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    parsed = {};
  }
  const data = parsed.data || {};
  const record = {
    path: request.url,
    id: request.headers["webhook-id"],
    timestamp: request.headers["webhook-timestamp"],
    signatures: (request.headers["webhook-signature"] || "").split(" ").length,
    type: parsed.type,
    member_id: data.member_id,
    seq: data.seq,
    library_ok: secrets.some((s) => libraryVerify(s, request.headers, body)),
    own_ok: secrets.some((s) => ownVerify(s, request.headers, body)),
    answered: step.drop ? null : step.status,
    connection: request.socket.remotePort, // the sender's port: one per connection it opened
    body: parsed,
  };
  received.push(record);
  if (logFile) fs.appendFileSync(logFile, JSON.stringify(record) + "\n");
  const reply = () => {
    if (step.drop) return request.socket.destroy();
    const headers = {};
    if (step.retry_after !== undefined) headers["Retry-After"] = String(step.retry_after);
    response.writeHead(step.status, headers);
    response.end();
  };
  if (step.delay_ms) setTimeout(reply, step.delay_ms);
  else reply();
}

const [port, cert, key] = process.argv.slice(2);
const server = cert
  ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, handle)
  : http.createServer(handle);

server.listen(Number(port || 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
