/**
 * A backfill that stops dead after 700 rows (the parent kills it): run as
 *   node --import tsx test/helpers/backfillChild.ts <dir>
 * Prints "stalled" once it waits.
 */
import { weather, weatherCsv, weatherStats, weatherTotals } from "../../examples/serving.js";
import { FeatureStore } from "../../src/featureStore/featureStore.js";
import { csvSource } from "../../src/sources/files/csvSource.js";

const dir = process.argv[2] as string;
const store = await FeatureStore.open({ dir, clock: "event" });
await store.apply([weather, weatherStats, weatherTotals]);
await store.materializeOffline(
  { weather: csvSource(weatherCsv) },
  {
    batchSize: 100,
    checkpointEvery: 200,
    onProgress: (p) => {
      if (p.phase === "replay" && p.rows >= 700) {
        process.stdout.write("stalled\n");
        // Never returns: the parent kills this process here, mid-backfill.
        const forever = new SharedArrayBuffer(4);
        Atomics.wait(new Int32Array(forever), 0, 0);
      }
    },
  },
);
