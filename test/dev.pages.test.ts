import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { frameAt, framesById, rawRequest, startDev, until, type DevServer } from "./helpers/dev.js";
import { countingFfmpeg, makeCodedVideo, tempDir } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
let dev: DevServer | undefined;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  cleanup();
});

const composition = (src: string, seconds: number) =>
  `<!doctype html>\n<html><body>\n<div data-composition-id="c" data-fps="30">\n  <video id="v" src="${src}" data-duration="${seconds}"></video>\n</div>\n</body></html>\n`;

type Update = { compositions: { composition: string }[] };

describe("dev: pages other than index.html, and compositions added or deleted while serving", () => {
  it("plans a build input that is not index.html at start, and serves it with its frames", async () => {
    mkdirSync(join(dir, "pages"), { recursive: true });
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 1 });
    writeFileSync(join(dir, "pages/other.html"), composition("../clip.mp4", 1));
    const ffmpeg = countingFfmpeg(dir);
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path }, { build: { rollupOptions: { input: join(dir, "pages/other.html") } } });
    // Before any request: planned from the build's input.
    await until(() => ffmpeg.runs() === 1, "the input's extraction");
    const { v } = framesById((await rawRequest(dev.origin, "/pages/other.html", { headers: { accept: "text/html" } })).body.toString("utf8"));
    expect(v).toBeDefined();
    expect((await rawRequest(dev.origin, frameAt(v!, 30))).status).toBe(200);
    expect(ffmpeg.runs()).toBe(1);
    expect(dev.warnings).toEqual([]);
  });

  it("a composition added after start that matches the glob is planned and served; one deleted while served is dropped", async () => {
    mkdirSync(join(dir, "scenes"), { recursive: true });
    makeCodedVideo(join(dir, "shared.mp4"), { seconds: 2 });
    writeFileSync(join(dir, "scenes/first.html"), composition("../shared.mp4", 1));
    const ffmpeg = countingFfmpeg(dir);
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path, compositions: "scenes/*.html" });
    await until(() => ffmpeg.runs() === 1, "the first scene's extraction", 15_000);
    const page = async (path: string) => rawRequest(dev!.origin, path, { headers: { accept: "text/html" } });

    // Added while the server runs: planned without a request (the watcher's add), then served.
    writeFileSync(join(dir, "scenes/added.html"), composition("../shared.mp4", 2));
    await until(() => ffmpeg.runs() === 2, "the added scene's extraction, before any request", 15_000);
    const added = framesById((await page("/scenes/added.html")).body.toString("utf8")).v;
    expect(added).toBeDefined();
    expect((await rawRequest(dev.origin, frameAt(added!, 60))).status).toBe(200);
    expect(ffmpeg.runs()).toBe(2);
    framesById((await page("/scenes/first.html")).body.toString("utf8"));

    // Deleted while served: gone from the server, and no longer planned when its source changes.
    rmSync(join(dir, "scenes/added.html"));
    await until(async () => (await page("/scenes/added.html")).status === 404, "the deleted scene to be gone", 15_000);
    makeCodedVideo(join(dir, "replacement.mp4"), { seconds: 2, filters: "negate" });
    renameSync(join(dir, "replacement.mp4"), join(dir, "shared.mp4"));
    const update = (await until(() => dev!.updates[0], "framecache:update", 15_000)) as Update;
    expect(update.compositions.map((c) => c.composition)).toEqual(["scenes/first.html"]);
    await until(() => ffmpeg.runs() === 3, "the first scene's re-extraction", 15_000);
    expect(dev.warnings).toEqual([]);
  });
});
