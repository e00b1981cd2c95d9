import { describe, expect, it } from "vitest";
import { StringCache, stringSlot } from "./stringCache.js";

describe("StringCache", () => {
  it("answers the value last set for a string, and nothing once its slot went to another string", () => {
    const cache = new StringCache<number>();
    cache.set("JFK", 1);
    expect(cache.get("JFK")).toBe(1);
    expect(cache.get(["J", "FK"].join(""))).toBe(1); // by content, not by instance
    expect(cache.get("LAX")).toBeUndefined();
    // Find a string sharing JFK's slot: setting it takes the slot over.
    const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const codes = [...letters].flatMap((a) => [...letters].flatMap((b) => [...letters].map((c) => a + b + c)));
    const other = codes.find((c) => c !== "JFK" && stringSlot(c) === stringSlot("JFK")) ?? "";
    expect(other).not.toBe("");
    cache.set(other, 2);
    expect(cache.get(other)).toBe(2);
    expect(cache.get("JFK")).toBeUndefined();
  });

  it("forget drops only the entry of that string; clear drops all", () => {
    const cache = new StringCache<string>();
    cache.set("ORD", "o");
    cache.set("SFO", "s");
    cache.forget("ATL"); // not cached: nothing happens
    expect(cache.get("ORD")).toBe("o");
    cache.forget("ORD");
    expect(cache.get("ORD")).toBeUndefined();
    expect(cache.get("SFO")).toBe("s");
    cache.clear();
    expect(cache.get("SFO")).toBeUndefined();
  });
});
