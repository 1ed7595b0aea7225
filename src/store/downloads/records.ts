import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { SourceInfo } from "../../core/plan.js";
import type { Validators } from "../../core/remote-url.js";

/**
 * Downloaded sources live beside the entries, under a name no entry can have:
 * `downloads/<id>-<digest>.<ext>` holds the bytes, `downloads/<id>.json` what the server said of them.
 * `<id>` is a hash of the URL, so no secret in a URL becomes a file name; the digest in the name
 * means a file never changes under a task that names it: new bytes get a new name.
 */
export const DOWNLOADS_DIR = "downloads";

export interface DownloadRecord {
  version: 1;
  id: string;
  /** The URL and the URL it redirected to, redacted: what `framecache ls` shows. */
  url: string;
  finalUrl: string;
  /** The bytes' file name inside `downloads/`. */
  file: string;
  etag?: string;
  lastModified?: string;
  size: number;
  /** sha256 hex of the bytes, computed as they arrived. */
  digest: string;
  /** ISO time the server last confirmed (or sent) these bytes: the freshness clock. */
  checked: string;
  /**
   * False when the record came from the shared cache and the bytes were never needed here:
   * the frames were fetched instead.
   */
  local: boolean;
  /** With `local: false`: the shared cache's probe of the bytes, which planning needs. */
  info?: SourceInfo;
}

export function downloadsDir(storeDir: string): string {
  return join(storeDir, DOWNLOADS_DIR);
}

/** The bytes' name: the URL's id, the first 16 hex of their digest, and `.mp4` when the URL's path ends so (ffmpeg guesses a demuxer from it). */
export function downloadFile(id: string, digest: string, url: URL): string {
  const ext = extname(url.pathname).toLowerCase();
  return `${id}-${digest.slice(0, 16)}${/^\.[a-z0-9]{1,5}$/.test(ext) ? ext : ""}`;
}

export function recordPath(storeDir: string, id: string): string {
  return join(downloadsDir(storeDir), `${id}.json`);
}

export function validatorsOf(record: DownloadRecord): Validators {
  return { etag: record.etag, lastModified: record.lastModified, size: record.size };
}

/** The record of a URL's download; undefined when there is none or it is unreadable. */
export async function readRecord(storeDir: string, id: string): Promise<DownloadRecord | undefined> {
  const text = await readFile(recordPath(storeDir, id), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as DownloadRecord;
    const valid = record.version === 1 && record.id === id && typeof record.file === "string" && /^[0-9a-f]{64}$/.test(record.digest) && Number.isSafeInteger(record.size);
    return valid ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the record's bytes are on disk at the size it names. */
export async function hasBytes(storeDir: string, record: DownloadRecord): Promise<boolean> {
  const st = await stat(join(downloadsDir(storeDir), record.file)).catch(() => undefined);
  return st?.isFile() === true && st.size === record.size;
}

/** Written whole under a private name and renamed, so a reader never sees half a record. */
export async function writeRecord(storeDir: string, record: DownloadRecord): Promise<void> {
  const path = recordPath(storeDir, record.id);
  const temp = `${path}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(temp, JSON.stringify(record, null, 2) + "\n");
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

/** The LRU clock of downloads, as the sentinel's mtime is of entries. */
export async function touchRecord(storeDir: string, id: string): Promise<void> {
  const now = new Date();
  await utimes(recordPath(storeDir, id), now, now).catch(() => undefined);
}

/** The downloads folder, created when missing. */
export async function openDownloads(storeDir: string): Promise<string> {
  const dir = downloadsDir(storeDir);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A private name for the bytes while they arrive; GC removes it once its writer is gone. */
export async function partialPath(storeDir: string, id: string): Promise<string> {
  return join(await openDownloads(storeDir), `${id}.partial-${process.pid}-${randomBytes(4).toString("hex")}`);
}

export interface DownloadInfo {
  id: string;
  record?: DownloadRecord;
  /** Bytes on disk, the record included. */
  bytes: number;
  /** The record's mtime: when the download was last used. */
  lastUsed: number;
  /** The files that belong to it: record, bytes, partials and lock leftovers. */
  files: { name: string; path: string; mtimeMs: number; size: number }[];
}

const NAME = /^([0-9a-f]{32})(.*)$/;

/** Every download in the store, grouped by id, read without changing anything. */
export async function listDownloads(storeDir: string): Promise<DownloadInfo[]> {
  const dir = downloadsDir(storeDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const byId = new Map<string, DownloadInfo>();
  for (const name of names.sort()) {
    const id = NAME.exec(name)?.[1];
    if (!id) continue;
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st) continue;
    const info = byId.get(id) ?? { id, bytes: 0, lastUsed: 0, files: [] };
    byId.set(id, info);
    info.files.push({ name, path, mtimeMs: st.mtimeMs, size: st.size });
    info.bytes += st.size;
  }
  for (const info of byId.values()) {
    info.record = await readRecord(storeDir, info.id);
    info.lastUsed = info.files.find((f) => f.name === `${info.id}.json`)?.mtimeMs ?? Math.max(...info.files.map((f) => f.mtimeMs));
  }
  return [...byId.values()];
}

/** Remove a download's record first (so nobody trusts bytes about to go), then its bytes. */
export async function removeDownload(storeDir: string, info: DownloadInfo): Promise<void> {
  await rm(recordPath(storeDir, info.id), { force: true });
  for (const file of info.files) await rm(file.path, { force: true, recursive: true });
}
