/**
 * Keys and key groups. Keyed state is partitioned by key group, a stable hash
 * of the encoded key modulo MAX_KEY_GROUPS, so that scale-out can assign key
 * groups to workers and checkpoints can be split or merged later.
 */
export const MAX_KEY_GROUPS = 128;

export type KeyValue = string | number | boolean;

// Separates the fields of a composite key; cannot occur in JSON-free text keys by accident.
const SEP = "\u001f";

/** Encodes the key fields of a row into one string (the identity of a key). */
export function encodeKey(values: readonly unknown[]): string {
  if (values.length === 1) return String(values[0]);
  let out = "";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += SEP;
    out += String(values[i]);
  }
  return out;
}

/** FNV-1a over UTF-16 code units, then modulo the key-group count. Stable across processes. */
export function keyGroupOf(encodedKey: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < encodedKey.length; i++) {
    h ^= encodedKey.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % MAX_KEY_GROUPS;
}
