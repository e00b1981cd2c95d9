/** Helpers shared by the source tests: a temp folder per suite, draining a source, catching its error. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { SourceError } from "../../src/errors.js";
import type { RowSource } from "../../src/sources/rowSource.js";

/** A temp folder removed after the suite; `file` writes a file in it and returns its path. */
export function tempFolder(prefix: string): { dir: string; file: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    file(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}

/** All rows of a source, and the size of each batch it yielded. */
export async function collect(source: RowSource): Promise<{ rows: unknown[]; sizes: number[] }> {
  const rows: unknown[] = [];
  const sizes: number[] = [];
  for await (const batch of source.batches()) {
    sizes.push(batch.length);
    rows.push(...batch);
  }
  return { rows, sizes };
}

/** The SourceError a source throws while being drained (fails the test if none). */
export async function failure(source: RowSource): Promise<SourceError> {
  try {
    await collect(source);
  } catch (err) {
    if (err instanceof SourceError) return err;
    throw err;
  }
  throw new Error("expected a SourceError");
}
