import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { KnownEntry } from "../core/explain.js";
import { frameIndex, SENTINEL } from "../core/frames.js";
import { ENTRY_NAME_PATTERN, type FrameFormat } from "../core/key.js";
import { lockState, processAlive, STALE_LOCK_MS, type LockState } from "./lock.js";
import { readSentinel, type Sentinel } from "./sentinel.js";

/** Partials, lock temporaries and moved-aside entries all start with the entry name and a dot. */
const SIDE_FILE = /^(hfcache-v2-[0-9a-f]{16})\.(.+)$/;
/** Writers put their pid in side-file names: `.partial-<pid>-…`, `.lock.<pid>-…`. */
const SIDE_PID = /^(?:partial-|lock\.)(\d+)-/;
export const HOUR_MS = 3_600_000;

export interface EntryInfo {
  name: string;
  dir: string;
  /** `entry`: our JSON sentinel; `legacy`: an empty HyperFrames v2 sentinel; `incomplete`: none yet; `bad`: unreadable. */
  kind: "entry" | "legacy" | "incomplete" | "bad";
  sentinel?: Sentinel;
  reason?: string;
  frames: number;
  bytes: number;
  format?: FrameFormat;
  /** The LRU clock: the sentinel's mtime (the folder's when there is none). */
  lastUsed: number;
}

export interface SideInfo {
  name: string;
  path: string;
  entry: string;
  mtimeMs: number;
  /** Writer pid from the name, when it has one. */
  pid?: number;
}

export interface LockInfo {
  name: string;
  path: string;
  entry: string;
  state: LockState;
}

export interface Inventory {
  dir: string;
  exists: boolean;
  entries: EntryInfo[];
  /** Partial directories and other leftovers of writers (`<entry>.<anything>` except `.lock`). */
  sides: SideInfo[];
  locks: LockInfo[];
}

/** Everything in a store, read without changing it (no sentinel is touched). */
export async function readInventory(storeDir: string, now = Date.now(), staleMs = STALE_LOCK_MS): Promise<Inventory> {
  let names: string[];
  try {
    names = await readdir(storeDir);
  } catch {
    return { dir: storeDir, exists: false, entries: [], sides: [], locks: [] };
  }
  const entries: EntryInfo[] = [];
  const sides: SideInfo[] = [];
  const locks: LockInfo[] = [];
  for (const name of names.sort()) {
    const path = join(storeDir, name);
    if (ENTRY_NAME_PATTERN.test(name)) {
      const info = await readEntry(path, name);
      if (info) entries.push(info);
      continue;
    }
    const side = SIDE_FILE.exec(name);
    if (!side) continue;
    if (side[2] === "lock") {
      locks.push({ name, path, entry: side[1]!, state: await lockState(path, now, staleMs) });
      continue;
    }
    const st = await stat(path).catch(() => undefined);
    if (!st) continue;
    const pid = SIDE_PID.exec(side[2]!)?.[1];
    sides.push({ name, path, entry: side[1]!, mtimeMs: st.mtimeMs, pid: pid === undefined ? undefined : Number(pid) });
  }
  return { dir: storeDir, exists: true, entries, sides, locks };
}

async function readEntry(dir: string, name: string): Promise<EntryInfo | undefined> {
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat) return undefined;
  // What a half-deleted or hand-edited cache leaves: the name taken by a file, which blocks publishing.
  if (!dirStat.isDirectory()) return { name, dir, kind: "bad", reason: "a file holds the entry's name", frames: 0, bytes: 0, lastUsed: dirStat.mtimeMs };
  const sentinelStat = await stat(join(dir, SENTINEL)).catch(() => undefined);
  const lastUsed = sentinelStat?.mtimeMs ?? dirStat.mtimeMs;
  const read = await readSentinel(dir);
  if (read.kind === "json") {
    const s = read.sentinel;
    return { name, dir, kind: "entry", sentinel: s, frames: s.frames, bytes: s.bytes, format: s.format, lastUsed };
  }
  const files = await frameFiles(dir);
  const base = { name, dir, frames: files.count, bytes: files.bytes, format: files.format, lastUsed };
  if (read.kind === "legacy") return { ...base, kind: "legacy" };
  if (read.kind === "none") return { ...base, kind: "incomplete", reason: "no sentinel: a writer is still at work, or one crashed" };
  return { ...base, kind: "bad", reason: read.reason };
}

/** Frame files of a folder without a usable sentinel: count, highest index, bytes, format. */
export async function frameFiles(dir: string): Promise<{ count: number; last: number; bytes: number; empty: number; format?: FrameFormat; formats: number }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let count = 0;
  let empty = 0;
  let last = 0;
  let bytes = 0;
  const formats = new Set<FrameFormat>();
  for (const name of names) {
    const index = frameIndex(name);
    if (index === undefined) continue;
    count++;
    last = Math.max(last, index);
    formats.add(name.endsWith(".png") ? "png" : "jpg");
    const size = (await stat(join(dir, name)).catch(() => undefined))?.size ?? 0;
    bytes += size;
    if (size === 0) empty++;
  }
  return { count, last, bytes, empty, format: [...formats][0], formats: formats.size };
}

/** Entries whose lock a running process holds. */
export function lockedEntries(inventory: Inventory): Set<string> {
  return new Set(inventory.locks.filter((l) => l.state.kind === "live").map((l) => l.entry));
}

/**
 * A leftover nobody is writing: older than an hour, or its writer is gone. A writer
 * is known to be at work when the entry's live lock names its pid, or (for code that
 * publishes without a lock) when its pid still runs here and the leftover is recent.
 */
export function isStray(side: SideInfo, inventory: Inventory, now = Date.now()): boolean {
  if (now - side.mtimeMs > HOUR_MS) return true;
  const lock = inventory.locks.find((l) => l.entry === side.entry && l.state.kind === "live")?.state;
  if (lock?.kind === "live" && lock.owner?.pid === side.pid) return false;
  if (side.pid !== undefined && processAlive(side.pid)) return false;
  return side.pid !== undefined || !lock;
}

/** An entry folder without a sentinel is removable once nobody can still be writing it. */
export function isAbandoned(entry: EntryInfo, inventory: Inventory, now = Date.now()): boolean {
  return entry.kind === "incomplete" && now - entry.lastUsed > HOUR_MS && !lockedEntries(inventory).has(entry.name);
}

/** Entries with recorded key inputs, for explaining misses. */
export async function knownEntries(storeDir: string): Promise<KnownEntry[]> {
  const { entries } = await readInventory(storeDir);
  return entries.flatMap((e) =>
    e.sentinel?.input ? [{ name: e.name, input: e.sentinel.input, source: e.sentinel.source, lastUsed: e.lastUsed }] : [],
  );
}
