import { rm } from "node:fs/promises";
import { computeKey, entryName } from "../core/key.js";
import { breakLock } from "./lock.js";
import { frameFiles, isAbandoned, isStray, readInventory, type EntryInfo, type Inventory } from "./inventory.js";
import { removeEntry } from "./remove.js";
import { digestFrames } from "./sentinel.js";
import { removeBadDownload, verifyDownloads, type DownloadProblem } from "./downloads/upkeep.js";

export interface VerifyOptions {
  /** Remove bad entries, stray partials and stale locks. */
  fix?: boolean;
  now?: number;
}

export interface VerifyProblem {
  /** Entry, partial or lock file name. */
  name: string;
  step: string;
  reason: string;
  /** True for problems that make an entry unusable; leftovers are reported but harmless. */
  bad: boolean;
  /** On bad entries only: frames or sentinel no longer what the entry vouches for. */
  code?: "FC_STORE_CORRUPT";
  fixed: boolean;
}

export interface VerifyStats {
  entries: number;
  /** Entries that passed every step (legacy ones included). */
  verified: number;
  legacy: number;
  framesChecked: number;
  bytesChecked: number;
  badEntries: number;
  /** Bad entries still in the store after the run (0 after a successful --fix). */
  badRemaining: number;
  strayPartials: number;
  staleLocks: number;
  /** Remote sources' downloads checked against their recorded digests, and the bad ones. */
  downloads: number;
  badDownloads: number;
  removed: { entries: number; partials: number; locks: number; downloads: number };
  problems: VerifyProblem[];
  steps: { name: string; ms: number }[];
}

interface Context {
  storeDir: string;
  inventory: Inventory;
  now: number;
  fix: boolean;
  /** Entries still passing; each step checks these and drops the ones it rejects. */
  passing: EntryInfo[];
  stats: VerifyStats;
  downloadProblems: DownloadProblem[];
}

type Step = (ctx: Context) => Promise<void>;

/**
 * Check a store as a list of named steps, in the manner of cacache's verify: each step
 * looks at what the previous ones passed, so the expensive digest runs only on entries
 * whose sentinel, name and files are already right.
 */
const STEPS: [string, Step][] = [
  ["sentinels", checkSentinels],
  ["keys", checkKeys],
  ["frames", checkFrames],
  ["digests", checkDigests],
  ["partials", checkPartials],
  ["locks", checkLocks],
  ["downloads", checkDownloads],
  ["fix", fixProblems],
];

export async function verifyStore(storeDir: string, options: VerifyOptions = {}): Promise<VerifyStats> {
  const now = options.now ?? Date.now();
  const inventory = await readInventory(storeDir, now);
  const stats: VerifyStats = {
    entries: inventory.entries.filter((e) => e.kind !== "incomplete").length,
    verified: 0, legacy: 0, framesChecked: 0, bytesChecked: 0, badEntries: 0, badRemaining: 0,
    strayPartials: 0, staleLocks: 0, downloads: 0, badDownloads: 0, removed: { entries: 0, partials: 0, locks: 0, downloads: 0 }, problems: [], steps: [],
  };
  const ctx: Context = { storeDir, inventory, now, fix: options.fix ?? false, passing: [...inventory.entries], stats, downloadProblems: [] };
  for (const [name, step] of STEPS) {
    const started = performance.now();
    await step(ctx);
    stats.steps.push({ name, ms: Math.round((performance.now() - started) * 10) / 10 });
  }
  stats.verified = ctx.passing.length;
  stats.legacy = ctx.passing.filter((e) => e.kind === "legacy").length;
  stats.badRemaining = stats.badEntries - stats.removed.entries + stats.badDownloads - stats.removed.downloads;
  return stats;
}

function reject(ctx: Context, entry: EntryInfo, step: string, reason: string): void {
  ctx.stats.problems.push({ name: entry.name, step, reason, bad: true, fixed: false, code: "FC_STORE_CORRUPT" });
  ctx.stats.badEntries++;
}

/** The sentinel parses; folders without one are leftovers of a writer, not entries. */
async function checkSentinels(ctx: Context): Promise<void> {
  ctx.passing = ctx.passing.filter((entry) => {
    if (entry.kind === "bad") reject(ctx, entry, "sentinels", entry.reason ?? "sentinel cannot be read");
    else if (entry.kind === "incomplete") {
      if (isAbandoned(entry, ctx.inventory, ctx.now)) {
        ctx.stats.problems.push({ name: entry.name, step: "sentinels", reason: entry.reason!, bad: false, fixed: false });
        ctx.stats.strayPartials++;
      }
    } else return true;
    return false;
  });
}

/** The folder is named after the sentinel's key, and the key is the hash of the recorded inputs. */
async function checkKeys(ctx: Context): Promise<void> {
  ctx.passing = ctx.passing.filter((entry) => {
    const s = entry.sentinel;
    if (!s) return true;
    if (!/^[0-9a-f]{64}$/.test(s.key) || entryName(s.key) !== entry.name) {
      reject(ctx, entry, "keys", `sentinel key ${s.key.slice(0, 16)}… does not match the folder name`);
      return false;
    }
    if (s.input && computeKey(s.input) !== s.key) {
      reject(ctx, entry, "keys", "sentinel key is not the hash of its recorded inputs");
      return false;
    }
    if (s.format !== "jpg" && s.format !== "png") {
      reject(ctx, entry, "keys", `sentinel format ${JSON.stringify(s.format)} is neither jpg nor png`);
      return false;
    }
    return true;
  });
}

/** Frames 1..n are all there, nothing beyond, none empty, and their sizes add up to the recorded total. */
async function checkFrames(ctx: Context): Promise<void> {
  const passing: EntryInfo[] = [];
  for (const entry of ctx.passing) {
    const files = await frameFiles(entry.dir);
    const s = entry.sentinel;
    let problem: string | undefined;
    if (files.count === 0) problem = "no frame files";
    else if (files.formats > 1) problem = "frames of two formats";
    else if (files.last !== files.count) problem = `frames are not contiguous: ${files.count} files, highest frame ${files.last}`;
    // No JPEG or PNG is empty: a power cut leaves files that were never flushed so.
    else if (files.empty > 0) problem = `${files.empty} of ${files.count} frame files are empty`;
    else if (s && files.format !== s.format) problem = `frames are ${files.format}, sentinel says ${s.format}`;
    else if (s && files.count !== s.frames) problem = `${files.count} frames, sentinel says ${s.frames}`;
    else if (s && files.bytes !== s.bytes) problem = `frames hold ${files.bytes} bytes, sentinel says ${s.bytes}`;
    if (problem) reject(ctx, entry, "frames", problem);
    else passing.push(entry);
  }
  ctx.passing = passing;
}

/** Same size is not same bytes: a digest over every frame finds edits in place. */
async function checkDigests(ctx: Context): Promise<void> {
  const passing: EntryInfo[] = [];
  for (const entry of ctx.passing) {
    const s = entry.sentinel;
    if (!s) {
      passing.push(entry); // an engine-written entry records no digest
      continue;
    }
    const { digest, bytes } = await digestFrames(entry.dir, s.frames, s.format);
    ctx.stats.framesChecked += s.frames;
    ctx.stats.bytesChecked += bytes;
    if (digest !== s.digest) reject(ctx, entry, "digests", "frame bytes differ from the recorded digest (a frame was changed in place)");
    else passing.push(entry);
  }
  ctx.passing = passing;
}

/** Leftovers of writers that are gone. Harmless (never read), but they hold disk space. */
async function checkPartials(ctx: Context): Promise<void> {
  for (const side of ctx.inventory.sides) {
    if (!isStray(side, ctx.inventory, ctx.now)) continue;
    ctx.stats.problems.push({ name: side.name, step: "partials", reason: "left by a writer that is gone", bad: false, fixed: false });
    ctx.stats.strayPartials++;
  }
}

async function checkLocks(ctx: Context): Promise<void> {
  for (const lock of ctx.inventory.locks) {
    if (lock.state.kind !== "stale") continue;
    ctx.stats.problems.push({ name: lock.name, step: "locks", reason: lock.state.reason, bad: false, fixed: false });
    ctx.stats.staleLocks++;
  }
}

/** Each download's bytes against the digest taken as they arrived. */
async function checkDownloads(ctx: Context): Promise<void> {
  const found = await verifyDownloads(ctx.storeDir, ctx.now);
  ctx.stats.downloads = found.checked;
  ctx.stats.bytesChecked += found.bytesChecked;
  ctx.downloadProblems = found.problems;
  for (const p of found.problems) {
    ctx.stats.problems.push({ name: p.name, step: "downloads", reason: p.reason, bad: p.bad, fixed: false });
    if (p.bad) ctx.stats.badDownloads++;
    else ctx.stats.strayPartials++;
  }
}

async function fixProblems(ctx: Context): Promise<void> {
  if (!ctx.fix) return;
  const { inventory, stats } = ctx;
  for (const problem of stats.problems) {
    if (problem.step === "partials") {
      // A writer killed without its ffmpeg may still be adding files; retry, and leave it for GC if that fails.
      const removed = await rm(inventory.sides.find((s) => s.name === problem.name)!.path, { recursive: true, force: true, maxRetries: 3 }).then(() => true, () => false);
      if (!removed) continue;
      stats.removed.partials++;
    } else if (problem.step === "downloads") {
      const found = ctx.downloadProblems.find((p) => p.name === problem.name)!;
      await removeBadDownload(ctx.storeDir, found);
      if (found.bad) stats.removed.downloads++;
      else stats.removed.partials++;
    } else if (problem.step === "locks") {
      const lock = inventory.locks.find((l) => l.name === problem.name)!;
      await breakLock(lock.path, lock.state.kind === "stale" ? lock.state.owner : undefined);
      stats.removed.locks++;
    } else {
      if (!(await removeEntry(ctx.storeDir, problem.name))) continue;
      if (problem.bad) stats.removed.entries++;
      else stats.removed.partials++;
    }
    problem.fixed = true;
  }
}
