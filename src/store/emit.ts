import { constants } from "node:fs";
import { copyFile, link, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import pLimit from "p-limit";
import { frameFileName } from "../core/frames.js";
import type { StoredEntry } from "./store.js";

const FILE_OPS_AT_ONCE = 16;

/**
 * Place an entry's frames in `destDir`: a hard link where the filesystem allows,
 * else a copy-on-write clone, else a copy. One file at a time per slot, so memory
 * does not grow with the frame count.
 */
export async function linkEntry(entry: StoredEntry, destDir: string): Promise<void> {
  await mkdir(destDir, { recursive: true });
  const limit = pLimit(FILE_OPS_AT_ONCE);
  const jobs: Promise<void>[] = [];
  for (let i = 1; i <= entry.frames; i++) {
    const name = frameFileName(i, entry.format);
    jobs.push(limit(() => placeFile(join(entry.dir, name), join(destDir, name))));
  }
  await Promise.all(jobs);
}

async function placeFile(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      await rm(to, { force: true });
      return placeFile(from, to);
    }
  }
  await copyFile(from, to, constants.COPYFILE_FICLONE);
}
