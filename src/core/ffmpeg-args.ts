import { framePattern } from "./frames.js";
import type { Task } from "./plan.js";
import { fpsText, fromMicros } from "./time.js";

export interface FfmpegFeatures {
  /** `-fps_mode` arrived in ffmpeg 5.1; older builds spell it `-vsync`. */
  fpsMode: boolean;
}

const TONEMAP =
  "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p";

/** The jpg quality scale: 100 → best (`-q:v 1`), 95 → `-q:v 2`. */
export function jpegQscale(quality: number): number {
  return Math.min(31, Math.max(1, Math.ceil((100 - quality) / 3)));
}

/** Arguments for one extraction into `outDir`, as an array; never joined into a shell line. */
export function extractionArgs(task: Task, outDir: string, features: FfmpegFeatures): string[] {
  const fps = fpsText(task.fps);
  const filters: string[] = [];
  if (!task.variableFrameRate) filters.push(`fps=${fps}`);
  if (task.tonemap) filters.push(TONEMAP);
  if (task.width || task.height) filters.push(`scale=${task.width ?? -2}:${task.height ?? -2}:flags=lanczos`);

  const args = ["-nostdin", "-hide_banner", "-loglevel", "error"];
  if (task.decoder) args.push("-c:v", task.decoder);
  args.push("-ss", String(fromMicros(task.mediaStart)), "-i", `file:${task.source}`, "-t", String(fromMicros(task.span)));
  args.push("-map", "0:v:0", "-an", "-sn", "-dn");
  if (filters.length) args.push("-vf", filters.join(","));
  if (task.variableFrameRate) args.push(...(features.fpsMode ? ["-fps_mode", "cfr"] : ["-vsync", "cfr"]), "-r", fps);
  args.push("-frames:v", String(task.frameCount));
  if (task.format === "jpg") args.push("-q:v", String(jpegQscale(task.quality)));
  else args.push("-compression_level", "1");
  // The image2 muxer reads `%` in the whole path as a pattern, so a literal one is doubled.
  args.push("-y", `${outDir.replaceAll("%", "%%")}/${framePattern(task.format)}`);
  return args;
}
