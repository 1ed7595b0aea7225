import { linkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attr, elementsOf, isHost, rootComposition } from "../src/core/html.js";
import { resolveOptions } from "../src/core/options.js";
import { Engine } from "../src/pipeline/engine.js";
import { manifestVideo, rewriteComposition } from "../src/pipeline/output.js";
import { clipTiming, frameIndexAt } from "../src/runtime/frame-math.js";
import { makeCodedVideo, readFrameNumbers, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

/**
 * The parity table: compositions of every timeline rule (DESIGN §3, §4), each built by the real
 * engine on index videos, its HTML rewritten as a build writes it, and read back as the runtime
 * reads it. For each video: how many frames were extracted, and which source frame shows at chosen
 * times (null: hidden), from the rewritten attributes alone (the runtime's own math), so the
 * extracted frames, the HTML and the runtime are held to one answer.
 *
 * The HyperFrames engine is not run here: where it follows DESIGN its answers are the ones below;
 * it differs on purpose in three places, which DESIGN decides. It clamps a negative host start to 0
 * (no preroll; rows "host at -2 s"), picks the nearest frame after an off-tick media start and on rate
 * conversions (rows "1.02 s", "25 fps", "24 fps", "NTSC"), and never uses a video's natural length to
 * resolve a start reference (row "reference to a natural-length video").
 */
let dir: string;
let cleanup: () => void;
const MEDIA = ["clip.mp4", "two.mp4", "s25.mp4", "s24.mp4", "ntsc.mp4"];

beforeAll(() => {
  ({ dir, cleanup } = tempDir("framecache-parity-"));
  makeCodedVideo(join(dir, "clip.mp4"), { seconds: 8 });
  makeCodedVideo(join(dir, "two.mp4"), { seconds: 2 });
  makeCodedVideo(join(dir, "s25.mp4"), { seconds: 4, fps: 25 });
  makeCodedVideo(join(dir, "s24.mp4"), { seconds: 4, fps: 24 });
  makeCodedVideo(join(dir, "ntsc.mp4"), { seconds: 4, fps: "30000/1001" });
});
afterAll(() => cleanup?.());

interface Row {
  name: string;
  files: Record<string, string>;
  /** Per video id: frames extracted, and [time, source frame shown or null] for each instance (one list per instance). */
  expect: Record<string, { frames: number; at: [number, number | null][][] }>;
}

const main = (body: string, attrs = "") => `<div data-composition-id="main" data-fps="30" ${attrs}>\n${body}\n</div>\n`;
const scene = (body: string) => `<div data-composition-id="scene"><template>${body}</template></div>\n`;
const v = (id: string, src: string, attrs = "") => `<video id="${id}" src="${src}" ${attrs}></video>`;
const one = (frames: number, at: [number, number | null][]) => ({ frames, at: [at] });

const rows: Row[] = [
  { name: "natural video in a 5 s root", files: { "index.html": main(v("a", "clip.mp4"), 'data-duration="5"') }, expect: { a: one(150, [[0, 0], [2.5, 75], [4.99, 149], [5.2, null]]) } },
  { name: "data-duration 60 in a 10 s root, the source ending at 8 s", files: { "index.html": main(v("a", "clip.mp4", 'data-duration="60"'), 'data-duration="10"') }, expect: { a: one(300, [[7.5, 225], [9.5, 239], [10.5, null]]) } },
  { name: "a clip starting after the end", files: { "index.html": main(v("late", "clip.mp4", 'data-start="12"') + v("a", "two.mp4"), 'data-duration="10"') }, expect: { a: one(60, [[1, 30]]) } },
  { name: "a clip with no window", files: { "index.html": main(v("off", "clip.mp4", 'data-duration="0"') + v("a", "two.mp4", 'data-end="1"')) }, expect: { a: one(30, [[0.5, 15], [1.5, null]]) } },
  { name: "data-composition-duration ends it", files: { "index.html": main(v("a", "clip.mp4"), 'data-composition-duration="2"') }, expect: { a: one(60, [[1.9, 57], [2.1, null]]) } },
  {
    name: "the data-root element is the root",
    files: { "index.html": `<div data-composition-id="outer" data-duration="7"><div data-composition-id="main" data-root="true" data-fps="30" data-duration="1">${v("a", "clip.mp4")}</div></div>` },
    expect: { a: one(30, [[0.5, 15], [1.5, null]]) },
  },
  {
    name: "host 2–4 s over a 0–5 s clip",
    files: { "index.html": main(`<div data-composition-src="scene.html" data-start="2" data-end="4"></div>`, 'data-duration="10"'), "scene.html": scene(v("c", "clip.mp4", 'data-duration="5"')) },
    expect: { c: one(60, [[1.9, null], [2, 0], [3.5, 45], [4.2, null]]) },
  },
  {
    name: "host with data-duration",
    files: { "index.html": main(`<div data-composition-src="scene.html" data-start="1" data-duration="2"></div>`), "scene.html": scene(v("c", "clip.mp4", 'data-start="0.5"')) },
    expect: { c: one(45, [[1.4, null], [1.5, 0], [2.9, 42], [3.1, null]]) },
  },
  {
    name: "host at -2 s: preroll",
    files: { "index.html": main(`<div data-composition-src="scene.html" data-start="-2"></div>`), "scene.html": scene(v("c", "clip.mp4", 'data-duration="5"')) },
    expect: { c: one(90, [[0, 60], [2.5, 135], [3.1, null]]) },
  },
  {
    name: "a late host cut by the root's end",
    files: { "index.html": main(`<div data-composition-src="scene.html" data-start="8"></div>`, 'data-duration="10"'), "scene.html": scene(v("c", "clip.mp4", 'data-duration="5"')) },
    expect: { c: one(60, [[7.9, null], [9.9, 57], [10.1, null]]) },
  },
  {
    name: "hosts inside hosts add up",
    files: {
      "index.html": main(`<div data-composition-src="outer.html" data-start="1"></div>`),
      "outer.html": scene(`<div data-composition-src="scene.html" data-start="2" data-duration="1"></div>`),
      "scene.html": scene(v("c", "clip.mp4", 'data-duration="3"')),
    },
    expect: { c: one(30, [[2.9, null], [3, 0], [3.5, 15], [4.1, null]]) },
  },
  {
    name: "a file mounted twice: the union of its instances",
    files: {
      "index.html": main(`<div data-composition-src="scene.html" data-start="0" data-duration="0.5"></div><div data-composition-src="scene.html" data-start="4"></div>`),
      "scene.html": scene(v("c", "clip.mp4", 'data-duration="2"')),
    },
    expect: { c: { frames: 60, at: [[[0.25, 7], [0.6, null]], [[3.9, null], [4, 0], [5.5, 45]]] } },
  },
  {
    name: "a natural clip a host at -9 s pushes past its source's end never shows; one with an end holds its last frame",
    files: {
      "index.html": main(`<div data-composition-src="scene.html" data-start="-9"></div>` + v("a", "two.mp4", 'data-duration="1"')),
      "scene.html": scene(v("gone", "clip.mp4") + v("held", "clip.mp4", 'data-duration="10"')),
    },
    expect: { a: one(30, [[0.5, 15]]), held: one(300, [[0, 239], [0.9, 239], [1.1, null]]) },
  },
  {
    name: "a loop under a host at -1 s keeps its phase in the cycle",
    files: { "index.html": main(`<div data-composition-src="scene.html" data-start="-1"></div>`), "scene.html": scene(v("l", "two.mp4", 'data-duration="4" loop')) },
    expect: { l: one(60, [[0, 30], [1.5, 15], [2.9, 57], [3.1, null]]) },
  },
  { name: "a 2 s source looping for 6 s", files: { "index.html": main(v("l", "two.mp4", 'data-duration="6" loop')) }, expect: { l: one(60, [[0.5, 15], [2.5, 15], [5.9, 57], [6.1, null]]) } },
  { name: "a loop from 1 s into its source", files: { "index.html": main(v("l", "two.mp4", 'data-media-start="1" data-duration="3" loop')) }, expect: { l: one(30, [[0.5, 45], [1.5, 45], [2.9, 57]]) } },
  { name: "a loop with no end, cut by the root", files: { "index.html": main(v("l", "two.mp4", "loop"), 'data-duration="5"') }, expect: { l: one(60, [[4.5, 15], [5.1, null]]) } },
  {
    name: 'data-start="intro + 2"',
    files: { "index.html": main(`<div id="intro" data-start="0.5" data-duration="1"></div>` + v("a", "clip.mp4", 'data-start="intro + 2" data-duration="1"')) },
    expect: { a: one(30, [[3.4, null], [3.5, 0], [4, 15]]) },
  },
  {
    name: 'data-start="intro - 0.5"',
    files: { "index.html": main(`<div id="intro" data-duration="1.5"></div>` + v("a", "clip.mp4", 'data-start="intro - 0.5" data-duration="1"')) },
    expect: { a: one(30, [[0.9, null], [1, 0], [1.5, 15]]) },
  },
  {
    name: "a chain of references",
    files: { "index.html": main(v("a", "clip.mp4", 'data-duration="1"') + v("b", "clip.mp4", 'data-start="a" data-end="3" data-media-start="2"') + v("c", "clip.mp4", 'data-start="b + 1" data-duration="0.5"')) },
    expect: { a: one(30, [[0.5, 15]]), b: one(60, [[1, 60], [2.5, 105]]), c: one(15, [[3.9, null], [4, 0], [4.25, 7]]) },
  },
  {
    name: "a cycle of references starts at 0",
    files: { "index.html": main(v("a", "clip.mp4", 'data-start="b" data-duration="1"') + v("b", "two.mp4", 'data-start="a" data-duration="1"')) },
    expect: { a: one(30, [[0, 0]]), b: one(30, [[0.5, 15]]) },
  },
  { name: "an unknown name starts at 0", files: { "index.html": main(v("a", "clip.mp4", 'data-start="nobody + 3" data-duration="1"')) }, expect: { a: one(30, [[0, 0], [0.5, 15]]) } },
  {
    name: "reference to a natural-length video",
    files: { "index.html": main(v("aroll", "two.mp4", 'data-start="1"') + v("b", "clip.mp4", 'data-start="aroll" data-duration="1"')) },
    expect: { aroll: one(60, [[0.9, null], [2, 30]]), b: one(30, [[2.9, null], [3, 0], [3.5, 15]]) },
  },
  { name: "a natural clip from 6 s of an 8 s source", files: { "index.html": main(v("a", "clip.mp4", 'data-media-start="6"'), 'data-duration="10"') }, expect: { a: one(60, [[1.9, 237], [2.1, null]]) } },
  // Frames are 1/fps apart in source time (§2.6's floor(local · rate · fps)), so 2 s at rate 2 is 4 s of source, 120 frames.
  { name: "playback rate 2", files: { "index.html": main(v("a", "clip.mp4", 'data-duration="2" data-playback-rate="2"')) }, expect: { a: one(120, [[0.5, 30], [1.5, 90], [2.1, null]]) } },
  { name: "media start 1.02 s at 30 fps", files: { "index.html": main(v("a", "clip.mp4", 'data-media-start="1.02" data-duration="0.5"')) }, expect: { a: one(15, [[0, 30], [0.1, 33]]) } },
  { name: "a 25 fps source at 30", files: { "index.html": main(v("a", "s25.mp4", 'data-duration="1"')) }, expect: { a: one(30, [[0, 0], [1 / 30, 0], [2 / 30, 1], [6 / 30, 5], [7 / 30, 5], [0.99, 24]]) } },
  { name: "a 24 fps source at 30", files: { "index.html": main(v("a", "s24.mp4", 'data-duration="1"')) }, expect: { a: one(30, [[0, 0], [1 / 30, 0], [2 / 30, 1], [5 / 30, 4], [0.99, 23]]) } },
  { name: "an NTSC source from 1 s", files: { "index.html": main(v("a", "ntsc.mp4", 'data-media-start="1" data-duration="1"')) }, expect: { a: one(30, [[0, 29], [0.5, 44], [0.99, 58]]) } },
];

/** Every instance of every video with frames, as the runtime places it: its attributes, its hosts' offset and their cut-off. */
function instances(html: Map<string, string>, file: string, offset = 0, cap = Infinity): { id: string; attrs: Record<string, string>; offset: number; cap: number }[] {
  const elements = elementsOf(html.get(file)!);
  const end = Number(attr(rootComposition(elements) ?? elements[0]!, "data-frame-end") ?? Infinity);
  cap = Math.min(cap, offset + end);
  const out = elements
    .filter((el) => el.tagName === "video" && attr(el, "data-frames"))
    .map((el) => ({ id: attr(el, "id")!, attrs: Object.fromEntries(el.attrs.map((a) => [a.name, a.value])), offset, cap }));
  for (const host of elements.filter(isHost)) {
    const start = Number(attr(host, "data-frame-start") ?? 0);
    const hostEnd = attr(host, "data-frame-end");
    out.push(...instances(html, attr(host, "data-composition-src")!, offset + start, hostEnd === undefined ? cap : Math.min(cap, offset + Number(hostEnd))));
  }
  return out;
}

describe("parity table: frames extracted and shown, by the timeline's rules", () => {
  it("has at least 25 compositions", () => expect(rows.length).toBeGreaterThanOrEqual(25));

  it.each(rows.map((r, i) => [r.name, i] as const))("%s", async (_, i) => {
    const row = rows[i]!;
    const root = join(dir, `row${i}`);
    writeFiles(root, row.files);
    for (const media of MEDIA) linkSync(join(dir, media), join(root, media));
    const engine = new Engine({ root, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache") }), logger: { info() {}, warn() {} } });
    try {
      const run = await engine.run([join(root, "index.html")]);
      expect(run.errors).toEqual([]);
      const byId = Object.fromEntries(run.results.map((r) => [r.ref.id, r]));
      expect(Object.keys(byId).sort()).toEqual(Object.keys(row.expect).sort());
      const html = new Map([...run.compositions.values()].map((c) => [c.label, rewriteComposition(c.html, c, run.results, "", "assets", run.timing)]));
      const placed = instances(html, "index.html");
      for (const [id, want] of Object.entries(row.expect)) {
        const result = byId[id]!;
        expect(result.entry.frames, `${id}: frames`).toBe(want.frames);
        const frames = readFrameNumbers(result.entry.dir);
        const mine = placed.filter((p) => p.id === id);
        expect(mine, `${id}: instances`).toHaveLength(want.at.length);
        want.at.forEach((times, n) => {
          const { attrs, offset, cap } = mine[n]!;
          const clip = clipTiming((name) => attrs[name] ?? null);
          const shown = times.map(([t]) => {
            const index = frameIndexAt(t - offset, clip, cap - offset);
            return index === undefined ? null : frames[index]!;
          });
          expect(shown, `${id} #${n + 1} at ${times.map(([t]) => t.toFixed(3)).join(", ")}`).toEqual(times.map(([, f]) => f));
          // The manifest says the same: shown exactly inside the instance's resolved window.
          const { start, end } = manifestVideo(result, "assets").instances[n]!;
          expect(times.map(([t]) => t >= start - 1e-9 && t <= (end ?? Infinity) + 1e-9), `${id} #${n + 1}: manifest window`).toEqual(shown.map((f) => f !== null));
        });
      }
    } finally {
      await engine.dispose();
    }
  });
});
