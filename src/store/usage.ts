import { lstat, readdir, statfs } from "node:fs/promises";
import { dirname, join } from "node:path";
import pLimit from "p-limit";
import { SCHEMA_PREFIX } from "../core/key.js";

export interface StoreUsage {
  exists: boolean;
  /** Complete entries (partials and stale directories are counted in bytes only). */
  entries: number;
  /** Every byte under the store, as GC would count it. */
  bytes: number;
}

/** Bytes and entries of a store; a missing directory is an empty store. */
export async function storeUsage(dir: string): Promise<StoreUsage> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return { exists: false, entries: 0, bytes: 0 };
  }
  const entries = names.filter((n) => n.startsWith(SCHEMA_PREFIX) && !n.includes(".")).length;
  const files = await readdir(dir, { recursive: true });
  const limit = pLimit(64);
  const sizes = await Promise.all(files.map((f) => limit(() => lstat(join(dir, f)).then((s) => (s.isFile() ? s.size : 0), () => 0))));
  return { exists: true, entries, bytes: sizes.reduce((a, b) => a + b, 0) };
}

/** Free bytes for an unprivileged writer on the file system that holds `path` (or would). */
export async function freeSpace(path: string): Promise<number> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch (error) {
      if (dirname(p) === p) throw error;
    }
  }
}
