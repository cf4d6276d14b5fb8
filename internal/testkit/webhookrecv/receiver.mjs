// A webhook receiver for Parley's tests, as an app backend would write it:
// every delivery is verified with the standardwebhooks package (a
// third-party implementation of the specification, not Parley's code)
// before anything else. It listens on 127.0.0.1:0 and prints
// "listening <port>"; the test steers it over HTTP:
//
//   POST /control {refuse: n, down: bool, delayMs: n}
//     refuse: answer the next n verified deliveries 500;
//     down: answer every delivery 503 (as a backend that is down);
//     delayMs: hold each delivery this long before answering (a slow one).
//   GET /deliveries: every delivery so far, in arrival order:
//     {id, receivedAt (Unix ms), verified, error?, status, type, cursor,
//     roomId, roomSeq, sessionId}.
import http from "node:http";
import swh from "standardwebhooks";

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("WEBHOOK_SECRET is not set");
  process.exit(2);
}
const verifier = new swh.Webhook(secret);
const deliveries = [];
const mode = { refuse: 0, down: false, delayMs: 0 };

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function reply(res, status, body = "") {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  if (req.method === "POST" && req.url === "/control") {
    Object.assign(mode, JSON.parse(body));
    return reply(res, 200, "{}");
  }
  if (req.method === "GET" && req.url === "/deliveries") {
    return reply(res, 200, JSON.stringify(deliveries));
  }
  if (req.method !== "POST" || req.url !== "/hook") {
    return reply(res, 404);
  }
  const record = { id: req.headers["webhook-id"], receivedAt: Date.now(), verified: false, status: 0 };
  deliveries.push(record);
  let event;
  try {
    event = verifier.verify(body, req.headers);
    record.verified = true;
  } catch (err) {
    record.error = String(err && err.message);
    record.status = 400;
    return reply(res, 400);
  }
  Object.assign(record, {
    type: event.type,
    timestamp: event.timestamp,
    cursor: event.data.cursor,
    roomId: event.data.roomId,
    roomSeq: event.data.roomSeq,
    sessionId: event.data.sessionId,
  });
  if (mode.delayMs > 0) {
    await new Promise((r) => setTimeout(r, mode.delayMs));
  }
  if (mode.down) {
    record.status = 503;
  } else if (mode.refuse > 0) {
    mode.refuse--;
    record.status = 500;
  } else {
    record.status = 204;
  }
  reply(res, record.status);
});
server.keepAliveTimeout = 1000;
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
