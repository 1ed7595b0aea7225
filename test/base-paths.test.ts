import { mkdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { preview } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frameAt, framesById, launchChromium, rawRequest } from "./helpers/dev.js";
import { makeCodedVideo, tempDir } from "./helpers/media.js";
import { viteBuild, writeFiles } from "./helpers/project.js";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => browser?.close());

/** Two pages, one in a subfolder, each with a composition and the same script importing a clip with ?frames. */
function project(site: string): void {
  mkdirSync(join(site, "media"), { recursive: true });
  makeCodedVideo(join(site, "media/clip.mp4"), { seconds: 2 });
  const page = (src: string, script: string) =>
    `<!doctype html>\n<html><body>\n<div data-composition-id="main" data-fps="30">\n  <video id="v" src="${src}" data-duration="0.5"></video>\n</div>\n<script type="module" src="${script}"></script>\n</body></html>\n`;
  writeFiles(site, {
    "index.html": page("./media/clip.mp4", "./main.js"),
    "pages/a/index.html": page("../../media/clip.mp4", "../../main.js"),
    "main.js": `import clip from "./media/clip.mp4?frames&start=1&duration=0.5";\nwindow.clip = clip;\n`,
  });
}

describe.each(["/app/", "./"])("base %s, build.assetsDir, an outDir outside the root, two pages in subfolders", (base) => {
  let dir: string;
  let cleanup: () => void;
  let origin: string;
  let close: () => Promise<void>;
  const served = base === "./" ? "/" : base;
  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    const site = join(dir, "site");
    project(site);
    const config = {
      base,
      build: {
        outDir: join(dir, "out"),
        emptyOutDir: true,
        assetsDir: "static",
        rollupOptions: { input: { main: join(site, "index.html"), a: join(site, "pages/a/index.html") } },
      },
    };
    const built = await viteBuild(site, { cacheDir: join(dir, "cache") }, config);
    expect(built.warnings).toEqual([]);
    const server = await preview({ root: site, configFile: false, logLevel: "silent", ...config, preview: { host: "127.0.0.1", port: 0 } });
    origin = `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(async () => {
    await close?.();
    cleanup();
  });

  /**
   * Fetch `url` as a page at `pageUrl` would: the file in out/ it answers with, or why not. Vite's
   * preview answers a missing file with index.html (200), so a frame is a JPEG, or it is not there.
   */
  async function get(url: string, pageUrl: string): Promise<string> {
    const { pathname } = new URL(url, pageUrl);
    const { status, headers, body } = await rawRequest(origin, pathname);
    if (status !== 200 || headers["content-type"] !== "image/jpeg") return `${pathname}: ${status} ${headers["content-type"]}`;
    const file = join(dir, "out", pathname.slice(served.length));
    return body.equals(readFileSync(file)) ? "frame" : `${pathname}: other bytes`;
  }

  it.each(["", "pages/a/"])("frame URLs in the HTML of page %s resolve from the served page", async (page) => {
    const pageUrl = `${origin}${served}${page}`;
    const html = readFileSync(join(dir, "out", page, "index.html"), "utf8");
    const { v } = framesById(html);
    expect(v, html).toBeDefined();
    expect(await get(frameAt(v!, 15), pageUrl)).toBe("frame");
  });

  it("frame URLs in the manifest resolve from the base", async () => {
    const { videos } = JSON.parse(readFileSync(join(dir, "out/framecache-manifest.json"), "utf8")) as { videos: { frames: string }[] };
    expect(videos.length).toBe(3);
    for (const video of videos) expect(await get(frameAt(video.frames, 1), `${origin}${served}`)).toBe("frame");
  });

  it.each(["", "pages/a/"])("the ?frames object's frames resolve in the browser on page %s", async (page) => {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${origin}${served}${page}`);
      await tab.waitForFunction(() => "clip" in window);
      // Resolved as an <img src> on this page resolves it.
      const url = await tab.evaluate(() => new URL((window as unknown as { clip: { frames: string } }).clip.frames.replace("%05d", "00015"), document.baseURI).href);
      expect(await get(url, url)).toBe("frame");
    } finally {
      await tab.close();
    }
  });
});
