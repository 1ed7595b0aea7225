import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { rollup } from "rollup";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import framecache from "../src/rollup.js";
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
      const plugins = framecache({ cacheDir: join(dir, "cache") });
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

describe("several outputs", () => {
  it("each gets the frames and the manifest beside its own files, written side by side", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 2 });
    writeFileSync(join(dir, "main.js"), `import clip from "./media/clip.mp4?frames&start=0.5&duration=1";\nexport { clip };\n`);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const bundle = await rollup({ input: join(dir, "main.js"), plugins: framecache({ cacheDir: join(dir, "cache") }) });
      // Rollup's CLI writes an `output` array this way: every output's hooks interleave.
      await Promise.all(["es", "cjs"].map((format) => bundle.write({ dir: join(dir, format), format: format as "es" | "cjs" })));
      await bundle.close();
    } finally {
      process.chdir(cwd);
    }
    const { clip } = await import(pathToFileURL(join(dir, "es/main.js")).href);
    for (const out of ["es", "cjs"]) {
      expect(readFrameNumbers(join(dir, out, clip.frames, ".."))).toEqual(range(15, 30));
      expect(existsSync(join(dir, out, "framecache-manifest.json"))).toBe(true);
    }
  });
});

const REPO = join(__dirname, "..");

describe("vite-plugin-framecache/rollup", () => {
  it("types as Rollup's own plugins: a rollup.config.ts using it compiles under tsc with no cast, where the Vite entry does not", () => {
    // A project as a Rollup user has it: this package (built), rollup and Node's types in node_modules.
    mkdirSync(join(dir, "node_modules/@types"), { recursive: true });
    symlinkSync(REPO, join(dir, "node_modules/vite-plugin-framecache"));
    symlinkSync(join(REPO, "node_modules/rollup"), join(dir, "node_modules/rollup"));
    symlinkSync(join(REPO, "node_modules/@types/node"), join(dir, "node_modules/@types/node"));
    writeFileSync(join(dir, "package.json"), `{ "type": "module" }\n`);
    // Rollup's own types need esnext (Symbol.asyncDispose).
    const compilerOptions = { module: "nodenext", moduleResolution: "nodenext", target: "esnext", strict: true, noEmit: true, types: ["node"] };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["rollup.config.ts"] }));
    const tsc = (entry: string) => {
      writeFileSync(
        join(dir, "rollup.config.ts"),
        `import { defineConfig } from "rollup";\nimport framecache from "${entry}";\n\nexport default defineConfig({ input: "main.js", plugins: [framecache({ fps: 30 })] });\n`,
      );
      try {
        execFileSync(process.execPath, [join(REPO, "node_modules/typescript/bin/tsc"), "-p", dir], { encoding: "utf8" });
        return "";
      } catch (error) {
        return String((error as { stdout?: string }).stdout);
      }
    };
    expect(tsc("vite-plugin-framecache/rollup")).toBe("");
    // Vite 8 types its plugins for Rolldown, which Rollup's plugins option refuses.
    expect(tsc("vite-plugin-framecache")).toContain("error TS2769");
  });
});
