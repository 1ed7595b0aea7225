import { copyFile, link, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { FramecacheError } from "../core/errors.js";
import { extractionArgs } from "../core/ffmpeg-args.js";
import { FfmpegProgressParser, type FfmpegProgress } from "../core/ffmpeg-progress.js";
import { frameFileName, frameIndex } from "../core/frames.js";
import type { Task } from "../core/plan.js";
import type { Binaries } from "./binaries.js";

export interface ExtractOptions {
  signal?: AbortSignal;
  /** Kill ffmpeg after this long; a hung decoder must not hang a build. */
  timeoutMs?: number;
  /** Called with the ffmpeg arguments, for debugging and tests. */
  onSpawn?: (args: string[]) => void;
  /** Called with each block of ffmpeg's own `-progress` report (about every 0.5 s). */
  onProgress?: (progress: FfmpegProgress) => void;
}

/**
 * Run ffmpeg for one task into `dir`, then make the frames exactly `task.frameCount`:
 * a source that ends early has its last frame held.
 */
export async function extractFrames(binaries: Binaries, task: Task, dir: string, options: ExtractOptions = {}): Promise<void> {
  if (task.tonemap && !binaries.features.zscale) {
    throw new FramecacheError("FC_FFMPEG_FAILED", `${task.source} is HDR and needs tone mapping, but ${binaries.ffmpeg.path} was built without zscale (libzimg)`, {
      hint: 'Use an ffmpeg built with --enable-libzimg (Debian/Ubuntu 22.04+, Homebrew and static builds have it), or format "png" to keep the source\'s values untouched.',
    });
  }
  const { onProgress } = options;
  const args = extractionArgs(task, dir);
  if (onProgress) args.unshift("-progress", "pipe:1", "-nostats");
  options.onSpawn?.(args);
  const subprocess = execa(binaries.ffmpeg.path, args, {
    reject: false,
    cancelSignal: options.signal,
    timeout: options.timeoutMs,
    stdin: "ignore",
    stdout: onProgress ? "pipe" : "ignore",
    buffer: { stdout: false },
  });
  if (onProgress && subprocess.stdout) {
    const parser = new FfmpegProgressParser();
    subprocess.stdout.setEncoding("utf8");
    subprocess.stdout.on("data", (chunk: string) => parser.push(chunk).forEach(onProgress));
  }
  const result = await subprocess;
  const what = `extracting ${task.source}`;
  if (result.isCanceled) throw new FramecacheError("FC_CANCELLED", `${what} was cancelled`);
  if (result.timedOut) {
    throw new FramecacheError("FC_FFMPEG_TIMEOUT", `${what} took longer than ${options.timeoutMs} ms; ffmpeg was killed`, {
      hint: "Check the source plays in another player; raise the timeout for very long clips.",
    });
  }
  if (result.exitCode !== 0) {
    const stderr = String(result.stderr ?? "").trim();
    if (/No space left on device/i.test(stderr)) {
      throw new FramecacheError("FC_NO_SPACE", `${what}: the disk is full`, { hint: "Free disk space or lower maxCacheSize, then run `framecache gc`." });
    }
    throw new FramecacheError("FC_FFMPEG_FAILED", `${what} failed (exit ${result.exitCode ?? result.signal}): ${lastLines(stderr)}`, {
      hint: "Run the same source through `ffprobe` to check it; re-encode it if ffmpeg cannot decode it.",
    });
  }
  await holdLastFrame(task, dir);
}

async function holdLastFrame(task: Task, dir: string): Promise<void> {
  const count = (await readdir(dir)).reduce((max, name) => Math.max(max, frameIndex(name) ?? 0), 0);
  if (count === 0) {
    throw new FramecacheError("FC_FFMPEG_FAILED", `ffmpeg wrote no frames for ${task.source}`, {
      hint: "The media start may be at the very end of the source; check data-media-start.",
    });
  }
  const last = join(dir, frameFileName(count, task.format));
  for (let i = count + 1; i <= task.frameCount; i++) {
    const target = join(dir, frameFileName(i, task.format));
    await link(last, target).catch(() => copyFile(last, target));
  }
  for (let i = task.frameCount + 1; i <= count; i++) await rm(join(dir, frameFileName(i, task.format)));
}

function lastLines(text: string): string {
  return text.split("\n").slice(-3).join(" | ") || "no error output";
}
