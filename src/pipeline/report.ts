import { formatBytes, formatDuration } from "../core/format.js";

/** The JSON report (DESIGN §2.3); counts are per video, timings summed per phase. */
export interface Report {
  videos: number;
  scanMs: number;
  probeMs: number;
  hashMs: number;
  extractMs: number;
  emitMs: number;
  totalMs: number;
  cacheHits: number;
  cacheMisses: number;
  remoteHits: number;
  /** Bytes received from and sent to the remote cache. */
  remoteBytesDown: number;
  remoteBytesUp: number;
  framesWritten: number;
  bytesWritten: number;
  gcEvicted: number;
  gcBytesFreed: number;
  skippedRemote: number;
  compositionsWithScriptedVideo: number;
}

export function emptyReport(): Report {
  return {
    videos: 0, scanMs: 0, probeMs: 0, hashMs: 0, extractMs: 0, emitMs: 0, totalMs: 0,
    cacheHits: 0, cacheMisses: 0, remoteHits: 0, remoteBytesDown: 0, remoteBytesUp: 0, framesWritten: 0, bytesWritten: 0,
    gcEvicted: 0, gcBytesFreed: 0, skippedRemote: 0, compositionsWithScriptedVideo: 0,
  };
}

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
  return `framecache  ${parts.join(" · ")}`;
}

/** Time an async step into one of the report's phase counters. */
export async function timed<T>(report: Report, phase: "scanMs" | "probeMs" | "hashMs" | "extractMs" | "emitMs", work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    report[phase] += performance.now() - started;
  }
}

/** JSON replacer: phase timings to a tenth of a millisecond. */
export function roundMs(key: string, value: unknown): unknown {
  return key.endsWith("Ms") && typeof value === "number" ? Math.round(value * 10) / 10 : value;
}
