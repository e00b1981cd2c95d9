import { SourceError } from "../../errors.js";
import type { SourcePosition } from "../stream/streamSource.js";

/**
 * Where a PostgreSQL logical replication reader stands, as the job's
 * checkpoint saves it.
 *
 * Changes are ordered by (commit LSN of their transaction, index of the change
 * among the table's changes in that transaction): transactions arrive in
 * commit order and each has its own commit LSN, and a transaction's changes
 * decode in the same order every time the slot sends it again. So the
 * position is the pair of the last change handed out, and reading "after" it
 * is exact even when a transaction is cut by a batch boundary.
 *
 * While the initial snapshot is read, `lsn` is the slot's consistent point
 * (the snapshot holds every transaction committed before it, the slot streams
 * every one committed at or after it), `n` is 0, and `snapshotAfter` is the
 * primary key (as text) of the last snapshot row handed out.
 *
 * `resumed`: each time a snapshot was resumed after a restart, the rest of the
 * table (keys greater than `after`) was read from a new snapshot taken at
 * `lsn`, so a streamed change to such a key that committed before `lsn` is
 * already in it and is skipped.
 */
export interface ReplicationPosition {
  readonly lsn: bigint;
  readonly n: number;
  readonly snapshotAfter?: readonly string[];
  readonly resumed: readonly SnapshotSegment[];
}

/** Rows with a primary key greater than `after` ([]: every row) were read from a snapshot taken at `lsn`. */
export interface SnapshotSegment {
  readonly after: readonly string[];
  readonly lsn: bigint;
}

/** An LSN ("16/B374D848") as a number, or undefined when the text is not one. */
export function parseLsn(text: string): bigint | undefined {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (m === null) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** An LSN as PostgreSQL writes it: two upper-case hex halves. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** True when the change (commit LSN `lsn`, index `n`) comes after `p`. */
export function isAfter(lsn: bigint, n: number, p: ReplicationPosition): boolean {
  return lsn > p.lsn || (lsn === p.lsn && n > p.n);
}

/** The JSON form saved in checkpoints: `{ lsn: "0/1942840", n: 3 }`, plus `snapshot` and `resumed` when they apply. */
export function positionJson(p: ReplicationPosition): SourcePosition {
  const json: Record<string, SourcePosition> = { lsn: formatLsn(p.lsn), n: p.n };
  if (p.snapshotAfter !== undefined) json.snapshot = [...p.snapshotAfter];
  if (p.resumed.length > 0) json.resumed = p.resumed.map((s) => ({ after: [...s.after], lsn: formatLsn(s.lsn) }));
  return json;
}

/** Reads a saved position back; a SourceError says what shape was expected. */
export function parsePosition(value: SourcePosition): ReplicationPosition {
  const bad = (): never => {
    throw new SourceError(
      `PostgreSQL replication source: a position is { lsn: "0/1942840", n: 3 } (with "snapshot" and "resumed" while a snapshot is involved), as the source handed it out; got ${JSON.stringify(value)}`,
    );
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad();
  const o = value as { readonly [k: string]: SourcePosition };
  const lsn = typeof o.lsn === "string" ? parseLsn(o.lsn) : undefined;
  const n = o.n;
  if (lsn === undefined || typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) return bad();
  const texts = (v: SourcePosition | undefined): readonly string[] => (Array.isArray(v) && v.every((x): x is string => typeof x === "string") ? v : bad());
  const resumed: SnapshotSegment[] = [];
  if (o.resumed !== undefined) {
    if (!Array.isArray(o.resumed)) return bad();
    for (const s of o.resumed as readonly SourcePosition[]) {
      if (typeof s !== "object" || s === null || Array.isArray(s)) return bad();
      const seg = s as { readonly [k: string]: SourcePosition };
      const at = typeof seg.lsn === "string" ? parseLsn(seg.lsn) : undefined;
      if (at === undefined) return bad();
      resumed.push({ after: texts(seg.after), lsn: at });
    }
  }
  return o.snapshot === undefined ? { lsn, n, resumed } : { lsn, n, snapshotAfter: texts(o.snapshot), resumed };
}
