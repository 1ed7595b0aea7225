import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { frameIndex } from "../src/core/frames.js";
import { runEngine, videoTag } from "./helpers/engine.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir, type CodedLayout } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
// 100 001 small files: in memory where the machine has it.
beforeEach(() => ({ dir, cleanup } = tempDir("framecache-long-", existsSync("/dev/shm") ? "/dev/shm" : undefined)));
afterEach(() => cleanup());

/** 17 bits count past 100 000; 2×2-pixel bits keep 100 001 frames cheap, and lossless coding keeps them readable. */
const LONG: CodedLayout = { bits: 17, bitWidth: 2, height: 2 };

it("names frames past 99 999 with six digits and keeps them in numeric order", { timeout: 300_000 }, async () => {
  makeCodedVideo(join(dir, "long.mp4"), {
    seconds: 100.001,
    fps: 1000,
    layout: LONG,
    codec: ["-threads", "1", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"],
  });
  const tag = videoTag("long", "long.mp4");
  const run = await runEngine(dir, [tag], { dataFps: 1000, format: "png" });
  expect(run.errors).toEqual([]);
  const entry = run.byId.long!.entry;
  expect(entry.frames).toBe(100_001);

  const names = readdirSync(entry.dir).filter((name) => frameIndex(name) !== undefined);
  expect(names).toHaveLength(100_001);
  expect(names).toContain("frame_99999.png");
  expect(names).toContain("frame_100000.png");
  expect(names).toContain("frame_100001.png");
  // Sorted by number, the names run 1…100 001 without a gap; sorted as text they would not.
  expect(names.map((name) => frameIndex(name)!).sort((a, b) => a - b)).toEqual(range(1, 100_001));
  // Across the five-to-six-digit boundary, frame i shows source frame i - 1.
  expect(readFrameNumbers(entry.dir, "png", { layout: LONG, from: 99_995, count: 7 })).toEqual(range(99_994, 7));
  expect(readFrameNumbers(entry.dir, "png", { layout: LONG, from: 1, count: 3 })).toEqual([0, 1, 2]);

  // The complete entry is found again by its last (six-digit) frame.
  const again = await runEngine(dir, [tag], { dataFps: 1000, format: "png" });
  expect(again.byId.long!.cache).toBe("hit");
});
