import type { FieldType, Row, Schema } from "../../core/schema.js";
import type { BatchArrival, HistoryBatch } from "./historyStore.js";
import { StringCodes } from "../../core/stringCodes.js";

/** One appended batch, column by column. */
interface Chunk {
  readonly length: number;
  readonly ts: Float64Array;
  /** The batch's store-wide arrival number (BatchArrival), 0 when none was given. */
  readonly arrival: number;
  readonly lateFor: Readonly<Record<string, number>> | undefined;
  /** Per field: Float64Array (numbers, NaN = null), Uint8Array (bools, 2 = null) or Int32Array (string codes, −1 = null). */
  readonly cols: ReadonlyArray<Float64Array | Uint8Array | Int32Array>;
}

const BOOL_NULL = 2;

type CopyRows = (rows: readonly Row[], cols: ReadonlyArray<Float64Array | Uint8Array | Int32Array>, code: (s: string) => number) => void;

/**
 * Appended rows kept column by column, one chunk per appended batch: numbers
 * and timestamps in Float64Arrays (NaN for null: parsed numbers are always
 * finite), booleans in bytes, strings dictionary-coded in Int32Arrays. Parsed
 * row objects then die young, nothing here is traced by the GC except the
 * dictionary, memory is a fraction of the rows', and nothing is ever copied to
 * grow.
 */
export class ColumnLog {
  readonly fields: readonly string[];
  private readonly types: readonly FieldType[];
  private readonly chunks: Chunk[] = [];
  private readonly dict = new StringCodes();
  private readonly copy: CopyRows;
  private readonly code = (s: string): number => this.dict.code(s);
  length = 0;

  constructor(schema: Schema) {
    this.fields = Object.keys(schema);
    this.types = this.fields.map((f) => schema[f] as FieldType);
    this.copy = compileCopy(this.fields, this.types);
  }

  append(rows: readonly Row[], ts: Float64Array, merge?: BatchArrival): void {
    const n = rows.length;
    if (n === 0) return;
    const cols = this.types.map((ft) => newColumn(ft, n));
    this.copy(rows, cols, this.code);
    this.chunks.push({ length: n, ts: this.sameColumn(cols, ts, n) ?? ts.slice(0, n), arrival: merge?.arrival ?? 0, lateFor: merge?.lateFor, cols });
    this.length += n;
    if (merge !== undefined) this.arrivals = true;
  }

  /**
   * The timestamp column when it holds exactly the event times (it does for
   * every source: the times are read from it), so they are kept once: a
   * backfill's history is a quarter smaller, and V8 starts a full collection
   * per 64 MB of typed arrays kept.
   */
  private sameColumn(cols: ReadonlyArray<Float64Array | Uint8Array | Int32Array>, ts: Float64Array, n: number): Float64Array | undefined {
    for (let f = 0; f < cols.length; f++) {
      if ((this.types[f] as FieldType).kind !== "timestamp") continue;
      const col = cols[f] as Float64Array;
      let i = 0;
      while (i < n && col[i] === ts[i]) i++;
      if (i === n) return col;
    }
    return undefined;
  }

  /** BatchArrival.lateFor as JSON on the first row of each batch that has it, null elsewhere (for writers); undefined when none. */
  lateForColumn(): Array<string | null> | undefined {
    if (!this.chunks.some((ch) => ch.lateFor !== undefined)) return undefined;
    const out = new Array<string | null>(this.length).fill(null);
    let o = 0;
    for (const ch of this.chunks) {
      if (ch.lateFor !== undefined) out[o] = JSON.stringify(ch.lateFor);
      o += ch.length;
    }
    return out;
  }

  /** The batches some union tables dropped rows of, by arrival number (BatchArrival.lateFor); undefined when none. */
  lateFor(): Map<number, Readonly<Record<string, number>>> | undefined {
    const out = new Map<number, Readonly<Record<string, number>>>();
    for (const ch of this.chunks) if (ch.lateFor !== undefined) out.set(ch.arrival, ch.lateFor);
    return out.size === 0 ? undefined : out;
  }

  /** Whether any batch came with an arrival number. */
  private arrivals = false;

  /** Each row's arrival number (0 for none), or undefined when no batch had one. */
  arrivalColumn(): Float64Array | undefined {
    if (!this.arrivals) return undefined;
    const out = new Float64Array(this.length);
    let o = 0;
    for (const ch of this.chunks) {
      out.fill(ch.arrival, o, o + ch.length);
      o += ch.length;
    }
    return out;
  }

  /** One column's values in order, null for missing ones (for writers). */
  column(field: string): unknown[] {
    const f = this.fields.indexOf(field);
    const out = new Array<unknown>(this.length);
    let o = 0;
    for (const ch of this.chunks) {
      const col = ch.cols[f];
      for (let i = 0; i < ch.length; i++) out[o++] = col === undefined ? null : this.decode(f, col, i);
    }
    return out;
  }

  /** Rows rebuilt from the columns (all with the same field order, so one hidden class). */
  toBatch(): HistoryBatch {
    const rows = new Array<Row>(this.length);
    const ts = new Float64Array(this.length);
    const nf = this.fields.length;
    let o = 0;
    for (const ch of this.chunks) {
      ts.set(ch.ts, o);
      for (let i = 0; i < ch.length; i++) {
        const r: Row = {};
        for (let f = 0; f < nf; f++) r[this.fields[f] as string] = this.decode(f, ch.cols[f] as Float64Array, i);
        rows[o++] = r;
      }
    }
    const arrivals = this.arrivalColumn();
    const lateFor = this.lateFor();
    return { rows, ts, ...(arrivals === undefined ? {} : { arrivals }), ...(lateFor === undefined ? {} : { lateFor }) };
  }

  private decode(f: number, col: Float64Array | Uint8Array | Int32Array, i: number): unknown {
    const v = col[i] as number;
    switch ((this.types[f] as FieldType).kind) {
      case "string":
        return v < 0 ? null : this.dict.strings[v];
      case "bool":
        return v === BOOL_NULL ? null : v === 1;
      default:
        return v === v ? v : null;
    }
  }
}

function newColumn(ft: FieldType, n: number): Float64Array | Uint8Array | Int32Array {
  switch (ft.kind) {
    case "string":
      return new Int32Array(n);
    case "bool":
      return new Uint8Array(n);
    default:
      return new Float64Array(n);
  }
}

/** Copies rows into columns; generated per schema so every field read has a constant name. */
function compileCopy(fields: readonly string[], types: readonly FieldType[]): CopyRows {
  const decl = fields.map((_, f) => `const c${f} = cols[${f}];`).join("\n");
  const body = fields
    .map((name, f) => {
      const v = `r[${JSON.stringify(name)}]`;
      switch ((types[f] as FieldType).kind) {
        case "string":
          return `{ const v = ${v}; c${f}[i] = typeof v === "string" ? code(v) : -1; }`;
        case "bool":
          return `{ const v = ${v}; c${f}[i] = v === true ? 1 : v === false ? 0 : ${BOOL_NULL}; }`;
        default:
          return `{ const v = ${v}; c${f}[i] = typeof v === "number" ? v : NaN; }`;
      }
    })
    .join("\n");
  try {
    return new Function("rows", "cols", "code", `${decl}\nfor (let i = 0; i < rows.length; i++) {\nconst r = rows[i];\n${body}\n}\n//# sourceURL=freshet-generated/columnLog-copy.js`) as CopyRows;
  } catch {
    // Code generation disabled: the same copy, interpreted.
    return (rows, cols, code) => {
      for (let f = 0; f < fields.length; f++) {
        const name = fields[f] as string;
        const kind = (types[f] as FieldType).kind;
        const col = cols[f] as Float64Array;
        for (let i = 0; i < rows.length; i++) {
          const v = (rows[i] as Row)[name];
          if (kind === "string") col[i] = typeof v === "string" ? code(v) : -1;
          else if (kind === "bool") col[i] = v === true ? 1 : v === false ? 0 : BOOL_NULL;
          else col[i] = typeof v === "number" ? v : Number.NaN;
        }
      }
    };
  }
}
