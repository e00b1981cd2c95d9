import { SourceError } from "../../errors.js";
import type { SourcePosition } from "../stream/streamSource.js";

/**
 * Positions of a Kafka source, kept apart from the driver so they can be
 * tested without a broker.
 *
 * A position is a JSON object from partition number (as text) to the offset
 * of the next message to read in it, also as text because offsets are 64-bit:
 * `{ "0": "1200", "1": "987" }`. Invariants:
 * - a partition, once in the position, stays in it (a rebalance that moves
 *   it to another member does not erase it, so a checkpoint never forgets
 *   where this job stood in it);
 * - an offset is never negative and never above 2^63 - 1.
 */
export type PartitionOffsets = ReadonlyMap<number, bigint>;

const MAX_OFFSET = 2n ** 63n - 1n;
const PARTITION = /^(0|[1-9]\d{0,9})$/;
const OFFSET = /^(0|[1-9]\d{0,18})$/;

/** Reads a saved position; anything but `{ "<partition>": "<offset>" }` is a SourceError saying what is wrong. */
export function parsePosition(position: SourcePosition): Map<number, bigint> {
  if (typeof position !== "object" || position === null || Array.isArray(position)) {
    throw new SourceError(`kafka source: a position is an object of partition → next offset (e.g. {"0":"42"}), got ${JSON.stringify(position)}`);
  }
  const out = new Map<number, bigint>();
  for (const [key, value] of Object.entries(position as { readonly [k: string]: SourcePosition })) {
    const partition = PARTITION.test(key) ? Number(key) : NaN;
    if (!Number.isSafeInteger(partition) || partition > 2_147_483_647) {
      throw new SourceError(`kafka source: position key ${JSON.stringify(key)} is not a partition number`);
    }
    if (typeof value !== "string" || !OFFSET.test(value) || BigInt(value) > MAX_OFFSET) {
      throw new SourceError(`kafka source: offset of partition ${key} must be a whole number >= 0 written as text (e.g. "42"), got ${JSON.stringify(value)}`);
    }
    out.set(partition, BigInt(value));
  }
  return out;
}

/** The JSON form of a position, partitions in ascending order. */
export function formatPosition(offsets: PartitionOffsets): { readonly [partition: string]: string } {
  const out: Record<string, string> = {};
  for (const p of [...offsets.keys()].sort((a, b) => a - b)) out[String(p)] = String(offsets.get(p));
  return out;
}

/**
 * The offset every partition starts from: the saved one when the position
 * has it, else the earliest (or latest) offset the broker holds. Saved
 * partitions the topic no longer lists are kept, so the position still
 * carries them. A saved offset outside what the broker holds is an error:
 * below the earliest, retention deleted messages this job never read; above
 * the latest, the topic is not the one the checkpoint was taken from.
 */
export function startingOffsets(
  saved: PartitionOffsets,
  earliest: readonly bigint[],
  latest: readonly bigint[],
  start: "earliest" | "latest",
  topic: string,
): Map<number, bigint> {
  const out = new Map<number, bigint>(saved);
  const partitions = Math.max(earliest.length, latest.length);
  for (let p = 0; p < partitions; p++) {
    const low = earliest[p] ?? 0n;
    const high = latest[p] ?? low;
    const at = saved.get(p);
    if (at === undefined) {
      out.set(p, start === "earliest" ? low : high);
      continue;
    }
    if (at < low) {
      throw new SourceError(
        `kafka source: the saved offset ${at} of topic "${topic}" partition ${p} is before the earliest offset Kafka still holds (${low}): retention deleted ${low - at} messages this job never read. Raise the topic's retention, or open from a position without partition ${p} to start it again.`,
      );
    }
    if (at > high) {
      throw new SourceError(
        `kafka source: the saved offset ${at} of topic "${topic}" partition ${p} is after its latest offset (${high}): the topic was recreated or the position belongs to another topic.`,
      );
    }
  }
  return out;
}

/** Offsets to send in one commit, for the partitions this member owns. */
export interface OffsetToCommit {
  readonly partition: number;
  readonly offset: bigint;
}

/**
 * What `commit(position)` sends: for each partition of the position that is
 * assigned to this member (every one when the assignment is unknown), its
 * offset if it is past what this member committed already. Commits never go
 * backwards, which makes them idempotent. Partitions that moved to another
 * member are not committed: their new owner commits them.
 */
export function offsetsToCommit(target: PartitionOffsets, committed: PartitionOffsets, assigned: ReadonlySet<number> | undefined): OffsetToCommit[] {
  const out: OffsetToCommit[] = [];
  for (const [partition, offset] of [...target].sort((a, b) => a[0] - b[0])) {
    if (assigned !== undefined && !assigned.has(partition)) continue;
    const before = committed.get(partition);
    if (before === undefined || offset > before) out.push({ partition, offset });
  }
  return out;
}

/**
 * Messages newly acknowledged by a commit, for stats: the distance each
 * partition moved from what was committed before (or from where this session
 * started reading it). A partition with neither counts nothing, since where
 * its reading began is not known.
 */
export function acknowledgedCount(sent: readonly OffsetToCommit[], committed: PartitionOffsets, started: PartitionOffsets): number {
  let n = 0n;
  for (const { partition, offset } of sent) {
    const from = committed.get(partition) ?? started.get(partition) ?? offset;
    if (offset > from) n += offset - from;
  }
  return Number(n);
}

/**
 * Messages not yet handed out: per partition, the high watermark (the offset
 * the next produced message gets) minus the next offset to read, never below
 * zero, summed over `partitions` (this member's). A partition without a
 * position counts from offset 0, an upper bound.
 */
export function lagOf(highWatermarks: readonly bigint[], positions: PartitionOffsets, partitions: Iterable<number>): number {
  let n = 0n;
  for (const p of new Set(partitions)) {
    const high = highWatermarks[p];
    if (high === undefined) continue;
    const at = positions.get(p) ?? 0n;
    if (high > at) n += high - at;
  }
  return Number(n);
}
