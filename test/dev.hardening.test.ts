import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { entryOf, frameAt, framesById, launchChromium, rawRequest, startDev, until, type DevServer } from "./helpers/dev.js";
import { makeCodedVideo, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

/**
 * The dev server when things go wrong: failures on Vite's error overlay while the rest
 * is served, and the frames middleware under requests test/dev.test.ts does not send.
 */


let dir: string;
let cleanup: () => void;
let dev: DevServer | undefined;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  cleanup();
});


/** A page with one good video (`ok`, line 3) and one whose file is missing (`gone`, line 4). */
function project(): void {
  mkdirSync(join(dir, "media"));
  makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 1 });
  writeFiles(dir, {
    "index.html": `<!doctype html>\n<div data-composition-id="main" data-fps="30">\n  <video id="ok" src="media/clip.mp4"></video>\n  <video id="gone" src="media/gone.mp4"></video>\n</div>\n`,
  });
}

interface ErrorPayload {
  type: "error";
  err: { message: string; plugin?: string; pluginCode?: string; loc?: { file: string; line: number; column: number } };
}

const errorsSent = (d: DevServer) => d.payloads.filter((p): p is ErrorPayload => (p as { type?: string }).type === "error");

describe("dev server: failures", () => {
  it("shows a failing video on Vite's error overlay, and keeps serving the page and the other video's frames", async () => {
    project();
    dev = await startDev(dir, { cacheDir: join(dir, "cache") });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${dev.origin}/index.html`);
      // The overlay is Vite's own element; its text lives in a shadow root.
      const overlay = await until(
        () => page.evaluate(() => document.querySelector("vite-error-overlay")?.shadowRoot?.textContent ?? ""),
        "Vite's error overlay",
        30_000,
      );
      expect(overlay).toContain('index.html:4:3: video "gone" src="media/gone.mp4" was not found');
      expect(overlay).toContain("Check the path");
      expect(overlay).toContain("framecache");
    } finally {
      await browser.close();
    }
    const [sent] = errorsSent(dev);
    expect(sent?.err).toMatchObject({ plugin: "framecache", pluginCode: "FC_SOURCE_MISSING", loc: { file: join(dir, "index.html"), line: 4, column: 3 } });

    // Still serving: the page, and every frame of the good video.
    const again = await rawRequest(dev.origin, "/index.html", { headers: { accept: "text/html" } });
    expect(again.status).toBe(200);
    const frames = framesById(again.body.toString());
    expect(Object.keys(frames)).toEqual(["ok"]);
    expect((await rawRequest(dev.origin, frameAt(frames.ok!, 30))).status).toBe(200);
  });

  it("an extraction that fails after the page was served reaches the overlay with the video's location", async () => {
    project();
    // ffmpeg fails for real: the planned seek is fine, but the file is swapped for garbage between probe and extraction.
    const wrapper = join(dir, "ffmpeg-breaks-input");
    writeFileSync(wrapper, `#!/bin/sh\n[ "$1" = "-version" ] && exec ffmpeg "$@"\nprintf 'not a video' > "${join(dir, "media/clip.mp4")}"\nexec ffmpeg "$@"\n`, { mode: 0o755 });
    dev = await startDev(dir, { cacheDir: join(dir, "cache"), ffmpegPath: wrapper });
    await rawRequest(dev.origin, "/index.html", { headers: { accept: "text/html" } });
    const failed = await until(() => errorsSent(dev!).find((p) => p.err.pluginCode === "FC_FFMPEG_FAILED"), "the extraction error");
    expect(failed.err.message).toMatch(/^index\.html:3:3: video "ok" \(media\/clip\.mp4\): extracting .*clip\.mp4 failed/);
    expect(failed.err.loc).toMatchObject({ line: 3, column: 3 });
    expect((await rawRequest(dev.origin, "/index.html", { headers: { accept: "text/html" } })).status).toBe(200);
  });

  it("a file where the video's entry directory belongs: FC_CACHE_DAMAGED on the overlay, naming the entry and the fix", async () => {
    project();
    const cache = join(dir, "cache");
    dev = await startDev(dir, { cacheDir: cache });
    await rawRequest(dev.origin, "/index.html", { headers: { accept: "text/html" } });
    const entry = await until(() => readdirSync(cache).find((n) => /^hfcache-v2-[0-9a-f]{16}$/.test(n) && existsSync(join(cache, n, ".hf-complete"))), "the entry");
    await dev.close();
    // What a half-deleted cache leaves: the entry's name taken by a file.
    rmSync(join(cache, entry), { recursive: true });
    writeFileSync(join(cache, entry), "");
    dev = await startDev(dir, { cacheDir: cache });
    await rawRequest(dev.origin, "/index.html", { headers: { accept: "text/html" } });
    const damaged = await until(() => errorsSent(dev!).find((p) => p.err.pluginCode === "FC_CACHE_DAMAGED"), "the store error");
    expect(damaged.err.message).toContain(`index.html:3:3: video "ok" (media/clip.mp4): publishing ${entry}: a file stands where the cache expects a directory`);
    expect(damaged.err.message).toContain("framecache verify --fix");
    expect(damaged.err.loc).toMatchObject({ line: 3, column: 3 });
  });
});

/** Send bytes as they are, for requests no HTTP client would form; resolves with the status line. */
function rawHttp(origin: string, head: string): Promise<string> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(head));
    let data = "";
    socket.on("data", (chunk) => (data += chunk.toString("latin1")));
    socket.on("close", () => resolve(data.split("\r\n", 1)[0] ?? ""));
    socket.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" ? resolve(data.split("\r\n", 1)[0] ?? "") : reject(error)));
  });
}

describe("dev server: the frames middleware under abuse", () => {
  it("answers odd methods, long, encoded, doubly encoded and NUL-laden paths without serving anything, and keeps serving", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 1 });
    writeFiles(dir, { "index.html": `<div data-fps="30"><video id="a" src="media/clip.mp4"></video></div>` });
    writeFileSync(join(dir, "secret.txt"), "TOP SECRET");
    dev = await startDev(dir, { cacheDir: join(dir, "cache") });
    const frames = framesById((await rawRequest(dev.origin, "/index.html", { headers: { accept: "text/html" } })).body.toString());
    const good = frameAt(frames.a!, 1);
    const a = entryOf(frames.a!);
    expect((await rawRequest(dev.origin, good)).status).toBe(200);

    // Methods a frame never answers, on a real frame: 405 naming what is allowed.
    for (const method of ["PROPFIND", "TRACE", "MKCOL", "LOCK", "PURGE"]) {
      const res = await rawRequest(dev.origin, good, { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe("GET, HEAD");
    }
    // OPTIONS is a CORS preflight, which Vite's own middleware answers before ours: headers, no frame.
    const options = await rawRequest(dev.origin, good, { method: "OPTIONS" });
    expect([204, 405]).toContain(options.status);
    expect(options.body.length).toBe(0);
    // The same methods on anything else under the prefix: 404.
    for (const method of ["PROPFIND", "TRACE", "DELETE"]) {
      expect((await rawRequest(dev.origin, `/@framecache/${a}/../../secret.txt`, { method })).status, method).toBe(404);
    }

    const notFrames = [
      // Encodings test/dev.test.ts does not send: triple, %5c, upper case, overlong UTF-8, %u, the prefix itself encoded.
      `/@framecache/${a}/%25252e%25252e%25252fsecret.txt`,
      `/@framecache/${a}/..%252f..%252fsecret.txt`,
      `/@framecache/${a}/%2E%2E%2F%2E%2E%2Fsecret.txt`,
      `/@framecache/${a}/..%5c..%5csecret.txt`,
      `/@framecache/${a}/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt`,
      `/@framecache/${a}/%u002e%u002e/secret.txt`,
      `/%40framecache/${a}/frame_00001.jpg`,
      `/%2540framecache/${a}/frame_00001.jpg`,
      `/@FRAMECACHE/${a}/frame_00001.jpg`,
      `/@framecache/./${a}/frame_00001.jpg`,
      `/@framecache/${a}/./frame_00001.jpg`,
      `/@framecache/${a}/frame_00001.jpg/`,
      `/@framecache/${a}/frame_00001.jpg/..`,
      `/@framecache/${a}/frame_00001.jpg;.png`,
      // NUL bytes, encoded and doubly encoded.
      `/@framecache/${a}%00/frame_00001.jpg`,
      `/@framecache/${a}/frame_00001%00.jpg`,
      `/@framecache/${a}/frame_00001.jpg%2500`,
      `/@framecache/%00`,
      // Long: 8 KB of segments, and of one name.
      `/@framecache/${a}/${"../".repeat(2700)}secret.txt`,
      `/@framecache/${a}/frame_${"0".repeat(8000)}1.jpg`,
    ];
    for (const path of notFrames) {
      const res = await rawRequest(dev.origin, path);
      expect(res.status, path.slice(0, 80)).toBe(404);
      expect(res.body.toString(), path.slice(0, 80)).not.toContain("SECRET");
    }

    // What no client library would send: a 64 KB request line, a raw NUL, a bare `..`. The server refuses
    // (431, 400) or answers 404; never 200, never the secret.
    const host = new URL(dev.origin).host;
    const rawStatuses = [
      await rawHttp(dev.origin, `GET /@framecache/${a}/${"a".repeat(64 * 1024)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
      await rawHttp(dev.origin, `GET /@framecache/${a}/frame_00001.jpg\0/../../secret.txt HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      await rawHttp(dev.origin, `GET /@framecache/../secret.txt HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
      await rawHttp(dev.origin, `GET @framecache/${a}/frame_00001.jpg HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    ];
    expect(rawStatuses).toEqual([
      expect.stringMatching(/^HTTP\/1\.1 431 /),
      expect.stringMatching(/^HTTP\/1\.1 (400|404) /),
      expect.stringMatching(/^HTTP\/1\.1 404 /),
      expect.stringMatching(/^HTTP\/1\.1 (400|404) /),
    ]);

    // And the server still serves frames.
    const after = await rawRequest(dev.origin, good);
    expect(after.status).toBe(200);
    expect(after.headers["content-type"]).toBe("image/jpeg");
  });
});
