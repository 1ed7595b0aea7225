/**
 * Exact time arithmetic. Seconds are held as integer microseconds so that
 * `2.05 s × 30` is 61.5 exactly and rounds to 62, never to 61 through float drift.
 */
export type Micros = number;

export interface Rational {
  num: number;
  den: number;
}

const MICRO = 1_000_000n;

/** Strict number parse: what `Number(v)` accepts, finite and non-empty; else undefined. */
export function parseStrictNumber(value: string | undefined | null): number | undefined {
  if (value == null || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Playback rates outside [0.1, 5] are clamped to it, as HyperFrames does. */
export function clampRate(rate: number): number {
  return Math.min(5, Math.max(0.1, rate));
}

/** Seconds → microseconds, truncated, taken from the number's shortest decimal form. */
export function toMicros(seconds: number): Micros {
  if (!Number.isFinite(seconds)) throw new RangeError(`not a finite time: ${seconds}`);
  const negative = seconds < 0;
  const [whole = "0", frac = ""] = plainDecimal(Math.abs(seconds)).split(".");
  const fraction = (frac + "000000").slice(0, 6);
  // With up to 9 whole digits the result is below 2^53, where Number arithmetic on the same
  // digits is exact: a warm run converts every timing attribute, and BigInt was its cost.
  if (whole.length <= 9) {
    const micros = Number(whole) * 1e6 + Number(fraction);
    return negative && micros !== 0 ? -micros : micros;
  }
  const micros = BigInt(whole) * MICRO + BigInt(fraction);
  return Number(negative ? -micros : micros);
}

/** The shortest round-trip decimal of a non-negative number, without exponent notation. */
function plainDecimal(n: number): string {
  const s = n.toString();
  if (!s.includes("e")) return s;
  const [mantissa = "0", expText = "0"] = s.split("e");
  const exp = Number(expText);
  const [intPart = "0", fracPart = ""] = mantissa.split(".");
  const digits = intPart + fracPart;
  const point = intPart.length + exp;
  if (point <= 0) return `0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + "0".repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Microseconds → seconds as the JSON number the key uses (1_500_000 → 1.5). */
export function fromMicros(micros: Micros): number {
  return micros / 1e6;
}

/** span × rate, where rate is itself a decimal truncated to microseconds. */
export function scaleMicros(span: Micros, rate: number): Micros {
  return Number((BigInt(span) * BigInt(toMicros(rate))) / MICRO);
}

/**
 * Frames for a span at a rate: constant-rate sources round half up, variable-rate
 * sources take the ceiling; any positive span gives at least one frame.
 */
export function frameCount(span: Micros, fps: Rational, variable = false): number {
  if (span <= 0) return 0;
  const numer = BigInt(span) * BigInt(fps.num);
  const denom = BigInt(fps.den) * MICRO;
  const count = variable ? (numer + denom - 1n) / denom : (2n * numer + denom) / (2n * denom);
  return Math.max(1, Number(count));
}

/** Beyond this a frame rate is a typo: no source has more, and the frame counts would be absurd. */
export const MAX_FPS = 1000;

/** Parse an fps given as an integer or an exact `num/den` (at most MAX_FPS); decimals are refused. */
export function parseFps(value: unknown): Rational | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && value > 0 && value <= MAX_FPS ? { num: value, den: 1 } : undefined;
  }
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+)\s*(?:\/\s*(\d+)\s*)?$/.exec(value);
  if (!m) return undefined;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  if (!Number.isSafeInteger(num) || !Number.isSafeInteger(den) || num <= 0 || den <= 0 || num / den > MAX_FPS) return undefined;
  const g = gcd(num, den);
  return { num: num / g, den: den / g };
}

/** The fps as ffmpeg and the key take it: `30`, or `"30000/1001"`. */
export function fpsValue(fps: Rational): number | string {
  return fps.den === 1 ? fps.num : `${fps.num}/${fps.den}`;
}

export function fpsText(fps: Rational): string {
  return String(fpsValue(fps));
}

/** A media time that is a whole number of frames at the given rate, as a frame index; else undefined. */
export function framesAt(time: Micros, fps: Rational): number | undefined {
  const numer = BigInt(time) * BigInt(fps.num);
  const denom = BigInt(fps.den) * MICRO;
  return numer % denom === 0n ? Number(numer / denom) : undefined;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
