/**
 * The package as another project sees it: built to dist/, resolved by name
 * through package.json "exports", types included, and the CLI's --help.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
let project: string;

beforeAll(async () => {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "pipe" });
  project = await mkdtemp(join(tmpdir(), "freshet-consumer-"));
  await mkdir(join(project, "node_modules"));
  await symlink(root, join(project, "node_modules", "freshet"), "dir");
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
}, 120_000);

afterAll(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true });
});

describe("the freshet package", () => {
  it("builds dist/ with types, and `import ... from \"freshet\"` works from another project", async () => {
    expect(existsSync(join(root, "dist", "index.js"))).toBe(true);
    expect(existsSync(join(root, "dist", "index.d.ts"))).toBe(true);
    await writeFile(
      join(project, "main.mjs"),
      `import { dataset, t, count, sum, FeatureStore } from "freshet";
const clicks = dataset("clicks", { user: t.string(), amount: t.float(), at: t.timestamp() }, { timestamp: "at" });
const perUser = clicks.groupBy("user").aggregate({ n: count({ window: "1h" }), total: sum("amount", { window: "1h" }) }).as("per_user");
const store = await FeatureStore.open({ clock: "event" });
await store.apply([clicks, perUser]);
await store.push("clicks", [{ user: "a", amount: 2, at: "2024-01-01T00:00:00Z" }, { user: "a", amount: 3, at: "2024-01-01T00:30:00Z" }]);
console.log(JSON.stringify(await store.getOnline(perUser, [{ user: "a" }])));
// A replay on aggregate worker threads: the packaged worker script must load.
const more = Array.from({ length: 300 }, (_, i) => ({ user: "u" + (i % 7), amount: i, at: Date.UTC(2024, 0, 2) + i * 1000 }));
let emitted = 0;
await store.materializeOffline({ clicks: more }, { workers: 2, batchSize: 50, onTableRows: (_t, r) => (emitted += r.length) });
console.log(JSON.stringify([emitted, await store.getOnline(perUser, [{ user: "u0" }])]));
await store.close();`,
    );
    const out = execFileSync(process.execPath, ["main.mjs"], { cwd: project, encoding: "utf8" });
    const [first, second] = out.trim().split("\n").map((l) => JSON.parse(l) as unknown);
    expect(first).toEqual([{ user: "a", n: 2, total: 5 }]);
    // u0 has events i = 0, 7, ..., 294: 43 of them, all within the last hour.
    const u0 = Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 7 === 0);
    expect(second).toEqual([300, [{ user: "u0", n: u0.length, total: u0.reduce((a, b) => a + b, 0) }]]);
  });

  it("has a CLI with --help", () => {
    const out = execFileSync(process.execPath, [join(root, "dist", "cli", "main.js"), "--help"], { encoding: "utf8" });
    expect(out).toMatch(/Usage: freshet/);
    expect(out).toMatch(/demo/);
  });
});
