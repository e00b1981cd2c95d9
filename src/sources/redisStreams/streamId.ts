/** Redis stream entry ids ("<milliseconds>-<sequence>"): parsing and ordering. */

const ID = /^(\d{1,20})-(\d{1,20})$/;

/** True for a complete entry id such as "1700000000000-0". */
export function isStreamId(value: unknown): value is string {
  return typeof value === "string" && ID.test(value);
}

/** Negative, zero or positive as `a` sorts before, with or after `b` (both complete ids). */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parts(a);
  const [bm, bs] = parts(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

function parts(id: string): [bigint, bigint] {
  const m = ID.exec(id);
  if (m === null) throw new TypeError(`not a stream id: ${id}`);
  return [BigInt(m[1] as string), BigInt(m[2] as string)];
}
