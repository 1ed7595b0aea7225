import { clampRate, parseStrictNumber } from "../core/time.js";

/** Timing of one clip, read from its `<video>` attributes. */
export interface ClipTiming {
  /** `data-start`, seconds on the composition's timeline. */
  start: number;
  /** `data-end` (or start + `data-duration`); undefined for the natural end. */
  end?: number;
  /** `data-playback-rate`. */
  rate: number;
  /** `data-frame-fps`, frames per second of source span. */
  fps: number;
  /** `data-frame-count`. */
  frameCount: number;
}

const EPSILON = 1e-9;

/**
 * The 0-based frame shown at composition time `t`, or undefined when the clip is
 * hidden (outside `[start, end]`). `floor(local · rate · fps + 1e-9)`: the epsilon
 * keeps `0.7 · 30 = 20.999…` on frame 21, as the extractor's exact arithmetic does.
 */
export function frameIndexAt(t: number, clip: ClipTiming): number | undefined {
  if (!(clip.frameCount >= 1) || !(clip.fps > 0) || !(clip.rate > 0) || !Number.isFinite(t)) return undefined;
  const end = clip.end ?? clip.start + clip.frameCount / (clip.fps * clip.rate);
  const local = t - clip.start;
  if (local < -EPSILON || t > end + EPSILON || end <= clip.start) return undefined;
  const index = Math.floor(Math.max(0, local) * clip.rate * clip.fps + EPSILON);
  return Math.min(index, clip.frameCount - 1);
}

/** `frame_%05d.jpg` + 7 → `frame_00007.jpg` (printf `%d`/`%0Nd`, the last one in the pattern; `%%` is `%`). */
export function frameUrl(pattern: string, fileIndex: number): string {
  const matches = [...pattern.matchAll(/%%|%(0\d+)?d/g)];
  const last = matches.filter((m) => m[0] !== "%%").pop();
  if (!last || last.index === undefined) return pattern;
  const width = last[1] ? Number(last[1]) : 0;
  const number = String(fileIndex).padStart(width, "0");
  const unescape = (text: string) => text.replaceAll("%%", "%");
  return unescape(pattern.slice(0, last.index)) + number + unescape(pattern.slice(last.index + last[0].length));
}

/** `"30"` or `"30000/1001"` → frames per second; NaN for anything else. */
export function parseFrameRate(text: string | null | undefined): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(\d+(?:\.\d+)?)\s*)?$/.exec(text ?? "");
  if (!m) return Number.NaN;
  return Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2]));
}

/** A strict number attribute, as the scanner reads them: `Number(v)`, finite and non-empty. */
export const numberAttribute = parseStrictNumber;

/** Timing of a clip from its attributes, with the scanner's rules (end wins over duration, rate clamped). */
export function clipTiming(attr: (name: string) => string | null): ClipTiming {
  const start = Math.max(0, numberAttribute(attr("data-start")) ?? 0);
  const endAttr = numberAttribute(attr("data-end"));
  const duration = numberAttribute(attr("data-duration"));
  const end = endAttr !== undefined ? Math.max(0, endAttr) : duration !== undefined ? start + Math.max(0, duration) : undefined;
  return {
    start,
    end,
    rate: clampRate(numberAttribute(attr("data-playback-rate")) ?? 1),
    fps: parseFrameRate(attr("data-frame-fps")),
    frameCount: Math.floor(numberAttribute(attr("data-frame-count")) ?? 0),
  };
}
