/**
 * The process bench/serve.ts measures (one per target, so the load generator
 * and the server do not share a core's event loop):
 *
 *   tsx bench/serveTarget.ts bare               # node:http, a fixed 4-field JSON
 *   tsx bench/serveTarget.ts freshet lmdb       # freshet serve on the embedded store
 *   tsx bench/serveTarget.ts freshet redis      # the same with registered features in Redis
 *
 * Prints the base URL on stdout once ready. The freshet targets hold 1,000
 * entities × 4 registered features (the Realtime Feature Store seed's
 * benchmark) and a computed table of 1,000 keys × 4 features.
 */
import { createServer } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../src/cli/serve.js";

import { ENTITIES, FEATURES } from "./serveDefinitions.js";

const mode = process.argv[2];

if (mode === "bare") {
  const body = JSON.stringify({ f1: 0.25, f2: 17, f3: 3.5, f4: 1200.75 });
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, "127.0.0.1", () => {
    const a = server.address();
    process.stdout.write(`http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}\n`);
  });
} else if (mode === "freshet") {
  const onlineKind = process.argv[3] ?? "lmdb";
  const dir = await mkdtemp(join(tmpdir(), "freshet-bench-serve-"));
  const defs = new URL("./serveDefinitions.ts", import.meta.url).pathname;
  const online = onlineKind === "redis" ? "redis://127.0.0.1:6379" : "lmdb";
  const running = await startServer({ module: defs, port: 0, host: "127.0.0.1", dir, online, logLevel: false });
  const service = running.server.service;
  const now = Date.now();
  // 1,000 users × 10 events within the last hour.
  const rows = Array.from({ length: ENTITIES * 10 }, (_, i) => ({ user: `user_${i % ENTITIES}`, value: (i * 7919) % 1000, ts: now - 3_000_000 + i * 100 }));
  await service.push("events", rows);
  for (const f of FEATURES) await service.register({ name: f, entity: "user", featureGroup: "user_features", dataType: "float" });
  for (let i = 0; i < ENTITIES; i++) {
    await service.ingest(
      `user_${i}`,
      FEATURES.map((f, j) => ({ feature_name: f, value: i * 0.5 + j })),
    );
  }
  process.stdout.write(`${running.url}\n`);
  const stop = (): void => {
    void running.close().then(() => rm(dir, { recursive: true, force: true })).then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} else {
  process.stderr.write("usage: serveTarget.ts bare | freshet [lmdb|redis]\n");
  process.exit(2);
}
