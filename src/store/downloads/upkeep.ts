import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { digestFile } from "../../media/digest.js";
import { HOUR_MS } from "../inventory.js";
import { breakLock, lockState, processAlive, tryLock } from "../lock.js";
import { downloadsDir, listDownloads, readRecord, recordPath, removeDownload, type DownloadInfo } from "./records.js";

/** A download's files that no record vouches for: partials of writers, and bytes whose record is gone. */
function leftovers(info: DownloadInfo, now: number): DownloadInfo["files"] {
  return info.files.filter((f) => {
    if (f.name === `${info.id}.json` || f.name === `${info.id}.lock` || f.name === info.record?.file) return false;
    const pid = /\.(?:partial-|lock\.)(\d+)-/.exec(f.name)?.[1];
    // A writer at work: its partial, or the bytes it renamed into place just before writing the record.
    if (now - f.mtimeMs < HOUR_MS && (pid === undefined ? !info.record : processAlive(Number(pid)))) return false;
    return true;
  });
}

async function lockOf(info: DownloadInfo, now: number) {
  const lock = info.files.find((f) => f.name === `${info.id}.lock`);
  return lock && { path: lock.path, state: await lockState(lock.path, now) };
}

export interface DownloadGcStats {
  evicted: number;
  bytesFreed: number;
  kept: number;
  bytesKept: number;
  partialsRemoved: number;
  locksRemoved: number;
  spared: number;
  evictedDownloads: string[];
}

/**
 * The downloads' share of GC: leftovers of writers that are gone and stale locks removed, then
 * the least recently used downloads evicted while the store is over `budget` bytes (what the
 * entries left), never one used in the last hour or being written. An entry made from an evicted
 * download stays valid: its key holds the bytes' digest, and a later miss downloads them again.
 */
export async function collectDownloads(storeDir: string, options: { budget?: number; maxAgeMs?: number; dryRun: boolean; now: number; spareRecent?: boolean }): Promise<DownloadGcStats> {
  const { dryRun, now } = options;
  const stats: DownloadGcStats = { evicted: 0, bytesFreed: 0, kept: 0, bytesKept: 0, partialsRemoved: 0, locksRemoved: 0, spared: 0, evictedDownloads: [] };
  const downloads = await listDownloads(storeDir);
  const live = new Set<string>();
  for (const info of downloads) {
    for (const file of leftovers(info, now)) {
      if (!dryRun) await rm(file.path, { force: true, recursive: true });
      info.bytes -= file.size;
      stats.partialsRemoved++;
    }
    const lock = await lockOf(info, now);
    if (lock?.state.kind === "live") live.add(info.id);
    if (lock?.state.kind === "stale") {
      if (!dryRun) await breakLock(lock.path, lock.state.owner);
      stats.locksRemoved++;
    }
  }
  const complete = downloads.filter((d) => d.record);
  let total = complete.reduce((n, d) => n + d.bytes, 0);
  for (const info of complete.sort((a, b) => a.lastUsed - b.lastUsed)) {
    const tooOld = options.maxAgeMs !== undefined && now - info.lastUsed > options.maxAgeMs;
    const overBudget = options.budget !== undefined && total > options.budget;
    if (!tooOld && !overBudget) continue;
    if ((options.spareRecent !== false && now - info.lastUsed < HOUR_MS) || live.has(info.id)) {
      stats.spared++;
      continue;
    }
    if (!dryRun && !(await removeListed(storeDir, info))) {
      stats.spared++;
      continue;
    }
    total -= info.bytes;
    stats.evicted++;
    stats.bytesFreed += info.bytes;
    stats.evictedDownloads.push(info.record!.url);
  }
  stats.kept = complete.length - stats.evicted;
  stats.bytesKept = total;
  return stats;
}

export interface DownloadProblem {
  name: string;
  reason: string;
  /** A download whose bytes are not what its record says: removed by `--fix`, downloaded again when next needed. */
  bad: boolean;
  path: string;
}

/** Each download's bytes against the digest recorded as they arrived; leftovers reported as harmless. */
export async function verifyDownloads(storeDir: string, now: number): Promise<{ checked: number; bytesChecked: number; problems: DownloadProblem[] }> {
  const problems: DownloadProblem[] = [];
  let checked = 0;
  let bytesChecked = 0;
  for (const info of await listDownloads(storeDir)) {
    for (const file of leftovers(info, now)) problems.push({ name: `downloads/${file.name}`, reason: "left by a writer that is gone", bad: false, path: file.path });
    const record = info.record;
    if (!record?.local) continue;
    const path = join(downloadsDir(storeDir), record.file);
    const bytes = info.files.find((f) => f.name === record.file);
    checked++;
    const bad = (reason: string) => problems.push({ name: `downloads/${record.file}`, reason: `${reason} (${record.url})`, bad: true, path });
    if (!bytes) bad("the downloaded file is missing");
    else if (bytes.size !== record.size) bad(`${bytes.size} bytes, the record says ${record.size}`);
    else {
      bytesChecked += bytes.size;
      if ((await digestFile(path)) !== record.digest) bad("the bytes differ from the digest recorded when they were downloaded");
    }
  }
  return { checked, bytesChecked, problems };
}

/** Remove a download that failed verification, record first, so nothing trusts it meanwhile. */
export async function removeBadDownload(storeDir: string, problem: DownloadProblem): Promise<void> {
  if (!problem.bad) return void (await rm(problem.path, { force: true, recursive: true }));
  const info = (await listDownloads(storeDir)).find((d) => d.record && problem.path.endsWith(d.record.file));
  if (info) await removeListed(storeDir, info);
}

/**
 * Remove a download as it was listed, holding its URL's lock, so that a run downloading or
 * revalidating it meanwhile keeps what it writes. False, removing nothing, when a run holds the
 * lock, or when the record was rewritten or used since the listing: the listed files would no
 * longer be the download, or it is in use again.
 */
export async function removeListed(storeDir: string, info: DownloadInfo): Promise<boolean> {
  const lock = await tryLock(downloadsDir(storeDir), info.id);
  if (!lock) return false;
  try {
    const record = await readRecord(storeDir, info.id);
    const used = (await stat(recordPath(storeDir, info.id)).catch(() => undefined))?.mtimeMs;
    if (!record || record.file !== info.record?.file || used !== info.lastUsed) return false;
    await removeDownload(storeDir, { ...info, files: info.files.filter((f) => f.name !== `${info.id}.lock`) });
    return true;
  } finally {
    await lock.release();
  }
}
