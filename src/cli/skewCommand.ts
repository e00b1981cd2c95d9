import { join } from "node:path";
import { FeatureStore } from "../featureStore/featureStore.js";
import type { SkewReport } from "../featureStore/skewCheck.js";
import { loadReadLog } from "../serving/readLog.js";
import { loadDefinitions } from "./loadDefinitions.js";

/** `freshet skew`: the definitions, the data directory the server recorded into, and its read log. */
export async function runSkewCheck(o: { module: string; dir: string; log?: string }): Promise<SkewReport> {
  const { definitions } = await loadDefinitions(o.module);
  const reads = await loadReadLog(o.log ?? join(o.dir, "read-log.jsonl"));
  const store = await FeatureStore.open({ dir: o.dir });
  try {
    await store.apply(definitions);
    return await store.checkSkew(reads);
  } finally {
    await store.close();
  }
}

export function formatSkewReport(r: SkewReport): string {
  const lines = [`${r.reads.toLocaleString("en-US")} logged reads`, `${"feature".padEnd(40)} ${"reads".padStart(8)} ${"mismatch".padStart(9)} ${"missing".padStart(8)} ${"extra".padStart(7)} ${"rate".padStart(8)} ${"SMAPE".padStart(8)}`];
  for (const [name, f] of Object.entries(r.features)) {
    lines.push(
      `${name.padEnd(40)} ${String(f.reads).padStart(8)} ${String(f.mismatches).padStart(9)} ${String(f.missing).padStart(8)} ${String(f.extra).padStart(7)} ${(f.mismatchRate * 100).toFixed(2).padStart(7)}% ${(f.smape === null ? "-" : f.smape.toFixed(4)).padStart(8)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
