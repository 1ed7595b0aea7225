import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, mkdirSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../src/core/options.js";
import { DevSession } from "../src/pipeline/dev-session.js";
import { Engine } from "../src/pipeline/engine.js";
import { silentLogger } from "../src/core/logger.js";
import { collectGarbage } from "../src/store/gc.js";
import { entryOf, frameAt, framesById, rawRequest, startDev, until, type DevServer } from "./helpers/dev.js";
import { countingFfmpeg, gatedFfmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
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


async function html(path: string): Promise<string> {
  const res = await rawRequest(dev!.origin, path, { headers: { accept: "text/html" } });
  expect(res.status).toBe(200);
  return res.body.toString("utf8");
}

describe("dev server: the frames middleware", () => {
  it("serves frames from the store, immutable with ETag, 304 and HEAD; neither start nor HTML waits for ffmpeg, a frame request does", async () => {
    referenceProject(dir);
    const ffmpeg = gatedFfmpeg(dir);
    const cacheDir = join(dir, "cache");
    // Every ffmpeg run is held until the gate opens: the server and the HTML must not need one.
    dev = await startDev(dir, { cacheDir, ffmpegPath: ffmpeg.path });

    const frames = framesById(await html("/index.html"));
    expect(Object.keys(frames)).toEqual(["a", "b"]);
    expect(frames.a).toMatch(/^\/@framecache\/hfcache-v2-[0-9a-f]{16}\/frame_%05d\.jpg$/);
    expect(await html("/index.html")).toContain(`data-frames="${frames.a}" data-frame-count="30" data-frame-fps="30"`);

    // ffmpeg is held, so the entry cannot exist yet: the request must wait, not 404.
    const path = frameAt(frames.a!, 30);
    // Vite's listener was added first and runs the middlewares, without a pause, up to the session's
    // wait for the extraction; so when ours sees the request, it is waiting (or already answered).
    const taken = new Promise<ServerResponse>((resolve) => {
      (dev!.server.httpServer as Server).on("request", (req: IncomingMessage, res: ServerResponse) => req.url === path && resolve(res));
    });
    let settled = false;
    const pending = rawRequest(dev.origin, path).finally(() => (settled = true));
    const waiting = await taken;
    // Some ffmpeg is at the gate (with one ffmpeg slot, maybe another video's): none can have finished.
    await until(() => ffmpeg.held().length > 0, "an ffmpeg held at the gate");
    expect(settled).toBe(false);
    expect(existsSync(join(cacheDir, entryOf(frames.a!)))).toBe(false);
    // Checked with no await before open(): an answer now could only have been given without the frames.
    expect(waiting.writableEnded).toBe(false);
    ffmpeg.open();
    const last = await pending;
    expect(last.status).toBe(200);
    const stored = join(cacheDir, entryOf(frames.a!));
    expect(last.body.equals(readFileSync(join(stored, "frame_00030.jpg")))).toBe(true);
    expect(last.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(last.headers["content-type"]).toBe("image/jpeg");
    expect(last.headers["content-length"]).toBe(String(last.body.length));
    const etag = String(last.headers.etag);
    expect(etag).toMatch(/^".+"$/);

    expect((await rawRequest(dev.origin, frameAt(frames.a!, 30), { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await rawRequest(dev.origin, frameAt(frames.a!, 30), { headers: { "if-none-match": `"x", W/${etag}` } })).status).toBe(304);
    expect((await rawRequest(dev.origin, frameAt(frames.a!, 30), { headers: { "if-none-match": `"other"` } })).status).toBe(200);
    const first = await rawRequest(dev.origin, frameAt(frames.a!, 1) + "?v=2");
    expect(first.status).toBe(200);
    expect(first.body.equals(readFileSync(join(stored, "frame_00001.jpg")))).toBe(true);
    expect(first.headers.etag).not.toBe(etag);

    const head = await rawRequest(dev.origin, frameAt(frames.a!, 1), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(first.body.length));
    expect(head.body.length).toBe(0);
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await rawRequest(dev.origin, frameAt(frames.a!, 1), { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe("GET, HEAD");
    }

    // The nested composition fetched by the page carries dev URLs too.
    const nested = framesById(await html("/scenes/intro.html"));
    expect((await rawRequest(dev.origin, frameAt(nested.n!, 30))).status).toBe(200);
    await until(() => dev!.logs.find((l) => l.startsWith("framecache  index.html ready")), "the ready line");
    expect(dev.logs).toContainEqual(expect.stringMatching(/^framecache {2}index\.html ready · 2 videos · 0 hit · 2 extracted · 75 frames \(.+\) · \d/));
  });

  it("answers every other path under the prefix with a 404, and never reads outside the store", async () => {
    referenceProject(dir);
    const cacheDir = join(dir, "cache");
    writeFileSync(join(dir, "secret.txt"), "TOP SECRET");
    dev = await startDev(dir, { cacheDir, ffmpegPath: countingFfmpeg(dir).path });
    const frames = framesById(await html("/index.html"));
    const a = entryOf(frames.a!);
    const b = entryOf(frames.b!);
    expect((await rawRequest(dev.origin, frameAt(frames.a!, 30))).status).toBe(200);
    expect((await rawRequest(dev.origin, frameAt(frames.b!, 45))).status).toBe(200);

    // Things in the store that are not complete entries this server planned.
    mkdirSync(join(cacheDir, `${a}.partial-1-abcd`));
    cpSync(join(cacheDir, a, "frame_00001.jpg"), join(cacheDir, `${a}.partial-1-abcd/frame_00001.jpg`));
    cpSync(join(cacheDir, a), join(cacheDir, "hfcache-v2-aaaaaaaaaaaaaaaa"), { recursive: true });

    const notFrames = [
      `/@framecache/${a}/..%2f..%2fsecret.txt`,
      `/@framecache/${a}/%2e%2e/%2e%2e/secret.txt`,
      `/@framecache/%2e%2e/secret.txt`,
      `/@framecache/${a}/../../secret.txt`,
      `/@framecache/${a}/%252e%252e%252f%252e%252e%252fsecret.txt`,
      `/@framecache%2f..%2fsecret.txt`,
      `/@framecache/${a}/..\\..\\secret.txt`,
      `//@framecache/${a}/frame_00001.jpg`,
      `/@framecache/${a}%2fframe_00001.jpg`,
      `/@framecache/${a}/.hf-complete`,
      `/@framecache/${a}/%2ehf-complete`,
      `/@framecache/${a}.partial-1-abcd/frame_00001.jpg`,
      `/@framecache/hfcache-v2-aaaaaaaaaaaaaaaa/frame_00001.jpg`,
      `/@framecache/hfcache-v2-0123456789abcdef/frame_00001.jpg`,
      `/@framecache/${a.toUpperCase()}/frame_00001.jpg`,
      `/@framecache/CACHEDIR.TAG`,
      `/@framecache/${a}/`,
      `/@framecache/`,
      `/@framecache`,
      `/@framecache/${a}/frame_1.jpg`,
      `/@framecache/${a}/frame_000001.jpg`,
      `/@framecache/${a}/frame_00000.jpg`,
      `/@framecache/${a}/frame_00031.jpg`,
      `/@framecache/${a}/frame_00001.png`,
      `/@framecache/${a}/frame_00001.jpg.map`,
      `/@framecache/${a}/frame_00001.jpg%00`,
      `/@framecache/${a}/frame_00001%2ejpg`,
      `/@framecache/${a}/frame_-0001.jpg`,
    ];
    for (const path of notFrames) {
      for (const method of ["GET", "HEAD", "POST"]) {
        const res = await rawRequest(dev.origin, path, { method });
        // A well-formed frame path answers other methods with 405; nothing is ever served.
        if (method === "POST") expect([404, 405], `${method} ${path}`).toContain(res.status);
        else expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.headers["content-type"], path).toMatch(/^text\/plain/);
        if (method === "GET") expect(res.body.toString(), path).toBe("Not found");
      }
    }

    // A symlink in the store leading out of it is refused, even from a planned entry.
    const outside = join(dir, "elsewhere");
    cpSync(join(cacheDir, b), outside, { recursive: true });
    rmSync(join(cacheDir, b), { recursive: true });
    symlinkSync(outside, join(cacheDir, b));
    expect((await rawRequest(dev.origin, frameAt(frames.b!, 1))).status).toBe(404);
    rmSync(join(cacheDir, a, "frame_00002.jpg"));
    symlinkSync(join(dir, "secret.txt"), join(cacheDir, a, "frame_00002.jpg"));
    const linked = await rawRequest(dev.origin, frameAt(frames.a!, 2));
    expect(linked.status).toBe(404);
    expect(linked.body.toString()).not.toContain("SECRET");
    // The real frames beside them are still served.
    expect((await rawRequest(dev.origin, frameAt(frames.a!, 3))).status).toBe(200);
  });
});

describe("dev server: changes and restarts", () => {
  it("a restarted server on unchanged inputs runs ffmpeg zero times", async () => {
    referenceProject(dir);
    const ffmpeg = countingFfmpeg(dir);
    const options = { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path };

    const visit = async () => {
      const frames = { ...framesById(await html("/index.html")), ...framesById(await html("/scenes/intro.html")) };
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

    const before = framesById(await html("/index.html")).v!;
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
    expect(framesById(await html("/index.html")).v).toBe(changed.frames);
  });

  it("a <video> attribute edit re-plans only that composition and sends the new frames; any other edit reloads", async () => {
    referenceProject(dir);
    const ffmpeg = countingFfmpeg(dir);
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path });
    const nestedBefore = framesById(await html("/scenes/intro.html")).n!;
    framesById(await html("/index.html"));
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

describe("dev server: JS imports", () => {
  it("a ?frames import resolves to dev URLs that the middleware serves", async () => {
    referenceProject(dir);
    writeFiles(dir, { "main.js": `export { default as clip } from "./media/clip.mp4?frames&start=1&duration=0.5";\n` });
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: countingFfmpeg(dir).path });
    const { clip } = (await dev.server.ssrLoadModule("/main.js")) as { clip: { frames: string; frameCount: number; mediaStart: number } };
    expect(clip).toMatchObject({ frameCount: 15, mediaStart: 1 });
    expect(clip.frames).toMatch(/^\/@framecache\/hfcache-v2-[0-9a-f]{16}\/frame_%05d\.jpg$/);
    const last = await rawRequest(dev.origin, frameAt(clip.frames, 15));
    expect(last.status).toBe(200);
    expect(last.body.equals(readFileSync(join(dir, "cache", entryOf(clip.frames), "frame_00015.jpg")))).toBe(true);
  });

  it("a ?frames request for a file Vite's server.fs.deny covers is refused, and nothing is extracted", async () => {
    // No composition, so nothing is extracted in the background.
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 1 });
    cpSync(join(dir, "media/clip.mp4"), join(dir, "key.pem"));
    const ffmpeg = countingFfmpeg(dir);
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path });
    expect((await rawRequest(dev.origin, "/key.pem")).status).toBe(403);
    const denied = await rawRequest(dev.origin, "/key.pem?frames&import");
    expect(denied.status).not.toBe(200);
    expect(denied.body.toString()).not.toContain("hfcache-v2-");
    expect(ffmpeg.runs()).toBe(0);
    expect((await rawRequest(dev.origin, "/media/clip.mp4?frames&import")).status).toBe(200);
  });

  it("a ?frames request another site's page sends is refused before anything is extracted", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 1 });
    const ffmpeg = countingFfmpeg(dir);
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path });
    // What a browser sends for `<script src="http://localhost:5173/…">` on another site.
    const crossSite = { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script" };
    const refused = await rawRequest(dev.origin, "/media/clip.mp4?frames&import&fps=240", { headers: crossSite });
    expect(refused.status).toBe(403);
    expect(ffmpeg.runs()).toBe(0);
    expect((await rawRequest(dev.origin, "/media/clip.mp4?frames&import", { headers: { ...crossSite, "sec-fetch-site": "same-origin" } })).status).toBe(200);
    expect(ffmpeg.runs()).toBe(1);
  });
});

describe("DevSession", () => {
  it("a frame request waits for its extraction up to the timeout, then gets the entry once it is done", async () => {
    referenceProject(dir);
    const ffmpeg = gatedFfmpeg(dir);
    const options = resolveOptions({ cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, waitTimeoutMs: 300 });
    try {
      const page = await session.page(join(dir, "index.html"), readFileSync(join(dir, "index.html"), "utf8"));
      expect(page.videos).toBe(3);
      const entry = entryOf(framesById(page.html).a!);
      expect(await session.entry(entry)).toBe("timeout");
      expect(await session.entry("hfcache-v2-0123456789abcdef")).toBe("missing");
      ffmpeg.open();
      const done = await until(async () => {
        const found = await session.entry(entry);
        return found !== "timeout" && found;
      }, "the entry");
      expect(done).toMatchObject({ name: entry, frames: 30, format: "jpg" });
    } finally {
      await session.dispose();
    }
  });

  it("tries a failed extraction again when its page is planned again", async () => {
    referenceProject(dir);
    // ffmpeg fails while the flag file is there, as on a full disk that is then cleared.
    const flag = join(dir, "fail");
    const failing = join(dir, "ffmpeg-fails");
    writeFileSync(flag, "");
    writeFileSync(failing, `#!/bin/sh\n[ "$1" = "-version" ] && exec ffmpeg "$@"\n[ -f "${flag}" ] && { echo "No space left on device" >&2; exit 1; }\nexec ffmpeg "$@"\n`, { mode: 0o755 });
    const options = resolveOptions({ cacheDir: join(dir, "cache"), ffmpegPath: failing });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined });
    const index = join(dir, "index.html");
    try {
      const entry = entryOf(framesById((await session.page(index, readFileSync(index, "utf8"))).html).a!);
      expect(await session.entry(entry)).toBe("missing");
      rmSync(flag);
      await session.page(index, readFileSync(index, "utf8"));
      expect(await session.entry(entry)).toMatchObject({ name: entry, frames: 30 });
    } finally {
      await session.dispose();
    }
  });

  it("tries a failed extraction again for a change of its own source, not of an unrelated file", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 1 });
    // A page with a plan error (a missing src), so every file change re-plans it; its other video always fails in ffmpeg.
    writeFiles(dir, { "index.html": `<div data-fps="30"><video id="a" src="media/clip.mp4"></video><video id="gone" src="media/gone.mp4"></video></div>` });
    const log = join(dir, "runs.log");
    const failing = join(dir, "ffmpeg-fails");
    writeFileSync(failing, `#!/bin/sh\n[ "$1" = "-version" ] && exec ffmpeg "$@"\necho run >> "${log}"\nexit 1\n`, { mode: 0o755 });
    const runs = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0);
    const options = resolveOptions({ cacheDir: join(dir, "cache"), ffmpegPath: failing });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, debounceMs: 0 });
    const index = join(dir, "index.html");
    try {
      const entry = entryOf(framesById((await session.page(index, readFileSync(index, "utf8"))).html).a!);
      expect(await session.entry(entry)).toBe("missing");
      expect(runs()).toBe(1);
      writeFiles(dir, { "main.ts": "export {};\n" });
      session.fileChanged(join(dir, "main.ts"));
      // The page's plan error makes the change known at once, so its 0 ms debounce timer is already set;
      // Node fires timers of one delay in the order they were set, so once this one fires, that one has queued its re-plan.
      await new Promise((resolve) => setTimeout(resolve, 0));
      // The session plans one thing at a time: this no-op settles only after that re-plan did.
      expect(await session.compositionChanged(join(dir, "never-served.html"), "")).toBe("unknown");
      // Had the re-plan retried, the entry's run would be a new one, and this waits until its ffmpeg failed too.
      expect(await session.entry(entry)).toBe("missing");
      expect(runs()).toBe(1);
      session.fileChanged(join(dir, "media/clip.mp4"));
      await until(() => runs() === 2, "a second extraction");
    } finally {
      await session.dispose();
    }
  });

  it("lists a served source's keyframes once extraction is idle, so the first trim edit runs no ffprobe", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 3 });
    // As old as a recorded file: one changed in the last seconds is not remembered (racy mtime).
    utimesSync(join(dir, "media/clip.mp4"), new Date(2020, 0, 1), new Date(2020, 0, 1));
    const page = (seconds: number) => `<div data-fps="30"><video id="v" src="media/clip.mp4" data-duration="${seconds}"></video></div>`;
    writeFiles(dir, { "index.html": page(1) });
    const log = join(dir, "ffprobe.log");
    const ffprobePath = join(dir, "ffprobe-logged");
    writeFileSync(ffprobePath, `#!/bin/sh\necho "$*" >> "${log}"\nexec ffprobe "$@"\n`, { mode: 0o755 });
    const ffprobes = () => readFileSync(log, "utf8").split("\n").filter(Boolean);
    const engine = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache"), ffprobePath }), logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined });
    const index = join(dir, "index.html");
    try {
      const first = entryOf(framesById((await session.page(index, page(1))).html).v!);
      expect(await session.entry(first)).toMatchObject({ frames: 30 });
      await until(() => readdirSync(join(dir, "cache/.digests")).some((name) => name.startsWith("keyframes-")), "the keyframe table remembered");
      const listed = ffprobes().length;
      expect(ffprobes().filter((args) => args.includes("-skip_frame nokey"))).toHaveLength(1);
      // The trim edit: frames 31–60 are extracted from a seek into the source, with the table already there.
      writeFiles(dir, { "index.html": page(2) });
      expect(await session.compositionChanged(index, page(2))).toBe("update");
      const second = entryOf(framesById((await session.page(index, page(2))).html).v!);
      const entry = await until(async () => {
        const found = await session.entry(second);
        return typeof found === "object" ? found : undefined;
      }, "the edited entry");
      expect(readFrameNumbers(entry.dir)).toEqual(range(0, 60));
      expect(ffprobes()).toHaveLength(listed);
    } finally {
      await session.dispose();
    }
  });

  it("serving an entry's frames marks it used, so another process's GC spares a page left open for hours", async () => {
    referenceProject(dir);
    const options = resolveOptions({ cacheDir: join(dir, "cache") });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, touchEveryMs: 0 });
    try {
      const index = join(dir, "index.html");
      const entry = entryOf(framesById((await session.page(index, readFileSync(index, "utf8"))).html).a!);
      expect(await session.entry(entry)).toMatchObject({ name: entry });
      const sentinel = join(dir, "cache", entry, ".hf-complete");
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      utimesSync(sentinel, twoHoursAgo, twoHoursAgo);
      // A frame request, as the page scrubs.
      expect(await session.entry(entry)).toMatchObject({ name: entry });
      await until(() => Date.now() - statSync(sentinel).mtimeMs < 60_000, "the entry marked used");
      const stats = await collectGarbage(join(dir, "cache"), { maxSize: 1 });
      expect(stats.evictedEntries).not.toContain(entry);
      expect(existsSync(sentinel)).toBe(true);
    } finally {
      await session.dispose();
    }
  });

  it("its background GC spares every entry its pages use, however long ago they were planned", async () => {
    mkdirSync(join(dir, "media"));
    for (const [name, seconds] of [["a", 1], ["b", 2], ["c", 3]] as const) makeCodedVideo(join(dir, `media/${name}.mp4`), { seconds });
    const page = (name: string) => `<div data-fps="30"><video id="${name}" src="media/${name}.mp4"></video></div>`;
    writeFiles(dir, { "a.html": page("a"), "b.html": page("b"), "c.html": page("c") });
    const options = resolveOptions({ cacheDir: join(dir, "cache"), maxCacheSize: 1 });
    // Entry c: made by another process, used by no page of this session.
    const other = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const [c] = (await other.run([join(dir, "c.html")])).results;
    await other.dispose();
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, gcDelayMs: 0 });
    const served = async (name: string) => {
      const file = join(dir, `${name}.html`);
      const entry = entryOf(framesById((await session.page(file, readFileSync(file, "utf8"))).html)[name]!);
      expect(await session.entry(entry)).toMatchObject({ name: entry });
      return entry;
    };
    try {
      const a = await served("a");
      // Both entries were last used two hours ago, past GC's one-hour grace.
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      for (const e of [a, c!.entry.name]) utimesSync(join(dir, "cache", e, ".hf-complete"), twoHoursAgo, twoHoursAgo);
      const b = await served("b");
      await until(() => engine.report.gcEvicted > 0, "a collection that evicts c");
      expect(existsSync(join(dir, "cache", c!.entry.name))).toBe(false);
      expect(existsSync(join(dir, "cache", a, "frame_00030.jpg"))).toBe(true);
      expect(existsSync(join(dir, "cache", b))).toBe(true);
    } finally {
      await session.dispose();
    }
  });
});
