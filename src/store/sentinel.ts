import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { frameFileName, SENTINEL } from "../core/frames.js";
import type { FrameFormat, KeyInput } from "../core/key.js";
import { digestFiles, type FilesDigest } from "../media/digest.js";

/** The `.hf-complete` file: written last, so its presence means the entry is whole. */
export interface Sentinel {
  key: string;
  input: KeyInput;
  frames: number;
  bytes: number;
  /** sha256 over every frame's bytes, in frame order. */
  digest: string;
  format: FrameFormat;
  fps: number | string;
  created: string;
  /** Absolute path of the source it was made from; lets `--explain` find entries of the same file. */
  source?: string;
  /** Frames ffmpeg really wrote; later ones repeat the last because the source ended. Lets a trim edit reuse frames. */
  written?: number;
}

/** An empty sentinel is what the HyperFrames v2 engine writes: trusted when frames exist. */
export type SentinelRead = { kind: "json"; sentinel: Sentinel } | { kind: "legacy" } | { kind: "bad"; reason: string } | { kind: "none" };

export async function readSentinel(entryDir: string): Promise<SentinelRead> {
  let text: string;
  try {
    text = await readFile(join(entryDir, SENTINEL), "utf8");
  } catch (error) {
    // No entry is a miss; out of descriptors or a refused read is not, or it would re-extract silently.
    if (["EMFILE", "ENFILE", "EACCES"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
    return { kind: "none" };
  }
  return parseSentinel(text);
}

/**
 * `readSentinel` in one synchronous read: a warm run looks up every video, and a promise-based
 * read (open, fstat, read, close, each a trip through libuv's pool) cost about 0.1 ms of the
 * main thread a lookup, where this costs a few microseconds of a file in the page cache.
 */
export function readSentinelSync(entryDir: string): SentinelRead {
  let text: string;
  try {
    text = readFileSync(join(entryDir, SENTINEL), "utf8");
  } catch (error) {
    if (["EMFILE", "ENFILE", "EACCES"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
    return { kind: "none" };
  }
  return parseSentinel(text);
}

function parseSentinel(text: string): SentinelRead {
  if (text.trim() === "") return { kind: "legacy" };
  try {
    const sentinel = JSON.parse(text) as Sentinel;
    if (typeof sentinel.key !== "string" || !Number.isInteger(sentinel.frames) || sentinel.frames < 1) {
      return { kind: "bad", reason: "sentinel lacks a key or a frame count" };
    }
    return { kind: "json", sentinel };
  } catch {
    return { kind: "bad", reason: "sentinel is not valid JSON" };
  }
}

/** Digest and byte total of frames 1..count, hashed in order. */
export function digestFrames(dir: string, count: number, format: FrameFormat): Promise<FilesDigest> {
  return digestFiles(Array.from({ length: count }, (_, i) => join(dir, frameFileName(i + 1, format))));
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
