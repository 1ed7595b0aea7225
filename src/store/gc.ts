import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { SENTINEL } from "../core/frames.js";
import { DIGEST_MEMO_DIR, pruneDigestMemo } from "./digest-memo.js";
import { breakLock } from "./lock.js";
import { HOUR_MS, isAbandoned, isStray, lockedEntries, readInventory, type EntryInfo } from "./inventory.js";
import { sweepKeptFrames } from "./kept-frames.js";
import { removeEntry } from "./remove.js";
import { collectDownloads, type DownloadGcStats } from "./downloads/upkeep.js";
import { storeIo } from "./fs-errors.js";

export interface GcOptions {
  /** Evict least recently used entries until the store holds at most this many bytes. */
  maxSize?: number;
  /** Also evict entries not used for this long. */
  maxAgeMs?: number;
  /** Report what would go, remove nothing. */
  dryRun?: boolean;
  /** Entries the caller is using (a dev server's open pages): never evicted. */
  inUse?: ReadonlySet<string>;
  now?: number;
}

export interface GcStats {
  evicted: number;
  bytesFreed: number;
  partialsRemoved: number;
  locksRemoved: number;
  /** Entries left, and their bytes. */
  kept: number;
  bytesKept: number;
  /** Entries over budget or age that were spared: used in the last hour, or locked by a live process. */
  spared: number;
  digestsPruned: number;
  evictedEntries: string[];
  /** Remote sources' downloads, under the same budget: what entries leave of it. */
  downloads: DownloadGcStats;
}

/** Digest memo records unused this long are dropped; a record is ~150 bytes, so this is only hygiene. */
const DIGEST_MEMO_MAX_AGE_MS = 30 * 24 * HOUR_MS;

/**
 * Bring the store under budget: least recently used entries first (sentinel mtime is
 * the clock, touched on every hit), never one used in the last hour or locked by a
 * running process, since a build may be linking its frames right now. Also removes
 * leftovers of dead writers and stale locks.
 */
export function collectGarbage(storeDir: string, options: GcOptions = {}): Promise<GcStats> {
  return storeIo(`collecting garbage in ${storeDir}`, storeDir, () => collect(storeDir, options));
}

async function collect(storeDir: string, options: GcOptions): Promise<GcStats> {
  const now = options.now ?? Date.now();
  const dryRun = options.dryRun ?? false;
  const inventory = await readInventory(storeDir, now);
  const stats: GcStats = {
    evicted: 0, bytesFreed: 0, partialsRemoved: 0, locksRemoved: 0, kept: 0, bytesKept: 0, spared: 0, digestsPruned: 0, evictedEntries: [],
    downloads: { evicted: 0, bytesFreed: 0, kept: 0, bytesKept: 0, partialsRemoved: 0, locksRemoved: 0, spared: 0, evictedDownloads: [] },
  };
  if (!inventory.exists) return stats;

  for (const side of inventory.sides) {
    if (!isStray(side, inventory, now)) continue;
    // maxRetries: a killed writer's orphaned ffmpeg may still be adding files.
    if (!dryRun && !(await rm(side.path, { recursive: true, force: true, maxRetries: 3 }).then(() => true, () => false))) continue;
    stats.partialsRemoved++;
  }
  stats.partialsRemoved += await sweepKeptFrames(storeDir, now, dryRun);
  for (const lock of inventory.locks) {
    if (lock.state.kind !== "stale") continue;
    if (!dryRun) await breakLock(lock.path, lock.state.owner);
    stats.locksRemoved++;
  }

  const locked = lockedEntries(inventory);
  const complete: EntryInfo[] = [];
  for (const entry of inventory.entries) {
    if (entry.kind !== "incomplete") complete.push(entry);
    else if (isAbandoned(entry, inventory, now)) {
      if (!dryRun) await removeEntry(storeDir, entry.name);
      stats.partialsRemoved++;
    }
  }
  let total = complete.reduce((sum, e) => sum + e.bytes, 0);
  for (const entry of complete.sort((a, b) => a.lastUsed - b.lastUsed)) {
    const tooOld = options.maxAgeMs !== undefined && now - entry.lastUsed > options.maxAgeMs;
    const overBudget = options.maxSize !== undefined && total > options.maxSize;
    if (!tooOld && !overBudget) continue;
    // Read the clock again: a build may have hit the entry since the inventory was taken.
    const lastUsed = await stat(join(entry.dir, SENTINEL)).then((st) => st.mtimeMs, () => entry.lastUsed);
    if (now - lastUsed < HOUR_MS || locked.has(entry.name) || options.inUse?.has(entry.name)) {
      stats.spared++;
      continue;
    }
    if (!dryRun && !(await removeEntry(storeDir, entry.name))) continue;
    total -= entry.bytes;
    stats.evicted++;
    stats.bytesFreed += entry.bytes;
    stats.evictedEntries.push(entry.name);
  }
  stats.kept = complete.length - stats.evicted;
  stats.bytesKept = total;
  const budget = options.maxSize === undefined ? undefined : Math.max(0, options.maxSize - total);
  stats.downloads = await collectDownloads(storeDir, { budget, maxAgeMs: options.maxAgeMs, dryRun, now });
  stats.digestsPruned = await pruneDigestMemo(storeDir, DIGEST_MEMO_MAX_AGE_MS, now, dryRun);
  return stats;
}

export interface CleanStats {
  removed: number;
  bytesFreed: number;
  partialsRemoved: number;
  locksRemoved: number;
  /** Entries left because a running process holds their lock. */
  skipped: number;
}

/**
 * Empty the store: every entry, leftover, stale lock and the digest memo. Only what a
 * running process is writing right now (a live lock and its partial) stays.
 */
export function cleanStore(storeDir: string, now = Date.now()): Promise<CleanStats> {
  return storeIo(`cleaning ${storeDir}`, storeDir, () => clean(storeDir, now));
}

async function clean(storeDir: string, now: number): Promise<CleanStats> {
  const inventory = await readInventory(storeDir, now);
  const stats: CleanStats = { removed: 0, bytesFreed: 0, partialsRemoved: 0, locksRemoved: 0, skipped: 0 };
  if (!inventory.exists) return stats;
  const locked = lockedEntries(inventory);
  for (const entry of inventory.entries) {
    if (locked.has(entry.name)) {
      stats.skipped++;
      continue;
    }
    if (!(await removeEntry(storeDir, entry.name))) continue;
    if (entry.kind === "incomplete") stats.partialsRemoved++;
    else {
      stats.removed++;
      stats.bytesFreed += entry.bytes;
    }
  }
  for (const side of inventory.sides) {
    if (locked.has(side.entry) && !isStray(side, inventory, now)) continue;
    await rm(side.path, { recursive: true, force: true });
    stats.partialsRemoved++;
  }
  stats.partialsRemoved += await sweepKeptFrames(storeDir, now, false);
  for (const lock of inventory.locks) {
    if (lock.state.kind !== "stale") continue;
    await breakLock(lock.path, lock.state.owner);
    stats.locksRemoved++;
  }
  await rm(join(storeDir, DIGEST_MEMO_DIR), { recursive: true, force: true });
  // Downloads go too, unless one is being written right now.
  const downloads = await collectDownloads(storeDir, { budget: 0, dryRun: false, now, spareRecent: false });
  stats.partialsRemoved += downloads.partialsRemoved;
  stats.skipped += downloads.spared;
  return stats;
}
