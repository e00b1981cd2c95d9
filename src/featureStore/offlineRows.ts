import { encodeKey } from "../core/keys.js";
import type { Row } from "../core/schema.js";
import { toEpochMs } from "../core/time.js";
import type { EmittedRows } from "../engine/aggregateOperator.js";
import { DefinitionError, TimestampError } from "../errors.js";

/** Volga's get_offline: a time range of a table's history, optionally for some keys. */
export interface OfflineQuery {
  /** Rows at or after this time. */
  readonly start?: Date | number | string;
  /** Rows before this time. */
  readonly end?: Date | number | string;
  /** Only these keys (rows of key fields). */
  readonly keys?: readonly Row[];
}

function bound(v: Date | number | string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = toEpochMs(v);
  if (ms === undefined) throw new TimestampError(`getOffline: "${field}" is not a readable timestamp: ${String(v)}`, { field });
  return ms;
}

/**
 * Collects emitted history rows of one table that fall in a query, as row
 * objects: the key fields, "ts" (epoch ms) and the features (null for a
 * missing value). Sort with `sortOfflineRows` once all are collected.
 */
export class OfflineRowCollector {
  readonly rows: Row[] = [];
  private readonly start: number;
  private readonly end: number;
  private readonly keys: Set<string> | undefined;

  constructor(
    private readonly keyFields: readonly string[],
    private readonly features: readonly string[],
    q: OfflineQuery,
  ) {
    if ([...keyFields, ...features].includes("ts")) throw new DefinitionError('getOffline: a key or feature named "ts" would clash with the event-time column "ts"; rename it');
    this.start = bound(q.start, "start") ?? Number.NEGATIVE_INFINITY;
    this.end = bound(q.end, "end") ?? Number.POSITIVE_INFINITY;
    this.keys = q.keys === undefined ? undefined : new Set(q.keys.map((k) => encodeKey(keyFields.map((f) => k[f]))));
  }

  /** The same range as a query of the offline store (keys as tuples of key values). */
  storeQuery(keys: ReadonlyArray<readonly unknown[]> | undefined): { start?: number; end?: number; keys?: ReadonlyArray<readonly unknown[]> } {
    return {
      ...(Number.isFinite(this.start) ? { start: this.start } : {}),
      ...(Number.isFinite(this.end) ? { end: this.end } : {}),
      ...(keys === undefined ? {} : { keys }),
    };
  }

  readonly sink = (e: EmittedRows): void => {
    for (let i = 0; i < e.length; i++) {
      const t = e.ts[i] as number;
      if (t < this.start || t >= this.end) continue;
      const key = e.keys[i] as readonly unknown[];
      if (this.keys !== undefined && !this.keys.has(encodeKey(key))) continue;
      const r: Row = {};
      for (let k = 0; k < this.keyFields.length; k++) r[this.keyFields[k] as string] = key[k];
      r.ts = t;
      for (let f = 0; f < this.features.length; f++) {
        const v = (e.values[f] as ArrayLike<unknown>)[i];
        r[this.features[f] as string] = v === undefined || (typeof v === "number" && Number.isNaN(v)) ? null : v;
      }
      this.rows.push(r);
    }
  };

  /** The rows by time (a stable sort: rows of one time keep the order they came in). */
  sorted(): Row[] {
    return this.rows.sort((a, b) => (a.ts as number) - (b.ts as number));
  }
}
