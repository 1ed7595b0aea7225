import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, expect, it } from "vitest";
import { digestFile, digestFiles, digestFollowing } from "../src/media/digest.js";
import { tempDir } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash("sha256")).digest("hex");

it("digests a file larger than its read buffers, and an empty one, as sha256 does", async () => {
  const big = randomBytes(9 * 2 ** 20 + 3);
  writeFileSync(join(dir, "big"), big);
  writeFileSync(join(dir, "empty"), "");
  expect(await digestFile(join(dir, "big"))).toBe(sha256(big));
  expect(await digestFile(join(dir, "empty"))).toBe(sha256());
});

it("digests files in order, more of them than it reads ahead, some larger than a slot's buffer", async () => {
  const parts = Array.from({ length: 21 }, (_, i) => randomBytes(i === 5 ? 3 * 2 ** 20 + 1 : i * 1000));
  const paths = parts.map((p, i) => {
    writeFileSync(join(dir, `f${i}`), p);
    return join(dir, `f${i}`);
  });
  expect(await digestFiles(paths)).toEqual({ digest: sha256(...parts), bytes: parts.reduce((n, p) => n + p.length, 0) });
  expect(await digestFiles([])).toEqual({ digest: sha256(), bytes: 0 });
  await expect(digestFiles([...paths, join(dir, "missing")])).rejects.toThrow(/ENOENT/);
});

it("hashes ffmpeg's frames while it writes them, to the digest of the finished files", async () => {
  const frame = (i: number) => join(dir, `f_${String(i).padStart(5, "0")}.png`);
  // -re paces ffmpeg at the source's rate, so most frames are hashed while it still runs.
  const writing = promisify(execFile)("ffmpeg", ["-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30", "-frames:v", "30", join(dir, "f_%05d.png")]);
  const following = await digestFollowing(frame, 30, writing);
  expect(following).toEqual(await digestFiles(Array.from({ length: 30 }, (_, i) => frame(i + 1))));
});

it("hashes again from disk when a file changed after it was hashed", async () => {
  const path = (i: number) => join(dir, `f${i}`);
  writeFileSync(path(1), "one");
  writeFileSync(path(2), "two");
  // The follower names file 1 to hash it, and looks for file 3 again only once that hash is done:
  // from then on, a change to file 1 is one it cannot have seen, however fast or slow the machine.
  let taken = false;
  let hashedOne!: () => void;
  const hashed = new Promise<void>((resolve) => (hashedOne = resolve));
  const frame = (i: number) => {
    if (i === 1) taken = true;
    else if (i === 3 && taken) hashedOne();
    return path(i);
  };
  let finish!: () => void;
  const writing = new Promise<void>((resolve) => (finish = resolve));
  const following = digestFollowing(frame, 3, writing);
  await hashed;
  // Then break the writer's promise that file 1 was finished.
  appendFileSync(path(1), " and more");
  writeFileSync(path(3), "three");
  finish();
  expect(await following).toEqual({ digest: sha256(Buffer.from("one and more"), Buffer.from("two"), Buffer.from("three")), bytes: 20 });
});

it("fails as the writer fails", async () => {
  await expect(digestFollowing((i) => join(dir, `none${i}`), 3, Promise.reject(new Error("ffmpeg failed")))).rejects.toThrow("ffmpeg failed");
});
