import { constants } from "node:fs";
import { copyFile, link, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { frameFileName } from "../core/frames.js";
import type { FrameFormat } from "../core/key.js";
import { storeIo } from "./fs-errors.js";
import type { StoredEntry } from "./store.js";

const FILE_OPS_AT_ONCE = 16;

/**
 * Place an entry's frames in `destDir`: a hard link where the filesystem allows,
 * else a copy-on-write clone, else a copy. Streams with a fixed number of file
 * operations in flight, so memory does not grow with the frame count.
 */
export function linkEntry(entry: StoredEntry, destDir: string): Promise<void> {
  return storeIo(`placing the frames of ${entry.name} in ${destDir}`, entry.dir, async () => {
    await mkdir(destDir, { recursive: true });
    await placeFrames(entry.dir, destDir, entry.format, { first: 1, count: entry.frames }, 0);
  });
}

/** Frames `first`… of `toDir` from frames `first + offset`… of `fromDir`, at most FILE_OPS_AT_ONCE at a time. */
export async function placeFrames(
  fromDir: string,
  toDir: string,
  format: FrameFormat,
  span: { first: number; count: number },
  offset: number,
): Promise<void> {
  let next = span.first;
  const end = span.first + span.count;
  const worker = async () => {
    while (next < end) {
      const i = next++;
      await placeFile(join(fromDir, frameFileName(i + offset, format)), join(toDir, frameFileName(i, format)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILE_OPS_AT_ONCE, span.count) }, worker));
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
    if (code === "ENOENT") throw error;
  }
  await copyFile(from, to, constants.COPYFILE_FICLONE);
}
