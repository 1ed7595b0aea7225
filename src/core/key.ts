import { createHash } from "node:crypto";

export const SCHEMA_PREFIX = "hfcache-v2-";
export type FrameFormat = "jpg" | "png";
export type KeyMode = "content" | "stat";

/**
 * The key object, field order fixed by the HyperFrames v2 engine: `JSON.stringify`
 * of exactly this shape is hashed, so adding, renaming or reordering a field
 * silently orphans every entry on disk.
 */
export interface KeyInput {
  /** `stat`: absolute source path; `content`: `sha256:<hex>` of the file's bytes. */
  p: string;
  /** `stat`: `Math.floor(mtimeMs)`; `content`: 0. */
  m: number;
  /** Source size in bytes. */
  s: number;
  /** Media start in seconds. */
  ms: number;
  /** Source span in seconds, -1 when it could not be resolved. */
  d: number;
  /** The ffmpeg fps argument: a number for integer rates, `"num/den"` otherwise. */
  f: number | string;
  fmt: FrameFormat;
  /** Non-default output settings, `name=value` sorted and joined by `+`. */
  t?: string;
}

export function keyInput(fields: Omit<KeyInput, "t">, transform: Record<string, string | number> = {}): KeyInput {
  const input: KeyInput = {
    p: fields.p,
    m: fields.m,
    s: fields.s,
    ms: fields.ms,
    d: Number.isFinite(fields.d) ? fields.d : -1,
    f: fields.f,
    fmt: fields.fmt,
  };
  const t = transformTag(transform);
  if (t) input.t = t;
  return input;
}

export function transformTag(transform: Record<string, string | number>): string {
  return Object.keys(transform)
    .sort()
    .map((name) => `${name}=${transform[name]}`)
    .join("+");
}

export function computeKey(input: KeyInput): string {
  return createHash("sha256").update(JSON.stringify(input)).digest("hex");
}

export function entryName(key: string): string {
  return SCHEMA_PREFIX + key.slice(0, 16);
}

export const ENTRY_NAME_PATTERN = /^hfcache-v2-[0-9a-f]{16}$/;
