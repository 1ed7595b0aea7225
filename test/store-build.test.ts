import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { countingFfmpeg, makeCodedVideo, tempDir } from "./helpers/media.js";
import { startDev, until } from "./helpers/dev.js";
import { referenceProject, viteBuild, writeFiles } from "./helpers/project.js";

const CLI = join(__dirname, "../dist/cli.js");
const ENTRY = /^hfcache-v2-[0-9a-f]{16}$/;

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const entries = (cache: string) => readdirSync(cache).filter((n) => ENTRY.test(n));
const report = (root: string) => JSON.parse(readFileSync(join(root, "dist/framecache-report.json"), "utf8"));

/** A store holding the reference project's 3 entries, last used two days ago, and a project needing a new one. */
async function staleStoreAndNewProject(): Promise<{ cache: string; old: string[]; second: string }> {
  const cache = join(dir, "cache");
  const first = join(dir, "first");
  referenceProject(first);
  await viteBuild(first, { cacheDir: cache });
  const old = entries(cache);
  expect(old).toHaveLength(3);
  const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
  for (const e of old) utimesSync(join(cache, e, ".hf-complete"), twoDaysAgo, twoDaysAgo);

  const second = join(dir, "second");
  mkdirSync(second);
  makeCodedVideo(join(second, "other.mp4"), { seconds: 1 });
  writeFiles(second, { "index.html": `<video id="o" src="other.mp4"></video>` });
  return { cache, old, second };
}

describe("the store during vite build", () => {
  it("collects garbage after a build that extracted something, and reports it", async () => {
    const { cache, old, second } = await staleStoreAndNewProject();
    const oldBytes = old.reduce((n, e) => n + JSON.parse(readFileSync(join(cache, e, ".hf-complete"), "utf8")).bytes, 0);
    await viteBuild(second, { cacheDir: cache, maxCacheSize: 1 });
    expect(report(second)).toMatchObject({ cacheMisses: 1, gcEvicted: 3, gcBytesFreed: oldBytes });
    // The entry this build just made was used within the hour: kept, though over budget.
    const kept = entries(cache);
    expect(kept).toHaveLength(1);
    expect(old).not.toContain(kept[0]);

    // A build that extracted nothing does not collect.
    await viteBuild(second, { cacheDir: cache, maxCacheSize: 1 });
    expect(report(second)).toMatchObject({ cacheHits: 1, gcEvicted: 0, gcBytesFreed: 0 });
  });

  it("collects garbage in the background of a dev server once it has extracted something", async () => {
    const { cache, old, second } = await staleStoreAndNewProject();
    const dev = await startDev(second, { cacheDir: cache, maxCacheSize: 1 });
    try {
      await fetch(`${dev.origin}/`).then((r) => r.text());
      // GC waits 10 s for extractions to settle, then evicts the old entries but never the new one.
      await until(() => entries(cache).length === 1, "the dev server's GC", 45_000);
      expect(old).not.toContain(entries(cache)[0]);
    } finally {
      await dev.close();
    }
  }, 60_000);

  it("with FRAMECACHE_DEBUG=1 names what changed for each miss", async () => {
    referenceProject(dir);
    const cacheDir = join(dir, "cache");
    await viteBuild(dir, { cacheDir });
    const html = readFileSync(join(dir, "index.html"), "utf8");
    writeFileSync(join(dir, "index.html"), html.replace('data-media-start="2"', 'data-media-start="2.5"'));
    const previous = process.env.FRAMECACHE_DEBUG;
    process.env.FRAMECACHE_DEBUG = "1";
    try {
      const { logs } = await viteBuild(dir, { cacheDir });
      const misses = logs.filter((l) => l.includes(" miss "));
      expect(misses).toHaveLength(1);
      expect(misses[0]).toMatch(/^framecache {2}miss index\.html video "b" → hfcache-v2-[0-9a-f]{16}: media start 2 → 2\.5 \(nearest hfcache-v2-[0-9a-f]{16}\)$/);
    } finally {
      if (previous === undefined) delete process.env.FRAMECACHE_DEBUG;
      else process.env.FRAMECACHE_DEBUG = previous;
    }
    // Off by default.
    writeFileSync(join(dir, "index.html"), html.replace('data-media-start="2"', 'data-media-start="3"'));
    expect((await viteBuild(dir, { cacheDir })).logs.filter((l) => l.includes(" miss "))).toEqual([]);
  });
});

describe("a cache directory that cannot be written", () => {
  // Tests run as root, which ignores permission bits; a path below a regular file fails for everyone (ENOTDIR).
  it("costs one warning, and the build goes on uncached", async () => {
    referenceProject(dir);
    writeFileSync(join(dir, "not-a-dir"), "");
    const cacheDir = join(dir, "not-a-dir/cache");
    const ffmpeg = countingFfmpeg(dir);
    const first = await viteBuild(dir, { cacheDir, ffmpegPath: ffmpeg.path });
    expect(first.warnings.filter((w) => w.includes("cannot be written"))).toEqual([
      expect.stringMatching(/^framecache: cache directory .*not-a-dir\/cache cannot be written \(FC_CACHE_DAMAGED: .*ENOTDIR.*\); extracting without a cache\. Run `framecache verify --fix`.*$/),
    ]);
    expect(first.summary).toMatch(/ 3 videos · 0 hit · 3 extracted · 105 frames /);
    const again = await viteBuild(dir, { cacheDir, ffmpegPath: ffmpeg.path });
    expect(again.summary).toMatch(/ 0 hit · 3 extracted /);
    expect(ffmpeg.runs()).toBe(4); // two passes a build: a and n share one

    const cli = await execa("node", [CLI, "extract", "index.html", "--cache-dir", cacheDir, "--out", "out"], { cwd: dir, reject: false });
    expect(cli.exitCode).toBe(0);
    expect(cli.stderr.match(/cannot be written/g)).toHaveLength(1);
    expect(readdirSync(join(dir, "out/assets/frames"))).toHaveLength(3);
  });

  // An existing store that refuses writes (a read-only restore): the immutable flag stops root too;
  // other users get mode 555. Where neither can be set, the test says so and is skipped.
  it("is found out before extracting even when the directory already exists", async (ctx) => {
    referenceProject(dir);
    const cacheDir = join(dir, "cache");
    mkdirSync(cacheDir);
    const root = process.getuid?.() === 0;
    try {
      if (root) execFileSync("chattr", ["+i", cacheDir], { stdio: "ignore" });
      else chmodSync(cacheDir, 0o555);
    } catch {
      ctx.skip("cannot make a directory unwritable here (chattr +i needs ext4/xfs and CAP_LINUX_IMMUTABLE)");
    }
    try {
      let writable = true;
      try {
        writeFileSync(join(cacheDir, "probe"), "");
      } catch {
        writable = false;
      }
      if (writable) ctx.skip("the directory stayed writable");
      const result = await viteBuild(dir, { cacheDir });
      expect(result.warnings.filter((w) => w.includes("cannot be written"))).toHaveLength(1);
      expect(result.summary).toMatch(/ 3 extracted /);
      expect(readdirSync(join(dir, "dist/assets/frames"))).toHaveLength(3);
    } finally {
      if (root) execFileSync("chattr", ["-i", cacheDir], { stdio: "ignore" });
      else chmodSync(cacheDir, 0o755);
    }
  });
});
