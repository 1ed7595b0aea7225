import { copyFile, link, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FramecacheError } from "../core/errors.js";
import { extractionArgs, keyframesNeeded, needsKeyframes, type Keyframe } from "../core/ffmpeg-args.js";
import { FfmpegProgressParser, type FfmpegProgress } from "../core/ffmpeg-progress.js";
import { frameFileName, frameIndex } from "../core/frames.js";
import { fsError, fsErrorFromText } from "../core/fs-errors.js";
import type { FrameFormat } from "../core/key.js";
import type { Task } from "../core/plan.js";
import type { FrameSpan } from "../core/spans.js";
import type { Micros } from "../core/time.js";
import type { Binaries } from "./binaries.js";
import { run, type RunResult } from "./run.js";

export interface ExtractOptions {
  signal?: AbortSignal;
  /** Kill ffmpeg after this long; a hung decoder must not hang a build. */
  timeoutMs?: number;
  /** Called with the ffmpeg arguments, for debugging and tests. */
  onSpawn?: (args: string[]) => void;
  /** Called with each block of ffmpeg's own `-progress` report (about every 0.5 s). */
  onProgress?: (progress: FfmpegProgress) => void;
  /** The source's keyframes, asked for only when a span seeks past its start (see seekPoint). */
  keyframes?: (through?: Micros) => Promise<readonly Keyframe[]>;
}

export const NO_FRAMES_HINT = "The media start may be at the very end of the source; check data-media-start.";

/**
 * Run ffmpeg for one task into `dir`, then make the frames exactly `task.frameCount`:
 * a source that ends early has its last frame held. Returns how many frames ffmpeg wrote.
 */
export async function extractFrames(binaries: Binaries, task: Task, dir: string, options: ExtractOptions = {}): Promise<number> {
  const written = await extractSpan(binaries, task, dir, { first: 1, count: task.frameCount }, options);
  if (written === 0) {
    throw new FramecacheError("FC_FFMPEG_FAILED", `ffmpeg wrote no frames for ${task.source}`, { hint: NO_FRAMES_HINT });
  }
  await holdFrames(dir, task.format, written, task.frameCount);
  return written;
}

/** Write frames `span.first`… of the task into `dir` (as one pass would); returns how many ffmpeg wrote before the source ended. */
export async function extractSpan(binaries: Binaries, task: Task, dir: string, span: FrameSpan, options: ExtractOptions = {}): Promise<number> {
  if (task.tonemap && !binaries.features.zscale) throw tonemapMissing(binaries, task);
  const { onProgress } = options;
  // Only as far as this span's seek: the rest of a long source's table may still be listing.
  const keyframes = needsKeyframes(task, span) ? await options.keyframes?.(keyframesNeeded(task, span)) : undefined;
  const args = extractionArgs(task, dir, span, keyframes);
  if (onProgress) args.unshift("-progress", "pipe:1", "-nostats");
  options.onSpawn?.(args);
  const parser = onProgress && new FfmpegProgressParser();
  const result = await run(binaries.ffmpeg.path, args, {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    onStdout: parser && ((chunk) => parser.push(chunk).forEach(onProgress!)),
  });
  const failed = await failure(result, `extracting ${task.source}`, options.timeoutMs, dir);
  if (failed) throw failed;
  const end = span.first + span.count;
  return (await readdir(dir)).reduce((n, name) => {
    const index = frameIndex(name) ?? 0;
    return index >= span.first && index < end ? n + 1 : n;
  }, 0);
}

/** An HDR source needs zscale to be tone-mapped; without it, no frames rather than washed-out ones. */
export function tonemapMissing(binaries: Binaries, task: Task): FramecacheError {
  return new FramecacheError("FC_FFMPEG_FAILED", `${task.source} is HDR and needs tone mapping, but ${binaries.ffmpeg.path} was built without zscale (libzimg)`, {
    hint: 'Use an ffmpeg built with --enable-libzimg (Debian/Ubuntu 22.04+, Homebrew and static builds have it), or format "png" to keep the source\'s values untouched.',
  });
}

/** Why an ffmpeg run did not do `what`, or undefined when it did. */
/** Why an ffmpeg run failed, or undefined when it did not; `dir` is where it wrote, so a store's file system error is told apart. */
export async function failure(result: RunResult, what: string, timeoutMs: number | undefined, dir: string): Promise<FramecacheError | undefined> {
  if (result.canceled) return new FramecacheError("FC_CANCELLED", `${what} was cancelled`);
  if (result.timedOut) {
    return new FramecacheError("FC_FFMPEG_TIMEOUT", `${what} took longer than ${timeoutMs} ms; ffmpeg was killed`, {
      hint: "Check the source plays in another player; raise the timeout for very long clips.",
    });
  }
  if (result.exitCode === 0) return undefined;
  const stderr = result.stderr.trim();
  // Its writes into the store's partial directory: a full disk, a read-only mount, no descriptors left.
  const store = fsErrorFromText(what, dir, stderr) ?? (/Could not open file/i.test(stderr) ? await whyUnwritable(what, dir) : undefined);
  if (store) return store;
  return new FramecacheError("FC_FFMPEG_FAILED", `${what} failed (exit ${result.exitCode ?? result.signal ?? result.error?.code}): ${lastLines(stderr)}`, {
    hint: "Run the same source through `ffprobe` to check it; re-encode it if ffmpeg cannot decode it.",
  });
}

/** Frames `written + 1`… `frames` repeat frame `written`: the source ended there. */
export async function holdFrames(dir: string, format: FrameFormat, written: number, frames: number): Promise<void> {
  const last = join(dir, frameFileName(written, format));
  for (let i = written + 1; i <= frames; i++) {
    const target = join(dir, frameFileName(i, format));
    await link(last, target).catch(() => copyFile(last, target));
  }
}

function lastLines(text: string): string {
  return text.split("\n").slice(-3).join(" | ") || "no error output";
}

/** ffmpeg says only "Could not open file" (then EIO) for its output: a write of our own names the cause. */
async function whyUnwritable(what: string, dir: string): Promise<FramecacheError | undefined> {
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    await writeFile(probe, "");
    await rm(probe, { force: true });
    return undefined;
  } catch (error) {
    // The directory is what ffmpeg could not write, not our probe's name.
    const mapped = fsError(what, dir, Object.assign(error as Error, { path: dir }));
    return mapped instanceof FramecacheError ? mapped : undefined;
  }
}
