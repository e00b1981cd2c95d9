import { StringCache } from "./stringCache.js";

/**
 * Dictionary codes of strings: the first distinct string gets 0, the next 1,
 * and so on. A StringCache sits in front of the Map: history's string
 * columns and a replay's keys repeat a few hundred or thousand values, and a
 * hit costs a compare instead of a Map lookup. A miss (or a collision) falls
 * back to the Map and takes the slot.
 */
export class StringCodes {
  readonly strings: string[] = [];
  private readonly dict = new Map<string, number>();
  private readonly cache = new StringCache<number>();

  code(s: string): number {
    const cached = this.cache.get(s);
    if (cached !== undefined) return cached;
    let c = this.dict.get(s);
    if (c === undefined) {
      c = this.strings.length;
      this.strings.push(s);
      this.dict.set(s, c);
    }
    this.cache.set(s, c);
    return c;
  }
}
