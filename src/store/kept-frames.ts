import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, utimesSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { HOUR_MS } from "./inventory.js";
import { processAlive } from "./lock.js";

/** Under the store: frames of an output folder, kept there while Vite empties that folder. */
export const KEPT_DIR = ".kept";

/**
 * Move an output's frames folder into the store before the bundler empties the output, so that
 * a rebuild links again only what changed: Vite's emptying of 1000 entries' folders took about
 * 250 ms, their placing 100–380 ms. Undefined when there is nothing to keep, or the store is on
 * another file system (a rename cannot cross it); then the build places every frame as before.
 */
export function keepFrames(framesRoot: string, storeDir: string): string | undefined {
  if (!existsSync(framesRoot)) return undefined;
  const kept = join(storeDir, KEPT_DIR, `${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    mkdirSync(dirname(kept), { recursive: true });
    renameSync(framesRoot, kept);
  } catch {
    return undefined;
  }
  // A rename keeps the folder's time; sweepKeptFrames counts from now.
  utimesSync(kept, new Date(), new Date());
  return kept;
}

/**
 * Put kept frames back at `framesRoot`, less the entries this build does not use, as though the
 * folder had been emptied; the caller checks each remaining entry's frames before using them.
 * Something else in the folder's place (the public folder's copy) wins: the kept frames stay
 * where they are, for dropFrames. False when nothing was returned.
 */
export function returnFrames(kept: string, framesRoot: string, used: ReadonlySet<string>): boolean {
  if (existsSync(framesRoot)) return false;
  try {
    mkdirSync(dirname(framesRoot), { recursive: true });
    renameSync(kept, framesRoot);
  } catch {
    return false;
  }
  for (const name of readdirSync(framesRoot)) {
    if (!used.has(name)) rmSync(join(framesRoot, name), { recursive: true, force: true });
  }
  return true;
}

/** Remove kept frames that were not returned (a build that failed before writing); none is a no-op. */
export function dropFrames(kept: string): Promise<void> {
  return rm(kept, { recursive: true, force: true, maxRetries: 3 });
}

/** Kept frames whose build is gone: its process died, or it held them for more than an hour. */
export async function sweepKeptFrames(storeDir: string, now: number, dryRun: boolean): Promise<number> {
  const dir = join(storeDir, KEPT_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    const mtimeMs = (await stat(join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0;
    if (Number.isInteger(pid) && processAlive(pid) && now - mtimeMs < HOUR_MS) continue;
    if (!dryRun) await dropFrames(join(dir, name));
    removed++;
  }
  return removed;
}
