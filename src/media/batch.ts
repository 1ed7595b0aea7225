import { readdir } from "node:fs/promises";
import { batchArgs, needsKeyframes, type Keyframe } from "../core/ffmpeg-args.js";
import { FfmpegProgressParser, type FfmpegProgress } from "../core/ffmpeg-progress.js";
import { frameIndex } from "../core/frames.js";
import type { Task } from "../core/plan.js";
import type { Binaries } from "./binaries.js";
import { failure, tonemapMissing } from "./extract.js";
import { run } from "./run.js";

/** One window of a batch: a task written into its own directory, as its own pass would write it. */
export interface BatchMember {
  task: Task;
  dir: string;
  /** Called with this window's own frame count, each time ffmpeg reports (about every 0.5 s). */
  onProgress?: (progress: FfmpegProgress) => void;
}

export interface BatchOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  onSpawn?: (args: string[]) => void;
  /** The keyframes of the members' source, asked for only when a window seeks past its start. */
  keyframes?: () => Promise<readonly Keyframe[]>;
  /** One thread per decoder and encoder: other processes fill the other cores. */
  singleThreaded?: boolean;
}

/**
 * Several windows in one ffmpeg process, each from its own input into its own directory;
 * returns how many frames ffmpeg wrote for each. One start-up instead of one per window: on
 * 2 cores, ffmpeg's start (the dynamic linker over ~215 libraries) is most of a short clip's cost.
 * Any failure is the whole process's: it names no window, so the caller retries them one by one.
 */
export async function extractBatch(binaries: Binaries, members: readonly BatchMember[], options: BatchOptions = {}): Promise<number[]> {
  for (const { task } of members) if (task.tonemap && !binaries.features.zscale) throw tonemapMissing(binaries, task);
  const table = members.some((m) => needsKeyframes(m.task)) ? await options.keyframes?.() : undefined;
  const windows = members.map((m) => ({ task: m.task, outDir: m.dir, keyframes: needsKeyframes(m.task) ? table : undefined }));
  const args = batchArgs(windows, { singleThreaded: options.singleThreaded });
  const reporting = members.some((m) => m.onProgress);
  if (reporting) args.unshift("-progress", "pipe:1", "-nostats");
  options.onSpawn?.(args);
  const parser = reporting ? new FfmpegProgressParser() : undefined;
  // ffmpeg's report counts the first output only: each window's own count is read from its directory.
  const counting: Promise<void>[] = [];
  const report = (block: FfmpegProgress) => {
    for (const m of members) {
      const tell = m.onProgress;
      if (!tell) continue;
      const { fps } = m.task;
      counting.push(countFrames(m.dir, m.task.frameCount).then((frame) => tell({ frame, fps: block.fps, outTimeUs: Math.floor((frame * fps.den * 1e6) / fps.num), end: block.end })));
    }
  };
  const result = await run(binaries.ffmpeg.path, args, {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    onStdout: parser && ((chunk) => parser.push(chunk).forEach(report)),
  });
  // No count may come after the window is published and its progress ended.
  await Promise.all(counting);
  const what = `extracting ${members.length} windows of ${members[0]?.task.source}`;
  const failed = await failure(result, what, options.timeoutMs, members[0]!.dir);
  if (failed) throw failed;
  return Promise.all(members.map((m) => countFrames(m.dir, m.task.frameCount)));
}

/** Frames 1…`frames` present in `dir`. */
async function countFrames(dir: string, frames: number): Promise<number> {
  const names = await readdir(dir).catch(() => []);
  return names.reduce((n, name) => {
    const index = frameIndex(name) ?? 0;
    return index >= 1 && index <= frames ? n + 1 : n;
  }, 0);
}
