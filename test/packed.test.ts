import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frameAt, framesById, launchChromium, rawRequest, until } from "./helpers/dev.js";
import { connectHmr, type HmrMessage } from "./helpers/hmr-client.js";
import { CODED_SIZE, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { installPacked, packPackage, run, serve } from "./helpers/packed.js";
import { writeFiles } from "./helpers/project.js";

/**
 * The package as a user gets it: `npm pack` once, installed into a fresh project per Vite major
 * and a plain Rollup 4 project. Nothing here imports the source tree.
 */
let tarball: string;
let clip: string;
let browser: Browser;
let root: string;
let cleanup: () => void;
const started = Date.now();
beforeAll(async () => {
  ({ dir: root, cleanup } = tempDir());
  tarball = packPackage(root);
  clip = makeCodedVideo(join(root, "clip.mp4"), { seconds: 2 });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  cleanup();
  process.stderr.write(`packed-package suite: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

/** One composition (a: source frames 0-29) and a script importing another window of the clip with ?frames. */
function writeProject(dir: string): void {
  writeFiles(dir, {
    "package.json": `{ "name": "app", "private": true, "type": "module" }\n`,
    "vite.config.mjs": `import framecache from "vite-plugin-framecache";\n\nexport default { plugins: [framecache({ cacheDir: "cache" })] };\n`,
    "index.html": `<!doctype html>
<html><body>
<div id="root" data-composition-id="main" data-fps="30">
  <video id="a" src="./media/clip.mp4" data-start="0" data-duration="1"></video>
</div>
<script type="module" src="./main.js"></script>
</body></html>
`,
    "main.js": `import { createPreview } from "vite-plugin-framecache/runtime";
import clip from "./media/clip.mp4?frames&start=1&duration=0.5";

window.clip = clip;
window.preview = createPreview(document.getElementById("root"));
document.body.dataset.ready = "true";
`,
  });
  writeFiles(dir, { "media/.keep": "" });
  copyFileSync(clip, join(dir, "media/clip.mp4"));
  copyFileSync(clip, join(dir, "media/key.pem"));
}

/** The source frame an image at `url` shows, decoded from its pixels in the page (see makeCodedVideo). */
function sourceFrameOf(page: Page, url: string): Promise<number> {
  return page.evaluate(
    async ({ url, width, height }) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(img, 0, 0, width, height);
      const row = ctx.getImageData(0, height / 2, width, 1).data;
      let source = 0;
      for (let bit = 0; bit < width / 16; bit++) if (row[(bit * 16 + 8) * 4]! > 128) source |= 1 << bit;
      return source;
    },
    { url, ...CODED_SIZE },
  );
}

const VITES: [folder: string, major: string][] = [
  ["vite5", "5"],
  ["vite6", "6"],
  ["vite7", "7"],
  ["vite", "8"],
];

describe.each(VITES)("packed package with %s", (folder, major) => {
  let dir: string;
  let vite: string;
  beforeAll(async () => {
    dir = join(root, folder);
    writeProject(dir);
    await installPacked(dir, tarball, { vite: folder });
    const bin = (JSON.parse(readFileSync(join(dir, "node_modules/vite/package.json"), "utf8")) as { bin: { vite: string } }).bin.vite;
    vite = join(dir, "node_modules/vite", bin);
  });

  it(`vite build on Vite ${major}: exact frames, the summary line, the manifest, no warning`, () => {
    const { stdout, stderr } = run(dir, vite, ["build"]);
    expect(stdout).toMatch(new RegExp(`vite v${major}\\.`));
    expect(stdout).toMatch(/^framecache {2}2 videos · 0 hit · 2 extracted · 45 frames /m);
    // Rollup (Vite 5 to 7) warns about unknown input options on stderr.
    expect(stderr).not.toMatch(/Unknown input option|framecache/i);
    const { videos } = JSON.parse(readFileSync(join(dir, "dist/framecache-manifest.json"), "utf8")) as { videos: { id: string; frames: string }[] };
    const a = videos.find((v) => v.id === "a")!;
    expect(readFrameNumbers(join(dir, "dist", a.frames, ".."))).toEqual(range(0, 30));
    // The package's bin, as npm links it.
    expect(execFileSync(join(dir, "node_modules/.bin/framecache"), ["--help"], { cwd: dir, encoding: "utf8" })).toMatch(/framecache/);
  });

  it(`vite preview on Vite ${major}: the runtime shows the right frame at two times, and the ?frames object's frames load`, async () => {
    const preview = await serve(dir, vite, ["preview"]);
    const page = await browser.newPage();
    try {
      await page.goto(`${preview.origin}/`);
      await page.waitForSelector("body[data-ready]");
      for (const [t, source] of [[0.5, 15], [0.9, 27]] as const) {
        await page.evaluate((t) => (window as unknown as { preview: { seek(t: number): void } }).preview.seek(t), t);
        const src = await page.evaluate(() => document.querySelector<HTMLImageElement>("img.framecache-frame")!.src);
        expect(await sourceFrameOf(page, src)).toBe(source);
      }
      const frames = await page.evaluate(() => (window as unknown as { clip: { frames: string; frameCount: number } }).clip);
      expect(frames.frameCount).toBe(15);
      expect(await sourceFrameOf(page, frameAt(frames.frames, 1))).toBe(30);
      expect(await sourceFrameOf(page, frameAt(frames.frames, 15))).toBe(44);
    } finally {
      await page.close();
      await preview.close();
    }
  });

  it(`vite dev on Vite ${major}: data-frames in the page, a frame answers 200, the ?frames module, and a replaced video sent as framecache:update`, async () => {
    const dev = await serve(dir, vite, []);
    const hmr: { close?: () => void } = {};
    try {
      const page = (await rawRequest(dev.origin, "/", { headers: { accept: "text/html" } })).body.toString("utf8");
      const frames = framesById(page);
      expect(Object.keys(frames)).toEqual(["a"]);
      expect((await rawRequest(dev.origin, frameAt(frames.a!, 1))).status).toBe(200);

      const main = (await rawRequest(dev.origin, "/main.js")).body.toString("utf8");
      const imported = /from\s*"([^"]*clip\.mp4\?[^"]*frames[^"]*)"/.exec(main)?.[1];
      expect(imported, main).toBeDefined();
      const module = (await rawRequest(dev.origin, imported!)).body.toString("utf8");
      expect(module, imported).toMatch(/^export default/m);
      const object = JSON.parse(/export default (\{.*\})/.exec(module)?.[1] ?? module) as { frames: string; frameCount: number };
      expect(object.frameCount).toBe(15);
      expect((await rawRequest(dev.origin, frameAt(object.frames, 15))).status).toBe(200);
      // Vite's server.fs.deny holds for a ?frames request (Vite 5.4's check takes the server, 6+'s the config).
      const denied = await rawRequest(dev.origin, "/media/key.pem?frames&import");
      expect(denied.status).not.toBe(200);
      expect(denied.body.toString()).toContain("denied by Vite's server.fs rules");

      const script = /<script type="module" src="([^"]*framecache\/hmr)"/.exec(page)?.[1];
      expect((await rawRequest(dev.origin, script!)).status).toBe(200);
      const client = await connectHmr(dev.origin);
      hmr.close = client.close;
      await until(() => client.messages.some((m) => m.type === "connected"), "the HMR connection", 20_000);

      const replacement = makeCodedVideo(join(dir, "replacement.mp4"), { seconds: 2, filters: "negate" });
      renameSync(replacement, join(dir, "media/clip.mp4"));
      const isUpdate = (m: HmrMessage) => m.type === "custom" && m.event === "framecache:update";
      const message = await until(() => client.messages.find(isUpdate), "framecache:update", 30_000);
      const update = message.data as { compositions: { composition: string; videos: { id: string; previous: string; frames: string }[] }[] };
      expect(update.compositions.map((c) => c.composition)).toEqual(["index.html"]);
      const [changed] = update.compositions[0]!.videos;
      expect(changed).toMatchObject({ id: "a", previous: frames.a });
      expect(changed!.frames).not.toBe(frames.a);
      expect((await rawRequest(dev.origin, frameAt(changed!.frames, 1))).status).toBe(200);
    } finally {
      hmr.close?.();
      await dev.close();
    }
  });
});

describe("packed package with plain Rollup 4", () => {
  it("rollup -c rollup.config.ts: the typed entry checks under tsc with no cast and builds exact frames", async () => {
    const dir = join(root, "rollup");
    writeProject(dir);
    await installPacked(dir, tarball, { rollup: "rollup", typescript: "typescript", "@types/node": "@types/node" });
    writeFiles(dir, {
      "rollup.config.ts": `import { defineConfig } from "rollup";
import framecache from "vite-plugin-framecache/rollup";

export default defineConfig({ input: "entry.js", output: { dir: "out", format: "es" }, plugins: [framecache({ cacheDir: "cache" })] });
`,
      "entry.js": `import clip from "./media/clip.mp4?frames&start=1&duration=0.5";\nexport { clip };\n`,
      // Rollup's own types need esnext (Symbol.asyncDispose).
      "tsconfig.json": JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "esnext", strict: true, types: ["node"] }, files: ["rollup.config.ts"] }),
    });
    // tsc both checks the config and turns it into the rollup.config.js Rollup runs.
    run(dir, join(dir, "node_modules/typescript/bin/tsc"), ["-p", "."]);
    const { stderr } = run(dir, join(dir, "node_modules/rollup/dist/bin/rollup"), ["-c", "rollup.config.js"]);
    expect(stderr).toMatch(/created out/);
    const { clip: built } = (await import(pathToFileURL(join(dir, "out/entry.js")).href)) as { clip: { frames: string; frameCount: number } };
    expect(built.frameCount).toBe(15);
    expect(readFrameNumbers(join(dir, "out", built.frames, ".."))).toEqual(range(30, 15));
  });
});
