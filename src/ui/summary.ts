import { formatBytes, formatDuration } from "../core/format.js";
import type { Report } from "../core/report.js";

/** `framecache  3 videos · 0 hit · 3 extracted · 210 frames (1.2 MB) · 2.31s` */
export function summaryLine(r: Report): string {
  const parts = [
    `${r.videos} videos`,
    `${r.cacheHits} hit`,
    `${r.cacheMisses} extracted`,
    `${r.framesWritten} frames (${formatBytes(r.bytesWritten)})`,
    formatDuration(r.totalMs),
  ];
  if (r.remoteHits > 0) parts.push(`${r.remoteHits} remote`);
  if (r.sourceDownloads > 0) parts.push(`${r.sourceDownloads} downloaded (${formatBytes(r.sourceBytesDown)})`);
  return `framecache  ${parts.join(" · ")}`;
}

/** JSON replacer: phase timings to a tenth of a millisecond. */
export function roundMs(key: string, value: unknown): unknown {
  return key.endsWith("Ms") && typeof value === "number" ? Math.round(value * 10) / 10 : value;
}
