/**
 * DuckDB in a process of its own, for benches that time it beside Freshet:
 * run in the bench's process, its queries leave their memory behind and the
 * Freshet runs after them slowed by 15–20% (measured: a window query over
 * flights-3m between runs of the same backfill, even after waiting 3 s), so
 * each side would be timed on a machine the other had changed. The child
 * loads the flights table once, then runs one query at a time and reports
 * its wall time, the cores it kept busy (its own CPU time) and the rows.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { createFlightsTable } from "./flightsData.js";

interface Request {
  readonly id: number;
  readonly sql: string;
}
interface Answer {
  readonly id: number;
  readonly ms?: number;
  readonly cores?: number;
  readonly rows?: unknown[][];
  readonly error?: string;
}

/** The parent's handle: `run` times one query in the child. */
export class DuckDBProcess {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (m: Answer) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(`duckdb child: ${m.error}`));
      else w?.resolve(m);
    });
    child.on("exit", (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`duckdb child exited with ${String(code)}`));
      this.waiting.clear();
    });
  }

  /** Starts the child and loads the flights table there (the first `limit` rows when given). */
  static async start(limit: number | undefined): Promise<DuckDBProcess> {
    const child = fork(fileURLToPath(import.meta.url), limit === undefined ? [] : [String(limit)], {
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const p = new DuckDBProcess(child);
    await p.ask("SELECT 1"); // answered once the table is loaded
    return p;
  }

  async run(sql: string): Promise<{ ms: number; cores: number; rows: unknown[][] }> {
    const a = await this.ask(sql);
    return { ms: a.ms ?? Number.NaN, cores: a.cores ?? Number.NaN, rows: a.rows ?? [] };
  }

  close(): void {
    this.child.kill();
  }

  private ask(sql: string): Promise<Answer> {
    const id = this.next++;
    return new Promise<Answer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, sql } satisfies Request);
    });
  }
}

/** The child: loads the table, then answers queries in order. */
async function serve(): Promise<void> {
  const limit = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  await createFlightsTable(conn, "flights", limit === undefined ? {} : { limit });
  let queue = Promise.resolve();
  process.on("message", (m: Request) => {
    queue = queue.then(async () => {
      try {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const result = await conn.runAndReadAll(m.sql);
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        process.send?.({ id: m.id, ms, cores: (cpu.user + cpu.system) / 1000 / ms, rows: result.getRows() } satisfies Answer);
      } catch (err) {
        process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies Answer);
      }
    });
  });
  process.on("disconnect", () => {
    conn.closeSync();
    instance.closeSync();
    process.exit(0);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) await serve();
