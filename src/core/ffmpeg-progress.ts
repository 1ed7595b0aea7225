/** One block of ffmpeg's `-progress` output: written every ~0.5 s, and once more at the end. */
export interface FfmpegProgress {
  /** Frames written so far. */
  frame: number;
  /** ffmpeg's own average rate since it started, frames per second. */
  fps: number;
  /** Output time reached, in microseconds. */
  outTimeUs: number;
  /** `progress=end`: ffmpeg finished writing. */
  end: boolean;
}

/**
 * Reads `-progress pipe:1` output (`key=value` lines, each block closed by
 * `progress=continue|end`) from chunks that may split lines anywhere.
 */
export class FfmpegProgressParser {
  private rest = "";
  private current: FfmpegProgress = { frame: 0, fps: 0, outTimeUs: 0, end: false };

  /** Feed a chunk; returns the blocks it completed, oldest first. */
  push(chunk: string): FfmpegProgress[] {
    const lines = (this.rest + chunk).split("\n");
    this.rest = lines.pop() ?? "";
    const blocks: FfmpegProgress[] = [];
    for (const line of lines) {
      const eq = line.indexOf("=");
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      // Early blocks say N/A; keep the last number rather than going back to 0.
      const number = Number(value);
      if (key === "frame" && value !== "" && Number.isFinite(number)) this.current.frame = number;
      else if (key === "fps" && value !== "" && Number.isFinite(number)) this.current.fps = number;
      else if (key === "out_time_us" && value !== "" && Number.isFinite(number)) this.current.outTimeUs = Math.max(0, number);
      else if (key === "progress") {
        this.current.end = value === "end";
        blocks.push({ ...this.current });
      }
    }
    return blocks;
  }
}
