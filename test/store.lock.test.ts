import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isFramecacheError } from "../src/core/errors.js";
import { DigestMemo } from "../src/store/digest-memo.js";
import { lockPath, lockState, tryLock, waitForLock } from "../src/store/lock.js";
import { tempDir } from "./helpers/media.js";

const CACHE_JS = join(__dirname, "../dist/cache.js");
const ENTRY = "hfcache-v2-0123456789abcdef";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid!;
}

function writeLock(owner: { pid: number; host: string }, ageMs = 0): string {
  const path = lockPath(dir, ENTRY);
  writeFileSync(path, JSON.stringify({ ...owner, started: new Date().toISOString(), token: "t" + owner.pid }));
  const when = new Date(Date.now() - ageMs);
  utimesSync(path, when, when);
  return path;
}

describe("entry locks", () => {
  it("keep a second process out while the first holds the key, and let it in once released", async () => {
    const holder = execa("node", ["--input-type=module", "-e", `
      import { tryLock } from ${JSON.stringify(CACHE_JS)};
      const lock = await tryLock(${JSON.stringify(dir)}, ${JSON.stringify(ENTRY)});
      console.log(lock ? "held" : "busy");
      process.stdin.once("data", async () => { await lock?.release(); process.exit(0); });
    `], { stdin: "pipe" });
    await new Promise<void>((resolve) => holder.stdout!.once("data", (d: Buffer) => (expect(String(d).trim()).toBe("held"), resolve())));
    const owner = JSON.parse(readFileSync(lockPath(dir, ENTRY), "utf8"));
    expect(owner).toMatchObject({ pid: holder.pid, host: hostname() });
    expect(Date.parse(owner.started)).toBeGreaterThan(Date.now() - 60_000);

    expect(await tryLock(dir, ENTRY)).toBeUndefined();
    expect((await lockState(lockPath(dir, ENTRY))).kind).toBe("live");

    // Waiting honours an AbortSignal.
    const controller = new AbortController();
    const aborted = waitForLock(dir, ENTRY, controller.signal).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 100);
    expect(isFramecacheError(await aborted, "FC_CANCELLED")).toBe(true);

    const waited = waitForLock(dir, ENTRY);
    holder.stdin!.write("release\n");
    await holder;
    await waited;
    const mine = await tryLock(dir, ENTRY);
    expect(mine).toBeDefined();
    await mine!.release();
    expect(existsSync(lockPath(dir, ENTRY))).toBe(false);
    // No temporary files are left beside the lock.
    expect(readdirSync(dir)).toEqual([]);
  });

  it("break a lock whose owner died on this host, or whose heartbeat stopped on another", async () => {
    writeLock({ pid: deadPid(), host: hostname() });
    expect(await lockState(lockPath(dir, ENTRY))).toMatchObject({ kind: "stale", reason: expect.stringMatching(/not running/) });
    const taken = await tryLock(dir, ENTRY);
    expect(taken).toBeDefined();
    expect(JSON.parse(readFileSync(lockPath(dir, ENTRY), "utf8")).pid).toBe(process.pid);
    await taken!.release();

    // Another host: liveness cannot be asked, so the heartbeat's age decides.
    writeLock({ pid: 1, host: "elsewhere" }, 5_000);
    expect((await lockState(lockPath(dir, ENTRY))).kind).toBe("live");
    expect(await tryLock(dir, ENTRY)).toBeUndefined();
    writeLock({ pid: 1, host: "elsewhere" }, 120_000);
    expect((await lockState(lockPath(dir, ENTRY))).kind).toBe("stale");
    const again = await tryLock(dir, ENTRY);
    expect(again).toBeDefined();
    await again!.release();
  });

  it("are released only by their owner: a lock broken and retaken by another stays", async () => {
    const mine = (await tryLock(dir, ENTRY))!;
    // Someone judged ours stale and took the key.
    writeLock({ pid: process.pid, host: "elsewhere" });
    await mine.release();
    expect(JSON.parse(readFileSync(lockPath(dir, ENTRY), "utf8")).host).toBe("elsewhere");
  });
});

describe("digest memo", () => {
  const DAY = 86_400_000;
  function source(name: string, text: string, ageMs: number): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    const when = new Date(Date.now() - ageMs);
    utimesSync(file, when, when);
    return file;
  }

  it("hashes an unchanged file once across restarts, and again when it changes", async () => {
    const file = source("clip.mp4", "x".repeat(100_000), DAY);
    const memoDir = join(dir, "cache/.digests");
    const first = new DigestMemo(memoDir);
    const digest = await first.digest(file);
    expect(digest).toBe(createHash("sha256").update("x".repeat(100_000)).digest("hex"));
    expect(first.hashed).toBe(1);

    const restarted = new DigestMemo(memoDir);
    expect(await restarted.digest(file)).toBe(digest);
    expect(restarted.hashed).toBe(0);

    // Same size, new bytes, new mtime: a new record.
    source("clip.mp4", "y".repeat(100_000), DAY / 2);
    const changed = new DigestMemo(memoDir);
    expect(await changed.digest(file)).not.toBe(digest);
    expect(changed.hashed).toBe(1);
    expect(readdirSync(memoDir)).toHaveLength(2);
  });

  it("does not remember a file modified just now, whose mtime a same-second write could share", async () => {
    const file = source("fresh.mp4", "z", 0);
    const memoDir = join(dir, "cache/.digests");
    await new DigestMemo(memoDir).digest(file);
    const again = new DigestMemo(memoDir);
    await again.digest(file);
    expect(again.hashed).toBe(1);
    expect(existsSync(memoDir)).toBe(false);
  });
});
