import { linkSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveOptions } from "../src/core/options.js";
import { Engine } from "../src/pipeline/engine.js";
import { manifestVideo } from "../src/pipeline/output.js";
import type { VideoResult } from "../src/pipeline/results.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { viteBuild, writeFiles } from "./helpers/project.js";

/**
 * The timeline on real media (DESIGN §3): each composition is planned and extracted by the real
 * engine, and every frame of every entry is read back from index videos, whose pixels give the
 * source frame they show. Frames that are never on screen are never extracted.
 */
let dir: string;
let cleanup: () => void;
const LONG_LAYOUT = { bits: 13, bitWidth: 8, height: 16 };
const MEDIA = ["clip.mp4", "two.mp4", "hour.mp4"];

beforeAll(() => {
  ({ dir, cleanup } = tempDir("framecache-timeline-"));
  makeCodedVideo(join(dir, "clip.mp4"), { seconds: 8 });
  makeCodedVideo(join(dir, "two.mp4"), { seconds: 2 });
  // An hour at 2 fps: 7200 frames, so 13 bits.
  makeCodedVideo(join(dir, "hour.mp4"), { seconds: 3600, fps: 2, layout: LONG_LAYOUT });
});
afterAll(() => cleanup?.());

let projects = 0;
/** Write a project of composition files (index.html the entry, media beside it) and run the engine on it. */
async function run(files: Record<string, string>) {
  const root = join(dir, `p${projects++}`);
  writeFiles(root, files);
  for (const media of MEDIA) linkSync(join(dir, media), join(root, media));
  const warnings: string[] = [];
  const engine = new Engine({ root, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache") }), logger: { info() {}, warn: (m) => void warnings.push(m) } });
  try {
    const { results, errors } = await engine.run([join(root, "index.html")]);
    const byId: Record<string, VideoResult> = Object.fromEntries(results.map((r) => [r.ref.id, r]));
    const shown = (id: string) => readFrameNumbers(byId[id]!.entry.dir);
    const manifest = (id: string) => manifestVideo(byId[id]!, "assets");
    return { byId, errors, warnings, shown, manifest };
  } finally {
    await engine.dispose();
  }
}

const entry = (body: string, attrs = "") => `<div data-composition-id="main" data-fps="30" ${attrs}>\n${body}\n</div>\n`;
const scene = (body: string) => `<div data-composition-id="scene"><template>${body}</template></div>\n`;

describe("timeline: the end of the entry composition", () => {
  it("extracts 150 frames of a 1-hour source in a 5 s root, not 108 000", async () => {
    const r = await run({ "index.html": entry(`<video id="aroll" src="hour.mp4"></video>`, 'data-duration="5"') });
    expect(r.errors).toEqual([]);
    expect(r.byId.aroll!.entry.frames).toBe(150);
    expect(readFrameNumbers(r.byId.aroll!.entry.dir, "jpg", { layout: LONG_LAYOUT })).toEqual(range(0, 150).map((k) => Math.floor(k / 15)));
    expect(r.manifest("aroll")).toMatchObject({ start: 0, end: 5, mediaStart: 0 });
  });

  it("vite build of a 1-hour source in a 5 s root ships 150 frames", async () => {
    const root = join(dir, "vite-hour");
    writeFiles(root, { "index.html": `<!doctype html>\n<html><body>\n${entry(`<video id="aroll" src="./hour.mp4"></video>`, 'data-duration="5"')}</body></html>\n` });
    linkSync(join(dir, "hour.mp4"), join(root, "hour.mp4"));
    const built = await viteBuild(root, { cacheDir: join(dir, "cache") });
    expect(built.summary).toMatch(/ 1 videos · (0|1) hit · (1|0) extracted · 150 frames /);
    const manifest = JSON.parse(readFileSync(join(root, "dist/framecache-manifest.json"), "utf8"));
    expect(manifest.videos).toMatchObject([{ id: "aroll", frameCount: 150, start: 0, end: 5 }]);
  });

  it("cuts a 60 s data-duration at a 10 s root: 300 frames", async () => {
    const r = await run({ "index.html": entry(`<video id="a" src="hour.mp4" data-duration="60"></video>`, 'data-duration="10"') });
    expect(r.byId.a!.entry.frames).toBe(300);
    expect(r.manifest("a")).toMatchObject({ end: 10 });
  });

  it("plans nothing for a clip that starts after the end, not even a probe error", async () => {
    const r = await run({
      "index.html": entry(`<video id="late" src="clip.mp4" data-start="12"></video><video id="broken" src="clip.mp4" data-start="11" data-media-start="99"></video>`, 'data-duration="10"'),
    });
    expect(r.errors).toEqual([]);
    expect(r.byId).toEqual({});
  });

  it("ends a natural A-roll at the root's end (a 3 s root over 8 s of source: 90 frames)", async () => {
    const r = await run({ "index.html": entry(`<video id="aroll" src="clip.mp4" data-media-start="1"></video>`, 'data-duration="3"') });
    expect(r.shown("aroll")).toEqual(range(30, 90));
  });
});

describe("timeline: hosts", () => {
  it("caps a nested clip at its host's data-end: host 2–4 s over a 0–5 s clip gives 60 frames, hidden after 4 s", async () => {
    const r = await run({
      "index.html": entry(`<div data-composition-src="scene.html" data-start="2" data-end="4"></div>`, 'data-duration="10"'),
      "scene.html": scene(`<video id="clip" src="clip.mp4" data-duration="5"></video>`),
    });
    expect(r.shown("clip")).toEqual(range(0, 60));
    expect(r.manifest("clip")).toMatchObject({ start: 2, end: 4, mediaStart: 0 });
  });

  it("starts a clip under a host at -2 s two seconds into its source", async () => {
    const r = await run({
      "index.html": entry(`<div data-composition-src="scene.html" data-start="-2"></div>`),
      "scene.html": scene(`<video id="clip" src="clip.mp4" data-duration="3"></video>`),
    });
    expect(r.shown("clip")).toEqual(range(60, 30));
    expect(r.manifest("clip")).toMatchObject({ start: 0, end: 1, mediaStart: 2 });
  });

  it("shows a late host's clip only until the root's end", async () => {
    const r = await run({
      "index.html": entry(`<div data-composition-src="scene.html" data-start="8"></div>`, 'data-duration="10"'),
      "scene.html": scene(`<video id="clip" src="clip.mp4" data-duration="5"></video>`),
    });
    expect(r.shown("clip")).toEqual(range(0, 60));
    expect(r.manifest("clip")).toMatchObject({ start: 8, end: 10 });
  });

  it("gives a file mounted twice the union of its instances' frames, and each instance its window", async () => {
    const r = await run({
      "index.html": entry(`<div data-composition-src="scene.html" data-start="0" data-duration="1"></div><div data-composition-src="scene.html" data-start="5"></div>`),
      "scene.html": scene(`<video id="clip" src="clip.mp4" data-duration="2"></video>`),
    });
    expect(r.shown("clip")).toEqual(range(0, 60));
    expect(r.manifest("clip").instances).toEqual([
      { start: 0, end: 1, mediaStart: 0 },
      { start: 5, end: 7, mediaStart: 0 },
    ]);
  });
});

describe("timeline: loop and start references", () => {
  it("extracts one cycle of a 2 s source looping for 6 s: 60 frames, a 2 s cycle", async () => {
    const r = await run({ "index.html": entry(`<video id="loop" src="two.mp4" data-duration="6" loop></video>`) });
    expect(r.shown("loop")).toEqual(range(0, 60));
    expect(r.manifest("loop")).toMatchObject({ start: 0, end: 6, loop: 2 });
  });

  it("starts data-start=\"intro + 2\" two seconds after intro's end, and a chain after that", async () => {
    const r = await run({
      "index.html": entry(`
        <div id="intro" data-start="0.5" data-duration="1"></div>
        <video id="after" src="clip.mp4" data-start="intro + 2" data-duration="1"></video>
        <video id="then" src="clip.mp4" data-start="after - 0.5" data-duration="1" data-media-start="4"></video>`),
    });
    expect(r.warnings).toEqual([]);
    expect(r.manifest("after")).toMatchObject({ start: 3.5, end: 4.5 });
    expect(r.manifest("then")).toMatchObject({ start: 4, end: 5 });
    expect(r.shown("then")).toEqual(range(120, 30));
  });

  it("starts a clip at the natural end of a referenced video, probing it first", async () => {
    const r = await run({
      "index.html": entry(`<video id="aroll" src="two.mp4" data-start="1"></video><video id="broll" src="clip.mp4" data-start="aroll" data-duration="1"></video>`),
    });
    expect(r.manifest("broll")).toMatchObject({ start: 3, end: 4 });
  });

  it("warns about a cycle of references and starts its clips at 0", async () => {
    const r = await run({
      "index.html": entry(`<video id="a" src="clip.mp4" data-start="b" data-duration="1"></video><video id="b" src="clip.mp4" data-start="a" data-duration="1"></video>`),
    });
    expect(r.manifest("a")).toMatchObject({ start: 0 });
    expect(r.manifest("b")).toMatchObject({ start: 0 });
    expect(r.warnings.some((w) => /index\.html:\d+:\d+: data-start="a" is part of a cycle/.test(w))).toBe(true);
  });
});
