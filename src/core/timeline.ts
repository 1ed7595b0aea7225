import type { Warning } from "./errors.js";
import type { CompositionScan, VideoRef } from "./scan.js";
import { scaleMicros, type Micros } from "./time.js";
import type { NamedElement, Timing } from "./timing.js";

/**
 * The timeline of an entry composition (DESIGN §3): every video's window on the entry's clock,
 * across the files it mounts, with start references, host offsets and caps, the timeline's end
 * and negative preroll applied. Pure: the natural length of a video (which only a probe knows)
 * is asked for, and a reference that needs one the caller does not know yet is listed in `needs`.
 */

/** One composition file of the tree: its scan, and for each of its hosts the file it mounts. */
export interface TimelineFile {
  scan: CompositionScan;
  /** Parallel to `scan.nested`: the mounted file, or undefined when it was not loaded (missing, a cycle). */
  mounts: readonly (string | undefined)[];
}

/** Where one instance of a `<video>` shows, on the entry's timeline. */
export interface ClipWindow {
  file: string;
  ref: VideoRef;
  /** When it starts showing (≥ 0). */
  start: Micros;
  /** When it stops: its own end, cut by its hosts and the timeline's end; undefined when none of them is set. */
  end?: Micros;
  /** It has no end of its own: the source's end stops it first, if that comes before `end`. */
  natural: boolean;
  /** Seconds into the source at `start` (the media start, advanced by any preroll). */
  mediaStart: Micros;
  /** Its start on its own file's timeline (a reference resolved), the same for every instance. */
  localStart: Micros;
  /** Its own end there (`data-end`, or start + `data-duration`); undefined when natural. */
  localEnd?: Micros;
}

/** A host's window on its own file's timeline, references resolved: where the mounted file starts and what caps it. */
export interface HostWindow {
  file: string;
  /** Its index among the file's hosts (`scan.nested`). */
  index: number;
  start: Micros;
  end?: Micros;
}

export interface Timeline {
  /** The entry root's `data-duration`: nothing is shown from then on. */
  end?: Micros;
  windows: ClipWindow[];
  hosts: HostWindow[];
  warnings: Warning[];
  /** Videos whose natural length a start reference needs and `natural` did not know. */
  needs: { file: string; video: number }[];
}

/** A video's natural length on the timeline (the rest of its source after the media start, over the rate). */
export type NaturalLength = (file: string, ref: VideoRef) => Micros | undefined;

export function resolveTimeline(entry: string, files: ReadonlyMap<string, TimelineFile>, natural: NaturalLength = () => undefined): Timeline {
  const timeline: Timeline = { end: files.get(entry)?.scan.duration, windows: [], hosts: [], warnings: [], needs: [] };
  const hostsSeen = new Set<string>();
  const starts = new StartResolver(files, natural, timeline);

  const walk = (file: string, offset: Micros, cap: Micros | undefined, stack: string[]): void => {
    const tree = files.get(file);
    if (!tree) return;
    for (const ref of tree.scan.videos) {
      const own = ownWindow(ref.timing, starts.start(file, ref.timing, ref.loc), false);
      if (!own) continue;
      const absolute = own.start + offset;
      const end = minDefined(own.end === undefined ? undefined : own.end + offset, cap);
      // Before 0 (a host at a negative time) it shows from 0, that much further into its source.
      const cut = Math.max(0, -absolute);
      const start = absolute + cut;
      if (end !== undefined && end <= start) continue;
      const mediaStart = ref.mediaStart + scaleMicros(cut, ref.playbackRate);
      timeline.windows.push({ file, ref, start, end, natural: own.end === undefined, mediaStart, localStart: own.start, localEnd: own.end });
    }
    tree.scan.nested.forEach((host, i) => {
      const mounted = tree.mounts[i];
      const own = ownWindow(host.timing, starts.start(file, host.timing, host.loc), true);
      if (own && !hostsSeen.has(`${file}#${i}`)) {
        hostsSeen.add(`${file}#${i}`);
        timeline.hosts.push({ file, index: i, ...own });
      }
      if (!mounted || !own || stack.includes(mounted)) return;
      const hostCap = minDefined(own.end === undefined ? undefined : own.end + offset, cap);
      if (hostCap !== undefined && own.start + offset >= hostCap) return;
      walk(mounted, own.start + offset, hostCap, [...stack, mounted]);
    });
  };
  walk(entry, 0, timeline.end, [entry]);
  return timeline;
}

/** Window of an element on its own file's timeline from its resolved start; undefined when it never shows. */
function ownWindow(timing: Timing, start: Micros, host: boolean): { start: Micros; end?: Micros } | undefined {
  const from = host ? start : Math.max(0, start);
  if (timing.duration !== undefined && timing.duration <= 0) return undefined;
  const byDuration = timing.duration === undefined ? undefined : from + timing.duration;
  // A clip's data-end wins over its duration; a host's two are both caps.
  const end = host ? minDefined(timing.end, byDuration) : (timing.end ?? byDuration);
  if (end !== undefined && end <= from) return undefined;
  return { start: from, end };
}

function minDefined(a: Micros | undefined, b: Micros | undefined): Micros | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** Start references (DESIGN §3.3), each resolved once; an unknown name or a cycle is a warning and gives 0. */
class StartResolver {
  private readonly resolved = new Map<Timing, Micros>();
  /** Elements whose start is being resolved, outermost first. */
  private readonly stack: Timing[] = [];
  /** Elements found on a cycle of references: each starts at 0. */
  private readonly cyclic = new Set<Timing>();

  constructor(
    private readonly files: ReadonlyMap<string, TimelineFile>,
    private readonly natural: NaturalLength,
    private readonly timeline: Timeline,
  ) {}

  /** An element's start on its file's timeline (a reference's result is never below 0). */
  start(file: string, timing: Timing, loc: Warning["loc"]): Micros {
    const ref = timing.startRef;
    if (!ref) return timing.start;
    const known = this.resolved.get(timing);
    if (known !== undefined) return known;
    const target = this.find(file, ref.id);
    if (!target) {
      this.warn(loc, `data-start="${ref.text}" names no element with id or data-composition-id "${ref.id}" in this file; it starts at 0`);
      return this.settle(timing, 0);
    }
    const at = target.element.timing === timing ? this.stack.length : this.stack.indexOf(target.element.timing);
    if (at >= 0) {
      for (const member of [...this.stack.slice(at), timing]) this.cyclic.add(member);
    } else {
      this.stack.push(timing);
      const start = Math.max(0, this.endOf(target.file, target.element) + ref.offset);
      this.stack.pop();
      if (!this.cyclic.has(timing)) return this.settle(timing, start);
    }
    this.warn(loc, `data-start="${ref.text}" is part of a cycle of start references; it starts at 0`);
    return this.settle(timing, 0);
  }

  private settle(timing: Timing, start: Micros): Micros {
    this.resolved.set(timing, start);
    return start;
  }

  /** Its resolved start plus its `data-duration` (> 0), else its `data-end`, else a video's natural length. */
  private endOf(file: string, element: NamedElement): Micros {
    const { timing } = element;
    const start = this.start(file, timing, element.loc);
    if (timing.duration !== undefined && timing.duration > 0) return start + timing.duration;
    if (timing.end !== undefined) return timing.end;
    const video = element.video === undefined ? undefined : this.files.get(file)?.scan.videos.find((v) => v.index === element.video);
    if (!video) return start;
    const length = this.natural(file, video);
    if (length === undefined) this.timeline.needs.push({ file, video: video.index });
    return start + (length ?? 0);
  }

  /**
   * The element named `id` in the same file: each file has its own clock, and a file mounted
   * twice has two, so a name in another file has no one end to start from.
   */
  private find(file: string, id: string): { file: string; element: NamedElement } | undefined {
    const own = this.files.get(file)?.scan.named.find((e) => e.name === id);
    return own && { file, element: own };
  }

  private warn(loc: Warning["loc"], message: string): void {
    this.timeline.warnings.push({ code: "FC_BAD_ATTRIBUTE", message, loc: { ...loc } });
  }
}

/** A window once its source's length is known: what it extracts and how it shows (DESIGN §3.2). */
export interface ResolvedClip {
  start: Micros;
  /** The window's start on its own file's timeline, and its own end there (undefined when natural). */
  localStart: Micros;
  localEnd?: Micros;
  /** When it stops showing; undefined for a loop that never ends. */
  end?: Micros;
  /** Seconds into the source at `start`: the time of frame 1. */
  mediaStart: Micros;
  /** Seconds of source extracted from `mediaStart`. */
  span: Micros;
  /** The timeline length of one pass through the source, when it loops. */
  cycle?: Micros;
}

/**
 * The source span a window needs, `available` being the source's video length; undefined when it
 * never shows. A natural clip stops at the source's end or its cap, whichever comes first; one with
 * an end holds its last frame past the source's end; a loop extracts at most one cycle (the rest of
 * the source after its media start) and repeats it.
 */
export function resolveClip(w: ClipWindow, available: Micros): ResolvedClip | undefined {
  const { ref } = w;
  const rate = ref.playbackRate;
  const visible = w.end === undefined ? undefined : w.end - w.start;
  const base = { start: w.start, localStart: w.localStart, localEnd: w.localEnd };
  const prerolled = w.mediaStart > ref.mediaStart;
  if (ref.loop) {
    // Cycles count from the clip's own media start; a preroll only moves where in one the clip begins.
    const cycle = Math.max(0, available - ref.mediaStart);
    const span = visible === undefined || prerolled ? cycle : Math.min(cycle, scaleMicros(visible, rate));
    return { ...base, end: w.end, mediaStart: ref.mediaStart, span, cycle: Math.floor(cycle / rate) };
  }
  const rest = available - w.mediaStart;
  if (prerolled && rest <= 0 && ref.mediaStart < available) {
    // The preroll ran past the source's end: a natural clip never shows, one with an end shows the last frame held.
    if (w.natural) return undefined;
    const cut = Math.floor((w.mediaStart - ref.mediaStart) / rate);
    return { ...base, end: w.end, mediaStart: ref.mediaStart, span: scaleMicros(visible! + cut, rate) };
  }
  const restOnTimeline = Math.floor(Math.max(0, rest) / rate);
  if (w.natural && (visible === undefined || restOnTimeline <= visible)) return { ...base, end: w.start + restOnTimeline, mediaStart: w.mediaStart, span: Math.max(0, rest) };
  return { ...base, end: w.end, mediaStart: w.mediaStart, span: scaleMicros(visible!, rate) };
}

/** Several instances of one `<video>` share one entry: the source from the earliest media start to the latest end. */
export function unionSpan(clips: readonly ResolvedClip[]): { mediaStart: Micros; span: Micros } {
  const mediaStart = Math.min(...clips.map((c) => c.mediaStart));
  const end = Math.max(...clips.map((c) => c.mediaStart + c.span));
  return { mediaStart, span: end - mediaStart };
}

/** The timelines of one run's entries, by composition file: what planning and the output read. */
export class TreeTiming {
  readonly windows = new Map<string, ClipWindow[]>();
  readonly hosts = new Map<string, HostWindow[]>();
  /** Entry files' ends. */
  readonly ends = new Map<string, Micros>();

  /** Add an entry's timeline; a file several entries mount gets every window (a host's is the same in each). */
  add(entry: string, timeline: Timeline): this {
    for (const w of timeline.windows) this.windows.set(w.file, [...(this.windows.get(w.file) ?? []), w]);
    for (const h of timeline.hosts) {
      const known = this.hosts.get(h.file) ?? [];
      if (!known.some((k) => k.index === h.index)) this.hosts.set(h.file, [...known, h]);
    }
    if (timeline.end !== undefined) this.ends.set(entry, timeline.end);
    return this;
  }
}
