import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { frameAt, framesById, rawRequest, until } from "./helpers/dev.js";
import { connectHmr, type HmrMessage } from "./helpers/hmr-client.js";
import { countingFfmpeg, tempDir } from "./helpers/media.js";
import { referenceProject } from "./helpers/project.js";

/** The built plugin, as a project installs it (`npm test` runs tsup first): each Vite loads no source of ours. */
const PLUGIN = join(__dirname, "../dist/index.js");

/**
 * The few calls made here, common to every major. Each package has its own types, which
 * differ in detail; the plugin's are Vite 8's, so it goes in as `unknown`.
 */
interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  warnOnce(msg: string): void;
  error(msg: string): void;
}
interface DevServer {
  listen(): Promise<unknown>;
  close(): Promise<void>;
  httpServer: { address(): AddressInfo | string | null } | null;
}
interface Vite {
  version: string;
  createLogger(level: string, options: { allowClearScreen: boolean }): Logger;
  build(config: object): Promise<unknown>;
  createServer(config: object): Promise<DevServer>;
}

/** The dev HMR path in depth (an attribute edit, the module update, no reload, one send); build, preview and the install are checked from the packed package in packed.test.ts. */
const VERSIONS: [name: string, major: string, load: () => Promise<unknown>][] = [
  ["vite5", "5", () => import("vite5")],
  ["vite6", "6", () => import("vite6")],
  ["vite7", "7", () => import("vite7")],
  ["vite", "8", () => import("vite")],
];

describe.each(VERSIONS)("%s", (_name, major, load) => {
  let vite: Vite;
  let framecache: (options: { cacheDir: string }) => unknown;
  let dir: string;
  let cleanup: () => void;
  const warnings: string[] = [];

  beforeAll(async () => {
    vite = (await load()) as Vite;
    ({ framecache } = (await import(pathToFileURL(PLUGIN).href)) as { framecache: typeof framecache });
    ({ dir, cleanup } = tempDir());
    referenceProject(dir);
  });
  afterAll(() => cleanup());

  /** What build and dev share: the project, the plugin, and a logger that keeps warnings and errors. */
  function config(): object {
    const base = vite.createLogger("info", { allowClearScreen: false });
    const keep = (msg: string) => void warnings.push(msg);
    const customLogger = { ...base, info: () => {}, warn: keep, warnOnce: keep, error: keep };
    return { root: dir, configFile: false, logLevel: "info", customLogger, plugins: [framecache({ cacheDir: join(dir, "cache") })] };
  }

  it(`is Vite ${major}`, () => {
    expect(vite.version.split(".")[0]).toBe(major);
  });

  // The frames are kept from Vite's emptying in buildEnd, which each major runs before it empties.
  it("build: a rebuild keeps the previous build's frame folders", async () => {
    await vite.build(config());
    const frames = join(dir, "dist/assets/frames");
    const entries = readdirSync(frames);
    expect(entries).toHaveLength(3);
    const longAgo = new Date("2020-01-01T00:00:00Z");
    for (const entry of entries) utimesSync(join(frames, entry), longAgo, longAgo);
    await vite.build(config());
    expect(readdirSync(frames).sort()).toEqual([...entries].sort());
    for (const entry of entries) expect(statSync(join(frames, entry)).mtime).toEqual(longAgo);
    expect(existsSync(join(dir, "cache/.kept")) ? readdirSync(join(dir, "cache/.kept")) : []).toEqual([]);
  });

  // Rollup (Vite 5 to 7) runs buildEnd hooks side by side and closes the bundle at the first
  // failure, while ours may still wait for ffmpeg; Vite empties nothing then.
  it("build: another plugin failing in buildEnd leaves the previous build's frames in place", async () => {
    await vite.build(config());
    const frames = join(dir, "dist/assets/frames");
    const entries = readdirSync(frames).sort();
    const index = join(dir, "index.html");
    const html = readFileSync(index, "utf8");
    writeFileSync(index, html.replace(`data-duration="1.5"`, `data-duration="2"`));
    try {
      const slow = countingFfmpeg(dir, { delaySeconds: 2 });
      const ours = framecache({ cacheDir: join(dir, "cache"), ffmpegPath: slow.path } as { cacheDir: string }) as { name: string; buildEnd?: (...a: unknown[]) => Promise<void> }[];
      // Our buildEnd's end, whenever it comes: the build itself rejects before.
      const build = ours.find((p) => p.name === "framecache:build")!;
      const ended = new Promise<void>((resolve) => {
        const buildEnd = build.buildEnd!;
        build.buildEnd = async function (this: unknown, ...args: unknown[]) {
          await buildEnd.apply(this, args).finally(resolve);
        };
      });
      const failing = { name: "fails-early", buildEnd: async () => Promise.reject(new Error("early failure")) };
      await expect(vite.build({ ...config(), plugins: [ours, failing], logLevel: "silent" })).rejects.toThrow("early failure");
      await ended;
      expect(slow.runs()).toBeGreaterThan(0);
      expect(readdirSync(frames).sort()).toEqual(entries);
      expect(existsSync(join(dir, "cache/.kept")) ? readdirSync(join(dir, "cache/.kept")) : []).toEqual([]);
      expect(existsSync(join(dir, "dist/.framecache-frames-kept"))).toBe(false);
    } finally {
      writeFileSync(index, html);
    }
  });

  it("dev: dev URLs in the page, frames served, and a <video> edit sent as framecache:update", async () => {
    const server = await vite.createServer({ ...config(), server: { host: "127.0.0.1", port: 0 } });
    const hmr: { close?: () => void } = {};
    try {
      await server.listen();
      const { port } = server.httpServer!.address() as AddressInfo;
      const origin = `http://127.0.0.1:${port}`;
      const page = (await rawRequest(origin, "/index.html", { headers: { accept: "text/html" } })).body.toString("utf8");
      const frames = framesById(page);
      expect(Object.keys(frames)).toEqual(["a", "b"]);
      expect((await rawRequest(origin, frameAt(frames.a!, 1))).status).toBe(200);

      // As the browser does: load the page's HMR module (which puts it in Vite's module graph) and connect.
      const script = /<script type="module" src="([^"]*framecache\/hmr)"/.exec(page)?.[1];
      expect(script).toBeDefined();
      expect((await rawRequest(origin, script!)).status).toBe(200);
      const client = await connectHmr(origin);
      hmr.close = client.close;
      await until(() => client.messages.some((m) => m.type === "connected"), "the HMR connection", 20_000);

      const index = join(dir, "index.html");
      writeFileSync(index, readFileSync(index, "utf8").replace(`data-duration="1.5"`, `data-duration="1"`));
      const isUpdate = (m: HmrMessage) => m.type === "custom" && m.event === "framecache:update";
      const message = await until(() => client.messages.find(isUpdate), "framecache:update", 20_000);
      const update = message.data as { compositions: { composition: string; videos: { id: string; previous: string; frames: string; attributes: Record<string, string> }[] }[] };
      expect(update.compositions.map((c) => c.composition)).toEqual(["index.html"]);
      const [changed] = update.compositions[0]!.videos;
      expect(changed).toMatchObject({ id: "b", previous: frames.b });
      expect(changed!.attributes).toMatchObject({ "data-duration": "1", "data-frame-count": "30" });
      expect((await rawRequest(origin, frameAt(changed!.frames, 30))).status).toBe(200);
      // The HMR module took the change: a js-update for it, and no reload of the page.
      await until(() => client.messages.some((m) => m.type === "update"), "the HMR module's update", 20_000);
      expect(client.messages.filter((m) => m.type === "full-reload")).toEqual([]);
      // Vite sends that update once every HMR hook has returned: had ours run twice, both sends are in.
      expect(client.messages.filter(isUpdate)).toHaveLength(1);
      expect(warnings.filter((w) => w.includes("framecache"))).toEqual([]);
    } finally {
      hmr.close?.();
      await server.close();
    }
  });
});
