/**
 * The flights pipeline fed live from NATS JetStream, for bench/job.ts's
 * restart-to-serving measurement: `freshet run bench/jobDefinitions.ts`.
 */
import { defineServe } from "../src/index.js";
import { natsSource } from "../src/sources/nats/natsSource.js";
export { airportDelays, flights } from "../src/cli/flightsDemo.js";

export const serve = defineServe({
  clock: "event",
  sources: {
    online: { flights: natsSource({ servers: process.env.BENCH_NATS ?? "nats://127.0.0.1:4222", stream: process.env.BENCH_STREAM ?? "freshet_bench_job", durable: "bench_job" }) },
  },
});
