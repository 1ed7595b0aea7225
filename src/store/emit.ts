import { constants, linkSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { frameFileName } from "../core/frames.js";
import type { FrameFormat } from "../core/key.js";
import { storeError, storeIo } from "./fs-errors.js";
import type { StoredEntry } from "./store.js";

const FILE_OPS_AT_ONCE = 16;
/** Synchronous links between two turns of the event loop, so a big build still lets signals and timers run. */
const LINKS_PER_TURN = 1024;

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

/**
 * Place each entry's frames in its directory, as linkEntry does. Links are synchronous calls:
 * profiled on 3000 frames of 1000 entries, a `fs/promises` link or mkdir cost a round trip
 * through libuv's pool (0.1 to 0.5 ms each on 2 busy cores), a synchronous one microseconds.
 * From the first frame that cannot be linked (another device, no hard links there), the
 * rest go through linkEntry's copies, several in flight. With `reuse` (an output that may hold
 * a previous build's frames), a folder that holds exactly an entry's frames, each a hard link
 * of the store's, is kept as it is; any other folder in its place is replaced.
 */
export async function linkEntries(placements: Iterable<{ entry: StoredEntry; dir: string }>, reuse = false): Promise<void> {
  let linking = true;
  let linked = 0;
  for (const { entry, dir } of placements) {
    if (reuse) {
      const before = placedBefore(entry, dir);
      if (before === "same") continue;
      if (before === "other") await storeIo(`clearing ${dir} for the frames of ${entry.name}`, dir, async () => rmSync(dir, { recursive: true, force: true }));
    }
    if (!linking) {
      await linkEntry(entry, dir);
      continue;
    }
    const next = linkFramesSync(entry, dir);
    linked += next - 1;
    if (next <= entry.frames) {
      linking = false;
      await storeIo(`placing the frames of ${entry.name} in ${dir}`, entry.dir, () =>
        placeFrames(entry.dir, dir, entry.format, { first: next, count: entry.frames - next + 1 }, 0),
      );
    } else if (linked >= LINKS_PER_TURN) {
      linked = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** What `dir` holds: nothing, or the entry's frames linked from the store and nothing else, or something other. */
function placedBefore(entry: StoredEntry, dir: string): "none" | "same" | "other" {
  try {
    if (readdirSync(dir).length !== entry.frames) return "other";
    for (let i = 1; i <= entry.frames; i++) {
      const name = frameFileName(i, entry.format);
      // As bigints: an NTFS or ReFS file id can exceed 2^53.
      const placed = lstatSync(join(dir, name), { bigint: true, throwIfNoEntry: false });
      const stored = statSync(join(entry.dir, name), { bigint: true, throwIfNoEntry: false });
      if (!placed || !stored || placed.ino !== stored.ino || placed.dev !== stored.dev) return "other";
    }
    return "same";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "none" : "other";
  }
}

/** Hard-link an entry's frames into `destDir` until one cannot be; returns the first frame not placed. */
function linkFramesSync(entry: StoredEntry, destDir: string): number {
  try {
    mkdirSync(destDir, { recursive: true });
    for (let i = 1; i <= entry.frames; i++) {
      const name = frameFileName(i, entry.format);
      if (!linkFileSync(join(entry.dir, name), join(destDir, name))) return i;
    }
    return entry.frames + 1;
  } catch (error) {
    throw storeError(`placing the frames of ${entry.name} in ${destDir}`, entry.dir, error);
  }
}

/** A hard link, replacing a file in its place: false when the file system will not link it (a copy must do). */
function linkFileSync(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      rmSync(to, { force: true });
      return linkFileSync(from, to);
    }
    if (code === "ENOENT") throw error;
    return false;
  }
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
  if (!linkFileSync(from, to)) await copyFile(from, to, constants.COPYFILE_FICLONE);
}
