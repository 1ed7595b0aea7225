import { randomBytes } from "node:crypto";
import { statSync, utimesSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { frameFileName, frameIndex, SENTINEL } from "../core/frames.js";
import { fpsValue } from "../core/time.js";
import type { FrameFormat } from "../core/key.js";
import type { Task } from "../core/plan.js";
import type { FilesDigest } from "../media/digest.js";
import { storeError, storeIo } from "./fs-errors.js";
import { digestFrames, exists, readSentinelSync, type Sentinel } from "./sentinel.js";

export interface StoredEntry {
  name: string;
  dir: string;
  frames: number;
  bytes: number;
  format: FrameFormat;
}

const CACHEDIR_TAG =
  "Signature: 8a477f597d28d172789f06886806bc55\n" +
  "# This file is a cache directory tag created by vite-plugin-framecache.\n" +
  "# For information about cache directory tags, see https://bford.info/cachedir/\n";

/** Create the store root with its CACHEDIR.TAG; throws when the directory cannot be written. */
export async function openStore(dir: string): Promise<void> {
  await storeIo(`opening the cache ${dir}`, dir, async () => {
    await mkdir(dir, { recursive: true });
    const tag = join(dir, "CACHEDIR.TAG");
    if (!(await exists(tag))) await writeFile(tag, CACHEDIR_TAG);
    // An existing store can still refuse writes (read-only mount or restore): find out now, not mid-extraction.
    await probeWrite(dir);
  });
}

/** Create and delete a file in `dir` for real: permissions, read-only mounts and full disks all show. */
export async function probeWrite(dir: string): Promise<void> {
  const probe = join(dir, `.write-test-${process.pid}-${randomBytes(4).toString("hex")}`);
  await writeFile(probe, "");
  await rm(probe, { force: true });
}

/**
 * A complete entry for this task, or undefined. The full key in the sentinel must
 * match (a 64-bit name collision is a miss, never wrong frames), and the first and
 * last frames must be there and not empty (what a power cut leaves of files not yet
 * flushed); a hit touches the sentinel, which is the LRU clock. A hit is a read, two stats and
 * a touch of files in the page cache, done synchronously: a warm run does this for every video,
 * and through fs/promises each step cost a trip through libuv's pool and its garbage.
 */
export function lookupEntry(storeDir: string, task: Task): Promise<StoredEntry | undefined> {
  const dir = join(storeDir, task.entry);
  return storeIo(`looking up ${task.entry}`, dir, () => lookupAt(dir, task));
}

async function lookupAt(dir: string, task: Task): Promise<StoredEntry | undefined> {
  const read = readSentinelSync(dir);
  let entry: StoredEntry | undefined;
  if (read.kind === "json") {
    const s = read.sentinel;
    if (s.key !== task.key || s.format !== task.format) return undefined;
    if (!nonEmptySync(join(dir, frameFileName(1, s.format))) || !nonEmptySync(join(dir, frameFileName(s.frames, s.format)))) return undefined;
    entry = { name: task.entry, dir, frames: s.frames, bytes: s.bytes, format: s.format };
  } else if (read.kind === "legacy") {
    entry = await legacyEntry(dir, task);
  }
  if (entry) touchSync(join(dir, SENTINEL));
  return entry;
}

/** An engine-written entry: frames plus an empty sentinel; its frames must run 1..n without a gap, none empty. */
async function legacyEntry(dir: string, task: Task): Promise<StoredEntry | undefined> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(`.${task.format}`) && frameIndex(name) !== undefined);
  const last = names.reduce((max, name) => Math.max(max, frameIndex(name) ?? 0), 0);
  if (names.length === 0 || last !== names.length) return undefined;
  const sizes = await Promise.all(names.map((name) => stat(join(dir, name)).then((s) => s.size)));
  if (sizes.includes(0)) return undefined;
  return { name: task.entry, dir, frames: names.length, bytes: sizes.reduce((a, b) => a + b, 0), format: task.format };
}

/** What a producer reports: frames ffmpeg really wrote, and the frames' digest if it hashed them as they came. */
export type Produced = number | void | { written: number; digest: FilesDigest };

/**
 * Produce an entry atomically: `produce` writes frames into a private partial
 * directory, the sentinel is written last, and one rename publishes it. If another
 * writer published first, its entry is adopted and ours discarded. `produce` may return
 * how many frames ffmpeg really wrote; the sentinel records it for later reuse.
 */
export async function publishEntry(storeDir: string, task: Task, produce: (partialDir: string) => Promise<Produced>): Promise<StoredEntry> {
  const partial = partialDir(storeDir, task.entry);
  try {
    await mkdir(partial, { recursive: true });
    const produced = await produce(partial);
    const written = typeof produced === "object" ? produced.written : produced;
    const { digest, bytes } = typeof produced === "object" ? produced.digest : await digestFrames(partial, task.frameCount, task.format);
    const sentinel: Sentinel = {
      key: task.key,
      input: task.input,
      frames: task.frameCount,
      bytes,
      digest,
      format: task.format,
      fps: fpsValue(task.fps),
      created: new Date().toISOString(),
      source: task.source,
    };
    if (typeof written === "number") sentinel.written = written;
    await writeFile(join(partial, SENTINEL), JSON.stringify(sentinel, null, 2) + "\n");
    const final = join(storeDir, task.entry);
    if (await renameIntoPlace(partial, final, storeDir, task)) {
      return { name: task.entry, dir: final, frames: task.frameCount, bytes, format: task.format };
    }
    const winner = await lookupEntry(storeDir, task);
    if (!winner) throw new Error(`could not publish ${task.entry}`);
    await rm(partial, { recursive: true, force: true });
    return winner;
  } catch (error) {
    // On a read-only or broken store the cleanup fails too; what it leaves is a partial, for GC.
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    // Our own writes (sentinel, held frames, the rename), not ffmpeg's.
    throw storeError(`publishing ${task.entry}`, partial, error);
  }
}

/** False when a valid entry already holds the name (another writer won). */
async function renameIntoPlace(partial: string, final: string, storeDir: string, task: Task): Promise<boolean> {
  try {
    await rename(partial, final);
    return true;
  } catch (error) {
    if (!isCode(error, "ENOTEMPTY", "EEXIST", "EPERM")) throw error;
  }
  if (await lookupEntry(storeDir, task)) return false;
  // What holds the name is not a usable entry (an engine crash, a stale write):
  // move it aside for GC rather than deleting under a possible reader.
  await rename(final, partialDir(storeDir, task.entry) + "-stale").catch(() => undefined);
  await rename(partial, final);
  return true;
}

export function partialDir(storeDir: string, entry: string): string {
  return join(storeDir, `${entry}.partial-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Mark a complete entry used now (the LRU clock); false when it is gone (gc, `framecache clean`). */
export async function touchEntry(dir: string): Promise<boolean> {
  return touch(join(dir, SENTINEL));
}

async function touch(file: string): Promise<boolean> {
  const now = new Date();
  return utimes(file, now, now).then(
    () => true,
    () => false,
  );
}

function nonEmptySync(file: string): boolean {
  try {
    return (statSync(file, { throwIfNoEntry: false })?.size ?? 0) > 0;
  } catch {
    return false; // not a file we can read (EACCES, ENOTDIR): no entry
  }
}

function touchSync(file: string): boolean {
  try {
    const now = new Date();
    utimesSync(file, now, now);
    return true;
  } catch {
    return false;
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException)?.code ?? "");
}
