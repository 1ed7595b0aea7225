import { createWriteStream, type Stats, type WriteStream } from "node:fs";
import { lstat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadEntry } from "tar";
import { frameFileName, frameIndex, SENTINEL } from "../../core/frames.js";
import type { FrameFormat } from "../../core/key.js";
import type { Task } from "../../core/plan.js";
import { digestFrames, readSentinel } from "../sentinel.js";
import type { StoredEntry } from "../store.js";

/**
 * An artifact is a plain tar of an entry directory: the sentinel, then the frames
 * in order. Not gzipped: JPEG and PNG frames are already compressed, so gzip would
 * cost CPU on both ends for almost nothing. Headers are portable with a fixed
 * mtime, so the same entry always packs to the same bytes.
 */
async function packOptions(dir: string, files: string[]) {
  // tar writes a second name of one inode as a Link, which the unpacker refuses; held frames
  // are such names. Stats that count one name each make every frame a regular file.
  const statCache = new Map<string, Stats>();
  for (const file of files) {
    const stat = await lstat(join(dir, file));
    stat.nlink = 1;
    statCache.set(resolve(dir, file), stat);
  }
  return { portable: true, mtime: new Date(0), noDirRecurse: true, cwd: dir, statCache };
}

/** Caps on what a download may contain, whatever the server says. */
export const ARTIFACT_LIMITS = {
  /** One frame: an 8K PNG is well under this. */
  frameBytes: 256 * 1024 * 1024,
  sentinelBytes: 64 * 1024,
  /** Pax headers (long names, big numbers): ours never need one this large. */
  metaBytes: 64 * 1024,
};

/** A download that must not be published; the caller treats it as a miss. */
export class BadArtifact extends Error {
  override readonly name: string = "BadArtifact";
  readonly code: string = "REMOTE_BAD_ARTIFACT";
}

/** A download whose `x-artifact-tag` is missing or wrong while signing is on. */
export class BadSignature extends BadArtifact {
  override readonly name = "BadSignature";
  override readonly code = "REMOTE_BAD_SIGNATURE";
}

export function artifactFiles(entry: StoredEntry): string[] {
  return [SENTINEL, ...Array.from({ length: entry.frames }, (_, i) => frameFileName(i + 1, entry.format))];
}

/** tar, imported on first use (30–40 ms): only a build with the shared cache packs or unpacks. */
function loadTar(): Promise<typeof import("tar")> {
  return import("tar");
}

/** A tar stream of the entry, read from disk as it is sent. */
export function packEntry(dir: string, files: string[]): Readable {
  const out = new PassThrough();
  Promise.all([loadTar(), packOptions(dir, files)])
    .then(([{ create }, options]) => pipeline(create(options, files) as unknown as Readable, out))
    .catch((error: Error) => out.destroy(error));
  return out;
}

/**
 * Exact byte length of `packEntry(dir, files)`, for a Content-Length, counted without keeping
 * the bytes; `onChunk` sees them (a signature needed before the body is sent). Packing is
 * deterministic and entries never change, so the second pass sends these very bytes.
 */
export async function packedSize(dir: string, files: string[], onChunk?: (chunk: Buffer) => void): Promise<number> {
  const { create } = await loadTar();
  let size = 0;
  for await (const chunk of create(await packOptions(dir, files), files)) {
    size += (chunk as Buffer).length;
    onChunk?.(chunk as Buffer);
  }
  return size;
}

export interface ExpectedEntry {
  frames: number;
  format: FrameFormat;
  /** Cap on the whole download. */
  maxBytes: number;
}

/**
 * Unpack an artifact into `dir`, a fresh private directory. Only regular files
 * named `frame_NNNNN.<format>` (within the expected count) and `.hf-complete` are
 * accepted, each once and under a size cap; a path, link, directory, device,
 * anything oversized or malformed rejects the whole artifact with BadArtifact.
 * `onBytes` sees every byte received.
 */
export async function unpackArtifact(
  source: AsyncIterable<Buffer>,
  dir: string,
  expected: ExpectedEntry,
  onBytes: (n: number) => void,
): Promise<void> {
  const seen = new Set<string>();
  const writes: Array<{ out: WriteStream; closed: Promise<void> }> = [];
  let declared = 0;
  let problem: Error | undefined;
  let rejectFailure: (error: Error) => void = () => {};
  const failure = new Promise<never>((_, reject) => (rejectFailure = reject));
  failure.catch(() => undefined);

  const { Parser } = await loadTar();
  const parser = new Parser({ strict: true, maxMetaEntrySize: ARTIFACT_LIMITS.metaBytes });
  const fail = (error: Error) => {
    if (problem) return;
    problem = error;
    rejectFailure(error);
    parser.abort(error);
  };
  parser.on("error", (error: Error) => fail(error instanceof BadArtifact ? error : new BadArtifact(`not a valid tar (${error.message})`)));
  parser.on("ignoredEntry", (entry: ReadEntry) => fail(new BadArtifact(`it holds a ${entry.type} entry "${entry.path}"`)));
  parser.on("entry", (entry: ReadEntry) => {
    const refusal = refuse(entry, expected, seen);
    declared += entry.size;
    if (refusal || declared > expected.maxBytes) {
      entry.resume();
      fail(new BadArtifact(refusal ?? `it unpacks to more than ${expected.maxBytes} bytes`));
      return;
    }
    seen.add(entry.path);
    const out = createWriteStream(join(dir, entry.path), { flags: "wx" });
    const closed = new Promise<void>((resolve, reject) => {
      out.on("close", resolve);
      out.on("error", reject);
    });
    closed.catch((error: Error) => fail(error));
    writes.push({ out, closed });
    entry.pipe(out);
  });
  const ended = new Promise<void>((resolve) => parser.on("end", resolve));
  // The end-of-archive marker: without it a cut-off download could pass for a short one.
  let complete = false;
  parser.on("eof", () => (complete = true));

  try {
    let received = 0;
    for await (const chunk of source) {
      received += chunk.length;
      onBytes(chunk.length);
      if (received > expected.maxBytes) throw new BadArtifact(`it is larger than ${expected.maxBytes} bytes`);
      if (problem) throw problem;
      if (!parser.write(chunk)) await Promise.race([new Promise((resolve) => parser.once("drain", resolve)), failure]);
    }
    parser.end();
    await Promise.race([ended, failure]);
    await Promise.race([Promise.all(writes.map((w) => w.closed)), failure]);
    if (problem) throw problem;
    if (!complete) throw new BadArtifact("it is truncated");
  } catch (error) {
    fail(error as Error);
    // Close every file before the caller removes the directory.
    for (const w of writes) w.out.destroy();
    await Promise.allSettled(writes.map((w) => w.closed));
    throw error;
  }
}

/** Why this tar entry may not be unpacked, or undefined when it may. */
function refuse(entry: ReadEntry, expected: ExpectedEntry, seen: Set<string>): string | undefined {
  const name = entry.path;
  if (entry.type !== "File") return `it holds a ${entry.type} entry "${name}"`;
  if (seen.has(name)) return `it holds "${name}" twice`;
  if (name === SENTINEL) return entry.size > ARTIFACT_LIMITS.sentinelBytes ? "its sentinel is oversized" : undefined;
  const index = frameIndex(name);
  if (index === undefined || !name.endsWith(`.${expected.format}`) || name !== frameFileName(index, expected.format)) {
    return `it holds an unexpected file "${name}"`;
  }
  if (index < 1 || index > expected.frames) return `it holds ${name} but the entry has ${expected.frames} frames`;
  if (entry.size > ARTIFACT_LIMITS.frameBytes) return `${name} is oversized`;
  return undefined;
}

/**
 * Check an unpacked artifact against the task before it may be published: the
 * sentinel's full key, format and frame count must be the task's, and the
 * frames' digest and size must be what the sentinel says.
 */
export async function verifyArtifact(dir: string, task: Task): Promise<void> {
  const read = await readSentinel(dir);
  if (read.kind !== "json") throw new BadArtifact(read.kind === "bad" ? read.reason : "it has no sentinel");
  const s = read.sentinel;
  if (s.key !== task.key) throw new BadArtifact("its sentinel names another key");
  if (s.format !== task.format || s.frames !== task.frameCount) {
    throw new BadArtifact(`it holds ${s.frames} ${s.format} frames where ${task.frameCount} ${task.format} were planned`);
  }
  let actual: { digest: string; bytes: number };
  try {
    actual = await digestFrames(dir, task.frameCount, task.format);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new BadArtifact("frames are missing");
    throw error;
  }
  if (actual.digest !== s.digest || actual.bytes !== s.bytes) throw new BadArtifact("its frames do not match their digest");
}
