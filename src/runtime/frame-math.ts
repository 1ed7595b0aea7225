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
  /** `data-frame-loop`: seconds of one pass through the source, when the clip loops. */
  loop?: number;
  /** `data-frame-lead`: seconds of the clip before its frame 1 (frames before 0 are never extracted). */
  lead?: number;
}

const EPSILON = 1e-9;

/**
 * The 0-based frame shown at time `t` of the clip's file, or undefined when the clip is hidden
 * (outside `[start, end]`, or past `cap`, where its hosts cut it off). `floor(local · rate · fps + 1e-9)`,
 * `local` taken modulo the loop cycle when it loops: the epsilon keeps `0.7 · 30 = 20.999…` on
 * frame 21, as the extractor's exact arithmetic does. A clip without an end stops after its
 * frames, unless it loops.
 */
export function frameIndexAt(t: number, clip: ClipTiming, cap = Infinity): number | undefined {
  if (!(clip.frameCount >= 1) || !(clip.fps > 0) || !(clip.rate > 0) || !Number.isFinite(t)) return undefined;
  const lead = clip.lead ?? 0;
  const loop = clip.loop !== undefined && clip.loop > 0 ? clip.loop : undefined;
  const end = Math.min(cap, clip.end ?? (loop ? Infinity : clip.start + lead + clip.frameCount / (clip.fps * clip.rate)));
  const local = t - clip.start;
  if (local < -EPSILON || t > end + EPSILON || end <= clip.start) return undefined;
  const shown = loop ? Math.max(0, local) % loop : Math.max(0, local);
  const index = Math.floor(Math.max(0, shown - lead) * clip.rate * clip.fps + EPSILON);
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


/**
 * Timing of a clip from its attributes: the resolved `data-frame-*` timing the plugin writes, else
 * (a page it did not build) the scanner's rules on the authored ones (end wins over duration, rate clamped).
 */
export function clipTiming(attr: (name: string) => string | null): ClipTiming {
  const frames = { fps: parseFrameRate(attr("data-frame-fps")), frameCount: Math.floor(parseStrictNumber(attr("data-frame-count")) ?? 0) };
  const resolvedStart = parseStrictNumber(attr("data-frame-start"));
  if (resolvedStart !== undefined) {
    return {
      start: resolvedStart,
      end: parseStrictNumber(attr("data-frame-end")),
      rate: parseStrictNumber(attr("data-frame-rate")) ?? 1,
      loop: parseStrictNumber(attr("data-frame-loop")),
      lead: parseStrictNumber(attr("data-frame-lead")),
      ...frames,
    };
  }
  const start = Math.max(0, parseStrictNumber(attr("data-start")) ?? 0);
  const endAttr = parseStrictNumber(attr("data-end"));
  const duration = parseStrictNumber(attr("data-duration"));
  const end = endAttr !== undefined ? Math.max(0, endAttr) : duration !== undefined ? start + Math.max(0, duration) : undefined;
  return {
    start,
    end,
    rate: clampRate(parseStrictNumber(attr("data-playback-rate")) ?? 1),
    ...frames,
  };
}
