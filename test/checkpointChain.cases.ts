import { afterEach, describe, expect, it } from "vitest";
import type { CheckpointStateStore } from "../src/stores/online/checkpointStateStore.js";

/**
 * One checkpoint location (a directory, a Redis hash) as a test sees it:
 * open the chain there, list what is stored, damage one checkpoint in place.
 */
export interface CheckpointPlace {
  open(options?: { fullEvery?: number }): Promise<CheckpointStateStore>;
  /** Stored checkpoints as "000000000007", set-aside ones as "000000000007.corrupt", sorted. */
  stored(): Promise<string[]>;
  /** Replaces one stored checkpoint's bytes by what `edit` returns. */
  damage(epoch: number, edit: (blob: Buffer) => Buffer): Promise<void>;
}

const put = (key: string, value: unknown) => ({ table: "t", group: 1, key, value });
const truncate = (by: number) => (b: Buffer) => b.subarray(0, b.length - by);

/** The checkpoint chain's contract, run against each medium. */
export function checkpointChainCases(name: string, newPlace: () => Promise<CheckpointPlace>): void {
  describe(`checkpoint chain: ${name}`, () => {
    const opened: CheckpointStateStore[] = [];
    let place: CheckpointPlace;
    const open = async (options?: { fullEvery?: number }): Promise<CheckpointStateStore> => {
      const s = await place.open(options);
      opened.push(s);
      return s;
    };
    const begin = async (): Promise<void> => {
      place = await newPlace();
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it("reopens at the newest checkpoint with every key and the metadata of that checkpoint", async () => {
      await begin();
      const s = await open({ fullEvery: 3 });
      for (let i = 1; i <= 7; i++) await s.commit([put(`k${i % 4}`, { n: i })], { pos: i });
      const again = await open({ fullEvery: 3 });
      expect(again.epoch).toBe(7);
      expect(again.meta()).toEqual({ pos: 7 });
      expect([...again.keys("t")].sort()).toEqual(["k0", "k1", "k2", "k3"]);
      expect(again.get("t", "k3")).toEqual({ n: 7 });
      expect(again.get("t", "k1")).toEqual({ n: 5 });
      expect(again.get("t", "k0")).toEqual({ n: 4 });
      expect(again.skipped).toEqual([]);
    });

    it("keeps the current chain and the one before it, and nothing older", async () => {
      await begin();
      const s = await open({ fullEvery: 3 });
      for (let i = 1; i <= 10; i++) await s.commit([put("a", i)], { pos: i });
      // chains: [1,2,3] [4,5,6] [7,8,9] [10]: the current chain (10) and the previous one (7..9) remain.
      expect(await place.stored()).toEqual(["000000000007", "000000000008", "000000000009", "000000000010"]);
    });

    it("refuses a second commit while one is being written, and a failed one changes nothing", async () => {
      await begin();
      const s = await open();
      await s.commit([put("a", 1)], { pos: 1 });
      const first = s.commit([put("a", 2)], { pos: 2 });
      await expect(s.commit([put("a", 3)], { pos: 3 })).rejects.toThrow(/already being written/);
      await first;
      expect(s.get("t", "a")).toBe(2);
      // A value the encoder cannot take fails before anything is written.
      await expect(s.commit([put("a", () => 1)], { pos: 9 })).rejects.toThrow();
      expect(s.meta()).toEqual({ pos: 2 });
      expect(s.epoch).toBe(2);
      expect((await open()).get("t", "a")).toBe(2);
    });

    it("falls back to the previous checkpoint when the newest is truncated", async () => {
      await begin();
      const s = await open();
      await s.commit([put("a", 1), put("b", 1)], { pos: 1 });
      await s.commit([put("a", 2)], { pos: 2 });
      await place.damage(2, truncate(5));
      const again = await open();
      expect(again.epoch).toBe(1);
      expect(again.meta()).toEqual({ pos: 1 });
      expect(again.get("t", "a")).toBe(1);
      expect(again.skipped).toEqual([{ epoch: 2, reason: expect.stringMatching(/truncated/) }]);
      expect(await place.stored()).toContain("000000000002.corrupt");
      // The next checkpoint takes the set-aside one's number, and a reopen sees it.
      await again.commit([put("b", 3)], { pos: 3 });
      const third = await open();
      expect(third.meta()).toEqual({ pos: 3 });
      expect(third.get("t", "a")).toBe(1);
      expect(third.get("t", "b")).toBe(3);
    });

    it("falls back when one bit of the newest checkpoint is flipped", async () => {
      await begin();
      const s = await open();
      await s.commit([put("a", "x".repeat(100))], { pos: 1 });
      await s.commit([put("a", "y".repeat(100))], { pos: 2 });
      await place.damage(2, (b) => {
        const copy = Buffer.from(b);
        copy[copy.length - 40] = (copy[copy.length - 40] as number) ^ 0x10;
        return copy;
      });
      const again = await open();
      expect(again.meta()).toEqual({ pos: 1 });
      expect(again.get("t", "a")).toBe("x".repeat(100));
      expect(again.skipped[0]?.reason).toMatch(/checksum/);
    });

    it("falls back over a damaged delta to the newest checkpoint whose whole chain is intact", async () => {
      await begin();
      const s = await open({ fullEvery: 10 });
      for (let i = 1; i <= 4; i++) await s.commit([put("a", i)], { pos: i });
      await place.damage(3, () => Buffer.from("garbage"));
      const again = await open({ fullEvery: 10 });
      expect(again.meta()).toEqual({ pos: 2 });
      expect(again.get("t", "a")).toBe(2);
      expect(again.skipped.map((x) => x.epoch)).toEqual([4, 3]);
      expect(await place.stored()).toEqual(["000000000001", "000000000002", "000000000003.corrupt", "000000000004.corrupt"]);
    });

    it("falls back from a damaged full snapshot to the end of the previous chain", async () => {
      await begin();
      const s = await open({ fullEvery: 2 });
      for (let i = 1; i <= 3; i++) await s.commit([put(`k${i}`, i)], { pos: i }); // 1 full, 2 delta, 3 full
      await place.damage(3, (b) => b.subarray(0, 20));
      const again = await open({ fullEvery: 2 });
      expect(again.meta()).toEqual({ pos: 2 });
      expect([...again.keys("t")].sort()).toEqual(["k1", "k2"]);
    });

    it("starts empty when nothing is intact, setting every damaged checkpoint aside", async () => {
      await begin();
      const s = await open();
      await s.commit([put("a", 1)], { pos: 1 });
      await place.damage(1, () => Buffer.from("not a checkpoint"));
      const again = await open();
      expect(again.epoch).toBe(0);
      expect(again.meta()).toBeUndefined();
      expect(again.get("t", "a")).toBeUndefined();
      expect(await place.stored()).toEqual(["000000000001.corrupt"]);
    });
  });
}
