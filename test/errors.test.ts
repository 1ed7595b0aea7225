import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ErrorCode } from "../src/core/errors.js";
import { resolveOptions, type FramecacheOptions } from "../src/core/options.js";
import { ffmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { viteBuild, viteBuildError, writeFiles, type BuildError } from "./helpers/project.js";

/**
 * Every bad input, through the real CLI and a real `vite build`: the stable code, the
 * composition's `file:line:col`, the video's id and src, and a store left as valid as before.
 */

const CLI = join(__dirname, "../dist/cli.js");
const REAL_FFMPEG = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
/** The `<video>` of every case sits here in index.html. */
const AT = "index.html:3:3";

let dir: string;
let root: string;
let cache: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  root = join(dir, "project");
  cache = join(dir, "cache");
  mkdirSync(root);
  mkdirSync(cache);
});
afterEach(() => cleanup());

function composition(video: string): void {
  writeFiles(root, { "index.html": `<!doctype html>\n<div data-composition-id="main" data-fps="30">\n  ${video}\n</div>\n` });
}

/** An executable script, for injecting one failure of ffmpeg. */
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function cli(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [CLI, ...args], { cwd: root, env, reject: false });
}

/** No partial directory or lock anywhere in the store, and `framecache verify` passes on it. */
async function expectCleanStore(store = cache): Promise<void> {
  const leftovers = (readdirSync(store, { recursive: true, withFileTypes: false }) as string[]).filter((n) => /\.partial-|\.lock$/.test(n));
  expect(leftovers).toEqual([]);
  const verify = await cli(["verify", "--cache-dir", store]);
  expect(verify.stdout + verify.stderr, "framecache verify").toMatch(/ 0 bad /);
  expect(verify.exitCode).toBe(0);
}

interface ErrorCase {
  name: string;
  code: ErrorCode;
  /** Writes the project; returns the `<video>` tag and anything the run needs. */
  setup: () => { video: string; ffmpegPath?: string; options?: FramecacheOptions; cliArgs?: string[] };
  /** Also true of the message, besides the code, the location, id and src. */
  says: RegExp;
  /** Afterwards, for the case's own checks. */
  after?: () => void;
}

let hungPidFile = "";

const cases: ErrorCase[] = [
  {
    name: "a missing file",
    code: "FC_SOURCE_MISSING",
    setup: () => ({ video: `<video id="v" src="media/gone.mp4"></video>` }),
    says: /was not found/,
  },
  {
    name: "a non-video file renamed .mp4",
    code: "FC_NOT_A_VIDEO",
    setup: () => {
      writeFiles(root, { "media/notes.mp4": "These are meeting notes, not a video.\n".repeat(50) });
      return { video: `<video id="v" src="media/notes.mp4"></video>` };
    },
    says: /is not a readable video/,
  },
  {
    name: "a truncated mp4",
    code: "FC_NOT_A_VIDEO",
    setup: () => {
      mkdirSync(join(root, "media"));
      const file = makeCodedVideo(join(root, "media/cut.mp4"), { seconds: 2 });
      // Without faststart the index (moov) is written last: the first half alone cannot be read.
      truncateSync(file, Math.floor(readFileSync(file).length / 2));
      return { video: `<video id="v" src="media/cut.mp4"></video>` };
    },
    says: /is not a readable video/,
  },
  {
    name: "a zero-byte file",
    code: "FC_NOT_A_VIDEO",
    setup: () => {
      writeFiles(root, { "media/empty.mp4": "" });
      return { video: `<video id="v" src="media/empty.mp4"></video>` };
    },
    says: /is not a readable video/,
  },
  {
    name: "an audio-only file",
    code: "FC_NOT_A_VIDEO",
    setup: () => {
      mkdirSync(join(root, "media"));
      ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", join(root, "media/tone.mp4"));
      return { video: `<video id="v" src="media/tone.mp4"></video>` };
    },
    says: /has no video stream/,
  },
  {
    name: "a media start past the end",
    code: "FC_MEDIA_START_PAST_END",
    setup: () => {
      mkdirSync(join(root, "media"));
      makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
      return { video: `<video id="v" src="media/clip.mp4" data-media-start="5" data-duration="1"></video>` };
    },
    says: /starts 5 s into a source that is only 1 s long/,
  },
  {
    name: "a src outside the project root (/@fs/, no server.fs.allow)",
    code: "FC_OUTSIDE_ROOT",
    setup: () => {
      mkdirSync(join(dir, "outside"));
      makeCodedVideo(join(dir, "outside/clip.mp4"), { seconds: 1 });
      return { video: `<video id="v" src="/@fs${dir}/outside/clip.mp4"></video>` };
    },
    says: /outside the project root/,
  },
  {
    name: "an outside path that does not exist: refused the same, without touching it",
    code: "FC_OUTSIDE_ROOT",
    setup: () => ({ video: `<video id="v" src="/@fs${dir}/outside/nothing-here.mp4"></video>` }),
    says: /outside the project root/,
  },
  {
    name: "a symlink that escapes the root",
    code: "FC_OUTSIDE_ROOT",
    setup: () => {
      mkdirSync(join(dir, "outside"));
      mkdirSync(join(root, "media"));
      makeCodedVideo(join(dir, "outside/clip.mp4"), { seconds: 1 });
      symlinkSync(join(dir, "outside/clip.mp4"), join(root, "media/link.mp4"));
      return { video: `<video id="v" src="media/link.mp4"></video>` };
    },
    says: /resolves to .*outside\/clip\.mp4, outside the project root/,
  },
  {
    name: "ffmpeg missing",
    code: "FC_FFMPEG_MISSING",
    setup: () => {
      mkdirSync(join(root, "media"));
      makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
      return { video: `<video id="v" src="media/clip.mp4"></video>`, ffmpegPath: join(dir, "no-such-dir/ffmpeg") };
    },
    says: /ffmpeg at .*no-such-dir\/ffmpeg .* could not be run\n {2}Point .* Install ffmpeg/,
  },
  {
    name: "ffmpeg too old",
    code: "FC_FFMPEG_TOO_OLD",
    setup: () => {
      mkdirSync(join(root, "media"));
      makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
      // A fake only for `-version`, the one thing this failure is about.
      const old = script("ffmpeg-old", `echo "ffmpeg version 3.4.8 Copyright (c) 2000-2020 the FFmpeg developers"\necho "libavformat    57. 83.100 / 57. 83.100"`);
      return { video: `<video id="v" src="media/clip.mp4"></video>`, ffmpegPath: old };
    },
    says: /ffmpeg 3\.4\.8 at .* is too old; 4\.0 or newer is needed/,
  },
  {
    name: "a hung ffmpeg: killed at the timeout, partial removed",
    code: "FC_FFMPEG_TIMEOUT",
    setup: () => {
      mkdirSync(join(root, "media"));
      makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
      hungPidFile = join(dir, "hung.pid");
      // `exec` keeps the pid, so the test can tell the process is gone afterwards.
      const hung = script("ffmpeg-hung", `[ "$1" = "-version" ] && exec "${REAL_FFMPEG}" "$@"\necho $$ >> "${hungPidFile}"\nexec sleep 3600`);
      return { video: `<video id="v" src="media/clip.mp4"></video>`, ffmpegPath: hung, options: { timeout: 1500 }, cliArgs: ["--timeout", "1500"] };
    },
    says: /took longer than 1500 ms; ffmpeg was killed\n {2}.*raise the timeout/,
    after: () => {
      const pids = readFileSync(hungPidFile, "utf8").split("\n").filter(Boolean).map(Number);
      expect(pids.length).toBeGreaterThan(0);
      for (const pid of pids) expect(() => process.kill(pid, 0), `ffmpeg ${pid} still runs`).toThrow(/ESRCH/);
    },
  },
];

describe("every bad input fails with its code, its location, and a clean store", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const { video, ffmpegPath, options = {}, cliArgs = [] } = c.setup();
      composition(video);
      const src = /src="([^"]+)"/.exec(video)![1]!;
      const expectMessage = (text: string) => {
        expect(text).toContain(AT);
        expect(text).toContain('video "v"');
        expect(text).toContain(src);
        expect(text).toMatch(c.says);
        // One hint, not two (a wrapped error once repeated it).
        const hint = /\n {2}(.+)/.exec(text)?.[1];
        expect(hint, "a hint saying what to do").toBeTruthy();
        expect(text.split(hint!).length - 1).toBe(1);
      };

      // The CLI: exit 1, the code and the message on stderr.
      const env: Record<string, string> = ffmpegPath ? { FFMPEG_PATH: ffmpegPath } : {};
      const run = await cli(["extract", "index.html", "--cache-dir", cache, ...cliArgs], env);
      expect(run.exitCode, run.stderr).toBe(1);
      expect(run.stderr).toContain(`error [${c.code}] `);
      expectMessage(run.stderr.slice(run.stderr.indexOf(`error [${c.code}] `)));
      c.after?.();
      await expectCleanStore();

      // vite build: fails through this.error with the code and a location.
      const error = await buildError({ cacheDir: cache, ffmpegPath, ...options });
      expect(error.pluginCode).toBe(c.code);
      expect(error.loc).toEqual({ file: join(root, "index.html"), line: 3, column: 2 });
      expectMessage(error.message);
      c.after?.();
      await expectCleanStore();
    });
  }
});

describe("a CLI run with several bad videos", () => {
  it("exits 1 naming every failing one, with its own code and location", async () => {
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
    writeFiles(root, { "media/empty.mp4": "" });
    writeFiles(root, {
      "index.html": [
        `<div data-fps="30">`,
        `  <video id="gone" src="media/gone.mp4"></video>`,
        `  <video id="empty" src="media/empty.mp4"></video>`,
        `  <video id="late" src="media/clip.mp4" data-media-start="9"></video>`,
        `  <video id="ok" src="media/clip.mp4"></video>`,
        `</div>`,
      ].join("\n"),
    });
    const run = await cli(["extract", "index.html", "--cache-dir", cache]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/error \[FC_SOURCE_MISSING\] index\.html:2:3: video "gone"/);
    expect(run.stderr).toMatch(/error \[FC_NOT_A_VIDEO\] index\.html:3:3: video "empty"/);
    expect(run.stderr).toMatch(/error \[FC_MEDIA_START_PAST_END\] index\.html:4:3: video "late"/);
    // The good video was still extracted.
    expect(run.stdout).toMatch(/1 videos · 0 hit · 1 extracted · 30 frames/);
    await expectCleanStore();
  });
});

describe("the timeout option", () => {
  it("scales with the planned frames by default, and refuses what is not a positive whole number of ms", async () => {
    const { extractionTimeout } = await import("../src/core/options.js");
    expect(extractionTimeout(300)).toBe(90_000);
    expect(extractionTimeout(300, 5000)).toBe(5000);
    expect(resolveOptions({ timeout: 2500 }).timeout).toBe(2500);
    for (const bad of [0, -1, 1.5, Number.NaN, "60s", 2 ** 31]) {
      expect(() => resolveOptions({ timeout: bad as number }), String(bad)).toThrow(expect.objectContaining({ code: "FC_BAD_OPTION" }));
    }
    const usage = await cli(["extract", "index.html", "--timeout", "soon"]);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toMatch(/FC_BAD_OPTION.*`timeout` is "soon"/);
  });
});

describe("a full disk", () => {
  it("fails with FC_NO_SPACE on a small tmpfs, its partial removed", async (ctx) => {
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 4 });
    composition(`<video id="v" src="media/clip.mp4"></video>`);
    const small = join(dir, "small");
    mkdirSync(small);
    try {
      // 64 KiB: the store's tag and lock fit; 120 frames of 4 KiB pages do not.
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", small], { stdio: "ignore" });
    } catch {
      ctx.skip("cannot mount a tmpfs here (needs root)");
    }
    try {
      const run = await cli(["extract", "index.html", "--cache-dir", small]);
      expect(run.exitCode, run.stderr).toBe(1);
      expect(run.stderr).toContain("error [FC_NO_SPACE] ");
      expect(run.stderr).toContain(`${AT}: video "v" (media/clip.mp4)`);
      expect(run.stderr).toMatch(/\n {2}Free disk space/);
      await expectCleanStore(small);

      const error = await buildError({ cacheDir: small });
      expect(error.pluginCode).toBe("FC_NO_SPACE");
      expect(error.message).toContain(AT);
      await expectCleanStore(small);

      // Full to the last block: the run's first write is now the key's lock, which fails the same way.
      spawnSync("sh", ["-c", `cat /dev/zero > "${join(small, "fill")}"`]);
      const full = await cli(["extract", "index.html", "--cache-dir", small]);
      expect(full.exitCode, full.stderr).toBe(1);
      expect(full.stderr).toContain("error [FC_NO_SPACE] ");
      expect(full.stderr).toMatch(/\n {2}Free disk space/);
      expect(readdirSync(small).filter((name) => name.includes(".lock"))).toEqual([]);
    } finally {
      execFileSync("umount", [small]);
    }
  });
});

describe("inputs that warn and go on", () => {
  it("an inline src, and a remote one with remoteSources off: skipped with one warning naming its location, not an error", async () => {
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
    writeFiles(root, {
      "index.html": `<div data-fps="30">\n  <video id="r" src="data:video/mp4;base64,example.com"></video>\n  <video id="ok" src="media/clip.mp4"></video>\n</div>\n`,
    });
    const run = await cli(["extract", "index.html", "--cache-dir", cache]);
    expect(run.exitCode).toBe(0);
    const inline = run.stderr.split("\n").filter((l) => l.includes("example.com"));
    expect(inline).toEqual([expect.stringMatching(/^index\.html:2:3: video "r" has an inline src \(data:video\/mp4;base64,example\.com\) and is not extracted$/)]);
    writeFiles(root, {
      "index.html": `<div data-fps="30">\n  <video id="r" src="https://example.com/clip.mp4?sig=hush"></video>\n  <video id="ok" src="media/clip.mp4"></video>\n</div>\n`,
    });
    const built = await viteBuild(root, { cacheDir: cache, remoteSources: false });
    expect(built.warnings.find((w) => w.includes("example.com"))).toMatch(/^index\.html:2:3: video "r" has a remote src \(https:\/\/example\.com\/clip\.mp4\?REDACTED\) and remoteSources is false: not extracted$/);
    expect(built.warnings.filter((w) => w.includes("example.com"))).toHaveLength(1);
    expect(built.summary).toMatch(/1 videos · 1 hit/);
    await expectCleanStore();
  });

  it("attribute values that are not numbers: a warning at the attribute, the attribute ignored", async () => {
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 2 });
    const line = `  <video id="v" src="media/clip.mp4" data-media-start="one" data-duration="1s" data-playback-rate="fast"></video>`;
    writeFiles(root, { "index.html": `<div data-fps="30">\n${line}\n</div>\n` });
    const run = await cli(["extract", "index.html", "--cache-dir", cache, "--out", "out"]);
    expect(run.exitCode, run.stderr).toBe(0);
    for (const [name, value] of [["data-media-start", "one"], ["data-duration", "1s"], ["data-playback-rate", "fast"]] as const) {
      const col = line.indexOf(name) + 1;
      expect(run.stderr.match(new RegExp(`${name}="${value}"`, "g")), name).toHaveLength(1);
      expect(run.stderr).toContain(`index.html:2:${col}: ${name}="${value}" is not a number and is ignored`);
    }
    // All three ignored: the whole source from its start, at rate 1.
    expect(readFrameNumbers(join(root, "out", manifestFrames(join(root, "out"))[0]!))).toEqual(range(0, 60));
    await expectCleanStore();
  });

  it("a read-only cache directory: one warning, and the work goes on uncached", async (ctx) => {
    // Root ignores mode bits; the immutable flag stops it (as test/store-build.test.ts does for vite build).
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
    composition(`<video id="v" src="media/clip.mp4"></video>`);
    try {
      execFileSync("chattr", ["+i", cache], { stdio: "ignore" });
    } catch {
      ctx.skip("chattr +i is not available here");
    }
    try {
      const run = await cli(["extract", "index.html", "--cache-dir", cache, "--out", "out"]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr.match(/cannot be written/g)).toHaveLength(1);
      expect(readFrameNumbers(join(root, "out", manifestFrames(join(root, "out"))[0]!))).toEqual(range(0, 30));
    } finally {
      execFileSync("chattr", ["-i", cache], { stdio: "ignore" });
    }
    expect(readdirSync(cache)).toEqual([]);
  });
});

describe("a src outside the root that server.fs.allow permits", () => {
  it("is extracted by vite build, frames right", async () => {
    const outside = join(dir, "shared-media");
    mkdirSync(outside);
    makeCodedVideo(join(outside, "clip.mp4"), { seconds: 1 });
    composition(`<video id="v" src="/@fs${outside}/clip.mp4" data-media-start="0.5"></video>`);
    await viteBuild(root, { cacheDir: cache }, { server: { fs: { allow: [root, outside] } } });
    expect(readFrameNumbers(join(root, "dist", manifestFrames(join(root, "dist"))[0]!))).toEqual(range(15, 15));
    await expectCleanStore();
  });

  it("a composition there is refused at its reference: the build writes each composition at its own path", async () => {
    const outside = join(dir, "shared");
    writeFiles(outside, { "comp.html": `<div data-fps="30"></div>\n` });
    composition(`<div id="nested" data-composition-src="/@fs${outside}/comp.html"></div>`);
    let error: BuildError | undefined;
    await viteBuild(root, { cacheDir: cache }, { logLevel: "silent", server: { fs: { allow: [root, outside] } } }).catch((e: { errors?: BuildError[] }) => {
      error = e.errors?.[0] ?? (e as BuildError);
    });
    expect(error?.pluginCode).toBe("FC_OUTSIDE_ROOT");
    expect(error?.loc).toMatchObject({ file: join(root, "index.html"), line: 3 });
    expect(error?.message).toContain(`resolves to ${outside}/comp.html, outside the project root`);
  });
});

describe("a composition outside the root given to the CLI", () => {
  it("is refused, and nothing is written outside --out or over the source", async () => {
    // The sibling app has a clip of the same name: a relative src must never find it instead.
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
    const site = join(dir, "site");
    mkdirSync(join(site, "media"), { recursive: true });
    makeCodedVideo(join(site, "media/clip.mp4"), { seconds: 2 });
    const page = `<div data-fps="30"><video id="v" src="media/clip.mp4"></video></div>\n`;
    writeFiles(site, { "index.html": page });
    const run = await cli(["extract", "../site/index.html", "--cache-dir", cache, "--out", "."]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`error [FC_OUTSIDE_ROOT] composition ${site}/index.html is outside the project root ${root}`);
    expect(run.stderr).toContain("--root widens it");
    expect(readFileSync(join(site, "index.html"), "utf8")).toBe(page);
    expect(readdirSync(root).sort()).toEqual(["framecache-manifest.json", "media"]);

    // With a root that holds it, its src is its own folder's clip: 60 frames, not 30.
    const widened = await cli(["extract", "../site/index.html", "--root", "..", "--cache-dir", cache, "--out", "out"]);
    expect(widened.exitCode, widened.stderr).toBe(0);
    expect(widened.stdout).toMatch(/1 videos · 0 hit · 1 extracted · 60 frames/);
    expect(readFileSync(join(root, "out/site/index.html"), "utf8")).toContain('data-frame-count="60"');
  });
});

describe("file names with spaces, unicode, % and a leading -", () => {
  const names = ["my clip.mp4", "клип ü 🎬.mp4", "100%.mp4", "-leading.mp4"];
  const srcs = ["media/my clip.mp4", "media/клип ü 🎬.mp4", "media/100%25.mp4", "media/-leading.mp4"];

  it("work through the CLI and vite build, with a cache path holding the same characters, frames right", async () => {
    mkdirSync(join(root, "media"));
    const source = makeCodedVideo(join(dir, "source.mp4"), { seconds: 2 });
    for (const name of names) copyFileSync(source, join(root, "media", name));
    const videos = srcs.map((src, i) => `<video id="v${i}" src="${src}" data-media-start="${i * 0.5}" data-duration="0.5"></video>`);
    writeFiles(root, { "index.html": `<div data-fps="30">\n  ${videos.join("\n  ")}\n</div>\n` });
    const odd = join(dir, "-cache 100% ü");
    const run = await cli(["extract", "index.html", "--cache-dir", odd, "--out", "out"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/4 videos · 0 hit · 4 extracted · 60 frames/);
    const expectFrames = (out: string) => {
      const frames = manifestFrames(out);
      expect(frames).toHaveLength(4);
      frames.forEach((f, i) => expect(readFrameNumbers(join(out, f)), srcs[i]).toEqual(range(i * 15, 15)));
    };
    expectFrames(join(root, "out"));
    const built = await viteBuild(root, { cacheDir: odd });
    expect(built.summary).toMatch(/4 videos · 4 hit/);
    expectFrames(join(root, "dist"));
    await expectCleanStore(odd);
  }, 120_000);
});

const buildError = (options: FramecacheOptions) => viteBuildError(root, options);

/** Each manifest video's frames folder, relative to `out`, in document order. */
function manifestFrames(out: string): string[] {
  const manifest = JSON.parse(readFileSync(join(out, "framecache-manifest.json"), "utf8")) as { videos: { frames: string }[] };
  return manifest.videos.map((v) => dirname(v.frames));
}
