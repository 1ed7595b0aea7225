import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { rollup, type Plugin as RollupPlugin } from "rollup";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import framecache from "../src/index.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe("JS imports with ?frames", () => {
  it("resolve to the clip's manifest entry and emit its frames in plain Rollup", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 4 });
    writeFileSync(
      join(dir, "main.js"),
      `import clip from "./media/clip.mp4?frames&start=1.5&duration=2";\nimport half from "./media/clip.mp4?frames&duration=1&fps=15&format=png";\nexport { clip, half };\n`,
    );
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      // Vite 8 types its plugins for Rolldown; at run time they are plain Rollup plugins.
      const plugins = framecache({ cacheDir: join(dir, "cache") }) as unknown as RollupPlugin[];
      const bundle = await rollup({ input: join(dir, "main.js"), plugins });
      await bundle.write({ dir: join(dir, "out"), format: "es" });
      await bundle.close();
    } finally {
      process.chdir(cwd);
    }
    const { clip, half } = await import(pathToFileURL(join(dir, "out/main.js")).href);
    expect(clip).toMatchObject({ src: "media/clip.mp4", mediaStart: 1.5, end: 2, fps: 30, format: "jpg", frameCount: 60 });
    expect(clip).not.toHaveProperty("cache");
    expect(clip.frames).toBe(`assets/frames/${clip.entry}/frame_%05d.jpg`);
    expect(half).toMatchObject({ fps: 15, format: "png", frameCount: 15 });
    expect(readFrameNumbers(join(dir, "out", clip.frames, ".."))).toEqual(range(45, 60));
    expect(readFrameNumbers(join(dir, "out", half.frames, ".."), "png")).toEqual(range(0, 15).map((i) => i * 2));
    expect(existsSync(join(dir, "out/framecache-manifest.json"))).toBe(true);
  });
});
