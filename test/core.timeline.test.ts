import { describe, expect, it } from "vitest";
import { scanComposition } from "../src/core/scan.js";
import { fromMicros, toMicros } from "../src/core/time.js";
import { resolveTimeline, type NaturalLength, type TimelineFile } from "../src/core/timeline.js";

/** A tree of files by name; each host's `data-composition-src` is the name of the file it mounts. */
function tree(files: Record<string, string>): Map<string, TimelineFile> {
  const out = new Map<string, TimelineFile>();
  for (const [name, html] of Object.entries(files)) {
    const scan = scanComposition(html, name);
    out.set(name, { scan, mounts: scan.nested.map((n) => (n.src in files ? n.src : undefined)) });
  }
  return out;
}

/** Each window as `[id, start, end, mediaStart]` in seconds (`null` for no end). */
function windows(files: Record<string, string>, natural?: NaturalLength) {
  const timeline = resolveTimeline("index.html", tree(files), natural);
  return {
    ...timeline,
    shown: timeline.windows.map((w) => [w.ref.id, fromMicros(w.start), w.end === undefined ? null : fromMicros(w.end), fromMicros(w.mediaStart)]),
  };
}

const root = (body: string, attrs = "") => `<div data-composition-id="main" ${attrs}>${body}</div>`;

describe("the timeline of an entry composition", () => {
  it("ends a natural-length video at the root's data-duration, and a longer clip too", () => {
    const t = windows({ "index.html": root(`<video id="a" src="a.mp4"></video><video id="b" src="b.mp4" data-duration="60"></video>`, 'data-duration="5"') });
    expect(t.end).toBe(toMicros(5));
    expect(t.shown).toEqual([["a", 0, 5, 0], ["b", 0, 5, 0]]);
    expect(t.windows.map((w) => w.natural)).toEqual([true, false]);
  });

  it("takes data-composition-duration when the root has no data-duration, and the data-root element as the root", () => {
    const html = `<div data-composition-id="outer"><div data-composition-id="main" data-root="true" data-duration="3"><video id="a" src="a.mp4"></video></div></div>`;
    expect(windows({ "index.html": html }).shown).toEqual([["a", 0, 3, 0]]);
    expect(windows({ "index.html": root(`<video id="a" src="a.mp4"></video>`, 'data-composition-duration="4"') }).shown).toEqual([["a", 0, 4, 0]]);
  });

  it("gives no window to a clip that starts at or after the end", () => {
    const t = windows({ "index.html": root(`<video id="late" src="a.mp4" data-start="12"></video><video id="at" src="a.mp4" data-start="10"></video>`, 'data-duration="10"') });
    expect(t.shown).toEqual([]);
  });

  it("offsets a mounted file by its host's data-start and caps it at the host's data-end", () => {
    const t = windows({
      "index.html": root(`<div data-composition-src="scene.html" data-start="2" data-end="4"></div>`, 'data-duration="10"'),
      "scene.html": root(`<video id="clip" src="a.mp4" data-duration="5"></video>`),
    });
    expect(t.shown).toEqual([["clip", 2, 4, 0]]);
  });

  it("caps by a host's data-duration, nested hosts adding up", () => {
    const t = windows({
      "index.html": root(`<div data-composition-src="a.html" data-start="1" data-duration="8"></div>`),
      "a.html": root(`<div data-composition-src="b.html" data-start="2"></div>`),
      "b.html": root(`<video id="clip" src="a.mp4" data-start="1" data-duration="10"></video>`),
    });
    expect(t.shown).toEqual([["clip", 4, 9, 0]]);
  });

  it("shows a clip under a host at a negative time from 0, that far into its source (times its rate)", () => {
    const t = windows({
      "index.html": root(`<div data-composition-src="scene.html" data-start="-2"></div>`),
      "scene.html": root(`<video id="clip" src="a.mp4" data-duration="5" data-media-start="1"></video><video id="fast" src="a.mp4" data-duration="5" data-playback-rate="2"></video>`),
    });
    expect(t.shown).toEqual([["clip", 0, 3, 3], ["fast", 0, 3, 4]]);
  });

  it("gives a file mounted twice one window per instance", () => {
    const t = windows({
      "index.html": root(`<div data-composition-src="scene.html" data-start="0"></div><div data-composition-src="scene.html" data-start="10" data-duration="1"></div>`),
      "scene.html": root(`<video id="clip" src="a.mp4" data-duration="2"></video>`),
    });
    expect(t.shown).toEqual([["clip", 0, 2, 0], ["clip", 10, 11, 0]]);
  });

  it("resolves start references to the end of the named element, plus or minus an offset, in chains", () => {
    const t = windows({
      "index.html": root(`
        <div id="intro" data-start="1" data-duration="3"></div>
        <video id="plus" src="a.mp4" data-start="intro + 2" data-duration="1"></video>
        <video id="minus" src="a.mp4" data-start="intro - 0.5" data-duration="1"></video>
        <video id="chain" src="a.mp4" data-start="plus" data-end="9"></video>
        <div data-composition-id="outro" data-start="chain"></div>`),
    });
    expect(t.shown).toEqual([["plus", 6, 7, 0], ["minus", 3.5, 4.5, 0], ["chain", 7, 9, 0]]);
    expect(t.warnings).toEqual([]);
  });

  it("asks for a referenced video's natural length, and uses it once known", () => {
    const files = { "index.html": root(`<video id="aroll" src="a.mp4" data-start="1"></video><video id="after" src="b.mp4" data-start="aroll" data-duration="1"></video>`) };
    const first = windows(files);
    expect(first.needs).toEqual([{ file: "index.html", video: 0 }]);
    const second = windows(files, (_, ref) => (ref.id === "aroll" ? toMicros(4.5) : undefined));
    expect(second.needs).toEqual([]);
    expect(second.shown).toEqual([["aroll", 1, null, 0], ["after", 5.5, 6.5, 0]]);
  });

  it("warns about an unknown name or a cycle, and starts such clips at 0", () => {
    const t = windows({
      "index.html": root(`
        <video id="lost" src="a.mp4" data-start="nowhere + 1" data-duration="1"></video>
        <video id="a" src="a.mp4" data-start="b" data-duration="1"></video>
        <video id="b" src="a.mp4" data-start="a" data-duration="1"></video>
        <video id="self" src="a.mp4" data-start="self" data-duration="1"></video>`),
    });
    expect(t.shown).toEqual([["lost", 0, 1, 0], ["a", 0, 1, 0], ["b", 0, 1, 0], ["self", 0, 1, 0]]);
    expect(t.warnings.map((w) => [w.code, w.loc.line])).toEqual([
      ["FC_BAD_ATTRIBUTE", 2],
      ["FC_BAD_ATTRIBUTE", 4],
      ["FC_BAD_ATTRIBUTE", 3],
      ["FC_BAD_ATTRIBUTE", 5],
    ]);
    expect(t.warnings[0]!.message).toContain('data-start="nowhere + 1"');
  });

  it("caps a host by the smaller of its data-end and its start plus data-duration", () => {
    const t = windows({
      "index.html": root(`<div data-composition-src="scene.html" data-start="1" data-end="5" data-duration="2"></div>`),
      "scene.html": root(`<video id="clip" src="a.mp4" data-duration="9"></video>`),
    });
    expect(t.shown).toEqual([["clip", 1, 3, 0]]);
  });

  it("names an element with no timing of its own (it ends where it starts), and only in the same file", () => {
    const t = windows({
      "index.html": root(`<h1 id="title"></h1><video id="v" src="a.mp4" data-start="title + 2" data-duration="1"></video><div data-composition-src="scene.html"></div>`),
      "scene.html": root(`<video id="w" src="a.mp4" data-start="title + 1" data-duration="1"></video>`),
    });
    expect(t.shown).toEqual([["v", 2, 3, 0], ["w", 0, 1, 0]]);
    expect(t.warnings.map((w) => [w.loc.file, w.message])).toEqual([["scene.html", expect.stringContaining('names no element with id or data-composition-id "title" in this file')]]);
  });

  it("takes an id with a dash and a number for a name, as HyperFrames does, and a digit-first value for a typo", () => {
    const t = windows({ "index.html": root(`<div id="intro-0.5" data-duration="2"></div><video id="v" src="a.mp4" data-start="intro-0.5" data-duration="1"></video>`) });
    expect(t.shown).toEqual([["v", 2, 3, 0]]);
    expect(scanComposition(`<video src="a.mp4" data-start="1s"></video>`, "x.html").warnings.map((w) => w.code)).toEqual(["FC_BAD_ATTRIBUTE"]);
  });
});
