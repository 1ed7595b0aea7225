import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../src/core/errors.js";
import { resolveOptions, type FramecacheOptions } from "../src/core/options.js";
import { badInputProject } from "./helpers/bad-input.js";
import { ffmpeg, makeCodedVideo } from "./helpers/media.js";
import { viteBuildError, writeFiles } from "./helpers/project.js";

/**
 * Every bad input, through the real CLI and a real `vite build`: the stable code, the
 * composition's `file:line:col`, the video's id and src, and a store left as valid as before.
 */

const REAL_FFMPEG = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
/** The `<video>` of every case sits here in index.html. */
const AT = "index.html:3:3";

let dir: string;
let root: string;
let cache: string;
const { cli, composition, script, expectCleanStore } = badInputProject((made) => ({ dir, root, cache } = made));

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

const buildError = (options: FramecacheOptions) => viteBuildError(root, options);
