import type { Row } from "../core/schema.js";

/** A served read to check: the table, the key, the read time and the values served. */
export interface ServedRead {
  readonly table: string;
  readonly key: Row;
  readonly at: number;
  readonly values: Row;
}

export interface FeatureSkew {
  readonly reads: number;
  readonly matches: number;
  /** Both sides had a value and they differ. */
  readonly mismatches: number;
  /** Served null where the offline recomputation has a value. */
  readonly missing: number;
  /** Served a value where the offline recomputation has null. */
  readonly extra: number;
  /** (mismatches + missing + extra) / reads. */
  readonly mismatchRate: number;
  /** Mean symmetric absolute percentage error over numeric pairs (0 to 2); null without any. */
  readonly smape: number | null;
}

export interface SkewReport {
  /** Per "table:feature". */
  readonly features: Record<string, FeatureSkew>;
  readonly reads: number;
}

/** Point-in-time reads, as FeatureStore.getHistorical gives them. */
export type HistoricalReader = (table: string, entityRows: readonly Row[], options: { timestampField: string }) => Promise<Row[]>;

const TS = "__freshet_read_at";

function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The online/offline skew check (Chronon's consistency metric): recomputes
 * each served read offline, as of its read time, and counts per feature how
 * often the served value differs, was missing or was extra, with SMAPE for
 * numbers. On data the engine produced itself with nothing arriving late
 * after a read, every rate is 0.
 */
export async function checkSkew(historical: HistoricalReader, reads: readonly ServedRead[]): Promise<SkewReport> {
  const byTable = new Map<string, ServedRead[]>();
  for (const r of reads) {
    let list = byTable.get(r.table);
    if (list === undefined) byTable.set(r.table, (list = []));
    list.push(r);
  }
  const acc = new Map<string, { reads: number; matches: number; mismatches: number; missing: number; extra: number; smapeSum: number; numeric: number }>();
  for (const [table, list] of byTable) {
    const offline = await historical(table, list.map((r) => ({ ...r.key, [TS]: r.at })), { timestampField: TS });
    list.forEach((r, i) => {
      const o = offline[i] as Row;
      for (const [feature, served] of Object.entries(r.values)) {
        const id = `${table}:${feature}`;
        let a = acc.get(id);
        if (a === undefined) acc.set(id, (a = { reads: 0, matches: 0, mismatches: 0, missing: 0, extra: 0, smapeSum: 0, numeric: 0 }));
        const expected = o[feature] ?? null;
        a.reads++;
        if (served === null && expected === null) a.matches++;
        else if (served === null) a.missing++;
        else if (expected === null) a.extra++;
        else if (same(served, expected)) a.matches++;
        else a.mismatches++;
        if (typeof served === "number" && typeof expected === "number") {
          const denom = (Math.abs(served) + Math.abs(expected)) / 2;
          a.smapeSum += denom === 0 ? 0 : Math.abs(served - expected) / denom;
          a.numeric++;
        }
      }
    });
  }
  const features: Record<string, FeatureSkew> = {};
  for (const [id, a] of acc) {
    features[id] = {
      reads: a.reads,
      matches: a.matches,
      mismatches: a.mismatches,
      missing: a.missing,
      extra: a.extra,
      mismatchRate: a.reads === 0 ? 0 : (a.mismatches + a.missing + a.extra) / a.reads,
      smape: a.numeric === 0 ? null : a.smapeSum / a.numeric,
    };
  }
  return { features, reads: reads.length };
}
