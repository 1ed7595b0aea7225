import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { entryOf, frameAt, framesById, pageHtml, rawRequest, startDev, until, type DevServer } from "./helpers/dev.js";
import { countingFfmpeg, tempDir } from "./helpers/media.js";
import { referenceProject, writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
let dev: DevServer | undefined;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  cleanup();
});

describe("dev server: changes and restarts", () => {
  it("a restarted server on unchanged inputs runs ffmpeg zero times", async () => {
    referenceProject(dir);
    const ffmpeg = countingFfmpeg(dir);
    const options = { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path };

    const visit = async () => {
      const frames = { ...framesById(await pageHtml(dev!, "/index.html")), ...framesById(await pageHtml(dev!, "/scenes/intro.html")) };
      expect(Object.keys(frames).sort()).toEqual(["a", "b", "n"]);
      const counts = { a: 30, b: 45, n: 30 } as Record<string, number>;
      for (const [id, url] of Object.entries(frames)) {
        expect((await rawRequest(dev!.origin, frameAt(url, counts[id]!))).status).toBe(200);
        expect((await rawRequest(dev!.origin, frameAt(url, 1))).status).toBe(200);
      }
      await until(() => dev!.logs.filter((l) => / ready · /.test(l)).length >= 2, "both ready lines");
      return frames;
    };

    dev = await startDev(dir, options);
    const cold = await visit();
    await dev.close();
    expect(ffmpeg.runs()).toBe(3);

    dev = await startDev(dir, options);
    const warm = await visit();
    expect(warm).toEqual(cold);
    expect(ffmpeg.runs()).toBe(3);
    expect(dev.logs).toContainEqual(expect.stringMatching(/^framecache {2}index\.html ready · 2 videos · 2 hit · 0 extracted · 75 frames /));
    expect(dev.logs).toContainEqual(expect.stringMatching(/^framecache {2}scenes\/intro\.html ready · 1 video · 1 hit · 0 extracted · 30 frames /));
  });

  it("a source replaced while its extraction runs: that ffmpeg is killed, its partial directory removed, only the new key extracted", async () => {
    const media = join(dir, "media");
    mkdirSync(media);
    const lavfi = (spec: string, file: string) =>
      execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", spec, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", file]);
    // Long enough that its extraction (1800 frames) is still running when the file is replaced.
    lavfi("testsrc2=s=640x360:r=30:d=60", join(media, "long.mp4"));
    lavfi("testsrc=s=320x180:r=30:d=1", join(dir, "replacement.mp4"));
    writeFiles(dir, { "index.html": `<div data-fps="30"><video id="v" src="media/long.mp4"></video></div>\n` });
    const cacheDir = join(dir, "cache");
    const ffmpeg = countingFfmpeg(dir);
    // One slot: if the first run were not killed, it would finish and publish before the second starts.
    dev = await startDev(dir, { cacheDir, ffmpegPath: ffmpeg.path, concurrency: 1 });

    const before = framesById(await pageHtml(dev!, "/index.html")).v!;
    const old = entryOf(before);
    const partialOf = (entry: string) => readdirSync(cacheDir).find((name) => name.startsWith(`${entry}.partial-`));
    const writing = await until(() => {
      const partial = partialOf(old);
      return partial && readdirSync(join(cacheDir, partial)).length >= 5 ? partial : undefined;
    }, "ffmpeg to be writing frames");
    expect(existsSync(join(cacheDir, old))).toBe(false);

    renameSync(join(dir, "replacement.mp4"), join(media, "long.mp4"));
    const update = (await until(() => dev!.updates[0], "framecache:update")) as {
      compositions: { composition: string; videos: { id: string; previous: string; frames: string; frameCount: number }[] }[];
    };
    expect(update.compositions).toHaveLength(1);
    expect(update.compositions[0]!.composition).toBe("index.html");
    const changed = update.compositions[0]!.videos[0]!;
    expect(changed).toMatchObject({ id: "v", previous: before, frameCount: 30 });
    const fresh = entryOf(changed.frames);
    expect(fresh).not.toBe(old);

    expect((await rawRequest(dev.origin, frameAt(changed.frames, 30))).status).toBe(200);
    await until(() => !existsSync(join(cacheDir, writing)), "the killed run's partial directory to go");
    expect(readdirSync(cacheDir).filter((name) => name.includes(".partial-"))).toEqual([]);
    expect(existsSync(join(cacheDir, old))).toBe(false);
    expect(readdirSync(join(cacheDir, fresh)).filter((f) => f.endsWith(".jpg"))).toHaveLength(30);
    expect(ffmpeg.runs()).toBe(2);
    // The old URL is gone with its run; the page now serves the new one.
    expect((await rawRequest(dev.origin, frameAt(before, 1))).status).toBe(404);
    expect(framesById(await pageHtml(dev!, "/index.html")).v).toBe(changed.frames);
  });

  it("a <video> attribute edit re-plans only that composition and sends the new frames; any other edit reloads", async () => {
    referenceProject(dir);
    const ffmpeg = countingFfmpeg(dir);
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path });
    const nestedBefore = framesById(await pageHtml(dev!, "/scenes/intro.html")).n!;
    framesById(await pageHtml(dev!, "/index.html"));
    await until(() => dev!.logs.filter((l) => / ready · /.test(l)).length >= 2, "both ready lines");
    expect(ffmpeg.runs()).toBe(3);

    const intro = join(dir, "scenes/intro.html");
    writeFileSync(intro, readFileSync(intro, "utf8").replace(`data-media-start="0.5"`, `data-media-start="1"`));
    const update = (await until(() => dev!.updates[0], "framecache:update")) as {
      compositions: { composition: string; videos: { id: string; previous: string; frames: string; attributes: Record<string, string> }[] }[];
    };
    expect(update.compositions.map((c) => c.composition)).toEqual(["scenes/intro.html"]);
    const [changed] = update.compositions[0]!.videos;
    expect(changed).toMatchObject({ id: "n", previous: nestedBefore });
    expect(changed!.frames).not.toBe(nestedBefore);
    expect(changed!.attributes).toMatchObject({ id: "n", "data-media-start": "1", "data-frames": changed!.frames, "data-frame-count": "30" });
    expect((await rawRequest(dev.origin, frameAt(changed!.frames, 30))).status).toBe(200);
    expect(ffmpeg.runs()).toBe(4);

    // Not a <video> attribute: the page must reload, and no update is sent.
    writeFileSync(intro, readFileSync(intro, "utf8").replace("<template>", "<p>credits</p>\n  <template>"));
    await until(() => dev!.payloads.some((p) => (p as { type?: string }).type === "full-reload"), "a full reload");
    expect(dev.updates).toHaveLength(1);
  });
});
