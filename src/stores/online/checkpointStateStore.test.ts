import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CheckpointStateStore } from "./checkpointStateStore.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "freshet-ckpt-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const put = (key: string, value: unknown) => ({ table: "t", group: 1, key, value });
const files = (dir: string) => readdirSync(dir).sort();
const newest = (dir: string) => join(dir, files(dir).filter((f) => f.endsWith(".ckpt")).pop() as string);

describe("CheckpointStateStore", () => {
  it("reopens at the newest checkpoint with every key and the metadata of that checkpoint", () => {
    const dir = tempDir();
    const s = CheckpointStateStore.open(dir, { fullEvery: 3 });
    for (let i = 1; i <= 7; i++) s.commit([put(`k${i % 4}`, { n: i })], { pos: i });
    const again = CheckpointStateStore.open(dir, { fullEvery: 3 });
    expect(again.epoch).toBe(7);
    expect(again.meta()).toEqual({ pos: 7 });
    expect([...again.keys("t")].sort()).toEqual(["k0", "k1", "k2", "k3"]);
    expect(again.get("t", "k3")).toEqual({ n: 7 });
    expect(again.get("t", "k1")).toEqual({ n: 5 });
    expect(again.get("t", "k0")).toEqual({ n: 4 });
    expect(again.skipped).toEqual([]);
  });

  it("keeps the current chain and the one before it, and no older file", () => {
    const dir = tempDir();
    const s = CheckpointStateStore.open(dir, { fullEvery: 3 });
    for (let i = 1; i <= 10; i++) s.commit([put("a", i)], { pos: i });
    // chains: [1,2,3] [4,5,6] [7,8,9] [10]: the current chain (10) and the previous one (7..9) remain.
    expect(files(dir)).toEqual(["000000000007.ckpt", "000000000008.ckpt", "000000000009.ckpt", "000000000010.ckpt"]);
  });

  it("falls back to the previous checkpoint when the newest is truncated", () => {
    const dir = tempDir();
    const s = CheckpointStateStore.open(dir);
    s.commit([put("a", 1), put("b", 1)], { pos: 1 });
    s.commit([put("a", 2)], { pos: 2 });
    const path = newest(dir);
    truncateSync(path, readFileSync(path).length - 5);
    const again = CheckpointStateStore.open(dir);
    expect(again.epoch).toBe(1);
    expect(again.meta()).toEqual({ pos: 1 });
    expect(again.get("t", "a")).toBe(1);
    expect(again.skipped).toEqual([{ epoch: 2, reason: expect.stringMatching(/truncated/) }]);
    expect(files(dir)).toContain("000000000002.ckpt.corrupt");
    // The next checkpoint takes the set-aside one's number, and a reopen sees it.
    again.commit([put("b", 3)], { pos: 3 });
    expect(CheckpointStateStore.open(dir).meta()).toEqual({ pos: 3 });
    expect(CheckpointStateStore.open(dir).get("t", "a")).toBe(1);
  });

  it("falls back when one bit of the newest checkpoint is flipped", () => {
    const dir = tempDir();
    const s = CheckpointStateStore.open(dir);
    s.commit([put("a", "x".repeat(100))], { pos: 1 });
    s.commit([put("a", "y".repeat(100))], { pos: 2 });
    const path = newest(dir);
    const buf = readFileSync(path);
    buf[buf.length - 40] = (buf[buf.length - 40] as number) ^ 0x10;
    writeFileSync(path, buf);
    const again = CheckpointStateStore.open(dir);
    expect(again.meta()).toEqual({ pos: 1 });
    expect(again.get("t", "a")).toBe("x".repeat(100));
    expect(again.skipped[0]?.reason).toMatch(/checksum/);
  });

  it("falls back over a damaged delta to the newest checkpoint whose whole chain is intact", () => {
    const dir = tempDir();
    const s = CheckpointStateStore.open(dir, { fullEvery: 10 });
    for (let i = 1; i <= 4; i++) s.commit([put("a", i)], { pos: i });
    writeFileSync(join(dir, "000000000003.ckpt"), "garbage");
    const again = CheckpointStateStore.open(dir, { fullEvery: 10 });
    expect(again.meta()).toEqual({ pos: 2 });
    expect(again.get("t", "a")).toBe(2);
    expect(again.skipped.map((x) => x.epoch)).toEqual([4, 3]);
  });

  it("falls back from a damaged full snapshot to the end of the previous chain", () => {
    const dir = tempDir();
    const s = CheckpointStateStore.open(dir, { fullEvery: 2 });
    for (let i = 1; i <= 3; i++) s.commit([put(`k${i}`, i)], { pos: i }); // 1 full, 2 delta, 3 full
    const path = join(dir, "000000000003.ckpt");
    truncateSync(path, 20);
    const again = CheckpointStateStore.open(dir, { fullEvery: 2 });
    expect(again.meta()).toEqual({ pos: 2 });
    expect([...again.keys("t")].sort()).toEqual(["k1", "k2"]);
  });

  it("removes a temporary file left by a write cut short and starts empty when nothing is intact", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "000000000001.ckpt.tmp"), "half");
    writeFileSync(join(dir, "000000000001.ckpt"), "not a checkpoint");
    const s = CheckpointStateStore.open(dir);
    expect(s.epoch).toBe(0);
    expect(s.meta()).toBeUndefined();
    expect(files(dir)).toEqual(["000000000001.ckpt.corrupt"]);
  });
});
