import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isFramecacheError } from "../src/core/errors.js";
import { resolveOptions, type FramecacheOptions } from "../src/core/options.js";
import { probeKeyframes } from "../src/media/probe.js";
import { Engine } from "../src/pipeline/engine.js";
import { silentLogger } from "../src/core/logger.js";
import { countingFfmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

function engine(options: FramecacheOptions = {}): Engine {
  return new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache"), ...options }), logger: silentLogger });
}

describe("Engine", () => {
  it("runs one ffmpeg for videos that share a key, and one pass for windows that touch", async () => {
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 2 });
    writeFiles(dir, {
      "a.html": `<video src="clip.mp4" data-duration="1"></video><video src="./clip.mp4" data-duration="1"></video><video src="clip.mp4" data-duration="1" data-media-start="1"></video>`,
    });
    const ffmpeg = countingFfmpeg(dir);
    const e = engine({ ffmpegPath: ffmpeg.path });
    const { results, errors } = await e.run([join(dir, "a.html")]);
    expect(errors).toEqual([]);
    // 0..1 s and 1..2 s of one source touch: one decode serves both keys.
    expect(ffmpeg.runs()).toBe(1);
    expect(results.map((r) => r.cache)).toEqual(["miss", "hit", "miss"]);
    expect(e.report).toMatchObject({ videos: 3, cacheHits: 1, cacheMisses: 2 });
  });

  it("resolves one src written in two folders to each folder's own file, and names each video a missing source fails", async () => {
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 1 });
    mkdirSync(join(dir, "b"));
    makeCodedVideo(join(dir, "b/clip.mp4"), { seconds: 1, fps: 25 });
    writeFiles(dir, {
      "a.html": `<video id="a1" src="clip.mp4"></video><video id="a2" src="clip.mp4" data-media-start="0.5"></video><video id="gone1" src="gone.mp4"></video>`,
      "b/b.html": `<video id="b1" src="clip.mp4"></video><video id="gone2" src="gone.mp4"></video>`,
    });
    const { results, errors } = await engine().run([join(dir, "a.html"), join(dir, "b/b.html")]);
    const source = Object.fromEntries(results.map((r) => [r.ref.id, r.task.source]));
    const real = (p: string) => realpathSync(join(dir, p));
    expect(source).toEqual({ a1: real("clip.mp4"), a2: real("clip.mp4"), b1: real("b/clip.mp4") });
    expect(errors.map((e) => [e.code, /video "(\w+)"/.exec(e.message)?.[1]])).toEqual([
      ["FC_SOURCE_MISSING", "gone1"],
      ["FC_SOURCE_MISSING", "gone2"],
    ]);
  });

  it("treats a sentinel whose full key differs as a miss, never serving the wrong frames", async () => {
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 1 });
    writeFiles(dir, { "a.html": `<video src="clip.mp4"></video>` });
    const first = await engine().run([join(dir, "a.html")]);
    const entryDir = first.results[0]!.entry.dir;
    const sentinelFile = join(entryDir, ".hf-complete");
    const sentinel = JSON.parse(readFileSync(sentinelFile, "utf8"));
    // Same 16-hex prefix, different full key: what a 64-bit collision looks like.
    writeFileSync(sentinelFile, JSON.stringify({ ...sentinel, key: sentinel.key.slice(0, 16) + "0".repeat(48) }));
    const ffmpeg = countingFfmpeg(dir);
    const second = await engine({ ffmpegPath: ffmpeg.path }).run([join(dir, "a.html")]);
    expect(second.results[0]!.cache).toBe("miss");
    expect(ffmpeg.runs()).toBe(1);
    expect(JSON.parse(readFileSync(sentinelFile, "utf8")).key).toBe(sentinel.key);
  });

  it("honours an AbortSignal: ffmpeg is killed and no partial entry remains", async () => {
    makeCodedVideo(join(dir, "long.mp4"), { seconds: 60, fps: 60 });
    writeFiles(dir, { "a.html": `<video src="long.mp4"></video>` });
    const e = engine();
    const { videos } = await e.plan((await e.load([join(dir, "a.html")])).compositions.get(join(dir, "a.html"))!);
    const controller = new AbortController();
    const running = e.ensure(videos[0]!.task, controller.signal);
    setTimeout(() => controller.abort(), 300);
    const error = await running.catch((err: unknown) => err);
    expect(isFramecacheError(error, "FC_CANCELLED")).toBe(true);
    const left = readdirSync(join(dir, "cache")).filter((n) => n.startsWith("hfcache-v2-"));
    expect(left).toEqual([]);
  });

  it("says how to install ffmpeg when none can be found", async () => {
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 1 });
    writeFiles(dir, { "a.html": `<video src="clip.mp4"></video><video src="clip.mp4" data-media-start="0.5"></video>` });
    const e = engine({ ffmpegPath: join(dir, "no-such-ffmpeg") });
    const { errors } = await e.run([join(dir, "a.html")]);
    // A machine problem is reported once, not once per video.
    expect(errors.map((err) => err.code)).toEqual(["FC_FFMPEG_MISSING"]);
    expect(errors[0]!.message).toMatch(/no-such-ffmpeg \(from the ffmpegPath option\) could not be run[\s\S]*apt-get install ffmpeg/);
  });

  describe("checking ffmpeg", () => {
    /** Wrappers that log every start, `-version` included, in `folder`; returns the log's lines. */
    function loggingBinaries(folder: string, names: string[]): () => string[] {
      mkdirSync(folder, { recursive: true });
      const log = join(dir, "starts.log");
      for (const name of names) {
        const real = execFileSync("sh", ["-c", `command -v ${name}`]).toString().trim();
        writeFileSync(join(folder, name), `#!/bin/sh\necho "${name} $1" >> "${log}"\nexec "${real}" "$@"\n`);
        chmodSync(join(folder, name), 0o755);
        // As old as an installed binary: a file changed in the last seconds is not remembered (racy mtime).
        utimesSync(join(folder, name), new Date(2020, 0, 1), new Date(2020, 0, 1));
      }
      return () => readFileSync(log, "utf8").split("\n").filter(Boolean);
    }

    it("beside ffprobe, takes its build from the probe and remembers it: no run starts -version", async () => {
      makeCodedVideo(join(dir, "clip.mp4"), { seconds: 2 });
      utimesSync(join(dir, "clip.mp4"), new Date(2020, 0, 1), new Date(2020, 0, 1));
      writeFiles(dir, { "a.html": `<video src="clip.mp4" data-duration="1"></video>`, "b.html": `<video src="clip.mp4" data-media-start="1"></video>` });
      const starts = loggingBinaries(join(dir, "bin"), ["ffmpeg", "ffprobe"]);
      const options = { ffmpegPath: join(dir, "bin/ffmpeg"), ffprobePath: join(dir, "bin/ffprobe") };
      const e = engine(options);
      expect((await e.run([join(dir, "a.html")])).errors).toEqual([]);
      expect(starts()).toEqual(["ffprobe -v", "ffmpeg -nostdin"]);
      expect((await e.binaries()).ffmpeg.versionText).toBe(/version (\S+)/.exec(execFileSync("ffmpeg", ["-version"]).toString())![1]);
      // The next run knows the source and the binaries; its one ffprobe lists the keyframes to seek past the start.
      expect((await engine(options).run([join(dir, "b.html")])).errors).toEqual([]);
      expect(starts()).toEqual(["ffprobe -v", "ffmpeg -nostdin", "ffprobe -v", "ffmpeg -nostdin"]);
    });

    it("lists a source's keyframes only to seek past the start of one with B-frames, or of H.264/HEVC", async () => {
      // MPEG-4 Part 2 without B-frames: its keyframe flags are its keyframes.
      makeCodedVideo(join(dir, "plain.mp4"), { seconds: 2, codec: ["-c:v", "mpeg4", "-q:v", "2", "-bf", "0"] });
      makeCodedVideo(join(dir, "bframes.mp4"), { seconds: 2 });
      makeCodedVideo(join(dir, "h264.mp4"), { seconds: 2, codec: ["-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-pix_fmt", "yuv420p"] });
      for (const name of ["plain.mp4", "bframes.mp4", "h264.mp4"]) utimesSync(join(dir, name), new Date(2020, 0, 1), new Date(2020, 0, 1));
      writeFiles(dir, {
        "a.html": `<video src="plain.mp4" data-media-start="1"></video>`,
        "b.html": `<video src="bframes.mp4" data-duration="1"></video>`,
        "c.html": `<video src="bframes.mp4" data-media-start="1"></video>`,
        "d.html": `<video src="h264.mp4" data-media-start="1"></video>`,
      });
      const starts = loggingBinaries(join(dir, "bin"), ["ffmpeg", "ffprobe"]);
      const options = { ffmpegPath: join(dir, "bin/ffmpeg"), ffprobePath: join(dir, "bin/ffprobe") };
      const ffprobes = () => starts().filter((s) => s.startsWith("ffprobe")).length;
      // No B-frames: a seek straight to 1 s. The listing started beside the probe, as for any new source
      // a video seeks into, is stopped once the probe answers (or has ended already).
      expect((await engine(options).run([join(dir, "a.html")])).errors).toEqual([]);
      expect(ffprobes()).toBe(2);
      // B-frames, from the start: nothing to seek past.
      expect((await engine(options).run([join(dir, "b.html")])).errors).toEqual([]);
      expect(ffprobes()).toBe(3);
      // B-frames, from 1 s, of a source already probed: the keyframe listing, once, then remembered by the next engine.
      expect((await engine(options).run([join(dir, "c.html")])).errors).toEqual([]);
      expect(ffprobes()).toBe(4);
      const late = (await engine(options).run([join(dir, "c.html")])).results[0]!.entry.dir;
      rmSync(late, { recursive: true });
      const again = await engine(options).run([join(dir, "c.html")]);
      expect(again.results[0]!.cache).toBe("miss");
      expect(ffprobes()).toBe(4);
      // H.264 without B-frames, from 1 s: its flags may mark recovery points, so the table (keyframes decoded) too.
      expect((await engine(options).run([join(dir, "d.html")])).errors).toEqual([]);
      expect(ffprobes()).toBe(6);
      expect((await engine(options).run([join(dir, "a.html"), join(dir, "d.html")])).errors).toEqual([]);
      expect(ffprobes()).toBe(6);
      // MPEG-4 Part 2 with B-frames: the table of flags alone, so the listing beside the probe (keyframes decoded) gives way to it.
      makeCodedVideo(join(dir, "mpeg4b.mp4"), { seconds: 2, codec: ["-c:v", "mpeg4", "-q:v", "2", "-bf", "2"] });
      utimesSync(join(dir, "mpeg4b.mp4"), new Date(2020, 0, 1), new Date(2020, 0, 1));
      writeFiles(dir, { "e.html": `<video src="mpeg4b.mp4" data-media-start="1" data-duration="0.5"></video>` });
      const bframes = await engine(options).run([join(dir, "e.html")]);
      expect(bframes.errors).toEqual([]);
      expect(readFrameNumbers(bframes.results[0]!.entry.dir)).toEqual(range(30, 15));
      expect(starts().filter((s) => s.startsWith("ffprobe")).slice(6)).toEqual(["ffprobe -v", "ffprobe -v", "ffprobe -v"]);
    });

    it("lists the keyframes of a new H.264 source beside its probe, not after it", async () => {
      makeCodedVideo(join(dir, "clip.mp4"), { seconds: 3 });
      utimesSync(join(dir, "clip.mp4"), new Date(2020, 0, 1), new Date(2020, 0, 1));
      writeFiles(dir, { "a.html": `<video src="clip.mp4" data-duration="0.5"></video><video src="clip.mp4" data-media-start="2" data-duration="0.5"></video>` });
      const log = join(dir, "ffprobe.log");
      const real = execFileSync("sh", ["-c", "command -v ffprobe"]).toString().trim();
      const ffprobePath = join(dir, "ffprobe");
      // The probe of clip.mp4 takes 1.5 s more: the listing starts and ends inside it. Listing
      // plain.mp4 takes two seconds more, so it is still running when its probe answers.
      writeFileSync(ffprobePath, `#!/bin/sh
case "$*" in *packet=*) kind=listing;; *) kind=probe;; esac
case "$kind $*" in "probe "*clip.mp4|"probe "*pre.mp4) sleep 1.5;; "listing "*plain.mp4) sleep 2;; esac
echo "start $kind" >> "${log}"
"${real}" "$@"; rc=$?
echo "end $kind" >> "${log}"
exit $rc
`);
      chmodSync(ffprobePath, 0o755);
      const lines = () => readFileSync(log, "utf8").split("\n").filter(Boolean);
      const first = await engine({ ffprobePath }).run([join(dir, "a.html")]);
      expect(first.errors).toEqual([]);
      expect(lines()).toEqual(["start listing", "end listing", "start probe", "end probe"]);
      expect(first.results.map((r) => readFrameNumbers(r.entry.dir))).toEqual([range(0, 15), range(60, 15)]);
      // MPEG-4 Part 2 without B-frames seeks by time: its listing is stopped once the probe says so.
      rmSync(log);
      makeCodedVideo(join(dir, "plain.mp4"), { seconds: 3, codec: ["-c:v", "mpeg4", "-q:v", "2", "-bf", "0"] });
      writeFiles(dir, { "b.html": `<video src="plain.mp4" data-media-start="2" data-duration="0.5"></video>` });
      const plain = await engine({ ffprobePath }).run([join(dir, "b.html")]);
      expect(plain.errors).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(lines()).toEqual(["start probe", "end probe"]);
      // No media start of its own: its host's preroll (a host at -2 s) is what makes it seek.
      rmSync(log);
      makeCodedVideo(join(dir, "pre.mp4"), { seconds: 3 });
      writeFiles(dir, {
        "c.html": `<div data-composition-id="c" data-duration="0.5"><div data-composition-src="scene.html" data-start="-2"></div></div>`,
        "scene.html": `<div data-composition-id="scene"><video id="v" src="pre.mp4" data-duration="3"></video></div>`,
      });
      const prerolled = await engine({ ffprobePath }).run([join(dir, "c.html")]);
      expect(prerolled.errors).toEqual([]);
      expect(lines()).toEqual(["start listing", "end listing", "start probe", "end probe"]);
      expect(readFrameNumbers(prerolled.results[0]!.entry.dir)).toEqual(range(60, 15));
    });

    it("decodes from the start when the keyframes cannot be listed: exact, asked once per run, never remembered", async () => {
      makeCodedVideo(join(dir, "clip.mp4"), { seconds: 3 });
      utimesSync(join(dir, "clip.mp4"), new Date(2020, 0, 1), new Date(2020, 0, 1));
      writeFiles(dir, { "a.html": `<video src="clip.mp4" data-media-start="1" data-duration="0.5"></video><video src="clip.mp4" data-media-start="2" data-duration="0.5"></video>` });
      // A fake only for the packet listing, the one failure this is about.
      const log = join(dir, "listings.log");
      const real = execFileSync("sh", ["-c", "command -v ffprobe"]).toString().trim();
      const ffprobePath = join(dir, "ffprobe");
      writeFileSync(ffprobePath, `#!/bin/sh
case "$*" in *packet=pts_time,dts_time,flags*) echo listing >> "${log}"; exit 1;; esac
exec "${real}" "$@"
`);
      chmodSync(ffprobePath, 0o755);
      const listings = () => readFileSync(log, "utf8").split("\n").filter(Boolean).length;
      const first = await engine({ ffprobePath }).run([join(dir, "a.html")]);
      expect(first.errors).toEqual([]);
      expect(listings()).toBe(1);
      expect(first.results.map((r) => readFrameNumbers(r.entry.dir))).toEqual([range(30, 15), range(60, 15)]);
      for (const r of first.results) rmSync(r.entry.dir, { recursive: true });
      expect((await engine({ ffprobePath }).run([join(dir, "a.html")])).errors).toEqual([]);
      expect(listings()).toBe(2);
    });

    it("elsewhere, runs -version once per store, not once per run", async () => {
      makeCodedVideo(join(dir, "clip.mp4"), { seconds: 2 });
      writeFiles(dir, { "a.html": `<video src="clip.mp4" data-duration="1"></video>`, "b.html": `<video src="clip.mp4" data-media-start="1"></video>` });
      const starts = loggingBinaries(join(dir, "bin"), ["ffmpeg"]);
      const options = { ffmpegPath: join(dir, "bin/ffmpeg") };
      expect((await engine(options).run([join(dir, "a.html")])).errors).toEqual([]);
      expect((await engine(options).run([join(dir, "b.html")])).errors).toEqual([]);
      expect(starts()).toEqual(["ffmpeg -version", "ffmpeg -nostdin", "ffmpeg -nostdin"]);
    });
  });
});

describe("probeKeyframes", () => {
  it("keeps only keyframes that decode on their own; when decoding them runs out of time, takes the flags only if every packet has one", async () => {
    const source = join(dir, "refresh.mp4");
    execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "0", "-intra-refresh", "1", "-pix_fmt", "yuv420p", source]);
    const real = execFileSync("sh", ["-c", "command -v ffprobe"]).toString().trim();
    const ffprobe = { name: "ffprobe" as const, path: real, chosenBy: "PATH" as const };
    // Flagged every second; only the first decodes on its own.
    expect((await probeKeyframes(ffprobe, source)).map((k) => k.pts)).toEqual([0, 1e6, 2e6]);
    expect((await probeKeyframes(ffprobe, source, { decodeKeyframes: true })).map((k) => k.pts)).toEqual([0]);
    // An ffprobe that hangs while decoding (the one failure this is about): no table rather than recovery points.
    const hanging = { ...ffprobe, path: join(dir, "ffprobe-hangs") };
    writeFileSync(hanging.path, `#!/bin/sh\ncase "$*" in *-skip_frame*) exec sleep 30;; esac\nexec "${real}" "$@"\n`, { mode: 0o755 });
    const slow = { decodeKeyframes: true, decodeTimeoutMs: 500 };
    await expect(probeKeyframes(hanging, source, slow)).rejects.toThrow(/took longer than 500 ms, and it is not all keyframes/);
    // All-intra, where every flag is right: the flags.
    const intra = join(dir, "intra.mp4");
    execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=1", "-c:v", "libx264", "-g", "1", "-pix_fmt", "yuv420p", intra]);
    expect(await probeKeyframes(hanging, intra, slow)).toHaveLength(10);
  });
});
