import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Clock } from "../core/clock.js";
import type { FeatureStore, StoreStats } from "../featureStore/featureStore.js";

/**
 * Prometheus metrics of one server (its own prom-client registry, so two
 * servers in one process do not mix): request latency per route, rows
 * ingested, events processed, watermark lag and feature freshness.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly latency: Histogram<"method" | "route" | "status">;
  readonly ingested: Counter<"dataset">;
  /** The store's stats for the scrape under way: every gauge reads this one snapshot (stats() walks every key). */
  private current: StoreStats | undefined;

  constructor(store: FeatureStore, clock: Clock) {
    const stats = (): StoreStats => (this.current ??= store.stats());
    this.latency = new Histogram({
      name: "freshet_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["method", "route", "status"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.ingested = new Counter({ name: "freshet_ingested_rows_total", help: "Rows received by push and ingest routes", labelNames: ["dataset"], registers: [this.registry] });
    new Gauge({
      name: "freshet_events_processed_total",
      help: "Events accepted by each source dataset since the store opened",
      labelNames: ["dataset"],
      registers: [this.registry],
      collect() {
        for (const [name, d] of Object.entries(stats().datasets)) this.set({ dataset: name }, d.accepted);
      },
    });
    new Gauge({
      name: "freshet_events_late_total",
      help: "Events dead-lettered as late",
      labelNames: ["dataset"],
      registers: [this.registry],
      collect() {
        for (const [name, d] of Object.entries(stats().datasets)) this.set({ dataset: name }, d.late);
      },
    });
    new Gauge({
      name: "freshet_watermark_lag_seconds",
      help: "Store clock minus each dataset's watermark",
      labelNames: ["dataset"],
      registers: [this.registry],
      collect() {
        const now = clock.now();
        for (const [name, d] of Object.entries(stats().datasets)) if (d.watermark !== null) this.set({ dataset: name }, (now - d.watermark.getTime()) / 1000);
      },
    });
    new Gauge({
      name: "freshet_feature_freshness_seconds",
      help: "Store clock minus the watermark of each table's sources (how old its newest settled input is)",
      labelNames: ["table"],
      registers: [this.registry],
      collect() {
        const now = clock.now();
        const datasets = stats().datasets;
        for (const table of store.list().tables) {
          const wms = store.describe(table).sources.map((s) => datasets[s]?.watermark?.getTime() ?? Number.NaN);
          const wm = Math.min(...wms);
          if (Number.isFinite(wm)) this.set({ table }, (now - wm) / 1000);
        }
      },
    });
    new Gauge({
      name: "freshet_table_keys",
      help: "Keys held by each table",
      labelNames: ["table"],
      registers: [this.registry],
      collect() {
        for (const [name, t] of Object.entries(stats().tables)) this.set({ table: name }, t.keys);
      },
    });
  }

  /** Labelled children by "method route status": prom-client hashes label objects on every observe otherwise. */
  private readonly children = new Map<string, { observe(v: number): void }>();

  /** The Prometheus text of one scrape. */
  async text(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.current = undefined;
    }
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const id = `${method} ${route} ${status}`;
    let child = this.children.get(id);
    if (child === undefined) {
      child = this.latency.labels({ method, route, status: String(status) });
      this.children.set(id, child);
    }
    child.observe(seconds);
  }
}
