import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { digestFile, digestFiles } from "../src/media/digest.js";
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
