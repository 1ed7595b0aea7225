import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { frameFileName } from "../src/core/frames.js";
import type { VideoResult } from "../src/pipeline/engine.js";
import { writeFrames } from "../src/pipeline/output.js";
import { runEngine, videoTag } from "./helpers/engine.js";
import { makeCodedVideo, tempDir } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

/** Two real entries (15 and 9 frames) of one source. */
async function twoEntries(): Promise<VideoResult[]> {
  makeCodedVideo(join(dir, "clip.mp4"), { seconds: 2 });
  const { byId, errors } = await runEngine(dir, [
    videoTag("a", "clip.mp4", { "data-duration": 0.5 }),
    videoTag("b", "clip.mp4", { "data-media-start": 1, "data-duration": 0.3 }),
  ]);
  expect(errors).toEqual([]);
  return [byId.a!, byId.b!];
}

/** Each frame placed under `out` next to the store's: same bytes, and whether it is the same file. */
function placed(results: VideoResult[], out: string): { frames: number; same: boolean[] } {
  const same: boolean[] = [];
  for (const { entry } of results) {
    for (let i = 1; i <= entry.frames; i++) {
      const name = frameFileName(i, entry.format);
      const from = join(entry.dir, name);
      const to = join(out, "assets/frames", entry.name, name);
      expect(readFileSync(to).equals(readFileSync(from)), to).toBe(true);
      same.push(statSync(to).ino === statSync(from).ino && statSync(to).dev === statSync(from).dev);
    }
    expect(existsSync(join(out, "assets/frames", entry.name, frameFileName(entry.frames + 1, entry.format)))).toBe(false);
  }
  return { frames: same.length, same };
}

describe("placing frames in the output", () => {
  it("hard-links every frame of every entry on the store's file system, counting frames and bytes", async () => {
    const results = await twoEntries();
    const out = join(dir, "out");
    const counts = await writeFrames(results, out, "assets");
    expect(counts).toEqual({ frames: 24, bytes: results[0]!.entry.bytes + results[1]!.entry.bytes });
    const { frames, same } = placed(results, out);
    expect(frames).toBe(24);
    expect(same.every(Boolean)).toBe(true);
  });

  it("replaces a file already at a frame's place with the store's frame", async () => {
    const results = await twoEntries();
    const out = join(dir, "out");
    const stale = join(out, "assets/frames", results[1]!.entry.name, frameFileName(2, "jpg"));
    mkdirSync(join(stale, ".."), { recursive: true });
    writeFileSync(stale, "not a frame");
    await writeFrames(results, out, "assets");
    expect(placed(results, out).same.every(Boolean)).toBe(true);
  });

  // /dev/shm is another file system (tmpfs) where it exists: no hard link can reach it from the store.
  it.skipIf(!existsSync("/dev/shm") || statSync("/dev/shm").dev === statSync(tmpdir()).dev)(
    "copies the same bytes where no hard link can be made (another file system)",
    async () => {
      const results = await twoEntries();
      const shm = tempDir("framecache-emit-", "/dev/shm");
      try {
        await writeFrames(results, shm.dir, "assets");
        const { frames, same } = placed(results, shm.dir);
        expect(frames).toBe(24);
        expect(same.some(Boolean)).toBe(false);
      } finally {
        shm.cleanup();
      }
    },
  );
});
