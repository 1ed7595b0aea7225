import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

/** An ffmpeg/ffprobe pair the media suites run against. */
export interface FfmpegBuild {
  label: string;
  ffmpegPath?: string;
  ffprobePath?: string;
  /** The old static build from @ffmpeg-installer/ffmpeg (ffmpeg 4.1-era git snapshot). */
  legacy: boolean;
}

const require = createRequire(import.meta.url);

function npmBuild(): FfmpegBuild | undefined {
  try {
    const ffmpegPath = (require("@ffmpeg-installer/ffmpeg") as { path: string }).path;
    const ffprobePath = (require("@ffprobe-installer/ffprobe") as { path: string }).path;
    execFileSync(ffmpegPath, ["-version"]);
    execFileSync(ffprobePath, ["-version"]);
    return { label: "@ffmpeg-installer", ffmpegPath, ffprobePath, legacy: true };
  } catch {
    return undefined;
  }
}

/**
 * The ffmpeg on PATH, plus the binaries of the optional npm packages when they are
 * installed and runnable; media suites run once per build.
 */
export const FFMPEG_BUILDS: FfmpegBuild[] = [{ label: "PATH", legacy: false }, ...[npmBuild()].filter((b) => b !== undefined)];
