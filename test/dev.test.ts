import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { entryOf, frameAt, framesById, pageHtml, rawRequest, startDev, until, type DevServer } from "./helpers/dev.js";
import { countingFfmpeg, gatedFfmpeg, makeCodedVideo, tempDir } from "./helpers/media.js";
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


describe("dev server: the frames middleware", () => {
  it("serves frames from the store, immutable with ETag, 304 and HEAD; neither start nor HTML waits for ffmpeg, a frame request does", async () => {
    referenceProject(dir);
    const ffmpeg = gatedFfmpeg(dir);
    const cacheDir = join(dir, "cache");
    // Every ffmpeg run is held until the gate opens: the server and the HTML must not need one.
    dev = await startDev(dir, { cacheDir, ffmpegPath: ffmpeg.path });

    const frames = framesById(await pageHtml(dev!, "/index.html"));
    expect(Object.keys(frames)).toEqual(["a", "b"]);
    expect(frames.a).toMatch(/^\/@framecache\/hfcache-v2-[0-9a-f]{16}\/frame_%05d\.jpg$/);
    expect(await pageHtml(dev!, "/index.html")).toContain(`data-frames="${frames.a}" data-frame-count="30" data-frame-fps="30"`);

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
    const nested = framesById(await pageHtml(dev!, "/scenes/intro.html"));
    expect((await rawRequest(dev.origin, frameAt(nested.n!, 30))).status).toBe(200);
    await until(() => dev!.logs.find((l) => l.startsWith("framecache  index.html ready")), "the ready line");
    expect(dev.logs).toContainEqual(expect.stringMatching(/^framecache {2}index\.html ready · 2 videos · 0 hit · 2 extracted · 75 frames \(.+\) · \d/));
  });

  it("answers every other path under the prefix with a 404, and never reads outside the store", async () => {
    referenceProject(dir);
    const cacheDir = join(dir, "cache");
    writeFileSync(join(dir, "secret.txt"), "TOP SECRET");
    dev = await startDev(dir, { cacheDir, ffmpegPath: countingFfmpeg(dir).path });
    const frames = framesById(await pageHtml(dev!, "/index.html"));
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
