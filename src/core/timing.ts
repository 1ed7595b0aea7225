import type { SourceLocation } from "./errors.js";
import { toMicros, type Micros } from "./time.js";

/** `data-start="intro + 2"`: the end of the element named `id`, plus `offset`. */
export interface StartRef {
  id: string;
  offset: Micros;
  /** As written, for messages. */
  text: string;
}

/** The timing attributes of an element on its file's timeline, as written (nothing resolved). */
export interface Timing {
  /** `data-start` as seconds (0 when absent or a reference). */
  start: Micros;
  startRef?: StartRef;
  /** `data-end`. */
  end?: Micros;
  /** `data-duration`. */
  duration?: Micros;
}

/** An element that a start reference can name: `id`, else `data-composition-id`. */
export interface NamedElement {
  name: string;
  /** The same object as the element's VideoRef or NestedRef timing. */
  timing: Timing;
  loc: SourceLocation;
  /** The `<video>` it is, by its index among the file's videos. */
  video?: number;
}

/** The longest time an attribute may give, in seconds (about 31 years). */
export const MAX_SECONDS = 1e9;

const REFERENCE = /^\s*([A-Za-z_][\w.:-]*)\s*(?:([+-])\s*(\d+(?:\.\d*)?|\.\d+)\s*)?$/;

/** `intro`, `intro + 2`, `intro - 0.5` (an id starts with a letter or `_`, so `1s` is a typo, not a name). */
export function parseStartRef(text: string): StartRef | undefined {
  const m = REFERENCE.exec(text);
  if (!m) return undefined;
  const amount = m[3] === undefined ? 0 : Number(m[3]);
  if (!Number.isFinite(amount) || amount > MAX_SECONDS) return undefined;
  return { id: m[1]!, offset: toMicros(m[2] === "-" ? -amount : amount), text: text.trim() };
}

/**
 * A playback rate as HyperFrames reads it: `parseFloat` (so `"2x"` is 2), 1 when that is not a
 * positive number, then clamped to [0.1, 5]; undefined when nothing could be read from `text`.
 */
export function parseRate(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const rate = Number.parseFloat(text);
  return Number.isFinite(rate) && rate > 0 ? rate : undefined;
}
