/** Slots of the direct-mapped cache in front of the dictionary (a power of two). */
const SLOTS = 4096;

/**
 * Dictionary codes of strings: the first distinct string gets 0, the next 1,
 * and so on. A direct-mapped cache keyed by the length and three characters
 * sits in front of the Map: history's string columns and a replay's keys
 * (airports, countries, devices) repeat a few hundred or thousand values,
 * and a slot hit costs a compare instead of a Map lookup. A miss (or a
 * collision) falls back to the Map and takes the slot.
 */
export class StringCodes {
  readonly strings: string[] = [];
  private readonly dict = new Map<string, number>();
  private readonly slotString = new Array<string | undefined>(SLOTS).fill(undefined);
  private readonly slotCode = new Int32Array(SLOTS);

  code(s: string): number {
    const n = s.length;
    const h = n === 0 ? 0 : (((n * 31 + s.charCodeAt(0)) * 31 + s.charCodeAt(n >> 1)) * 31 + s.charCodeAt(n - 1)) & (SLOTS - 1);
    if (this.slotString[h] === s) return this.slotCode[h] as number;
    let c = this.dict.get(s);
    if (c === undefined) {
      c = this.strings.length;
      this.strings.push(s);
      this.dict.set(s, c);
    }
    this.slotString[h] = s;
    this.slotCode[h] = c;
    return c;
  }
}
