/**
 * A private MariaDB server with binary logging, for the binlog source's tests.
 * The shared server on 127.0.0.1:3306 runs with log_bin = OFF and must not be
 * reconfigured, so each suite starts its own: a fresh data directory in a temp
 * folder (mariadb-install-db, about a second), `mariadbd` on a free port with
 * --log-bin and --binlog-format=ROW, and a database `test`. `stop()` kills it,
 * waits for it to exit and removes the folder.
 *
 * When `mariadbd` or `mariadb-install-db` is missing the tests skip with a
 * message naming them, unless FRESHET_REQUIRE_SERVICES=1 (CI), where that fails.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "mysql2/promise";
import { freePort } from "./freePort.js";

const PROGRAMS = ["mariadbd", "mariadb-install-db"] as const;

export interface PrivateMariadb {
  /** mysql://root@127.0.0.1:PORT/test */
  readonly url: string;
  readonly port: number;
  /** Kills the server, waits for it to exit and removes its data directory. Safe twice. */
  stop(): Promise<void>;
}

/** The programs a private server needs that are not on the PATH. */
function missingPrograms(): string[] {
  return PROGRAMS.filter((p) => spawnSync("sh", ["-c", `command -v ${p} || test -x /usr/sbin/${p}`], { stdio: "ignore" }).status !== 0);
}

/**
 * True when a private server can be started here. When it cannot: throws under
 * FRESHET_REQUIRE_SERVICES=1, otherwise prints what is missing and returns false.
 */
export function privateMariadbAvailable(): boolean {
  const missing = missingPrograms();
  if (missing.length === 0) return true;
  const message = `${missing.join(" and ")} not found (install the mariadb-server package)`;
  if (process.env.FRESHET_REQUIRE_SERVICES === "1") throw new Error(`private MariaDB: ${message}, and FRESHET_REQUIRE_SERVICES=1 requires it`);
  console.warn(`skipping MariaDB binlog tests: ${message}`);
  return false;
}

function program(name: string): string {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  return found !== "" ? found : `/usr/sbin/${name}`;
}

/**
 * Starts a private MariaDB with binary logging (ROW format), `extraArgs`
 * appended to mariadbd's command line. A free port can be taken by another
 * process between the check and mariadbd's bind (test files start servers in
 * parallel), so a server that exits before it accepts connections is started
 * again on another port, up to three times.
 */
export async function startPrivateMariadb(extraArgs: readonly string[] = []): Promise<PrivateMariadb> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(extraArgs);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof ExitedEarly)) throw err;
    }
  }
}

class ExitedEarly extends Error {}

async function startOnce(extraArgs: readonly string[]): Promise<PrivateMariadb> {
  const dir = mkdtempSync(join(tmpdir(), "freshet-mariadb-"));
  const data = join(dir, "data");
  const install = spawnSync(program("mariadb-install-db"), ["--no-defaults", `--datadir=${data}`, "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"], {
    encoding: "utf8",
  });
  if (install.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}): ${install.stderr}`);
  }
  const port = await freePort();
  const args = [
    "--no-defaults",
    `--datadir=${data}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${join(dir, "sock")}`,
    "--user=root",
    `--log-bin=${join(data, "binlog")}`,
    "--binlog-format=ROW",
    "--server-id=7",
    `--pid-file=${join(dir, "pid")}`,
    ...extraArgs,
  ];
  const child = spawn(program("mariadbd"), args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilAccepting(port, child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mysql://root@127.0.0.1:${port}/test`, port, stop };
}

/** Connects until the server answers (at most 30 s), then creates database `test`. */
async function waitUntilAccepting(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new ExitedEarly(`mariadbd exited (${child.exitCode ?? child.signalCode}) before accepting connections: ${log()}`);
    try {
      const conn = await createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: 1_000 });
      await conn.query("CREATE DATABASE IF NOT EXISTS test");
      await conn.end();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`mariadbd on port ${port} did not accept connections within 30 s: ${(err as Error).message}; ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
