import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { SourceError } from "../src/errors.js";
import { StreamDecodeFailure, type SourcePosition, type StreamSource } from "../src/sources/stream/streamSource.js";

/** One fresh, empty stream (a JetStream stream, a Redis stream, a table...) and ways to fill and read it. */
export interface StreamFixture {
  /** A new reader of this stream (the same consumer / group name each time). */
  source(): StreamSource;
  /** Appends messages; each row is an object with `id` (number), `user` (string) and `ts` (ISO text). */
  produce(rows: readonly TestRow[]): Promise<void>;
  /** Appends a message whose payload is not JSON; absent for systems that only carry typed rows (tables). */
  produceRaw?: (payload: string) => Promise<void>;
  /**
   * How to build the same reader in a child process, for the crash case: `factory` exported by
   * `module` (a path from this folder), called with `options` passed as JSON. Absent for in-process
   * systems (memory), where a reader dies by being dropped, never committed or closed.
   */
  childSource?: { factory: string; module: string; options: object };
  /** The position a reader reports once it has read the first `n` rows produced, where the system's positions can be told in advance. */
  positionAfter?: (n: number) => SourcePosition;
  /** Checks what the system itself holds after a reader died having read `read` rows it never committed (e.g. its unacknowledged deliveries). */
  afterCrash?: (read: number) => Promise<void>;
  teardown(): Promise<void>;
}

export interface StreamSourceHarness {
  /** Sets up a new stream; each test gets its own. */
  fixture(): Promise<StreamFixture>;
  /** A source pointed at an address where nothing listens (absent for in-process sources). */
  unreachable?: () => StreamSource;
  /** The system's name as it must appear in the error of a failed open, e.g. /NATS/. */
  systemName: RegExp;
  /** For a system that cannot tell how many messages wait: its `lag()` must answer undefined. Otherwise it must answer the count. */
  lagUnknown?: boolean;
}

export interface TestRow {
  readonly id: number;
  readonly user: string;
  readonly ts: string;
}

export function testRows(n: number, start = 0): TestRow[] {
  return Array.from({ length: n }, (_, i) => ({ id: start + i, user: `u${(start + i) % 7}`, ts: new Date(Date.UTC(2024, 0, 1) + (start + i) * 1000).toISOString() }));
}

/** Reads until `n` rows arrived (or `tries` empty reads in a row), returning the rows and the last position. */
export async function readN(src: StreamSource, n: number, batch = 1_000, tries = 20): Promise<{ rows: unknown[]; position: SourcePosition | undefined }> {
  const rows: unknown[] = [];
  let position: SourcePosition | undefined;
  let empty = 0;
  while (rows.length < n && empty < tries) {
    const b = await src.next(Math.min(batch, n - rows.length), 250);
    if (b.rows.length === 0) empty++;
    else {
      empty = 0;
      rows.push(...b.rows);
      position = b.position;
    }
  }
  return { rows, position };
}

function ids(rows: readonly unknown[]): number[] {
  return rows.map((r) => Number((r as { id: unknown }).id));
}

/** The behaviour every StreamSource must have, run against the real system. */
export function streamSourceConformance(name: string, harness: StreamSourceHarness): void {
  describe(`${name} stream source (conformance)`, () => {
    const expectedLag = (n: number): number | undefined => (harness.lagUnknown === true ? undefined : n);
    let fx: StreamFixture | undefined;
    const open: StreamSource[] = [];
    const start = async (from?: SourcePosition): Promise<StreamSource> => {
      const s = fx!.source();
      open.push(s);
      await s.open(from);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
      await fx?.teardown();
      fx = undefined;
    });

    it("reads every message once, in order, with the values sent", async () => {
      fx = await harness.fixture();
      const sent = testRows(2_500);
      await fx.produce(sent);
      const s = await start();
      const { rows } = await readN(s, 2_500, 700);
      expect(ids(rows)).toEqual(sent.map((r) => r.id));
      expect(rows[1_234]).toMatchObject({ id: 1_234, user: sent[1_234]!.user });
      expect(String((rows[1_234] as { ts: unknown }).ts)).toContain("2024-01-01");
      expect(s.stats().read).toBe(2_500);
    });

    it("respects maxRows and returns an empty batch with the same position when drained", async () => {
      fx = await harness.fixture();
      await fx.produce(testRows(10));
      const s = await start();
      const a = await readN(s, 4, 4);
      expect(ids(a.rows)).toEqual([0, 1, 2, 3]);
      const b = await readN(s, 6, 100);
      expect(ids(b.rows)).toEqual([4, 5, 6, 7, 8, 9]);
      const t0 = Date.now();
      const empty = await s.next(100, 300);
      expect(empty.rows).toEqual([]);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(empty.position).toEqual(b.position);
    });

    it("opened again from a position, yields exactly what followed it", async () => {
      fx = await harness.fixture();
      await fx.produce(testRows(30));
      const first = await start();
      const a = await readN(first, 12, 12);
      expect(ids(a.rows)).toEqual(Array.from({ length: 12 }, (_, i) => i));
      await readN(first, 5, 5); // read further, not saved: must come again
      await first.close();
      // The position survives a JSON round trip (it is saved in checkpoints).
      const saved = JSON.parse(JSON.stringify(a.position)) as SourcePosition;
      const again = await start(saved);
      const b = await readN(again, 18, 7);
      expect(ids(b.rows)).toEqual(Array.from({ length: 18 }, (_, i) => 12 + i));
      expect((await again.next(10, 200)).rows).toEqual([]);
    });

    it("after a crash past a partial commit, a reopen from the saved position yields the rest exactly once, and so does a second reopen", async () => {
      fx = await harness.fixture();
      await fx.produce(testRows(24));
      const first = await start();
      const saved = await readN(first, 8, 3);
      await first.commit(saved.position!);
      await readN(first, 10, 4); // read on, never committed or checkpointed
      await first.close(); // the process dies
      const replays: number[][] = [];
      for (let i = 0; i < 2; i++) {
        const again = await start(JSON.parse(JSON.stringify(saved.position)) as SourcePosition);
        const { rows, position } = await readN(again, 16, 5);
        expect((await again.next(10, 100)).rows).toEqual([]);
        replays.push(ids(rows));
        expect(again.stats().read).toBe(16);
        await again.close();
        if (i === 1) expect(position).not.toEqual(saved.position);
      }
      expect(replays[0]).toEqual(Array.from({ length: 16 }, (_, i) => 8 + i));
      expect(replays[1]).toEqual(replays[0]);
    });

    it("after a reader dies mid-read past its checkpoint (SIGKILLed in a child process, for an out-of-process system), reopening from the checkpoint loses and duplicates nothing", async () => {
      fx = await harness.fixture();
      await fx.produce(testRows(40));
      let checkpoint: SourcePosition;
      if (fx.childSource === undefined) {
        // In process: read 12 rows (the checkpoint), 9 more, and drop the reader.
        const dying = await start();
        checkpoint = (await readN(dying, 12, 12)).position!;
        expect((await readN(dying, 9, 9)).rows).toHaveLength(9);
      } else {
        checkpoint = await crashAfterReading(fx.childSource);
      }
      if (fx.positionAfter !== undefined) expect(checkpoint).toEqual(fx.positionAfter(12));
      await fx.afterCrash?.(21);
      const again = await start(checkpoint);
      const { rows, position } = await readN(again, 28, 10);
      expect(rows.map((r) => (r as TestRow).id)).toEqual(Array.from({ length: 28 }, (_, i) => 12 + i));
      if (fx.positionAfter !== undefined) expect(position).toEqual(fx.positionAfter(40));
      expect((await again.next(10, 300)).rows).toEqual([]);
    }, 30_000);

    it("delivers messages produced while it waits (live tail)", async () => {
      fx = await harness.fixture();
      const s = await start();
      expect((await s.next(10, 100)).rows).toEqual([]);
      const pending = readN(s, 5, 10, 40);
      await new Promise((r) => setTimeout(r, 150));
      await fx.produce(testRows(5, 100));
      const { rows } = await pending;
      expect(ids(rows)).toEqual([100, 101, 102, 103, 104]);
    });

    it("commits are idempotent, counted once, and leave nothing to reread after a reopen from the committed position", async () => {
      fx = await harness.fixture();
      await fx.produce(testRows(20));
      const s = await start();
      const { position } = await readN(s, 20, 8);
      await s.commit(position!);
      await s.commit(position!);
      expect(s.stats().committed).toBe(20);
      expect(await s.lag()).toBe(expectedLag(0));
      await s.close();
      const again = await start(position);
      expect((await again.next(100, 200)).rows).toEqual([]);
      await fx.produce(testRows(3, 20));
      expect(ids((await readN(again, 3)).rows)).toEqual([20, 21, 22]);
    });

    it("reports lag of unread messages when the system can tell", async () => {
      fx = await harness.fixture();
      await fx.produce(testRows(15));
      const s = await start();
      await readN(s, 5, 5);
      expect(await s.lag()).toBe(expectedLag(10));
    });

    it("hands out an undecodable message as a StreamDecodeFailure and goes on", async (ctx) => {
      fx = await harness.fixture();
      if (fx.produceRaw === undefined) return ctx.skip();
      await fx.produce(testRows(2));
      await fx.produceRaw("{not json");
      await fx.produce(testRows(2, 2));
      const s = await start();
      const { rows } = await readN(s, 5);
      expect(rows).toHaveLength(5);
      const bad = rows[2];
      expect(bad).toBeInstanceOf(StreamDecodeFailure);
      expect((bad as StreamDecodeFailure).raw).toBe("{not json");
      expect((bad as StreamDecodeFailure).at).not.toBe("");
      expect(ids([rows[0], rows[1], rows[3], rows[4]])).toEqual([0, 1, 2, 3]);
    });

    it.skipIf(harness.unreachable === undefined)("fails to open an unreachable system with a SourceError naming it, and closes cleanly", async () => {
      const s = harness.unreachable!();
      const err = await s.open(undefined).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SourceError);
      expect(String((err as Error).message)).toMatch(harness.systemName);
      await s.close();
      await s.close();
    }, 20_000);
  });
}

/**
 * Runs a source in a child process that reads 12 rows (its "checkpoint"), reads 9 more and
 * is then killed with SIGKILL, never committing: a real crash, connections cut mid-read.
 */
async function crashAfterReading({ factory, module, options }: NonNullable<StreamFixture["childSource"]>): Promise<SourcePosition> {
  const code = `
    import { ${factory} } from ${JSON.stringify(fileURLToPath(new URL(module, import.meta.url)))};
    const s = ${factory}(JSON.parse(process.env.FRESHET_CRASH_OPTIONS));
    await s.open(undefined);
    let n = 0, position;
    while (n < 12) { const b = await s.next(12 - n, 1000); n += b.rows.length; position = b.position; }
    console.log(JSON.stringify({ checkpoint: position }));
    let more = 0;
    while (more < 9) more += (await s.next(9 - more, 1000)).rows.length;
    console.log("read on");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    env: { ...process.env, FRESHET_CRASH_OPTIONS: JSON.stringify(options) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("read on")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`child exited (${code}) before crashing: ${out}`)));
  });
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  return (JSON.parse(out.split("\n")[0] ?? "") as { checkpoint: SourcePosition }).checkpoint;
}
