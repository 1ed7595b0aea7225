import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { frameAt, framesById, rawRequest, startDev, type DevServer } from "./helpers/dev.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { viteBuild, writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
let dev: DevServer | undefined;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  cleanup();
});

function project(): void {
  mkdirSync(join(dir, "public/media"), { recursive: true });
  makeCodedVideo(join(dir, "public/media/clip.mp4"), { seconds: 2 });
  writeFiles(dir, {
    "index.html": `<!doctype html>\n<html><body>\n<div data-composition-id="main" data-fps="30">\n  <div data-composition-src="/scene.html" data-start="1"></div>\n</div>\n</body></html>\n`,
    "public/scene.html": `<div data-composition-id="scene"><template><video id="c" src="media/clip.mp4" data-duration="1"></video></template></div>\n`,
  });
}

describe("a nested composition in publicDir", () => {
  it("is written where the page fetches it (dist/scene.html, over Vite's verbatim copy), rewritten with its frames", async () => {
    project();
    const built = await viteBuild(dir, { cacheDir: join(dir, "cache") });
    expect(built.summary).toMatch(/ 1 videos · 0 hit · 1 extracted · 30 frames /);
    expect(built.warnings).toEqual([]);
    expect(existsSync(join(dir, "dist/public"))).toBe(false);
    const scene = readFileSync(join(dir, "dist/scene.html"), "utf8");
    const frames = /data-frames="\/([^"]+)\/frame_%05d\.jpg"/.exec(scene)?.[1];
    expect(frames, scene).toBeDefined();
    expect(readFrameNumbers(join(dir, "dist", frames!))).toEqual(range(0, 30));
    expect(scene).toContain('data-frame-start="0" data-frame-end="1"');
    const manifest = JSON.parse(readFileSync(join(dir, "dist/framecache-manifest.json"), "utf8"));
    expect(manifest.videos).toMatchObject([{ composition: "scene.html", start: 1, end: 2 }]);
  });

  it("is served by vite dev with its frames, where Vite alone would serve it as it is", async () => {
    project();
    dev = await startDev(dir, { cacheDir: join(dir, "cache") });
    expect((await rawRequest(dev.origin, "/index.html", { headers: { accept: "text/html" } })).status).toBe(200);
    const scene = await rawRequest(dev.origin, "/scene.html");
    expect(scene.status).toBe(200);
    const html = scene.body.toString("utf8");
    expect(html).toContain('data-frame-start="0" data-frame-end="1"');
    const frames = framesById(html).c!;
    const frame = await rawRequest(dev.origin, frameAt(frames, 30));
    expect(frame.status).toBe(200);
    // Other public files are still Vite's to serve.
    expect((await rawRequest(dev.origin, "/media/clip.mp4")).status).toBe(200);
  });
});
