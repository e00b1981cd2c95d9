import { describe, expect, it } from "vitest";
import { encodeKey, keyGroupOf, MAX_KEY_GROUPS } from "./keys.js";

describe("keys and key groups", () => {
  it("encodes single and composite keys", () => {
    expect(encodeKey(["SFO"])).toBe("SFO");
    expect(encodeKey([7])).toBe("7");
    expect(encodeKey(["SFO", "LAX"])).toBe("SFO\u001fLAX");
    expect(encodeKey(["SFO", "LAX"])).not.toBe(encodeKey(["SFOLAX"]));
  });
  it("key groups are stable and spread over all groups", () => {
    // Fixed values: a change here would reshuffle every persisted checkpoint.
    expect(keyGroupOf("SFO")).toBe(keyGroupOf("SFO"));
    expect([keyGroupOf("a"), keyGroupOf("SFO"), keyGroupOf("user-1")]).toEqual([0xe40c292c % 128, fnv("SFO") % 128, fnv("user-1") % 128]);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(keyGroupOf(`k${i}`));
    expect(seen.size).toBe(MAX_KEY_GROUPS);
  });
});

// Independent FNV-1a for the check above.
function fnv(s: string): number {
  let h = 2166136261n;
  for (const c of s) {
    h ^= BigInt(c.charCodeAt(0));
    h = (h * 16777619n) % 2n ** 32n;
  }
  return Number(h);
}
