import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, relative } from "node:path";
import { HOUR_MS } from "./inventory.js";
import { processAlive } from "./lock.js";

/** Under the store: frames of an output folder, kept there while the bundler may empty that folder. */
const KEPT_DIR = ".kept";
/** Left in the output while its frames are kept: gone by the time they return if the output was emptied. */
const MARKER = ".framecache-frames-kept";

/** The kept frames of one output folder, and where they came from. */
export interface KeptFrames {
  path: string;
  outDir: string;
  framesRoot: string;
}

/** Which host kept a folder: a pid means something only on its own host. */
const HOST = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);

/**
 * Move an output's frames folder into the store before the bundler may empty the output, so that a
 * rebuild links again only what changed (Vite's emptying of 1000 entries' folders took about 250 ms,
 * placing them again 100–380 ms). Undefined when there is nothing to keep (no folder, or a link to
 * one) or the store is on another file system, which a rename cannot cross.
 */
export function keepFrames(outDir: string, framesRoot: string, storeDir: string): KeptFrames | undefined {
  const holder = join(storeDir, KEPT_DIR, `${HOST}-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    // A link on the way (frames, or a folder above it) would take someone else's folder out of it.
    if (!lstatSync(framesRoot, { throwIfNoEntry: false })?.isDirectory()) return undefined;
    if (realpathSync(framesRoot) !== join(realpathSync(outDir), relative(outDir, framesRoot))) return undefined;
    mkdirSync(holder, { recursive: true });
    renameSync(framesRoot, join(holder, "frames"));
  } catch {
    rmSync(holder, { recursive: true, force: true });
    return undefined;
  }
  try {
    writeFileSync(join(outDir, MARKER), "framecache: this build's frames are kept in its store until it writes its bundle\n");
  } catch {
    // Without the marker an emptied output cannot be told from one left alone: put them back now.
    try {
      renameSync(join(holder, "frames"), framesRoot);
    } catch {
      // Placed again by the build; the rest is gc's.
    }
    return undefined;
  }
  return { path: holder, outDir, framesRoot };
}

/**
 * Put kept frames back. Where the output was emptied meanwhile (the marker is gone) only the entries
 * in `used` return, as though the folder had been emptied and those placed again (none without
 * `used`: a build that stopped before writing); otherwise all of them, as nothing was removed.
 * Whatever holds a name already (the public folder's copy) wins. The caller checks each entry's
 * frames before using them. Never throws: what cannot be put back is placed again by the caller,
 * and what is left in the store goes to its gc.
 */
export function returnFrames(kept: KeptFrames, used?: ReadonlySet<string>): void {
  const marker = join(kept.outDir, MARKER);
  const emptied = !existsSync(marker);
  const returns = (name: string) => !emptied || used?.has(name) === true;
  const frames = join(kept.path, "frames");
  try {
    rmSync(marker, { force: true });
    if (emptied && !used) return;
    if (!existsSync(kept.framesRoot)) {
      mkdirSync(dirname(kept.framesRoot), { recursive: true });
      renameSync(frames, kept.framesRoot);
      for (const name of readdirSync(kept.framesRoot)) if (!returns(name)) rmSync(join(kept.framesRoot, name), { recursive: true, force: true });
      return;
    }
    for (const name of readdirSync(frames)) {
      if (returns(name) && !existsSync(join(kept.framesRoot, name))) renameSync(join(frames, name), join(kept.framesRoot, name));
    }
  } catch {
    // Left to the caller's placing.
  } finally {
    try {
      rmSync(kept.path, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Left to gc.
    }
  }
}

/** Remove a marker that a build killed while it kept its frames left behind. */
export function dropMarker(outDir: string): void {
  rmSync(join(outDir, MARKER), { force: true });
}

/** Kept frames whose build is gone: its process died, or it held them for more than an hour. */
export async function sweepKeptFrames(storeDir: string, now: number, dryRun: boolean): Promise<number> {
  const dir = join(storeDir, KEPT_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const [host, pid] = name.split("-");
    const mtimeMs = (await stat(join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0;
    const running = host !== HOST || processAlive(Number(pid));
    if (running && now - mtimeMs < HOUR_MS) continue;
    if (!dryRun) await rm(join(dir, name), { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    removed++;
  }
  return removed;
}
