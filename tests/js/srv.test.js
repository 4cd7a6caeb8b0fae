// marquee as the NATS JavaScript client sees it: the service client of
// nats.js lists and reads it ($SRV, ADR-32), and requests and error replies
// follow the contract. Starts `marquee serve` on its embedded default.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, JSONCodec, ServiceErrorCodeHeader, ServiceErrorHeader } from "nats";

const binary = process.env.MARQUEE_BINARY;
const jc = JSONCodec();
let child, nc, dir;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function untilReady(port) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    try {
      const conn = await connect({ servers: `127.0.0.1:${port}`, reconnect: false });
      try {
        await conn.request("$SRV.PING.marquee", new Uint8Array(), { timeout: 500 });
        return conn;
      } catch {
        await conn.close();
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("marquee did not answer $SRV.PING.marquee within 15 s");
}

before(async () => {
  assert.ok(binary, "MARQUEE_BINARY must name the marquee executable");
  dir = mkdtempSync(join(tmpdir(), "marquee-js-"));
  const port = await freePort();
  child = spawn(binary, ["serve", "--data-dir", join(dir, "data")], {
    env: { ...process.env, MARQUEE_NATS_PORT: String(port),
           MARQUEE_SERVICE_INSTANCE_ID: "js1", MARQUEE_SERVICE_LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  nc = await untilReady(port);
});

after(async () => {
  if (nc) await nc.close();
  if (child) {
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0, "marquee exits 0 on SIGTERM");
  }
  rmSync(dir, { recursive: true, force: true });
});

async function collect(iterator) {
  const out = [];
  for await (const x of await iterator) out.push(x);
  return out;
}

test("the nats.js service client pings, reads info and stats of marquee", async () => {
  const svc = nc.services.client();
  const pings = await collect(svc.ping("marquee"));
  assert.equal(pings.length, 1);
  assert.equal(pings[0].type, "io.nats.micro.v1.ping_response");
  assert.equal(pings[0].name, "marquee");
  assert.equal(pings[0].id, "js1");
  assert.match(pings[0].version, /^\d+\.\d+\.\d+/);

  const infos = await collect(svc.info("marquee", "js1"));
  assert.equal(infos.length, 1);
  const names = infos[0].endpoints.map((e) => e.name);
  assert.deepEqual(names, ["recommend", "similar", "trending", "impressions"]);
  for (const e of infos[0].endpoints) {
    assert.equal(e.queue_group, "q");
    assert.ok(e.subject.startsWith("marquee.v1."));
  }

  await nc.request("marquee.v1.rec.trending", jc.encode({ k: 3 }));
  const stats = await collect(svc.stats("marquee"));
  assert.equal(stats.length, 1);
  assert.equal(stats[0].type, "io.nats.micro.v1.stats_response");
  assert.ok(!Number.isNaN(Date.parse(stats[0].started)), "started is RFC 3339");
  const trending = stats[0].endpoints.find((e) => e.name === "trending");
  assert.equal(trending.num_requests, 1);
  assert.equal(trending.num_errors, 0);
  assert.equal(trending.last_error, "");
  assert.equal(typeof trending.processing_time, "number");
  assert.equal(typeof trending.average_processing_time, "number");
});

test("an event published by a JavaScript producer shows in the next answer", async () => {
  const now = Date.now();
  nc.publish("marquee.v1.catalog.js_t1", jc.encode({ name: "From JS", genres: ["Drama"] }));
  nc.publish("marquee.v1.events.play.js_u1", jc.encode({ title: "js_t1", ts: now, progress: 0.2 }));
  await nc.flush();
  let rec;
  const deadline = Date.now() + 5000;
  do {
    rec = jc.decode((await nc.request("marquee.v1.rec.user.js_u1",
      jc.encode({ row: "continue_watching" }))).data);
  } while (rec.items.length === 0 && Date.now() < deadline);
  assert.equal(rec.user, "js_u1");
  assert.equal(rec.row, "continue_watching");
  assert.deepEqual(rec.items.map((i) => i.title), ["js_t1"]);
  assert.equal(rec.items[0].reason, "continue_watching");
});

test("a bad request gets the service error headers and body", async () => {
  const msg = await nc.request("marquee.v1.rec.user.js_u1", jc.encode({ k: 0 }));
  assert.equal(msg.headers.get(ServiceErrorCodeHeader), "400");
  assert.match(msg.headers.get(ServiceErrorHeader), /'k' must be an integer/);
  const body = jc.decode(msg.data);
  assert.equal(body.error.code, 400);
});
