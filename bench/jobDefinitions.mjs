// The flights pipeline fed live from NATS JetStream, for bench/job.ts's
// restart-to-serving measurement: `node dist/cli/main.js run bench/jobDefinitions.mjs`.
// Plain JavaScript importing the built package, as a user's module importing
// "freshet" would: nothing to compile when the job restarts.
import { defineServe, natsSource } from "../dist/index.js";
export { airportDelays, flights } from "../dist/cli/flightsDemo.js";

export const serve = defineServe({
  clock: "event",
  sources: {
    online: { flights: natsSource({ servers: process.env.BENCH_NATS ?? "nats://127.0.0.1:4222", stream: process.env.BENCH_STREAM ?? "freshet_bench_job", durable: "bench_job" }) },
  },
});
