import type { SourceLocation, Warning } from "./errors.js";
import { attr, editSites, elementsOf, positionOf, rootComposition, textOf, type EditSites, type Element } from "./html.js";
import { isHttpSource, isInlineSource, redactUrl } from "./remote-url.js";
import { videoId } from "./video-id.js";
import { clampRate, MAX_FPS, parseFps, parseStrictNumber, toMicros, type Micros, type Rational } from "./time.js";
import { MAX_SECONDS, parseRate, parseStartRef, type NamedElement, type Timing } from "./timing.js";

/** One `<video>` found in a composition, with its timing resolved per DESIGN §3. */
export interface VideoRef {
  id: string;
  /** The `src` as written (query and fragment included); for an `http(s)` source, with secrets redacted. */
  src: string;
  /** An `http(s)` source's URL as written, secrets and all: only ever requested, never shown. */
  url?: string;
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
  /** Its timing attributes as written; the timeline resolves references and caps from them. */
  timing: Timing;
  /** The `loop` attribute: the clip repeats its source from the media start to the source's end. */
  loop: boolean;
}

/** A host: an element that mounts another composition file (`data-composition-src`). */
export interface NestedRef {
  src: string;
  loc: SourceLocation;
  /** Its timing on this file's timeline; a negative start is kept (the mounted file starts before 0). */
  timing: Timing;
}

export interface ScanWarning extends Warning {
  code: "FC_BAD_ATTRIBUTE" | "FC_REMOTE_SOURCE";
}

export interface CompositionScan {
  file: string;
  /** The root's `data-fps`, when it has one. */
  fps?: Rational;
  videos: VideoRef[];
  /** Inline sources (`data:`, `blob:`), which no file stands behind and are not extracted. */
  skipped: VideoRef[];
  nested: NestedRef[];
  /** The entry root's `data-duration` (else `data-composition-duration`): where the timeline ends. */
  duration?: Micros;
  /** Elements a start reference can name. */
  named: NamedElement[];
  /** Inline scripts that appear to create `<video>` elements, which no scan can see. */
  scriptsCreateVideo: boolean;
  warnings: ScanWarning[];
  /** Where a rewrite of this very text edits it (see setAttributes), so that it is parsed once. */
  sites: EditSites;
}

const CREATES_VIDEO = /createElement\(\s*["'`]video["'`]\s*\)|<video[\s>]/i;

/** Scan one composition's HTML. `file` is only used to label locations. */
export function scanComposition(html: string, file: string): CompositionScan {
  const elements = elementsOf(html);
  const scan: CompositionScan = {
    file,
    videos: [],
    skipped: [],
    nested: [],
    named: [],
    scriptsCreateVideo: false,
    warnings: [],
    sites: editSites(elements),
  };
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
  const rateOf = (el: Element, name: string): number | undefined => {
    const raw = attr(el, name);
    const rate = parseRate(raw);
    if (raw !== undefined && raw.trim() !== "" && rate === undefined) {
      scan.warnings.push({ code: "FC_BAD_ATTRIBUTE", message: `${name}="${raw.slice(0, 40)}" is not a number and is ignored; write a rate such as ${name}="1.5"`, loc: locate(el, name) });
    }
    return rate;
  };

  const composition = rootComposition(elements);
  const root = composition && attr(composition, "data-fps") !== undefined ? composition : elements.find((el) => attr(el, "data-fps") !== undefined);
  if (composition) {
    const duration = number(composition, "data-duration") ?? number(composition, "data-composition-duration");
    if (duration !== undefined && duration > 0) scan.duration = toMicros(duration);
  }
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

  const timingOf = (el: Element, negative: boolean): Timing => {
    const raw = attr(el, "data-start");
    const startRef = raw !== undefined && parseStrictNumber(raw) === undefined ? parseStartRef(raw) : undefined;
    const start = startRef ? undefined : number(el, "data-start");
    const end = number(el, "data-end");
    const duration = number(el, "data-duration");
    return {
      start: toMicros(negative ? (start ?? 0) : Math.max(0, start ?? 0)),
      startRef,
      end: end === undefined ? undefined : toMicros(Math.max(0, end)),
      duration: duration === undefined ? undefined : toMicros(duration),
    };
  };
  let videoIndex = 0;
  for (const el of elements) {
    const nestedSrc = attr(el, "data-composition-src")?.trim();
    if (el.tagName === "script" && CREATES_VIDEO.test(textOf(el))) scan.scriptsCreateVideo = true;
    const name = attr(el, "id") || attr(el, "data-composition-id");
    const isVideo = el.tagName === "video";
    const index = isVideo ? videoIndex++ : -1;
    // Videos, hosts and anything a start reference can name take part in the timeline.
    if (!isVideo && !nestedSrc && !name) continue;
    // One object per element, so the timeline tells an element by it (references, cycles).
    const timing = timingOf(el, !!nestedSrc);
    if (nestedSrc) scan.nested.push({ src: nestedSrc, loc: locate(el, "data-composition-src"), timing });
    if (name) scan.named.push({ name, loc: locate(el), timing, video: isVideo ? index : undefined });
    if (!isVideo) continue;
    const src = videoSource(el);
    if (!src) continue;
    const remote = isHttpSource(src);
    const ref = readVideo(el, index, remote ? redactUrl(src) : src, locate(el), timing, (a) => number(el, a), (a) => rateOf(el, a));
    if (remote) ref.url = src;
    (isInlineSource(src) ? scan.skipped : scan.videos).push(ref);
  }
  for (const ref of scan.skipped) {
    scan.warnings.push({
      code: "FC_REMOTE_SOURCE",
      message: `video "${ref.id}" has an inline src (${ref.src.slice(0, 60)}) and is not extracted`,
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

function readVideo(
  el: Element,
  index: number,
  src: string,
  loc: SourceLocation,
  timing: Timing,
  number: (name: string) => number | undefined,
  rate: (name: string) => number | undefined,
): VideoRef {
  const { start, end: endAttr, duration } = timing;
  let end: Micros | undefined;
  let inactive = false;
  if (endAttr !== undefined) {
    end = endAttr;
    inactive = end <= start && !timing.startRef;
  } else if (duration !== undefined) {
    end = start + Math.max(0, duration);
    inactive = duration <= 0;
  }
  const playbackStart = number("data-playback-start");
  const mediaStart = playbackStart !== undefined && playbackStart >= 0 ? playbackStart : Math.max(0, number("data-media-start") ?? 0);
  return {
    id: videoId((name) => attr(el, name), index),
    src,
    index,
    loc,
    start,
    end,
    mediaStart: toMicros(mediaStart),
    playbackRate: clampRate(rate("data-playback-rate") ?? 1),
    inactive,
    timing,
    loop: attr(el, "loop") !== undefined,
  };
}
