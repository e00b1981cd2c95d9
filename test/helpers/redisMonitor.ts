import { createConnection } from "node:net";

/** A MONITOR connection: `stop()` closes it. */
export interface RedisMonitor {
  stop(): void;
}

/**
 * Runs MONITOR on a connection of its own and calls `onCommand` with each
 * command Redis receives from then on (its arguments, unquoted), until it
 * returns true or `stop()` is called. Resolves once Redis has said OK, so
 * commands sent after that are seen.
 *
 * A raw socket, not ioredis's monitor(): ioredis turns its monitor mode on
 * only when MONITOR's reply has been handled, and a command seen in the same
 * read failed the connection with "Command queue state error" (ioredis issue
 * 1981; it failed a test here while other test files used Redis).
 */
export function monitorRedis(host: string, port: number, onCommand: (args: string[]) => boolean | void): Promise<RedisMonitor> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    let pending = "";
    let ok = false;
    const monitor: RedisMonitor = { stop: () => socket.destroy() };
    socket.setEncoding("latin1");
    socket.on("connect", () => socket.write("MONITOR\r\n"));
    socket.on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\r\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!ok) {
          if (line !== "+OK") {
            socket.destroy();
            return reject(new Error(`MONITOR answered ${line}`));
          }
          ok = true;
          resolve(monitor);
          continue;
        }
        if (onCommand(monitorArgs(line)) === true) return socket.destroy();
      }
    });
    // After OK the promise is settled: a later error only ends the monitoring.
    socket.on("error", reject);
  });
}

/** The arguments of a MONITOR line: `+<time> [<db> <client>] "arg" "arg" ...`, each quoted as Redis quotes them (\\, \", \n, \r, \t, \a, \b, \xHH). */
export function monitorArgs(line: string): string[] {
  const args: string[] = [];
  let i = line.indexOf("] ");
  if (i < 0) return args;
  i += 2;
  const escapes: Record<string, string> = { n: "\n", r: "\r", t: "\t", a: "\x07", b: "\b", '"': '"', "\\": "\\" };
  while (i < line.length) {
    if (line[i] !== '"') {
      i++;
      continue;
    }
    let arg = "";
    i++;
    while (i < line.length && line[i] !== '"') {
      const c = line[i] as string;
      if (c !== "\\") {
        arg += c;
        i++;
      } else if (line[i + 1] === "x") {
        arg += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16));
        i += 4;
      } else {
        arg += escapes[line[i + 1] as string] ?? (line[i + 1] as string);
        i += 2;
      }
    }
    args.push(arg);
    i++;
  }
  return args;
}
