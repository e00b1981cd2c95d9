import { open, rename, rm } from "node:fs/promises";

/**
 * Writes `data` to `path` through `temp` (write, fsync, rename): the path
 * holds the old content or the new, never a mix. The temporary file is
 * removed on failure and the error rethrown for the caller to name.
 */
export async function writeFileDurably(path: string, data: string | Uint8Array, temp: string): Promise<void> {
  try {
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** Makes renames in `dir` durable. Some platforms cannot open a directory; there the rename is still atomic. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // Not supported for directories here (e.g. Windows): nothing more to do.
  } finally {
    await handle.close();
  }
}
