/** Slots of a direct-mapped string cache (a power of two). */
const SLOTS = 4096;

/** The slot of a string: its length and three of its characters, hashed. */
export function stringSlot(s: string): number {
  const n = s.length;
  return n === 0 ? 0 : (((n * 31 + s.charCodeAt(0)) * 31 + s.charCodeAt(n >> 1)) * 31 + s.charCodeAt(n - 1)) & (SLOTS - 1);
}

/**
 * A direct-mapped cache from strings to values, to put in front of a Map
 * whose keys repeat a few hundred or thousand values (airports, countries,
 * devices): a hit costs a hash of four numbers and a compare instead of a Map
 * lookup. Each slot holds the last string set there; a collision replaces it.
 */
export class StringCache<V> {
  private readonly keys = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly values = new Array<V | undefined>(SLOTS).fill(undefined);

  get(s: string): V | undefined {
    const h = stringSlot(s);
    return this.keys[h] === s ? this.values[h] : undefined;
  }

  set(s: string, v: V): void {
    const h = stringSlot(s);
    this.keys[h] = s;
    this.values[h] = v;
  }

  /** Drops the entry of `s`, if it is the one cached. */
  forget(s: string): void {
    const h = stringSlot(s);
    if (this.keys[h] !== s) return;
    this.keys[h] = undefined;
    this.values[h] = undefined;
  }

  clear(): void {
    this.keys.fill(undefined);
    this.values.fill(undefined);
  }
}
