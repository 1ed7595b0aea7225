import { randomBytes } from "node:crypto";
import { link, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FramecacheError } from "../core/errors.js";
import { storeError } from "./fs-errors.js";

/** Who holds a key: enough for another process to tell whether the holder still runs. */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** Tells two owners with the same pid apart, so nobody releases a lock it lost. */
  token: string;
}

export interface HeldLock {
  path: string;
  owner: LockOwner;
  release(): Promise<void>;
}

export type LockState = { kind: "free" } | { kind: "live"; owner?: LockOwner } | { kind: "stale"; owner?: LockOwner; reason: string };

/** The owner refreshes the lock's mtime this often, so a lock on another host can be judged by age. */
const HEARTBEAT_MS = 10_000;
/** A lock whose heartbeat stopped this long ago is stale, whoever holds it. */
export const STALE_LOCK_MS = 60_000;

export function lockPath(storeDir: string, entry: string): string {
  return join(storeDir, `${entry}.lock`);
}

/**
 * Take the lock for one entry, or return undefined when a live process holds it.
 * A stale lock (owner dead on this host, or heartbeat stopped) is broken first.
 * The lock is created whole: written under a private name, then hard-linked into
 * place, which fails if the name exists, so a reader never sees a half-written owner.
 */
export async function tryLock(storeDir: string, entry: string, staleMs = STALE_LOCK_MS): Promise<HeldLock | undefined> {
  const path = lockPath(storeDir, entry);
  const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), token: randomBytes(8).toString("hex") };
  const text = JSON.stringify(owner) + "\n";
  const temp = `${path}.${process.pid}-${owner.token}`;
  try {
    // On a full disk this is the run's first write: it fails here, leaving an empty file behind.
    await writeFile(temp, text);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(temp, path);
        return heldLock(path, owner);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const state = await lockState(path, Date.now(), staleMs);
      if (state.kind === "live") return undefined;
      if (state.kind === "stale") await breakLock(path, state.owner);
    }
    return undefined;
  } catch (error) {
    throw storeError(`locking ${entry}`, path, error);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Wait until the entry's lock is free or stale, polling with backoff. The caller
 * then looks the entry up (the holder has usually published it) or takes the lock.
 */
export async function waitForLock(storeDir: string, entry: string, signal?: AbortSignal, staleMs = STALE_LOCK_MS): Promise<void> {
  const path = lockPath(storeDir, entry);
  let delay = 25;
  for (;;) {
    if ((await lockState(path, Date.now(), staleMs)).kind !== "live") return;
    try {
      await sleep(delay, undefined, { signal });
    } catch {
      throw new FramecacheError("FC_CANCELLED", `waiting for another process to extract ${entry} was cancelled`);
    }
    delay = Math.min(1000, Math.round(delay * 1.5));
  }
}

/** Whether a lock file is held by a running process. */
export async function lockState(path: string, now = Date.now(), staleMs = STALE_LOCK_MS): Promise<LockState> {
  let mtimeMs: number;
  let owner: LockOwner | undefined;
  try {
    [mtimeMs, owner] = await Promise.all([stat(path).then((s) => s.mtimeMs), readOwner(path)]);
  } catch {
    return { kind: "free" };
  }
  if (owner && owner.host === hostname() && !processAlive(owner.pid)) {
    return { kind: "stale", owner, reason: `owner pid ${owner.pid} is not running` };
  }
  if (now - mtimeMs > staleMs) return { kind: "stale", owner, reason: `no heartbeat for ${Math.round((now - mtimeMs) / 1000)}s` };
  return { kind: "live", owner };
}

export async function readOwner(path: string): Promise<LockOwner | undefined> {
  const text = await readFile(path, "utf8");
  try {
    const owner = JSON.parse(text) as LockOwner;
    return Number.isInteger(owner.pid) && typeof owner.host === "string" ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Signal 0 tests for existence; EPERM means it exists under another user. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove a stale lock without removing a fresh one that replaced it meanwhile:
 * move it aside atomically, and if what was moved is not the lock judged stale,
 * put it back.
 */
export async function breakLock(path: string, judged: LockOwner | undefined): Promise<void> {
  const aside = `${path}.${process.pid}-${randomBytes(4).toString("hex")}-stale`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = await readOwner(aside).catch(() => undefined);
  if (judged && moved?.token !== judged.token) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

function heldLock(path: string, owner: LockOwner): HeldLock {
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    path,
    owner,
    async release() {
      clearInterval(heartbeat);
      // Only our own lock: if ours was broken as stale, the file is someone else's now.
      const current = await readOwner(path).catch(() => undefined);
      if (current?.token === owner.token) await unlink(path).catch(() => undefined);
    },
  };
}
