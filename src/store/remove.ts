import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { partialDir } from "./store.js";

/**
 * Remove an entry so that no reader ever sees it half deleted: one rename takes it
 * out of sight (it becomes a partial, which GC removes if this process dies now),
 * then the files go. False when it was already gone.
 */
export async function removeEntry(storeDir: string, name: string): Promise<boolean> {
  const aside = partialDir(storeDir, name);
  try {
    await rename(join(storeDir, name), aside);
  } catch {
    return false;
  }
  await rm(aside, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined); // a leftover partial now, for GC
  return true;
}

