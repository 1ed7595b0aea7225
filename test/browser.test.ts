import { cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { launchChromium, startDev, until, type DevServer } from "./helpers/dev.js";
import { CODED_SIZE, countingFfmpeg, makeCodedVideo, tempDir } from "./helpers/media.js";

/** Debian's chromium package; never a downloaded browser. */
const EXAMPLE = join(__dirname, "../examples/basic");
const RUNTIME = join(__dirname, "../dist/runtime.js");

let browser: Browser;
let dir: string;
let cleanup: () => void;
let dev: DevServer | undefined;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => browser?.close());
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  cleanup();
});

/** What one clip's overlay shows: the frame file, and the source frame its pixels encode. */
type Shown = { file: string; source: number } | null;

/** Read every overlay on the page: wait for its image to decode, then decode the frame number from its pixels. */
function shown(page: Page): Promise<Record<string, Shown>> {
  return page.evaluate(async ({ width, height }) => {
    const out: Record<string, { file: string; source: number } | null> = {};
    for (const img of Array.from(document.querySelectorAll<HTMLImageElement>("img.framecache-frame"))) {
      const id = img.dataset.framecacheFor!;
      if (img.style.display === "none") {
        out[id] = null;
        continue;
      }
      await img.decode();
      if (!img.currentSrc.endsWith(img.getAttribute("src")!)) throw new Error(`${id}: showing ${img.currentSrc}, asked for ${img.getAttribute("src")}`);
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(img, 0, 0, width, height);
      // One column per bit, 16 px wide, white for 1 (see makeCodedVideo).
      const row = ctx.getImageData(0, height / 2, width, 1).data;
      let source = 0;
      for (let bit = 0; bit < width / 16; bit++) if (row[(bit * 16 + 8) * 4]! > 128) source |= 1 << bit;
      out[id] = { file: img.getAttribute("src")!, source };
    }
    return out;
  }, CODED_SIZE);
}

/** Move the scrubber to `t`; read what it shows with `shown`. */
function seek(page: Page, t: number): Promise<void> {
  return page.evaluate((t) => {
    const range = document.getElementById("time") as HTMLInputElement;
    range.value = String(t);
    range.dispatchEvent(new Event("input"));
  }, t);
}

/** `data-frames` of each video on the page. */
function patterns(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => Object.fromEntries(Array.from(document.querySelectorAll("video[data-frames]")).map((v) => [v.id, v.getAttribute("data-frames")!])));
}

/** Expected overlay per time: [frame file number, source frame] or null for hidden. */
type Expected = Record<string, [number, number] | null>;

async function expectFrames(page: Page, table: [number, Expected][], seekTo = seek): Promise<void> {
  const pattern = await patterns(page);
  for (const [t, expected] of table) {
    await seekTo(page, t);
    const actual = await shown(page);
    const want = Object.fromEntries(
      Object.entries(expected).map(([id, e]) => [id, e && { file: pattern[id]!.replace("%05d", String(e[0]).padStart(5, "0")), source: e[1] }]),
    );
    expect(actual, `t = ${t}`).toEqual(want);
  }
}

function exampleProject(): void {
  for (const file of ["index.html", "scenes/intro.html", "scrubber.html", "scrubber.js"]) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    cpSync(join(EXAMPLE, file), join(dir, file));
  }
  mkdirSync(join(dir, "media"));
  // The example's clip, replaced by one whose pixels encode each frame's number.
  makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 4 });
}

describe("the example's scrubber in Chromium against the dev server", () => {
  it("shows exactly the right frame at each time, and new frames without a reload when the video or a <video> attribute changes", async () => {
    exampleProject();
    const ffmpeg = countingFfmpeg(dir);
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path }, { resolve: { alias: { "vite-plugin-framecache/runtime": RUNTIME } } });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${dev.origin}/scrubber.html`);
    await page.waitForFunction(() => document.body.dataset.ready === "true");

    // opening: 0–1 s from 0 s; closing: 1–2.5 s from 2 s (source frame 60); intro (nested at 2.5 s): 1 s from 0.5 s (frame 15).
    await expectFrames(page, [
      [0, { opening: [1, 0], closing: null, "intro-clip": null }],
      [0.5, { opening: [16, 15], closing: null, "intro-clip": null }],
      [0.999, { opening: [30, 29], closing: null, "intro-clip": null }],
      [1, { opening: [30, 29], closing: [1, 60], "intro-clip": null }],
      [1.9, { opening: null, closing: [28, 87], "intro-clip": null }],
      [2.5, { opening: null, closing: [45, 104], "intro-clip": [1, 15] }],
      [3.2, { opening: null, closing: null, "intro-clip": [22, 36] }],
      [3.5, { opening: null, closing: null, "intro-clip": [30, 44] }],
    ]);
    expect(ffmpeg.runs()).toBe(3);

    // A page without the runtime helper reloads instead.
    const plain = await browser.newPage();
    await plain.goto(`${dev.origin}/index.html`);
    await plain.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const sameDocument = (p: Page) => p.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument === true);
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const before = await patterns(page);

    // Replace the video: the same clip at 60 fps, so each output frame k now shows source frame 2k.
    makeCodedVideo(join(dir, "replacement.mp4"), { seconds: 4, fps: 60 });
    renameSync(join(dir, "replacement.mp4"), join(dir, "media/clip.mp4"));
    // Read only inside `until`: an update may swap an image's src while it decodes.
    await seek(page, 0.5);
    await until(async () => (await shown(page)).opening?.source === 30, "the new frames on the page");
    expect(await sameDocument(page)).toBe(true);
    const after = await patterns(page);
    for (const id of ["opening", "closing", "intro-clip"]) expect(after[id], id).not.toBe(before[id]);
    await expectFrames(page, [
      [0.5, { opening: [16, 30], closing: null, "intro-clip": null }],
      [1.9, { opening: null, closing: [28, 174], "intro-clip": null }],
      [3.2, { opening: null, closing: null, "intro-clip": [22, 72] }],
    ]);
    expect(ffmpeg.runs()).toBe(6);
    await until(async () => !(await sameDocument(plain)), "the page without the runtime to reload");

    // Edit a <video> attribute of the composition: only that clip is re-extracted, still no reload.
    const index = join(dir, "index.html");
    writeFileSync(index, readFileSync(index, "utf8").replace(`id="opening" src="./media/clip.mp4"`, `id="opening" src="./media/clip.mp4" data-media-start="1"`));
    await seek(page, 0.5);
    await until(async () => (await shown(page)).opening?.source === 90, "the re-planned clip");
    expect(await sameDocument(page)).toBe(true);
    expect(ffmpeg.runs()).toBe(7);
    await expectFrames(page, [[0.25, { opening: [8, 74], closing: null, "intro-clip": null }]]);

    // Anything else in a composition reloads the page, which then shows the same frames.
    writeFileSync(index, readFileSync(index, "utf8").replace("</body>", "<p>credits</p>\n  </body>"));
    const reloaded = () => (window as unknown as { sameDocument?: boolean }).sameDocument === undefined && document.body.dataset.ready === "true";
    await until(() => page.evaluate(reloaded).catch(() => false), "the page to reload");
    await expectFrames(page, [[0.25, { opening: [8, 74], closing: null, "intro-clip": null }]]);
    expect(ffmpeg.runs()).toBe(7);
    expect(errors).toEqual([]);
  });
});

describe("the runtime under the HyperFrames runtime in Chromium", () => {
  const HYPERFRAMES = join(__dirname, "../node_modules/@hyperframes/core/dist/hyperframe.runtime.iife.js");

  /** Seek HyperFrames' own player; the preview follows it on the next animation frame, with no call of ours. */
  const seekPlayer = async (page: Page, t: number) => {
    await page.evaluate((t) => (window as unknown as { __player: { seek(t: number): void } }).__player.seek(t), t);
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  };

  it("follows window.__player: a loop modulo its cycle, a host's window and its end, as the plugin resolved them", async () => {
    mkdirSync(join(dir, "media"));
    mkdirSync(join(dir, "public"));
    makeCodedVideo(join(dir, "media/two.mp4"), { seconds: 2 });
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 6 });
    cpSync(HYPERFRAMES, join(dir, "public/hyperframe.runtime.js"));
    writeFileSync(
      join(dir, "index.html"),
      `<!doctype html>
<html><body>
<div id="stage" data-composition-id="main" data-root="true" data-duration="8" data-fps="30" data-width="192" data-height="32">
  <video id="loop" src="media/two.mp4" data-start="0" data-duration="6" loop muted></video>
  <div id="host" data-composition-src="scene.html" data-start="3" data-end="5"></div>
</div>
<script src="/hyperframe.runtime.js"></script>
<script type="module">
  import { createPreview, mountNested } from "vite-plugin-framecache/runtime";
  const stage = document.getElementById("stage");
  await mountNested(stage);
  createPreview(stage);
  document.body.dataset.ready = "true";
</script>
</body></html>
`,
    );
    writeFileSync(join(dir, "scene.html"), `<div data-composition-id="scene"><template><video id="clip" src="media/clip.mp4" data-duration="5" muted></video></template></div>\n`);
    dev = await startDev(dir, { cacheDir: join(dir, "cache") }, { resolve: { alias: { "vite-plugin-framecache/runtime": RUNTIME } } });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${dev.origin}/index.html`);
    await page.waitForFunction(() => document.body.dataset.ready === "true" && (window as unknown as { __playerReady?: boolean }).__playerReady === true);

    // loop: 2 s of source shown over and over for 6 s; clip: its 5 s cut to its host's 3–5 s.
    await expectFrames(
      page,
      [
        [0, { loop: [1, 0], clip: null }],
        [1.5, { loop: [46, 45], clip: null }],
        [2.5, { loop: [16, 15], clip: null }],
        [3.5, { loop: [46, 45], clip: [16, 15] }],
        [4.9, { loop: [28, 27], clip: [58, 57] }],
        [5.5, { loop: [46, 45], clip: null }],
        [6.5, { loop: null, clip: null }],
      ],
      seekPlayer,
    );
    expect(errors).toEqual([]);
  });
});
