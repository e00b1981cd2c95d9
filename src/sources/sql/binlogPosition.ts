import { SourceError } from "../../errors.js";
import type { SourcePosition } from "../stream/streamSource.js";

/**
 * Where the MariaDB/MySQL binlog source stands, saved in the job's checkpoints
 * as plain JSON: `{ file, pos, skip }`, plus `snapshot` while the table's
 * existing rows are still being read and `windows` after a snapshot was
 * interrupted.
 *
 * (file, pos) is a point where a binlog read can start: after a transaction's
 * commit, or where a transaction's rows begin (the library's safe resume
 * point: before the transaction's table maps). `skip` is how many changes to
 * the table in the transaction read from there were already handed out, so a
 * transaction (or one multi-row event) split across batches resumes in its
 * middle without repeating a row. A row's position is never inside an event.
 */
export interface BinlogPosition {
  readonly file: string;
  readonly pos: number;
  readonly skip: number;
  /** Present while snapshot rows remain: they follow the row whose primary key is `after` (null: none read yet). */
  readonly snapshot?: { readonly after: BinlogKey | null };
  /**
   * Left by snapshots that were interrupted and taken again (see
   * mysqlBinlogSnapshot.ts): a change committed before `at` is handed out
   * only when its row's key is at most `key` (the rows above were read by a
   * later snapshot, which holds the change already). Ordered by `at`.
   */
  readonly windows?: readonly BinlogWindow[];
}

/** A binlog point: a file name and a byte offset in it. */
export interface BinlogPoint {
  readonly file: string;
  readonly pos: number;
}

/** An integer primary key, one exact decimal text per column. */
export type BinlogKey = readonly string[];

export interface BinlogWindow {
  readonly at: BinlogPoint;
  /** null: no row of the table had been read, so every change before `at` is in the later snapshot. */
  readonly key: BinlogKey | null;
}

/** Orders binlog points: by file (its numeric suffix when the names share a base), then offset. */
export function compareBinlogPoints(a: BinlogPoint, b: BinlogPoint): number {
  if (a.file !== b.file) {
    const ma = /^(.*?)(\d+)$/.exec(a.file);
    const mb = /^(.*?)(\d+)$/.exec(b.file);
    if (ma !== null && mb !== null && ma[1] === mb[1]) {
      const d = BigInt(ma[2] ?? "0") - BigInt(mb[2] ?? "0");
      if (d !== 0n) return d < 0n ? -1 : 1;
    }
    return a.file < b.file ? -1 : 1;
  }
  return a.pos - b.pos;
}

/** Orders integer keys column by column, exactly (BigInt, so values beyond 2^53 compare right). */
export function compareKeys(a: BinlogKey, b: BinlogKey): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = BigInt(a[i] as string);
    const y = BigInt(b[i] as string);
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Whether a change to the row with `key`, in a transaction read from `at`,
 * is handed out: yes unless a window ending after `at` says that row's
 * snapshot was taken later (so the snapshot row holds the change).
 */
export function changeWanted(windows: readonly BinlogWindow[], at: BinlogPoint, key: BinlogKey | undefined): boolean {
  for (const w of windows) {
    if (compareBinlogPoints(at, w.at) < 0) {
      if (w.key === null) return false;
      return key === undefined || compareKeys(key, w.key) <= 0;
    }
  }
  return true;
}

/** The windows still ahead of a read at `at` (those it has passed decide nothing more). */
export function windowsAhead(windows: readonly BinlogWindow[], at: BinlogPoint): readonly BinlogWindow[] {
  let n = 0;
  while (n < windows.length && compareBinlogPoints(windows[n]?.at as BinlogPoint, at) <= 0) n++;
  return n === 0 ? windows : windows.slice(n);
}

/** The position as saved JSON: optional parts only when present. */
export function binlogPositionJson(p: BinlogPosition): SourcePosition {
  const out: Record<string, SourcePosition> = { file: p.file, pos: p.pos, skip: p.skip };
  if (p.snapshot !== undefined) out.snapshot = { after: p.snapshot.after };
  if (p.windows !== undefined && p.windows.length > 0) out.windows = p.windows.map((w) => ({ file: w.at.file, pos: w.at.pos, key: w.key }));
  return out;
}

/** Reads a saved position back, or explains what a position looks like. */
export function parseBinlogPosition(value: SourcePosition): BinlogPosition {
  const bad = (): never => {
    throw new SourceError(
      `MariaDB/MySQL binlog source: a position is {"file": "binlog.000001", "pos": 1234, "skip": 0} (with "snapshot" and "windows" while a snapshot is read), got ${JSON.stringify(value)}`,
    );
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad();
  const o = value as { readonly [k: string]: SourcePosition };
  const point = (file: SourcePosition | undefined, pos: SourcePosition | undefined): BinlogPoint => {
    if (typeof file !== "string" || file === "" || typeof pos !== "number" || !Number.isSafeInteger(pos) || pos < 0) return bad();
    return { file, pos };
  };
  const key = (k: SourcePosition | undefined): BinlogKey | null => {
    if (k === null) return null;
    if (!Array.isArray(k) || k.length === 0 || !k.every((v): v is string => typeof v === "string" && /^-?\d+$/.test(v))) return bad();
    return k;
  };
  const { file, pos } = point(o.file, o.pos);
  const skip = o.skip ?? 0;
  if (typeof skip !== "number" || !Number.isSafeInteger(skip) || skip < 0) return bad();
  let snapshot: BinlogPosition["snapshot"];
  if (o.snapshot !== undefined) {
    const s = o.snapshot;
    if (typeof s !== "object" || s === null || Array.isArray(s)) return bad();
    snapshot = { after: key((s as { readonly [k: string]: SourcePosition }).after ?? null) };
  }
  let windows: BinlogWindow[] | undefined;
  if (o.windows !== undefined) {
    if (!Array.isArray(o.windows)) return bad();
    windows = (o.windows as readonly SourcePosition[]).map((w) => {
      if (typeof w !== "object" || w === null || Array.isArray(w)) return bad();
      const r = w as { readonly [k: string]: SourcePosition };
      return { at: point(r.file, r.pos), key: key(r.key ?? null) };
    });
  }
  return { file, pos, skip, ...(snapshot === undefined ? {} : { snapshot }), ...(windows === undefined ? {} : { windows }) };
}
