import { literalKey, setField } from "../../core/objectLiteral.js";
import type { FieldType, Row, Schema } from "../../core/schema.js";
import { StringCodes } from "../../core/stringCodes.js";
import type { BatchArrival, HistoryBatch } from "./historyStore.js";

/** One appended batch, column by column. */
interface Chunk {
  readonly length: number;
  /** The event times, unless they are the values of field `tsField` (then read from its column). */
  readonly ts: Float64Array | undefined;
  readonly tsField: number;
  /** The batch's store-wide arrival number (BatchArrival), 0 when none was given. */
  readonly arrival: number;
  readonly lateFor: Readonly<Record<string, number>> | undefined;
  /**
   * Per field: numbers and timestamps in a Float64Array (NaN = null), or,
   * when every value is a whole number near `bases[f]`, in an Int32Array of
   * differences from it (INT32_NULL = null), or in an Int16Array when every
   * difference fits one (a column with nulls never does); bools in a
   * Uint8Array (2 = null); strings as codes in an Int16Array while the
   * dictionary holds at most 32,768 strings, else an Int32Array (−1 = null).
   */
  readonly cols: ReadonlyArray<Float64Array | Uint8Array | Int32Array | Int16Array>;
  /** Per field: the base of a number column stored as Int32 or Int16 differences; NaN otherwise. */
  readonly bases: Float64Array;
}

const BOOL_NULL = 2;
const INT32_NULL = -2147483648;

type Column = Float64Array | Uint8Array | Int32Array | Int16Array;

type CopyRows = (rows: readonly Row[], cols: ReadonlyArray<Float64Array | Uint8Array | Int32Array>, code: (s: string) => number) => void;

/**
 * Appended rows kept column by column, one chunk per appended batch: numbers
 * and timestamps in Float64Arrays (NaN for null: parsed numbers are always
 * finite), or in half the bytes as Int32 differences from a base where a
 * batch's values are all whole numbers close enough (counts, delays,
 * millisecond times of a few weeks), in a quarter as Int16 where they are
 * closer still (delays in minutes, distances), booleans in bytes, strings
 * dictionary-coded in Int16Arrays (Int32 once the dictionary outgrows them).
 * Parsed row objects then die young,
 * nothing here is traced by the GC except the dictionary, memory is a
 * fraction of the rows', and nothing is ever copied to grow. (V8 starts a
 * full collection for every 64 MB of typed arrays kept, so the bytes per
 * row show in a backfill's time.)
 */
export class ColumnLog {
  readonly fields: readonly string[];
  private readonly types: readonly FieldType[];
  private readonly chunks: Chunk[] = [];
  private readonly dict = new StringCodes();
  private readonly copy: CopyRows;
  private readonly code = (s: string): number => this.dict.code(s);
  /**
   * Per field, where a batch's values are copied before they are stored:
   * numbers in Float64Arrays, string codes in Int32Arrays, bools in
   * Uint8Arrays; and the Int32 differences numbers are fitted into (reused
   * from batch to batch; every stored column is a copy sized to its batch).
   */
  private scratch: Array<Float64Array | Int32Array | Uint8Array> = [];
  private fitted = new Int32Array(0);
  /** The least and greatest difference fitInt32 wrote (INT32_NULL counts). */
  private readonly range = new Int32Array(2);
  length = 0;

  constructor(schema: Schema) {
    this.fields = Object.keys(schema);
    this.types = this.fields.map((f) => schema[f] as FieldType);
    this.copy = compileCopy(this.fields, this.types);
  }

  append(rows: readonly Row[], ts: Float64Array, merge?: BatchArrival): void {
    const n = rows.length;
    if (n === 0) return;
    if (this.fitted.length < n) {
      const cap = Math.max(n, 1024);
      this.scratch = this.types.map((ft) => (ft.kind === "string" ? new Int32Array(cap) : ft.kind === "bool" ? new Uint8Array(cap) : new Float64Array(cap)));
      this.fitted = new Int32Array(cap);
    }
    const scratch = this.scratch;
    this.copy(rows, scratch, this.code);
    const tsField = this.timesField(scratch, ts, n);
    const bases = new Float64Array(scratch.length).fill(Number.NaN);
    const cols = scratch.map((col, f): Column => {
      const kind = (this.types[f] as FieldType).kind;
      if (kind === "bool") return col.slice(0, n);
      // Codes run from −1 (null) to the dictionary's size − 1: they fit an Int16 while it holds at most 32,768 strings.
      if (kind === "string") return narrowed(col as Int32Array, n, this.dict.strings.length <= 32768);
      return compactNumbers(col as Float64Array, n, bases, f, this.fitted, this.range);
    });
    this.chunks.push({ length: n, ts: tsField < 0 ? ts.slice(0, n) : undefined, tsField, arrival: merge?.arrival ?? 0, lateFor: merge?.lateFor, cols, bases });
    this.length += n;
  }

  /**
   * The timestamp field whose values are exactly the event times (there is
   * one for every source: the times are read from it), so they are kept
   * once; −1 when none.
   */
  private timesField(cols: ReadonlyArray<Float64Array | Uint8Array | Int32Array>, ts: Float64Array, n: number): number {
    for (let f = 0; f < cols.length; f++) {
      if ((this.types[f] as FieldType).kind !== "timestamp") continue;
      const col = cols[f] as Float64Array;
      let i = 0;
      while (i < n && Object.is(col[i], ts[i])) i++;
      if (i === n) return f;
    }
    return -1;
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

  /** Each row's arrival number (0 for none), or undefined when no batch had one. */
  arrivalColumn(): Float64Array | undefined {
    if (!this.chunks.some((ch) => ch.arrival > 0)) return undefined;
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
      for (let i = 0; i < ch.length; i++) out[o++] = col === undefined ? null : this.decode(f, col, ch.bases[f] as number, i);
    }
    return out;
  }

  /** Rows rebuilt from the columns (all with the same field order, so one hidden class). */
  toBatch(): HistoryBatch {
    const rows = new Array<Row>(this.length);
    const ts = new Float64Array(this.length);
    const decode = this.decoder();
    let o = 0;
    for (const ch of this.chunks) {
      if (ch.ts !== undefined) ts.set(ch.ts, o);
      decode(ch.cols, ch.bases, 0, ch.length, this.dict.strings, ch.tsField, rows, ts, o);
      o += ch.length;
    }
    const arrivals = this.arrivalColumn();
    const lateFor = this.lateFor();
    return { rows, ts, ...(arrivals === undefined ? {} : { arrivals }), ...(lateFor === undefined ? {} : { lateFor }) };
  }

  /**
   * toBatch a slice of at most `slice` rows at a time, of the batches
   * appended before the call (`count`, evaluated then), however long the
   * caller takes to read. Small slices keep what a young-generation
   * collection finds alive small: with whole 65,536-row batches decoded,
   * each such collection copied the batch's rows.
   */
  *batches(count = this.chunks.length, slice = 8192): Generator<HistoryBatch> {
    const decode = this.decoder();
    for (let c = 0; c < count; c++) {
      const ch = this.chunks[c] as Chunk;
      for (let from = 0; from < ch.length; from += slice) {
        const to = Math.min(ch.length, from + slice);
        const rows = new Array<Row>(to - from);
        const ts = ch.ts === undefined ? new Float64Array(to - from) : ch.ts.slice(from, to);
        decode(ch.cols, ch.bases, from, to, this.dict.strings, ch.tsField, rows, ts, 0);
        yield {
          rows,
          ts,
          ...(ch.arrival > 0 ? { arrivals: new Float64Array(to - from).fill(ch.arrival) } : {}),
          ...(ch.lateFor !== undefined ? { lateFor: new Map([[ch.arrival, ch.lateFor]]) } : {}),
        };
      }
    }
  }

  private decodeRows: DecodeRows | undefined;

  /** The generated DecodeRows of this schema, compiled on first use; interpreted where code generation is disabled. */
  private decoder(): DecodeRows {
    return (this.decodeRows ??= compileDecode(this.fields, this.types) ?? this.decodeGeneric);
  }

  /** DecodeRows, interpreted: for when code generation is disabled. */
  private readonly decodeGeneric: DecodeRows = (cols, bases, from, to, _strings, tsField, rows, ts, at) => {
    const nf = this.fields.length;
    const tsName = this.fields[tsField];
    for (let i = from; i < to; i++) {
      const r: Row = {};
      for (let f = 0; f < nf; f++) setField(r, this.fields[f] as string, this.decode(f, cols[f] as Column, bases[f] as number, i));
      if (tsName !== undefined) ts[at + i - from] = r[tsName] as number;
      rows[at + i - from] = r;
    }
  };

  private decode(f: number, col: Column, base: number, i: number): unknown {
    const v = col[i] as number;
    switch ((this.types[f] as FieldType).kind) {
      case "string":
        return v < 0 ? null : this.dict.strings[v];
      case "bool":
        return v === BOOL_NULL ? null : v === 1;
      default:
        if (base === base) return v === INT32_NULL ? null : v + base;
        return v === v ? v : null;
    }
  }
}

/**
 * A batch's numbers as Int32 (or Int16, see narrowed) differences from a
 * base (0, or the first value when that does not fit an Int32: times) when
 * every value is null or a whole number whose difference fits (−0 does not:
 * it would come back as 0), fitted in `fitted` first; otherwise a copy as
 * they are. Sets bases[f] to the base, or leaves NaN.
 */
function compactNumbers(
  values: Float64Array,
  n: number,
  bases: Float64Array,
  f: number,
  fitted: Int32Array,
  range: Int32Array,
): Float64Array | Int32Array | Int16Array {
  let i = 0;
  while (i < n && values[i] !== values[i]) i++;
  const first = i < n ? (values[i] as number) : 0;
  const base = first > 2147483647 || first < -2147483647 ? first : 0;
  if (first !== Math.floor(first)) return values.slice(0, n); // fractions: nothing to fit
  if (!fitInt32(values, n, base, fitted, range)) return values.slice(0, n);
  bases[f] = base;
  return narrowed(fitted, n, (range[0] as number) >= -32768 && (range[1] as number) <= 32767);
}

/**
 * values[0..n) in an Int16Array when `fits16` (every value fits one; INT32_NULL
 * does not, so a number column with nulls stays Int32, a string column's −1
 * does), else in an Int32Array: a copy either way, sized to the batch. Every
 * byte kept here counts towards V8's next full collection (see ColumnLog).
 */
function narrowed(values: Int32Array, n: number, fits16: boolean): Int32Array | Int16Array {
  const part = values.subarray(0, n);
  return fits16 ? new Int16Array(part) : part.slice();
}

/**
 * Writes values[j] − base into out[j] (INT32_NULL for null), and the least
 * and greatest of what it wrote into range[0] and range[1]; false as soon as
 * one does not fit. A function of its own: the loop is compiled while it runs
 * (on-stack replacement), and code after it in the same function, not yet run
 * then, threw that compiled code away at every call (deoptimized for want of
 * type feedback), so most of each batch ran unoptimized.
 */
function fitInt32(values: Float64Array, n: number, base: number, out: Int32Array, range: Int32Array): boolean {
  let lo = 2147483647;
  let hi = INT32_NULL;
  for (let j = 0; j < n; j++) {
    const v = values[j] as number;
    if (v !== v) {
      out[j] = INT32_NULL;
      lo = INT32_NULL;
      continue;
    }
    const d = v - base;
    out[j] = d;
    // The Int32 store truncates and wraps: reading back what was written tells a whole number in range.
    if (out[j] !== d || d === INT32_NULL || (v === 0 && 1 / v < 0)) return false;
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  range[0] = lo;
  range[1] = hi;
  return true;
}

/**
 * Rebuilds one chunk's rows from..to into rows[at..], and, when tsField >=
 * 0, that field's values into ts[at..]. Generated per schema: one object
 * literal per row, with constant names, makes every row the same compact
 * object in one allocation, where adding the fields one by one to {} took
 * two (five fields outgrow its in-object slots): with the collections that
 * caused, about a third of a first point-in-time read of the flights history.
 */
type DecodeRows = (
  cols: readonly Column[],
  bases: Float64Array,
  from: number,
  to: number,
  strings: readonly string[],
  tsField: number,
  rows: Row[],
  ts: Float64Array,
  at: number,
) => void;

function compileDecode(fields: readonly string[], types: readonly FieldType[]): DecodeRows | undefined {
  // What ColumnLog.decode does for field f's value at row i, as an expression.
  const value = (f: number): string => {
    switch ((types[f] as FieldType).kind) {
      case "string":
        return `((v = c${f}[i]) < 0 ? null : strings[v])`;
      case "bool":
        return `((v = c${f}[i]) === ${BOOL_NULL} ? null : v === 1)`;
      default:
        return `(b${f} === b${f} ? ((v = c${f}[i]) === ${INT32_NULL} ? null : v + b${f}) : ((v = c${f}[i]) === v ? v : null))`;
    }
  };
  const body = [
    ...fields.map((_, f) => `const c${f} = cols[${f}], b${f} = bases[${f}];`),
    "let v;",
    "for (let i = from, o = at; i < to; i++, o++) {",
    ...fields.map((_, f) => `  const x${f} = ${value(f)};`),
    // The event times, when they are a timestamp field's values (see timesField).
    ...fields.flatMap((_, f) => ((types[f] as FieldType).kind === "timestamp" ? [`  if (tsField === ${f}) ts[o] = x${f};`] : [])),
    `  rows[o] = { ${fields.map((name, f) => `${literalKey(name)}: x${f}`).join(", ")} };`,
    "}",
  ].join("\n");
  try {
    return new Function("cols", "bases", "from", "to", "strings", "tsField", "rows", "ts", "at", `${body}\n//# sourceURL=freshet-generated/columnLog-decode.js`) as DecodeRows;
  } catch {
    return undefined;
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
