import { constants } from "node:fs";
import { open, realpath, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { frameFileName } from "../core/frames.js";
import type { StoredEntry } from "./store.js";

export interface OpenFrame {
  handle: FileHandle;
  size: number;
  mtimeMs: number;
}

/**
 * Open frame `index` (1-based) of a complete entry for reading, or undefined when
 * it is not there. The file's real path must be exactly `<store>/<entry>/<frame>`:
 * a symlinked entry or frame leading anywhere else is refused, even inside the store.
 */
export async function openFrame(storeDir: string, entry: StoredEntry, index: number): Promise<OpenFrame | undefined> {
  if (!Number.isSafeInteger(index) || index < 1 || index > entry.frames) return undefined;
  const name = frameFileName(index, entry.format);
  try {
    const [real, realStore] = await Promise.all([realpath(join(storeDir, entry.name, name)), realpath(storeDir)]);
    if (real !== join(realStore, entry.name, name)) return undefined;
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      return undefined;
    }
    return { handle, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}
