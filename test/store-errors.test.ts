import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it, type TestContext } from "vitest";
import type { FramecacheOptions } from "../src/core/options.js";
import { gatedFfmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { viteBuild, viteBuildError, writeFiles } from "./helpers/project.js";

/**
 * File system failures on the store's own paths, each from a real cause (a read-only mount,
 * too few descriptors, a file where an entry directory belongs), through the real CLI and a
 * real `vite build`: a FramecacheError with its code, what was being done, the path and a fix.
 * A full disk (FC_NO_SPACE, a tiny tmpfs) is covered in test/errors.test.ts.
 */

const CLI = join(__dirname, "../dist/cli.js");
const AT = "index.html:3:3";

let dir: string;
let root: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir("framecache-store-errors-"));
  root = join(dir, "project");
  mkdirSync(join(root, "media"), { recursive: true });
  makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 2 });
  writeFiles(root, { "index.html": `<!doctype html>\n<div data-composition-id="main" data-fps="30">\n  <video id="v" src="media/clip.mp4"></video>\n</div>\n` });
});
afterEach(() => cleanup());

function cli(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [CLI, ...args], { cwd: root, env, reject: false });
}

const buildError = (options: FramecacheOptions) => viteBuildError(root, options);

/** `source` bind-mounted at `target`, writable until `readOnly()`; undefined when mounts are not allowed here. */
function bindMount(ctx: TestContext, source: string, target: string) {
  mkdirSync(source, { recursive: true });
  mkdirSync(target, { recursive: true });
  try {
    execFileSync("mount", ["--bind", source, target], { stdio: "ignore" });
  } catch {
    ctx.skip("cannot bind-mount here (needs root and CAP_SYS_ADMIN)");
  }
  return {
    readOnly: () => execFileSync("mount", ["-o", "remount,ro,bind", target], { stdio: "ignore" }),
    writable: () => execFileSync("mount", ["-o", "remount,rw,bind", target], { stdio: "ignore" }),
    unmount: () => execFileSync("umount", [target], { stdio: "ignore" }),
  };
}

async function until(test: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !test(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(test()).toBe(true);
}

describe("a read-only store (EROFS, a read-only bind mount)", () => {
  it("found at open: one warning with its code and fix, and the build goes on uncached", async (ctx) => {
    const cache = join(dir, "cache");
    const mount = bindMount(ctx, join(dir, "backing"), cache);
    try {
      mount.readOnly();
      const built = await viteBuild(root, { cacheDir: cache });
      const warnings = built.warnings.filter((w) => w.startsWith("framecache"));
      expect(warnings).toEqual([expect.stringContaining(`cache directory ${cache} cannot be written (FC_CACHE_UNWRITABLE: opening the cache ${cache}: `)]);
      expect(warnings[0]).toContain("read-only file system (EROFS)");
      expect(warnings[0]).toContain("Point cacheDir (or FRAMECACHE_DIR) at a writable directory");
      expect(built.summary).toMatch(/ 1 extracted /);
    } finally {
      mount.unmount();
    }
  });

  it("turning read-only mid-run: FC_CACHE_UNWRITABLE at the video, with the path and fix, in the CLI and in vite build", async (ctx) => {
    const cache = join(dir, "cache");
    const mount = bindMount(ctx, join(dir, "backing"), cache);
    try {
      // ffmpeg is held after the lock and the partial exist; the mount turns read-only under it.
      mkdirSync(join(dir, "gate-cli"));
      const gateCli = gatedFfmpeg(join(dir, "gate-cli"));
      const running = cli(["extract", "index.html", "--cache-dir", cache], { FFMPEG_PATH: gateCli.path });
      await until(() => gateCli.held().length > 0);
      mount.readOnly();
      gateCli.open();
      const run = await running;
      expect(run.exitCode, run.stderr).toBe(1);
      expect(run.stderr).toContain(`error [FC_CACHE_UNWRITABLE] ${AT}: video "v" (media/clip.mp4): extracting ${join(root, "media/clip.mp4")}: ${cache}/hfcache-v2-`);
      expect(run.stderr).toMatch(/\.partial-\d+-[0-9a-f]+ is on a read-only file system \(EROFS\)\n/);
      expect(run.stderr).toMatch(/\n {2}Point cacheDir \(or FRAMECACHE_DIR\) at a writable directory/);

      mount.writable();
      for (const name of readdirSync(cache)) rmSync(join(cache, name), { recursive: true, force: true });
      mkdirSync(join(dir, "gate-build"));
      const gateBuild = gatedFfmpeg(join(dir, "gate-build"));
      const failing = buildError({ cacheDir: cache, ffmpegPath: gateBuild.path });
      await until(() => gateBuild.held().length > 0);
      mount.readOnly();
      gateBuild.open();
      const error = await failing;
      expect(error.pluginCode).toBe("FC_CACHE_UNWRITABLE");
      expect(error.message).toContain("(EROFS)");
    } finally {
      mount.unmount();
    }
  });
});

describe("too few file descriptors (EMFILE, `ulimit -n` on the CLI)", () => {
  it("40 videos extracted under a small descriptor limit: FC_TOO_MANY_FILES naming the entry and the fix, nothing left behind; a warm run needs only a few", async () => {
    const videos = range(0, 40).map((i) => `  <video id="v${i}" src="media/clip.mp4" data-media-start="${(i / 30).toFixed(4)}" data-duration="0.1"></video>`);
    writeFiles(root, { "index.html": `<!doctype html>\n<div data-composition-id="main" data-fps="30">\n${videos.join("\n")}\n</div>\n` });
    const cache = join(dir, "cache");
    // Enough for Node and the CLI to start (about 26), not for 40 locks and partials at once.
    const limited = () => execa("sh", ["-c", 'ulimit -n 30 && exec "$0" "$@"', process.execPath, CLI, "extract", "index.html", "--cache-dir", cache], { cwd: root, reject: false });
    const cold = await limited();
    expect(cold.exitCode, cold.stderr).toBe(1);
    expect(cold.stderr).toMatch(/error \[FC_TOO_MANY_FILES\] index\.html:\d+:3: video "v\d+" \(media\/clip\.mp4\): (?:looking up|locking|publishing) hfcache-v2-[0-9a-f]{16}: this process ran out of file descriptors at .* \(EMFILE\)/);
    expect(cold.stderr).toMatch(/\n {2}Raise the open-file limit \(`ulimit -n 4096`/);
    expect(readdirSync(cache).filter((n) => n.includes(".partial-") || n.endsWith(".lock"))).toEqual([]);
    const full = await cli(["extract", "index.html", "--cache-dir", cache]);
    expect(full.exitCode, full.stderr).toBe(0);
    // Warm lookups read one sentinel at a time: the same limit is enough.
    const warm = await limited();
    expect(warm.exitCode, warm.stderr).toBe(0);
    expect(warm.stdout).toMatch(/ 40 hit · 0 extracted /);
  });
});

describe("a file where an entry directory belongs (ENOTDIR, a half-deleted cache)", () => {
  it("FC_CACHE_DAMAGED naming the entry and `framecache verify --fix`, which clears it, in the CLI and in vite build", async () => {
    const cache = join(dir, "cache");
    const first = await cli(["extract", "index.html", "--cache-dir", cache]);
    expect(first.exitCode, first.stderr).toBe(0);
    const entry = readdirSync(cache).find((n) => n.startsWith("hfcache-v2-"))!;
    rmSync(join(cache, entry), { recursive: true });
    writeFileSync(join(cache, entry), "left behind");

    const run = await cli(["extract", "index.html", "--cache-dir", cache]);
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toContain(`error [FC_CACHE_DAMAGED] ${AT}: video "v" (media/clip.mp4): publishing ${entry}: a file stands where the cache expects a directory, at ${join(cache, entry)} (ENOTDIR)`);
    expect(run.stderr).toMatch(/\n {2}Run `framecache verify --fix`/);
    expect(readdirSync(cache).filter((n) => n.includes(".partial-") || n.endsWith(".lock"))).toEqual([]);

    const error = await buildError({ cacheDir: cache });
    expect(error.pluginCode).toBe("FC_CACHE_DAMAGED");
    expect(error.message).toContain(entry);

    // The fix the message names works.
    const fix = await cli(["verify", "--fix", "--cache-dir", cache]);
    expect(fix.stdout).toContain(`removed   ${entry}  [sentinels] a file holds the entry's name`);
    const again = await cli(["extract", "index.html", "--cache-dir", cache, "--out", "out"]);
    expect(again.exitCode, again.stderr).toBe(0);
    const verify = await cli(["verify", "--cache-dir", cache]);
    expect(verify.stdout).toMatch(/ 1 ok · 0 bad /);
    const frames = readdirSync(join(root, "out/assets/frames"));
    expect(readFrameNumbers(join(root, "out/assets/frames", frames[0]!))).toEqual(range(0, 60));
  });
});
