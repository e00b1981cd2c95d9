import { Gauge, type Registry } from "prom-client";
import type { JobStats, OnlineJob } from "./onlineJob.js";

/**
 * The online job's Prometheus metrics, in the server's registry: per source
 * its lag (in messages, and in log bytes for change data capture), rows read
 * and acknowledged and its read rate; checkpoints and how long the last took.
 * `job.stats()` only copies counters (the lag is measured at checkpoints), so
 * each gauge reads it afresh.
 */
export function registerJobMetrics(registry: Registry, job: OnlineJob): void {
  const stats = (): JobStats => job.stats();
  const perSource = (name: string, help: string, value: (s: JobStats["sources"][number]) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ["source", "dataset", "kind"],
      registers: [registry],
      collect() {
        // A source whose figure became unknown has no sample, rather than its last one.
        this.reset();
        for (const s of stats().sources) {
          const v = value(s);
          if (v !== undefined) this.set({ source: s.name, dataset: s.dataset, kind: s.kind }, v);
        }
      },
    });
  };
  perSource("freshet_source_lag_messages", "Messages in each stream source not yet read by the job (at the last checkpoint)", (s) => s.lag);
  perSource(
    "freshet_source_lag_bytes",
    "Bytes of the server's change log (WAL, binlog) written after the last change each log-based source handed out (at the last checkpoint)",
    (s) => s.lagBytes,
  );
  perSource("freshet_source_read_total", "Rows the job read from each stream source since it started", (s) => s.read);
  perSource("freshet_source_committed_total", "Rows acknowledged to each stream source after checkpoints", (s) => s.committed);
  perSource("freshet_source_events_per_second", "Rows per second read from each stream source over the last checkpoint interval", (s) => s.eventsPerSecond);
  new Gauge({
    name: "freshet_checkpoints_total",
    help: "Checkpoints the job has written since it started",
    registers: [registry],
    collect() {
      this.set(stats().checkpoints);
    },
  });
  new Gauge({
    name: "freshet_checkpoint_duration_seconds",
    help: "How long the last checkpoint took",
    registers: [registry],
    collect() {
      const ms = stats().lastCheckpointMs;
      if (ms !== null) this.set(ms / 1_000);
    },
  });
}
