import type { FieldType, Row, Schema } from "../../core/schema.js";
import type { HistoryBatch } from "./historyStore.js";

type Column = { kind: "number"; data: Float64Array } | { kind: "bool"; data: Uint8Array } | { kind: "any"; data: unknown[] };

const BOOL_NULL = 2;

/**
 * Appended rows kept column by column: numbers (and timestamps) in
 * Float64Arrays with NaN for null (parsed numbers are always finite), booleans
 * in bytes, strings in arrays. Parsed row objects then die young (cheap for the
 * GC), memory is a fraction of the rows', and it is the shape Parquet wants.
 */
export class ColumnLog {
  readonly fields: readonly string[];
  private readonly types: readonly FieldType[];
  private cols: Column[];
  private ts = new Float64Array(1024);
  private cap = 1024;
  length = 0;

  constructor(schema: Schema) {
    this.fields = Object.keys(schema);
    this.types = this.fields.map((f) => schema[f] as FieldType);
    this.cols = this.types.map((ft) => newColumn(ft, this.cap));
  }

  append(rows: readonly Row[], ts: Float64Array): void {
    const n = rows.length;
    const start = this.length;
    if (start + n > this.cap) this.grow(Math.max(this.cap * 2, start + n));
    for (let f = 0; f < this.fields.length; f++) {
      const name = this.fields[f] as string;
      const col = this.cols[f] as Column;
      if (col.kind === "number") {
        const d = col.data;
        for (let i = 0; i < n; i++) {
          const v = (rows[i] as Row)[name];
          d[start + i] = typeof v === "number" ? v : Number.NaN;
        }
      } else if (col.kind === "bool") {
        const d = col.data;
        for (let i = 0; i < n; i++) {
          const v = (rows[i] as Row)[name];
          d[start + i] = v === true ? 1 : v === false ? 0 : BOOL_NULL;
        }
      } else {
        const d = col.data;
        for (let i = 0; i < n; i++) d.push((rows[i] as Row)[name] ?? null);
      }
    }
    this.ts.set(ts, start);
    this.length += n;
  }

  private grow(cap: number): void {
    const n = this.length;
    const ts = new Float64Array(cap);
    ts.set(this.ts.subarray(0, n));
    this.ts = ts;
    this.cols = this.cols.map((c) => {
      if (c.kind === "number") {
        const d = new Float64Array(cap);
        d.set(c.data.subarray(0, n));
        return { kind: "number", data: d };
      }
      if (c.kind === "bool") {
        const d = new Uint8Array(cap);
        d.set(c.data.subarray(0, n));
        return { kind: "bool", data: d };
      }
      return c;
    });
    this.cap = cap;
  }

  /** One column's values, with null for missing ones (for writers). */
  column(field: string): unknown[] {
    const f = this.fields.indexOf(field);
    const c = this.cols[f];
    const n = this.length;
    if (c === undefined) return new Array<unknown>(n).fill(null);
    if (c.kind === "any") return c.data;
    const out = new Array<unknown>(n);
    if (c.kind === "number") for (let i = 0; i < n; i++) out[i] = valueOfNumber(c.data[i] as number);
    else for (let i = 0; i < n; i++) out[i] = valueOfBool(c.data[i] as number);
    return out;
  }

  /** Rows rebuilt from the columns (all with the same field order, so one hidden class). */
  toBatch(): HistoryBatch {
    const n = this.length;
    const rows = new Array<Row>(n);
    const nf = this.fields.length;
    const cols = this.cols;
    for (let i = 0; i < n; i++) {
      const r: Row = {};
      for (let f = 0; f < nf; f++) {
        const c = cols[f] as Column;
        r[this.fields[f] as string] =
          c.kind === "number" ? valueOfNumber(c.data[i] as number) : c.kind === "bool" ? valueOfBool(c.data[i] as number) : c.data[i];
      }
      rows[i] = r;
    }
    return { rows, ts: this.ts.slice(0, n) };
  }
}

function newColumn(ft: FieldType, cap: number): Column {
  switch (ft.kind) {
    case "float":
    case "int":
    case "timestamp":
      return { kind: "number", data: new Float64Array(cap) };
    case "bool":
      return { kind: "bool", data: new Uint8Array(cap) };
    case "string":
      return { kind: "any", data: [] };
  }
}

function valueOfNumber(v: number): number | null {
  return v === v ? v : null;
}

function valueOfBool(v: number): boolean | null {
  return v === BOOL_NULL ? null : v === 1;
}
