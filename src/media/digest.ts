import { createHash, type Hash } from "node:crypto";
import { open, stat } from "node:fs/promises";

/**
 * Reads go into buffers allocated once and reused: a fresh buffer per read costs a page
 * fault per 4 KiB, which on the 2-core bench machine made hashing 3–5× slower than sha256 itself.
 */
const FILE_CHUNK = 4 * 2 ** 20;
/** Files read ahead of the hash, each into its own reused buffer. */
const FILES_AHEAD = 8;

/**
 * sha256 hex of a file, never held in memory: one chunk is read while the previous one
 * is hashed, so the disk and the hash work side by side.
 */
export async function digestFile(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(file, "r");
  try {
    const buffers = [Buffer.allocUnsafe(FILE_CHUNK), Buffer.allocUnsafe(FILE_CHUNK)];
    let turn = 0;
    let reading = handle.read(buffers[0]!, 0, FILE_CHUNK, null);
    for (;;) {
      const { bytesRead, buffer } = await reading;
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      turn ^= 1;
      reading = handle.read(buffers[turn]!, 0, FILE_CHUNK, null);
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

export interface FilesDigest {
  /** sha256 hex over the files' bytes, in order. */
  digest: string;
  bytes: number;
}

/** sha256 hex over the files' bytes in order, and their total size; several are read ahead of the hash. */
export async function digestFiles(paths: readonly string[]): Promise<FilesDigest> {
  const hash = createHash("sha256");
  const bytes = await hashFiles(hash, paths);
  return { digest: hash.digest("hex"), bytes };
}

/** How often a follower looks for the writer's next file. */
const FOLLOW_POLL_MS = 20;

/**
 * The digest of files 1…`count` (`pathOf(i)`) that a writer such as ffmpeg's image2 muxer is
 * still writing one after another: file i is hashed once file i + 1 exists, because the writer
 * closed i before opening it; the rest once `writing` settles. Hashing so beside the writer
 * spares the wait after it (0.17 ms a frame on the bench machine). The sizes read are checked
 * against the files at the end; should any differ, everything is hashed again from disk.
 */
export async function digestFollowing(pathOf: (i: number) => string, count: number, writing: Promise<unknown>): Promise<FilesDigest> {
  const hash = createHash("sha256");
  const slot = { buffer: Buffer.allocUnsafe(2 ** 20) };
  const sizes: number[] = [];
  let done = false;
  const settled = writing.then(
    () => void (done = true),
    () => void (done = true),
  );
  let bytes = 0;
  while (!done && sizes.length < count - 1) {
    if (await exists(pathOf(sizes.length + 2))) {
      const data = await readWhole(pathOf(sizes.length + 1), slot);
      hash.update(data);
      bytes += data.length;
      sizes.push(data.length);
    } else {
      await Promise.race([new Promise((r) => setTimeout(r, FOLLOW_POLL_MS)), settled]);
    }
  }
  await writing;
  const rest = Array.from({ length: count - sizes.length }, (_, i) => pathOf(sizes.length + i + 1));
  bytes += await hashFiles(hash, rest);
  const unchanged = await Promise.all(sizes.map(async (size, i) => (await stat(pathOf(i + 1))).size === size));
  if (!unchanged.every(Boolean)) return digestFiles(Array.from({ length: count }, (_, i) => pathOf(i + 1)));
  return { digest: hash.digest("hex"), bytes };
}

/** Feed the files to `hash` in order, several read ahead; returns their total size. */
async function hashFiles(hash: Hash, paths: readonly string[]): Promise<number> {
  const slots = Array.from({ length: Math.min(FILES_AHEAD, paths.length) }, () => ({ buffer: Buffer.allocUnsafe(2 ** 20) }));
  const reads: Promise<Buffer>[] = [];
  let hashed = 0;
  let bytes = 0;
  const readNext = () => {
    const i = hashed + reads.length;
    const read = readWhole(paths[i]!, slots[i % slots.length]!);
    read.catch(() => undefined); // awaited in order below; an early failure must not go unhandled
    reads.push(read);
  };
  while (reads.length < slots.length) readNext();
  while (reads.length > 0) {
    const data = await reads.shift()!;
    // Hashed before its slot is handed to the next read.
    hash.update(data);
    bytes += data.length;
    hashed++;
    if (hashed + reads.length < paths.length) readNext();
  }
  return bytes;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A whole file into the slot's buffer, which grows to fit; valid until the slot is used again. */
async function readWhole(path: string, slot: { buffer: Buffer }): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    let length = 0;
    for (;;) {
      if (length === slot.buffer.length) {
        const bigger = Buffer.allocUnsafe(slot.buffer.length * 2);
        slot.buffer.copy(bigger, 0, 0, length);
        slot.buffer = bigger;
      }
      const { bytesRead } = await handle.read(slot.buffer, length, slot.buffer.length - length, length);
      if (bytesRead === 0) return slot.buffer.subarray(0, length);
      length += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
