import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../core/random.js";
import { IndexedHeap } from "./indexedHeap.js";

describe("IndexedHeap", () => {
  it("pops in priority order after adds, priority changes either way and pops, like a sorted list", () => {
    const random = mulberry32(3);
    type Item = { readonly id: string; score: number };
    const heap = new IndexedHeap<Item>((a, b) => a.score > b.score || (a.score === b.score && a.id < b.id));
    const live = new Map<string, Item>();
    const popped: string[] = [];
    const expected: string[] = [];
    for (let step = 0; step < 2_000; step++) {
      const r = random();
      if (r < 0.45) {
        const item = { id: `k${step}`, score: Math.floor(random() * 50) };
        live.set(item.id, item);
        heap.add(item);
      } else if (r < 0.75 && live.size > 0) {
        const ids = [...live.keys()];
        const item = live.get(ids[Math.floor(random() * ids.length)] as string) as Item;
        item.score = Math.floor(random() * 50);
        heap.update(item);
      } else {
        const best = [...live.values()].sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))[0];
        expected.push(best?.id ?? "none");
        popped.push(heap.pop()?.id ?? "none");
        if (best !== undefined) live.delete(best.id);
      }
      expect(heap.size).toBe(live.size);
    }
    expect(popped).toEqual(expected);
    expect(popped.filter((id) => id !== "none").length).toBeGreaterThan(300);
    heap.update({ id: "gone", score: 1 }); // an item not in the heap: ignored
    expect(heap.size).toBe(live.size);
  });
});
