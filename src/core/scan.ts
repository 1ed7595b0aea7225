import type { SourceLocation, Warning } from "./errors.js";
import { attr, elementsOf, positionOf, textOf, type Element } from "./html.js";
import { videoId } from "./video-id.js";
import { clampRate, MAX_FPS, parseFps, parseStrictNumber, toMicros, type Micros, type Rational } from "./time.js";

/** One `<video>` found in a composition, with its timing resolved per DESIGN §3. */
export interface VideoRef {
  id: string;
  /** The `src` as written (query and fragment included). */
  src: string;
  /** Ordinal among all `<video>` elements of the file, used to rewrite the same element later. */
  index: number;
  loc: SourceLocation;
  start: Micros;
  /** End on the composition timeline; undefined means the natural end of the source. */
  end?: Micros;
  mediaStart: Micros;
  playbackRate: number;
  /** A zero or negative window: the clip never shows and needs no frames. */
  inactive: boolean;
}

export interface NestedRef {
  src: string;
  loc: SourceLocation;
}

export interface ScanWarning extends Warning {
  code: "FC_BAD_ATTRIBUTE" | "FC_REMOTE_SOURCE";
}

export interface CompositionScan {
  file: string;
  /** The root's `data-fps`, when it has one. */
  fps?: Rational;
  videos: VideoRef[];
  /** Remote and inline sources (`http:`, `data:`, `blob:`), which are not extracted. */
  skipped: VideoRef[];
  nested: NestedRef[];
  /** Inline scripts that appear to create `<video>` elements, which no scan can see. */
  scriptsCreateVideo: boolean;
  warnings: ScanWarning[];
}

/** The longest time an attribute may give, in seconds (about 31 years). */
const MAX_SECONDS = 1e9;
const REMOTE = /^(?:https?:|data:|blob:|\/\/)/i;
const CREATES_VIDEO = /createElement\(\s*["'`]video["'`]\s*\)|<video[\s>]/i;

/** Scan one composition's HTML. `file` is only used to label locations. */
export function scanComposition(html: string, file: string): CompositionScan {
  const scan: CompositionScan = {
    file,
    videos: [],
    skipped: [],
    nested: [],
    scriptsCreateVideo: false,
    warnings: [],
  };
  const elements = elementsOf(html);
  const locate = (el: Element, name?: string): SourceLocation => ({ file, ...positionOf(el, name) });
  const number = (el: Element, name: string): number | undefined => {
    const raw = attr(el, name);
    const value = parseStrictNumber(raw);
    const shown = raw !== undefined && raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
    if (raw !== undefined && raw.trim() !== "" && value === undefined) {
      scan.warnings.push({
        code: "FC_BAD_ATTRIBUTE",
        message: `${name}="${shown}" is not a number and is ignored; write ${name === "data-playback-rate" ? "a rate" : "seconds"} such as ${name}="1.5"`,
        loc: locate(el, name),
      });
    } else if (value !== undefined && name !== "data-playback-rate" && Math.abs(value) > MAX_SECONDS) {
      // Microsecond arithmetic stays exact below 2^53 µs; nothing real lasts 31 years.
      scan.warnings.push({
        code: "FC_BAD_ATTRIBUTE",
        message: `${name}="${shown}" is more than ${MAX_SECONDS} seconds and is ignored`,
        loc: locate(el, name),
      });
      return undefined;
    }
    return value;
  };

  const root = elements.find((el) => attr(el, "data-fps") !== undefined);
  if (root) {
    const raw = attr(root, "data-fps");
    scan.fps = parseFps(raw);
    if (!scan.fps) {
      scan.warnings.push({
        code: "FC_BAD_ATTRIBUTE",
        message: `data-fps="${raw && raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}" is not an integer or an exact ratio like "30000/1001" (at most ${MAX_FPS} fps) and is ignored`,
        loc: locate(root, "data-fps"),
      });
    }
  }

  let videoIndex = 0;
  for (const el of elements) {
    const nestedSrc = attr(el, "data-composition-src")?.trim();
    if (nestedSrc) scan.nested.push({ src: nestedSrc, loc: locate(el, "data-composition-src") });
    if (el.tagName === "script" && CREATES_VIDEO.test(textOf(el))) scan.scriptsCreateVideo = true;
    if (el.tagName !== "video") continue;

    const index = videoIndex++;
    const src = videoSource(el);
    if (!src) continue;
    const ref = readTiming(el, index, src, locate(el), number);
    (REMOTE.test(src) ? scan.skipped : scan.videos).push(ref);
  }
  for (const ref of scan.skipped) {
    scan.warnings.push({
      code: "FC_REMOTE_SOURCE",
      message: `video "${ref.id}" has a remote or inline src (${ref.src.slice(0, 60)}) and is not extracted`,
      loc: ref.loc,
    });
  }
  return scan;
}

function videoSource(el: Element): string | undefined {
  const own = attr(el, "src")?.trim();
  if (own) return own;
  for (const child of el.childNodes) {
    if ("tagName" in child && child.tagName === "source") return attr(child, "src")?.trim() || undefined;
  }
  return undefined;
}

function readTiming(
  el: Element,
  index: number,
  src: string,
  loc: SourceLocation,
  number: (el: Element, name: string) => number | undefined,
): VideoRef {
  const start = toMicros(Math.max(0, number(el, "data-start") ?? 0));
  const endAttr = number(el, "data-end");
  const duration = number(el, "data-duration");
  let end: Micros | undefined;
  let inactive = false;
  if (endAttr !== undefined) {
    end = toMicros(Math.max(0, endAttr));
    inactive = end <= start;
  } else if (duration !== undefined) {
    end = start + toMicros(Math.max(0, duration));
    inactive = duration <= 0;
  }
  const playbackStart = number(el, "data-playback-start");
  const mediaStart = playbackStart ?? number(el, "data-media-start") ?? 0;
  const rate = number(el, "data-playback-rate") ?? 1;
  return {
    id: videoId((name) => attr(el, name), index),
    src,
    index,
    loc,
    start,
    end,
    mediaStart: toMicros(Math.max(0, mediaStart)),
    playbackRate: clampRate(rate),
    inactive,
  };
}
