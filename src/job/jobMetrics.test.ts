import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { dataset, t } from "../index.js";
import { FeatureStore } from "../featureStore/featureStore.js";
import { MemoryStream } from "../sources/memory/memoryStream.js";
import type { StreamSource } from "../sources/stream/streamSource.js";
import { registerJobMetrics } from "./jobMetrics.js";
import { OnlineJob } from "./onlineJob.js";

const clicks = dataset("clicks", { user: t.string(), at: t.timestamp() }, { timestamp: "at" });

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The gauge's samples as label "source" → value. */
async function samples(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const got = await metric.get();
  return Object.fromEntries(got.values.map((v) => [String(v.labels.source), v.value]));
}

describe("job metrics", () => {
  it("exports each source's lag in messages, and in log bytes for the sources that measure it, as measured at the last checkpoint", async () => {
    const stream = new MemoryStream();
    stream.append(Array.from({ length: 50 }, (_, i) => ({ user: `u${i % 3}`, at: new Date(Date.UTC(2024, 0, 1) + i * 1_000).toISOString() })));
    let bytes: () => Promise<number | undefined> = async () => 4_096;
    // A log-based source (its lagBytes as the test sets it) beside one without a log.
    const logged: StreamSource = Object.assign(stream.source("logged"), { lagBytes: () => bytes() });
    const plain = stream.source("plain");
    const store = await FeatureStore.open({ clock: "event" });
    await store.apply([clicks]);
    const job = await OnlineJob.start(
      store,
      [
        { dataset: "clicks", name: "logged", source: logged },
        { dataset: "clicks", name: "plain", source: plain },
      ],
      { checkpointEveryMs: 3_600_000, maxWaitMs: 10 },
    );
    const registry = new Registry();
    registerJobMetrics(registry, job);
    try {
      await until(() => job.stats().sources.every((s) => s.read === 50));
      stream.append([{ user: "late", at: new Date(Date.UTC(2024, 0, 2)).toISOString() }]);
      await until(() => job.stats().sources.every((s) => s.read === 51));
      await job.checkpoint();
      expect(job.stats().sources.map((s) => [s.name, s.lag, s.lagBytes])).toEqual([
        ["logged", 0, 4_096],
        ["plain", 0, undefined],
      ]);
      expect(await samples(registry, "freshet_source_lag_bytes")).toEqual({ logged: 4_096 });
      expect(await samples(registry, "freshet_source_lag_messages")).toEqual({ logged: 0, plain: 0 });

      bytes = async () => 0;
      await job.checkpoint();
      expect(await samples(registry, "freshet_source_lag_bytes")).toEqual({ logged: 0 });

      // A measure that fails leaves the figure unknown: no sample, not the last one.
      bytes = () => Promise.reject(new Error("server gone"));
      await job.checkpoint();
      expect(job.stats().sources[0]?.lagBytes).toBeUndefined();
      expect(job.stats().running).toBe(true);
      expect(await samples(registry, "freshet_source_lag_bytes")).toEqual({});
    } finally {
      await job.stop();
      await store.close();
    }
  });
});
