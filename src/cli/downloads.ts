import { formatAge, formatBytes } from "../core/format.js";
import { listDownloads, type DownloadInfo } from "../store/downloads/records.js";
import { table } from "./table.js";

/** Remote sources' downloads, newest first: what `framecache ls` lists after the entries. URLs are redacted in the records. */
export async function downloadsOf(storeDir: string): Promise<DownloadInfo[]> {
  return (await listDownloads(storeDir)).filter((d) => d.record).sort((a, b) => b.lastUsed - a.lastUsed);
}

export function downloadsJson(downloads: DownloadInfo[]): object[] {
  return downloads.map(({ record, bytes, lastUsed }) => ({
    url: record!.url,
    finalUrl: record!.finalUrl,
    size: record!.size,
    bytes,
    local: record!.local,
    digest: record!.digest,
    etag: record!.etag ?? null,
    lastModified: record!.lastModified ?? null,
    checked: record!.checked,
    lastUsed: new Date(lastUsed).toISOString(),
  }));
}

export function downloadsTable(downloads: DownloadInfo[], now: number): string {
  const rows = downloads.map(({ record, lastUsed }) => [
    record!.url,
    formatBytes(record!.size),
    formatAge(now - lastUsed),
    // A record alone: the frames came from the shared cache, the bytes were never needed here.
    record!.local ? "downloaded" : "digest only",
  ]);
  return table(["DOWNLOAD", "SIZE", "LAST USED", "STATE"], rows, [1]);
}
