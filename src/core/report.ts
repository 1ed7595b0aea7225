import type { Task } from "./plan.js";
import type { FfmpegProgress } from "./ffmpeg-progress.js";

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
  /** Remote (`http(s)`) sources downloaded, and their bytes. */
  sourceDownloads: number;
  sourceBytesDown: number;
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
    cacheHits: 0, cacheMisses: 0, remoteHits: 0, remoteBytesDown: 0, remoteBytesUp: 0, sourceDownloads: 0, sourceBytesDown: 0, framesWritten: 0, bytesWritten: 0,
    gcEvicted: 0, gcBytesFreed: 0, skippedRemote: 0, compositionsWithScriptedVideo: 0,
  };
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

/** One task's extraction, from queued to done. */
export interface TaskProgress {
  update(progress: FfmpegProgress): void;
  /** Finished, failed or served by someone else: in any case no longer running. */
  end(): void;
}

/** What the engine reports to: a task is about to be extracted. */
export interface ExtractionProgress {
  begin(task: Task): TaskProgress;
}
