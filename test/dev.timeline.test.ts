import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FramecacheUpdate } from "../src/core/events.js";
import { silentLogger } from "../src/core/logger.js";
import { resolveOptions } from "../src/core/options.js";
import { DevSession } from "../src/pipeline/dev-session.js";
import { Engine } from "../src/pipeline/engine.js";
import { entryOf } from "./helpers/dev.js";
import { countingFfmpeg, makeCodedVideo, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

/** Each `<video>` of a served page: its entry and its frame count. */
function served(html: string): Record<string, { entry: string; count: number }> {
  const out: Record<string, { entry: string; count: number }> = {};
  for (const m of html.matchAll(/<video[^>]*\sid="([^"]+)"[^>]*\sdata-frames="([^"]+)" data-frame-count="(\d+)"/g)) out[m[1]!] = { entry: entryOf(m[2]!), count: Number(m[3]) };
  return out;
}

describe("dev: edits of the timeline", () => {
  it("re-plans exactly the videos whose windows changed: the root's end, a host's end, a loop", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 8 });
    makeCodedVideo(join(dir, "media/two.mp4"), { seconds: 2 });
    writeFiles(dir, {
      "index.html": `<div data-composition-id="main" data-fps="30" data-duration="2">
  <video id="aroll" src="media/clip.mp4"></video>
  <video id="b" src="media/two.mp4" data-duration="1"></video>
  <div data-composition-src="scene.html" data-start="0" data-end="1"></div>
</div>
`,
      "scene.html": `<div data-composition-id="scene"><template><video id="c" src="media/clip.mp4" data-duration="3" data-media-start="4"></video></template></div>\n`,
    });
    const ffmpeg = countingFfmpeg(dir);
    const engine = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path }), logger: silentLogger });
    const updates: FramecacheUpdate[] = [];
    const session = new DevSession(engine, { logger: silentLogger, send: (u) => void updates.push(u) });
    const index = join(dir, "index.html");
    const scene = join(dir, "scene.html");
    /** Serve both pages and wait for every entry they name. */
    const serve = async () => {
      const page = served((await session.page(index, readFileSync(index, "utf8"))).html);
      const nested = served((await session.page(scene, readFileSync(scene, "utf8"))).html);
      const all = { ...page, ...nested };
      for (const v of Object.values(all)) expect(await session.entry(v.entry)).toMatchObject({ frames: v.count });
      return all;
    };
    const edit = async (file: string, from: string, to: string) => {
      const html = readFileSync(file, "utf8").replace(from, to);
      writeFileSync(file, html);
      return session.compositionChanged(file, html);
    };
    try {
      const first = await serve();
      expect(first).toMatchObject({ aroll: { count: 60 }, b: { count: 30 }, c: { count: 30 } });
      expect(ffmpeg.runs()).toBe(3);

      // The root's end moves: only the natural A-roll's window changes. The page reloads and is planned again.
      expect(await edit(index, 'data-duration="2"', 'data-duration="3"')).toBe("reload");
      const longer = await serve();
      expect(longer.aroll!.count).toBe(90);
      expect(longer.aroll!.entry).not.toBe(first.aroll!.entry);
      expect([longer.b, longer.c]).toEqual([first.b, first.c]);
      expect(ffmpeg.runs()).toBe(4);

      // A host's end: only the clip it mounts.
      expect(await edit(index, 'data-end="1"', 'data-end="2.5"')).toBe("reload");
      const wider = await serve();
      expect(wider.c!.count).toBe(75);
      expect([wider.aroll, wider.b]).toEqual([longer.aroll, longer.b]);
      expect(ffmpeg.runs()).toBe(5);

      // `loop` is an attribute of the video: an update in place, one cycle (60 frames) for 3 s.
      expect(await edit(index, 'id="b" src="media/two.mp4" data-duration="1"', 'id="b" src="media/two.mp4" data-duration="3" loop')).toBe("update");
      const looped = await serve();
      expect(looped.b!.count).toBe(60);
      expect(updates.at(-1)!.compositions.flatMap((c) => c.videos.map((v) => v.id))).toEqual(["b"]);
      expect(updates.at(-1)!.compositions[0]!.videos[0]!.attributes).toMatchObject({ "data-frame-loop": "2", "data-frame-end": "3" });
      expect([looped.aroll, looped.c]).toEqual([wider.aroll, wider.c]);
      expect(ffmpeg.runs()).toBe(6);

      // A host placed by a reference moves when the video it names changes: the page reloads, not just that video.
      expect(await edit(index, 'data-start="0" data-end="2.5"', 'data-start="b - 2.5" data-duration="2.5"')).toBe("reload");
      const referenced = await serve();
      expect(await edit(index, 'data-duration="3" loop', 'data-duration="2.9" loop')).toBe("reload");
      expect(await serve()).toEqual(referenced);
      expect(ffmpeg.runs()).toBe(6);
    } finally {
      await session.dispose();
    }
  });

  it("plans a file that two entries mount for both of them, whichever page asks", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 8 });
    writeFiles(dir, {
      "one.html": `<div data-composition-id="one" data-fps="30"><div data-composition-src="scene.html" data-start="0" data-end="1"></div></div>\n`,
      "two.html": `<div data-composition-id="two" data-fps="30"><div data-composition-src="scene.html" data-start="0" data-duration="3"></div></div>\n`,
      "scene.html": `<div data-composition-id="scene"><template><video id="c" src="media/clip.mp4"></video></template></div>\n`,
    });
    const engine = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache") }), logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined });
    const page = async (name: string) => served((await session.page(join(dir, name), readFileSync(join(dir, name), "utf8"))).html);
    try {
      await session.page(join(dir, "one.html"), readFileSync(join(dir, "one.html"), "utf8"));
      await session.page(join(dir, "two.html"), readFileSync(join(dir, "two.html"), "utf8"));
      // The union of both instances: 3 s, not one entry's 1 s.
      const scene = await page("scene.html");
      expect(scene.c!.count).toBe(90);
      await session.page(join(dir, "one.html"), readFileSync(join(dir, "one.html"), "utf8"));
      expect(await page("scene.html")).toEqual(scene);
      expect(await session.entry(scene.c!.entry)).toMatchObject({ frames: 90 });
    } finally {
      await session.dispose();
    }
  });
});
