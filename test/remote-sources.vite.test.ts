import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Engine } from "../src/pipeline/engine.js";
import { startDev, until } from "./helpers/dev.js";
import { makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { selfSignedCert, startMediaServer, type MediaServer } from "./helpers/media-server.js";
import { walk, writeFiles } from "./helpers/project.js";

const DIST = join(__dirname, "../dist/index.js");
const VITE = join(__dirname, "../node_modules/vite/dist/node/index.js");
const tmp = tempDir("framecache-remote-vite-");
let aroll: string;

beforeAll(() => {
  aroll = makeCodedVideo(join(tmp.dir, "aroll.mp4"), { seconds: 3 });
});
afterAll(() => tmp.cleanup());

describe("remote sources in Vite", () => {
  it("vite build of a HyperFrames-style composition whose natural-length A-roll is an https:// URL: its frames, the summary, the URL's secret nowhere", async () => {
    const tls = selfSignedCert(tmp.dir, "aroll");
    const media = await startMediaServer({ tls });
    media.serve("/media/aroll.mp4", aroll);
    const root = join(tmp.dir, "hyperframes");
    const src = `${media.url}/media/aroll.mp4?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=s3cr3t`;
    writeFiles(root, {
      "index.html": `<!doctype html>
<html><body>
<div id="root" data-composition-id="main" data-start="0" data-duration="2" data-width="1920" data-height="1080">
  <video id="aroll" data-start="0" data-track-index="0" src="${src}" muted playsinline></video>
  <div id="caption-1" class="clip" data-start="0" data-duration="1" data-track-index="1">Hello</div>
  <div id="caption-2" class="clip" data-start="1" data-duration="1" data-track-index="1">World</div>
</div>
</body></html>
`,
      "build.mjs": `import { build } from ${JSON.stringify(VITE)};
import framecache from ${JSON.stringify(DIST)};
await build({ root: process.cwd(), configFile: false, logLevel: "info", plugins: [framecache({ cacheDir: "cache" })] });
`,
    });
    try {
      // The certificate is trusted the way a user trusts a private CA: for the whole process, from its start.
      const run = await execa("node", ["build.mjs"], { cwd: root, env: { NODE_EXTRA_CA_CERTS: tls.certFile }, all: true });
      expect(run.all).toMatch(/framecache {2}1 videos · 0 hit · 1 extracted · 60 frames \(.*\) · [\d.]+m?s · 1 downloaded \([\d.]+ kB\)/);
      const manifest = JSON.parse(readFileSync(join(root, "dist/framecache-manifest.json"), "utf8")) as { videos: { id: string; src: string; frames: string }[] };
      expect(manifest.videos.map((v) => [v.id, v.src])).toEqual([["aroll", `${media.url}/media/aroll.mp4?REDACTED`]]);
      expect(readFrameNumbers(join(root, "dist", manifest.videos[0]!.frames, ".."))).toEqual(range(0, 60));
      const written = [...walk(join(root, "dist")).filter((f) => !f.endsWith(".html") && !f.endsWith(".jpg")), ...walk(join(root, "cache")).filter((f) => !f.includes("hfcache-v2-"))];
      for (const file of written) expect(readFileSync(file, "latin1"), relative(root, file)).not.toContain("s3cr3t");
      expect(run.all).not.toContain("s3cr3t");
      expect(run.all).not.toContain("AKIAEXAMPLE");
    } finally {
      await media.stop();
    }
  });

  it("vite dev serves a remote video's frames, and a file changed on its server is hot-updated", async () => {
    const media: MediaServer = await startMediaServer();
    const served = join(tmp.dir, "dev-remote.mp4");
    copyFileSync(aroll, served);
    media.serve("/clip.mp4", served);
    const root = join(tmp.dir, "dev");
    writeFiles(root, { "index.html": `<div data-composition-id="main">\n  <video id="v" src="${media.url}/clip.mp4" data-duration="0.5"></video>\n</div>\n` });
    const dev = await startDev(root, { cacheDir: join(root, "cache"), remoteSources: { freshFor: 0 } });
    try {
      const page = await (await fetch(`${dev.origin}/index.html`)).text();
      const frames = /data-frames="([^"]+)"/.exec(page)?.[1];
      expect(frames).toMatch(/^\/@framecache\/hfcache-v2-[0-9a-f]{16}\/frame_%05d\.jpg$/);
      const first = await fetch(`${dev.origin}${frames!.replace("%05d", "00001")}`);
      expect(first.status).toBe(200);

      // The server now has other bytes: a 1 s clip starting at frame 0 of a new pattern (half the frame rate).
      makeCodedVideo(served, { seconds: 1, fps: 15 });
      const update = await until(() => dev.updates.at(-1) as { compositions: { videos: { id: string; attributes: Record<string, string> }[] }[] } | undefined, "a framecache:update", 30_000);
      const moved = update.compositions[0]!.videos.find((v) => v.id === "v")!.attributes["data-frames"]!;
      expect(moved).not.toBe(frames);
      const shown = join(tmp.dir, "dev-frames");
      mkdirSync(shown);
      for (let k = 1; k <= 15; k++) {
        const bytes = await until(async () => {
          const res = await fetch(`${dev.origin}${moved.replace("%05d", String(k).padStart(5, "0"))}`);
          return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
        }, `frame ${k} of the new entry`);
        writeFileSync(join(shown, `frame_${String(k).padStart(5, "0")}.jpg`), bytes);
      }
      // 30 fps frames of the 15 fps source: each source frame twice.
      expect(readFrameNumbers(shown)).toEqual(range(0, 15).map((k) => Math.floor(k / 2)));
    } finally {
      await dev.close();
      await media.stop();
    }
  });

  it("vite dev: a page waiting for a slow download does not hold up another page", async () => {
    const media = await startMediaServer();
    media.serve("/slow.mp4", aroll);
    media.fault("/slow.mp4", { kind: "slow", ms: 2500 });
    const root = join(tmp.dir, "dev-slow");
    copyFileSync(aroll, join(tmp.dir, "local.mp4"));
    writeFiles(root, {
      "remote.html": `<div data-composition-id="r">\n  <video id="r" src="${media.url}/slow.mp4" data-duration="0.5"></video>\n</div>\n`,
      "local.html": `<div data-composition-id="l">\n  <video id="l" src="local.mp4" data-duration="0.5"></video>\n</div>\n`,
    });
    copyFileSync(aroll, join(root, "local.mp4"));
    const dev = await startDev(root, { cacheDir: join(root, "cache") });
    try {
      const order: string[] = [];
      const get = (page: string) => fetch(`${dev.origin}/${page}`).then(async (res) => (order.push(page), await res.text()));
      const remote = get("remote.html");
      await until(() => media.log.length > 0, "the download to start");
      const local = await get("local.html");
      expect(local).toContain("data-frames=");
      expect(await remote).toContain("data-frames=");
      expect(order).toEqual(["local.html", "remote.html"]);
    } finally {
      await dev.close();
      await media.stop();
    }
  });

  it("vite dev: a page served before is not loaded twice per request to find its URLs", async () => {
    const media = await startMediaServer();
    media.serve("/clip.mp4", aroll);
    const root = join(tmp.dir, "dev-again");
    writeFiles(root, { "index.html": `<div data-composition-id="main">\n  <video id="v" src="${media.url}/clip.mp4" data-duration="0.5"></video>\n</div>\n` });
    const dev = await startDev(root, { cacheDir: join(root, "cache") });
    const load = vi.spyOn(Engine.prototype, "load");
    try {
      expect(await (await fetch(`${dev.origin}/index.html`)).text()).toContain("data-frames=");
      const first = load.mock.calls.length;
      expect(await (await fetch(`${dev.origin}/index.html`)).text()).toContain("data-frames=");
      // The plan's own load: the URLs came from what the first request planned.
      expect(load.mock.calls.length - first).toBe(1);
    } finally {
      load.mockRestore();
      await dev.close();
      await media.stop();
    }
  });
});
