import type { FrameFormat } from "./key.js";
import { fpsValue, type Rational } from "./time.js";

/** The attributes that hand a `<video>` its frames, in build and dev alike. */
export function frameAttributes(frames: string, count: number, fps: Rational): Record<string, string> {
  return { "data-frames": frames, "data-frame-count": String(count), "data-frame-fps": String(fpsValue(fps)) };
}

export const FRAME_PREFIX = "frame_";
export const SENTINEL = ".hf-complete";

/** `frame_00001.jpg`: at least five digits, more when the count needs them, as ffmpeg's `%05d` does. */
export function frameFileName(index: number, format: FrameFormat): string {
  return `${FRAME_PREFIX}${String(index).padStart(5, "0")}.${format}`;
}

export function framePattern(format: FrameFormat): string {
  return `${FRAME_PREFIX}%05d.${format}`;
}

/** The 1-based index of a frame file, or undefined for anything that is not one. */
export function frameIndex(name: string): number | undefined {
  const m = /^frame_(\d{5,})\.(?:jpg|png)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
