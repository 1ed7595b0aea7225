import type { KeyInput } from "./key.js";
import type { Task } from "./plan.js";
import { framesAt, toMicros, type Micros, type Rational } from "./time.js";

/** A run of output frames, 1-based: frames `first` … `first + count - 1`. */
export interface FrameSpan {
  first: number;
  count: number;
}

/** Frames already on disk that a new extraction can take: an entry or a shared decode. */
export interface Donor {
  dir: string;
  /** The key input it was made for (its media start is `ms`). */
  input: KeyInput;
  /** Frames in it. */
  frames: number;
  /** Frames ffmpeg really wrote; the rest repeat the last one because the source ended. */
  written: number;
  /** sha256 over its frames, from its sentinel; a shared decode of this run has none. */
  digest?: string;
}

/** How to build a task's frames from a donor: links for `reuse`, ffmpeg for the spans. */
export interface ReusePlan {
  donor: Donor;
  /** New frame i is donor frame i + offset. */
  offset: number;
  reuse: FrameSpan;
  extract: FrameSpan[];
  /** Frames after the reused ones are past the source's end: they repeat the last reused frame, no ffmpeg needed. */
  heldAfterReuse: boolean;
}

/** Same source, rate, format and transform: the only key fields that may differ are the window (`ms`, `d`). */
export function sameFrames(a: KeyInput, b: KeyInput): boolean {
  return a.p === b.p && a.m === b.m && a.s === b.s && String(a.f) === String(b.f) && a.fmt === b.fmt && (a.t ?? "") === (b.t ?? "");
}

/** Whole frames from media start `from` to `to` at `fps`, or undefined when the frames do not line up. */
export function frameOffset(from: Micros, to: Micros, fps: Rational): number | undefined {
  return framesAt(to - from, fps);
}

/** What a new extraction is, for reuse: its key input, media start, frame count, rate, and `Task.framesOnTicks`. */
export type ReuseTarget = Pick<Task, "input" | "mediaStart" | "frameCount" | "fps" | "framesOnTicks">;

/**
 * Which frames of a new extraction a donor holds. A donor with another media start, or one
 * that leaves spans to extract, only counts when the frames sit on ticks (`Task.framesOnTicks`).
 * Only frames ffmpeg really wrote are taken: a frame the donor repeats because the source ended
 * is a real frame of nothing. Undefined when nothing lines up or overlaps.
 */
export function planReuse(target: ReuseTarget, donor: Donor): ReusePlan | undefined {
  const { input, mediaStart: start, frameCount: frames, fps } = target;
  if (!sameFrames(input, donor.input) || donor.written < 1) return undefined;
  // New frame i is donor frame i + offset: a donor that starts later is behind by its lead.
  const lead = frameOffset(start, toMicros(donor.input.ms), fps);
  if (lead === undefined || (lead !== 0 && !target.framesOnTicks)) return undefined;
  const offset = 0 - lead || 0;
  const lo = Math.max(1, 1 - offset);
  const hi = Math.min(frames, donor.written - offset);
  if (hi < lo) return undefined;
  const extract: FrameSpan[] = [];
  if (lo > 1) extract.push({ first: 1, count: lo - 1 });
  // The donor met the source's end at its last written frame, so every later frame repeats it.
  const heldAfterReuse = hi < frames && donor.written < donor.frames && hi === donor.written - offset;
  if (hi < frames && !heldAfterReuse) extract.push({ first: hi + 1, count: frames - hi });
  // A span starts the fps filter at a later tick; off ticks, the start's own rounding can pick another frame at a tie.
  if (extract.length > 0 && !target.framesOnTicks) return undefined;
  return { donor, offset, reuse: { first: lo, count: hi - lo + 1 }, extract, heldAfterReuse };
}

/** The plan that extracts the fewest frames; undefined when no donor helps. */
export function bestReuse(target: ReuseTarget, donors: Donor[]): ReusePlan | undefined {
  let best: ReusePlan | undefined;
  for (const donor of donors) {
    const plan = planReuse(target, donor);
    if (plan && (!best || plan.reuse.count > best.reuse.count)) best = plan;
  }
  return best;
}

/** One ffmpeg pass over the union of overlapping windows, and the tasks that take frames from it. */
export interface SharedDecode {
  /** The earliest member, widened to the union's frame count. */
  task: Task;
  members: Task[];
}

/**
 * Group tasks of one source and settings whose windows overlap or touch and whose media
 * starts are whole frames apart; only groups of two or more are worth a shared pass.
 */
export function sharedDecodes(tasks: Task[]): SharedDecode[] {
  const bySettings = new Map<string, Task[]>();
  for (const task of tasks) {
    const { p, m, s, f, fmt, t } = task.input;
    const id = JSON.stringify([p, m, s, String(f), fmt, t ?? ""]);
    const same = bySettings.get(id);
    if (same) same.push(task);
    else bySettings.set(id, [task]);
  }
  const groups: SharedDecode[] = [];
  for (const same of bySettings.values()) {
    let base: Task | undefined;
    let members: Task[] = [];
    let end = 0;
    const close = () => {
      if (base && members.length > 1) groups.push({ task: { ...base, frameCount: end }, members });
    };
    for (const task of [...same].sort((a, b) => a.mediaStart - b.mediaStart)) {
      const offset = base ? frameOffset(base.mediaStart, task.mediaStart, task.fps) : undefined;
      const lines = offset === 0 || (base?.framesOnTicks && task.framesOnTicks);
      if (base && offset !== undefined && lines && offset <= end) {
        members.push(task);
        end = Math.max(end, offset + task.frameCount);
        continue;
      }
      close();
      base = task;
      members = [task];
      end = task.frameCount;
    }
    close();
  }
  return groups;
}

/** `frames` split into `parts` consecutive spans of near-equal length (fewer when frames are few). */
export function splitFrames(frames: number, parts: number): FrameSpan[] {
  const n = Math.max(1, Math.min(parts, frames));
  return Array.from({ length: n }, (_, i) => {
    const first = Math.floor((i * frames) / n) + 1;
    return { first, count: Math.floor(((i + 1) * frames) / n) + 1 - first };
  });
}

/** Each segment must be long enough that its seek and decoder start-up are small beside it. */
export const MIN_SEGMENT_FRAMES = 300;

/**
 * How many parallel segments a clip gets: only when the machine has cores beyond what the
 * concurrent extractions use (measured on 2 cores: segments there only compete, see README).
 */
export function segmentCount(frames: number, cores: number, concurrency: number, minCores = 8): number {
  if (cores < minCores) return 1;
  const spare = Math.floor(cores / Math.max(1, concurrency) / 2);
  return Math.max(1, Math.min(spare, Math.floor(frames / MIN_SEGMENT_FRAMES)));
}
