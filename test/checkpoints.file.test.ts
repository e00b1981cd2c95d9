import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileCheckpointMedium } from "../src/stores/online/checkpointMedium.js";
import { CheckpointStateStore } from "../src/stores/online/checkpointStateStore.js";
import { checkpointChainCases, type CheckpointPlace } from "./checkpointChain.cases.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "freshet-ckpt-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const names = (dir: string): string[] =>
  readdirSync(dir)
    .map((f) => f.replace(/\.ckpt$/, "").replace(/\.ckpt\.corrupt$/, ".corrupt"))
    .sort();

checkpointChainCases("files", async (): Promise<CheckpointPlace> => {
  const dir = tempDir();
  const medium = new FileCheckpointMedium(dir);
  return {
    open: (options) => CheckpointStateStore.open(dir, options),
    stored: async () => names(dir),
    damage: async (epoch, edit) => writeFileSync(medium.path(epoch), edit(readFileSync(medium.path(epoch)))),
  };
});

describe("checkpoint files", () => {
  it("removes a temporary file left by a write cut short", async () => {
    const dir = tempDir();
    const s = await CheckpointStateStore.open(dir);
    await s.commit([{ table: "t", group: 0, key: "a", value: 1 }], { pos: 1 });
    writeFileSync(join(dir, "000000000002.ckpt.tmp"), "half");
    const again = await CheckpointStateStore.open(dir);
    expect(again.meta()).toEqual({ pos: 1 });
    expect(readdirSync(dir)).toEqual(["000000000001.ckpt"]);
    // What stats() and `freshet run`'s log say of the state.
    expect(again.description).toBe(`checkpoints in ${dir}`);
  });
});
