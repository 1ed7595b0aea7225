import { framePattern } from "./frames.js";
import { TONEMAP_OPERATOR, type Task } from "./plan.js";
import type { FrameSpan } from "./spans.js";
import { fpsText, fromMicros, type Micros } from "./time.js";

export interface FfmpegFeatures {
  /** The zscale filter (libzimg), which HDR tone mapping needs; distro builds sometimes lack it. */
  zscale: boolean;
}

/**
 * HDR → SDR: linear light with BT.2408's reference white (203 cd/m²) at SDR 100 %,
 * BT.709 primaries, then a curve that leaves everything up to 30 % of peak alone and
 * rolls off only the highlights, so mid-tones match an SDR grade of the same scene.
 */
const TONEMAP = [
  "zscale=t=linear:npl=203",
  "format=gbrpf32le",
  "zscale=p=bt709",
  `tonemap=tonemap=${TONEMAP_OPERATOR}:desat=0`,
  "zscale=t=bt709:m=bt709:r=tv",
  "format=yuv420p",
].join(",");

/** The jpg quality scale: 100 → best (`-q:v 1`), 95 → `-q:v 2`. */
export function jpegQscale(quality: number): number {
  return Math.min(31, Math.max(1, Math.ceil((100 - quality) / 3)));
}

/**
 * Arguments for one extraction into `outDir`, as an array; never joined into a shell line.
 *
 * Output frame i shows what the source shows at `mediaStart + i/fps`, by the fps filter's
 * rule (the last source frame whose time rounds to at or before that tick), for constant
 * and variable frame rates alike. For that the filter must see the frame on screen at the
 * media start, which usually begins before it: `-noaccurate_seek` passes it on instead of
 * dropping it, and with the source's own timestamps (`-copyts`) shifted so the media start
 * is 0, `start_time=0` puts tick 0 there. (ffmpeg's accurate seek drops that frame, its own
 * timestamp shift differs between containers, and `-fps_mode cfr` shows frames up to a tick
 * early; all measured frame by frame.) Containers whose seeks miss are decoded from the start.
 */
export function extractionArgs(task: Task, outDir: string, span: FrameSpan = { first: 1, count: task.frameCount }, keyframes?: readonly Keyframe[]): string[] {
  return [...GLOBAL_ARGS, ...extractionInput(task, span, keyframes), ...extractionOutput(task, outDir, span, 0)];
}

/** Options that apply to the whole ffmpeg process, before any input. */
const GLOBAL_ARGS = ["-nostdin", "-hide_banner", "-loglevel", "error", "-copyts"];

/** One window of a batch: a task's span into its own directory. */
export interface BatchWindow {
  task: Task;
  outDir: string;
  span?: FrameSpan;
  keyframes?: readonly Keyframe[];
}

/**
 * One ffmpeg process for several windows: each its own input (`-ss … -i`) and its own output
 * mapping that input, with exactly the input and output options its own run would have, so
 * each window's frames are the ones `extractionArgs` would write.
 */
export function batchArgs(windows: readonly BatchWindow[], how: { singleThreaded?: boolean } = {}): string[] {
  const spanOf = (w: BatchWindow) => w.span ?? { first: 1, count: w.task.frameCount };
  // Decoders and image encoders write the same bytes on any thread count; where processes already
  // fill the cores, threads only cost (twelve 1080p windows, four processes two at a time: 2.4 s, not 2.9 s).
  const threads = how.singleThreaded ? ["-threads", "1"] : [];
  return [
    ...GLOBAL_ARGS,
    ...windows.flatMap((w) => [...threads, ...extractionInput(w.task, spanOf(w), w.keyframes)]),
    ...windows.flatMap((w, i) => extractionOutput(w.task, w.outDir, spanOf(w), i, threads)),
  ];
}

/** The input options and the input of one window. */
function extractionInput(task: Task, span: FrameSpan, keyframes?: readonly Keyframe[]): string[] {
  const seek = seekPoint(task, span.first - 1, keyframes);
  const args: string[] = [];
  if (task.decoder) args.push("-c:v", task.decoder);
  if (seek !== undefined) args.push("-noaccurate_seek", "-ss", String(fromMicros(seek)));
  args.push("-i", `file:${task.source}`);
  return args;
}

/** The output options and the output of one window, taking its video from input `input`. */
function extractionOutput(task: Task, outDir: string, span: FrameSpan, input: number, encoderOptions: string[] = []): string[] {
  // A later span keeps the task's time origin and starts the fps filter at its first tick, so its
  // frames are the very frames one pass would write there.
  const tick = span.first - 1;
  const startTime = tick === 0 ? "0" : String((tick * task.fps.den) / task.fps.num);
  // Off the ticks, a source frame lands on the first tick at or after its time (round=up), so each
  // tick shows the last frame at or before it; on them, the default rounding keeps the HyperFrames
  // v2 engine's frames and a timestamp a hair off a tick still lands on it.
  const round = task.framesOnTicks ? "" : ":round=up";
  const filters = [`setpts=PTS-(${fromMicros(task.origin)})/TB`, `fps=${fpsText(task.fps)}:start_time=${startTime}${round}`];
  if (task.tonemap) filters.push(TONEMAP);
  if (task.width || task.height) filters.push(`scale=${task.width ?? -2}:${task.height ?? -2}:flags=lanczos`);
  // No `-t`: the exact count stops ffmpeg. A `-t` would end the input at the span, and the fps
  // filter, rounding that end to a tick, drops a last frame the ceiling rule still counts.
  const args = ["-map", `${input}:v:0`, ...encoderOptions, "-an", "-sn", "-dn", "-vf", filters.join(","), "-frames:v", String(span.count)];
  // ffmpeg clamps -q:v to its default -qmin of 2, which would make quality 97-100 the same as 95.
  if (task.format === "jpg") args.push("-qmin", "1", "-q:v", String(jpegQscale(task.quality)));
  else args.push("-compression_level", "1");
  // The image2 muxer reads `%` in the whole path as a pattern, so a literal one is doubled.
  if (span.first !== 1) args.push("-start_number", String(span.first));
  args.push("-y", `${outDir.replaceAll("%", "%%")}/${framePattern(task.format)}`);
  return args;
}

/** A keyframe of the source: when it is shown, and when it is decoded (its pts when the container has no dts). */
export interface Keyframe {
  pts: Micros;
  dts: Micros;
}

/**
 * Input `-ss` for output tick `tick`: where decoding must start so the frame on screen at that
 * tick comes out of the decoder. Without B-frames that is the tick's time itself: the seek lands
 * on the last keyframe at or before it. With them, ffmpeg finds a keyframe by an index time
 * between its decode and its display time, so a seek to the tick can land on a keyframe shown
 * after it, and an open-GOP keyframe drops the frames shown before it. The seek then goes to the
 * last keyframe shown by that tick, from the source's table, but never as late as a later
 * keyframe's decode time. No margin is safe for every encoder (x265's defaults lead a keyframe
 * with 4 frames while reporting 2 of reordering). Undefined for sources that cannot seek exactly
 * (decoded from the start). Without a table a reordering source decodes from the start: slow,
 * never wrong. The same table serves a source whose keyframe flags may mark recovery points
 * (see Task.recoveryPoints), since it holds only keyframes that decode on their own.
 */
export function seekPoint(task: Task, tick: number, keyframes?: readonly Keyframe[]): Micros | undefined {
  if (!task.seekable) return undefined;
  const tickTime = Math.floor((tick * task.fps.den * 1e6) / task.fps.num);
  if (!seeksByTable(task)) return task.seek + tickTime;
  const target = seekTarget(task, tick);
  let shown: Micros | undefined;
  let laterDecoded = Infinity;
  for (const k of keyframes ?? []) {
    if (k.pts <= target) shown = k.pts;
    else laterDecoded = Math.min(laterDecoded, k.dts);
  }
  if (shown === undefined) return 0;
  // `origin - seek` is where the container's clock starts on the stream's: -ss counts from there.
  return Math.max(0, Math.min(shown, laterDecoded - 1) - (task.origin - task.seek));
}

/**
 * How far on the stream's clock a keyframe table must be final (every keyframe that decodes
 * before it listed) for seekPoint to find the seek of `span` as the whole table would: a keyframe
 * shown by the target decodes by then, and a later one bounds the seek only if it decodes before
 * the keyframe shown.
 */
export function keyframesNeeded(task: Task, span: FrameSpan = { first: 1, count: task.frameCount }): Micros {
  return seekTarget(task, span.first - 1) + 1;
}

/** Where a seek to `tick` looks for its keyframe; one within a quarter frame after the tick rounds to it: it is the frame shown then. */
function seekTarget(task: Task, tick: number): Micros {
  const tickTime = Math.floor((tick * task.fps.den * 1e6) / task.fps.num);
  return task.origin + tickTime + Math.floor((task.fps.den * 1e6) / (4 * task.fps.num));
}

/** Whether extracting `span` of the task seeks past the start of a source whose seeks take its keyframe table. */
export function needsKeyframes(task: Task, span: FrameSpan = { first: 1, count: task.frameCount }): boolean {
  return task.seekable && seeksByTable(task) && (task.mediaStart > 0 || span.first > 1);
}

/** Seeks go to a keyframe of the source's table, not to a time (see seekPoint). */
export function seeksByTable(task: Task): boolean {
  return task.reorders || task.recoveryPoints;
}
