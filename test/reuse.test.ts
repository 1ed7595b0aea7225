import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { frameFileName } from "../src/core/frames.js";
import type { FrameFormat } from "../src/core/key.js";
import { resolveOptions } from "../src/core/options.js";
import { Engine } from "../src/pipeline/engine.js";
import { silentLogger } from "../src/core/logger.js";
import { readSentinel } from "../src/store/sentinel.js";
import { runEngine, videoTag } from "./helpers/engine.js";
import { countingFfmpeg, ffmpeg, makeCodedVideo, readFrameNumbers, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
let source: string;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  // Four seconds at 30 fps with a keyframe every 12 frames, so spans start mid-GOP.
  source = makeCodedVideo(join(dir, "src.mp4"), { seconds: 4, codec: ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "12", "-pix_fmt", "yuv420p"] });
});
afterEach(() => cleanup());

type Window = { ms: number; d: number };

function tag(id: string, w: Window): string {
  return videoTag(id, `clip${extname(source)}`, { "data-media-start": w.ms, "data-duration": w.d });
}

function project(name: string): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  copyFileSync(source, join(root, `clip${extname(source)}`));
  return root;
}

function hashes(entryDir: string, frames: number, format: FrameFormat): string[] {
  return Array.from({ length: frames }, (_, i) => createHash("sha256").update(readFileSync(join(entryDir, frameFileName(i + 1, format)))).digest("hex"));
}

let freshRoots = 0;

/** Frames of a fresh extraction of each window, each in a store of its own. */
async function fresh(windows: Window[], format: FrameFormat = "jpg"): Promise<string[][]> {
  const out: string[][] = [];
  for (const w of windows) {
    const root = project(`fresh-${format}-${freshRoots++}`);
    const { byId, errors } = await runEngine(root, [tag("v", w)], { dataFps: 30, format });
    expect(errors).toEqual([]);
    out.push(hashes(byId.v!.entry.dir, byId.v!.entry.frames, format));
  }
  return out;
}

/** Inode numbers of the frames, to tell which were linked rather than written. */
function inodes(entryDir: string, frames: number, format: FrameFormat): number[] {
  return Array.from({ length: frames }, (_, i) => statSync(join(entryDir, frameFileName(i + 1, format))).ino);
}

describe("trim edits reuse the frames of an entry of the same source", () => {
  const cases: { name: string; before: Window; after: Window; linked: [number, number]; format?: FrameFormat }[] = [
    { name: "an extension at the end", before: { ms: 0.5, d: 1 }, after: { ms: 0.5, d: 2 }, linked: [1, 30] },
    { name: "a trim at the start (earlier media start)", before: { ms: 1, d: 1 }, after: { ms: 0.5, d: 1.5 }, linked: [16, 45] },
    { name: "a shift by whole frames", before: { ms: 1, d: 1 }, after: { ms: 1.1, d: 1 }, linked: [1, 27] },
    { name: "a shorter trim inside the entry", before: { ms: 0, d: 2 }, after: { ms: 0.5, d: 1 }, linked: [1, 30] },
    // Frames 46… repeat frame 45 (the source ends), so they share its inode too.
    { name: "an extension past the source's end", before: { ms: 3, d: 2 }, after: { ms: 2.5, d: 3 }, linked: [16, 90] },
    { name: "png frames", before: { ms: 0.5, d: 1 }, after: { ms: 0.7, d: 1 }, linked: [1, 24], format: "png" },
    // The missing span starts at 1.2 s, right on a keyframe: its seek must not fall a GOP back, nor miss a frame.
    { name: "an extension whose missing span starts on a keyframe", before: { ms: 0.4, d: 0.8 }, after: { ms: 0.4, d: 1.6 }, linked: [1, 24] },
  ];
  for (const c of cases) {
    it(`${c.name}: byte-identical to a fresh extraction`, async () => {
      const format = c.format ?? "jpg";
      const root = project("edit");
      const first = await runEngine(root, [tag("v", c.before)], { dataFps: 30, format });
      expect(first.errors).toEqual([]);
      const before = first.byId.v!.entry;
      const second = await runEngine(root, [tag("v", c.after)], { dataFps: 30, format });
      expect(second.errors).toEqual([]);
      const after = second.byId.v!;
      expect(after.cache).toBe("miss");
      const [expected] = await fresh([c.after], format);
      expect(hashes(after.entry.dir, after.entry.frames, format)).toEqual(expected);
      // The reused frames are the entry's own files, not new ones.
      const old = new Set(inodes(before.dir, before.frames, format));
      const linked = inodes(after.entry.dir, after.entry.frames, format).flatMap((ino, i) => (old.has(ino) ? [i + 1] : []));
      expect([linked[0], linked.at(-1)]).toEqual(c.linked);
    });
  }

  it("takes nothing from an entry the filesystem will not read (a frame that is now a directory): extracts instead, and warns", async () => {
    const root = project("unreadable");
    const first = await runEngine(root, [tag("v", { ms: 0.5, d: 1 })], { dataFps: 30 });
    const donor = first.byId.v!.entry;
    const frame = join(donor.dir, frameFileName(10, "jpg"));
    rmSync(frame);
    mkdirSync(frame);
    const second = await runEngine(root, [tag("v", { ms: 0.5, d: 2 })], { dataFps: 30 });
    expect(second.errors).toEqual([]);
    expect(second.warnings).toEqual([expect.stringMatching(new RegExp(`the frames of .*${donor.name} cannot be read \\(EISDIR\\); extracting instead`))]);
    const [expected] = await fresh([{ ms: 0.5, d: 2 }]);
    expect(hashes(second.byId.v!.entry.dir, 60, "jpg")).toEqual(expected);
  });

  it("takes nothing from an entry whose frame was edited in place (through a build's hard link): extracts instead, and warns", async () => {
    const root = project("damaged");
    const first = await runEngine(root, [tag("v", { ms: 0.5, d: 1 })], { dataFps: 30 });
    const damaged = first.byId.v!.entry;
    // Same inode, other bytes: what a post-build step writing into dist/ does to the store.
    writeFileSync(join(damaged.dir, frameFileName(10, "jpg")), readFileSync(join(damaged.dir, frameFileName(1, "jpg"))));
    const second = await runEngine(root, [tag("v", { ms: 0.5, d: 2 })], { dataFps: 30 });
    expect(second.errors).toEqual([]);
    expect(second.warnings).toEqual([expect.stringMatching(new RegExp(`the frames of .*${damaged.name} do not match its digest; extracting instead\\. Run \`framecache verify --fix\``))]);
    const [expected] = await fresh([{ ms: 0.5, d: 2 }]);
    expect(hashes(second.byId.v!.entry.dir, 60, "jpg")).toEqual(expected);
    const old = new Set(inodes(damaged.dir, 30, "jpg"));
    expect(inodes(second.byId.v!.entry.dir, 60, "jpg").filter((ino) => old.has(ino))).toEqual([]);
  });

  it("records how many frames ffmpeg really wrote, and never takes a held frame for a real one", async () => {
    const root = project("held");
    const first = await runEngine(root, [tag("v", { ms: 3, d: 2 })], { dataFps: 30 });
    const read = await readSentinel(first.byId.v!.entry.dir);
    expect(read.kind === "json" && [read.sentinel.frames, read.sentinel.written]).toEqual([60, 30]);
    // Six frames later, past the source's end: frames 1..24 are the entry's 7..30, the rest repeat
    // frame 24 without running ffmpeg; the entry's held frames 31.. are not taken for real ones.
    const ffmpeg = countingFfmpeg(dir);
    const second = await runEngine(root, [tag("v", { ms: 3.2, d: 1 })], { dataFps: 30, ffmpegPath: ffmpeg.path });
    expect(ffmpeg.runs()).toBe(0);
    const [expected] = await fresh([{ ms: 3.2, d: 1 }]);
    expect(hashes(second.byId.v!.entry.dir, 30, "jpg")).toEqual(expected);
    expect(readFrameNumbers(second.byId.v!.entry.dir).slice(-2)).toEqual([119, 119]);
  });

  it("from a 24 fps source at 30 fps: frames are only taken when nothing is left to extract (the fps filter's rounding differs off ticks)", async () => {
    // A keyframe every 0.25 s, so some spans would start right on one.
    source = makeCodedVideo(join(dir, "src24.mp4"), { seconds: 3, fps: 24, codec: ["-c:v", "libx264", "-preset", "veryfast", "-g", "6", "-pix_fmt", "yuv420p"] });
    for (const [before, after, reused] of [
      [{ ms: 0, d: 1 }, { ms: 0, d: 2 }, false],
      // A span from frame 6 would start on a rounding tie.
      [{ ms: 0, d: 0.166667 }, { ms: 0, d: 1 }, false],
      // 0.8 s apart is 24 output frames, but 19.2 source frames.
      [{ ms: 1, d: 1 }, { ms: 0.2, d: 1.8 }, false],
      // Same start, nothing to extract: the entry's own frames.
      [{ ms: 0.5, d: 1.5 }, { ms: 0.5, d: 1 }, true],
    ] as [Window, Window, boolean][]) {
      const root = project(`rate-${before.ms}-${before.d}-${after.ms}`);
      const first = (await runEngine(root, [tag("v", before)], { dataFps: 30 })).byId.v!.entry;
      const second = (await runEngine(root, [tag("v", after)], { dataFps: 30 })).byId.v!.entry;
      const [expected] = await fresh([after]);
      expect(hashes(second.dir, second.frames, "jpg"), JSON.stringify(after)).toEqual(expected);
      const old = new Set(inodes(first.dir, first.frames, "jpg"));
      expect(inodes(second.dir, second.frames, "jpg").some((ino) => old.has(ino)), JSON.stringify(after)).toBe(reused);
    }
  });

  it("from an open-GOP source, whose leading B-frames follow their keyframe: every span start gives one pass's frames", async () => {
    // Moving content, so x264 really puts B-frames shown before each keyframe after it (checked with ffprobe).
    source = join(dir, "open.mp4");
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-c:v", "libx264", "-preset", "veryfast", "-x264-params", "keyint=30:min-keyint=30:open-gop=1:bframes=3", "-pix_fmt", "yuv420p", source);
    const after = { ms: 0, d: 80 / 30 };
    const [expected] = await fresh([after]);
    for (const frames of [28, 29, 57, 58, 59]) {
      const root = project(`open-${frames}`);
      await runEngine(root, [tag("v", { ms: 0, d: frames / 30 })], { dataFps: 30 });
      const second = (await runEngine(root, [tag("v", after)], { dataFps: 30 })).byId.v!.entry;
      expect(hashes(second.dir, second.frames, "jpg"), `span from frame ${frames + 1}`).toEqual(expected);
    }
    // A fresh extraction that starts among the B-frames shown before the keyframe at 1 s: the frames one pass shows then.
    for (const frames of [28, 29]) {
      const [late] = await fresh([{ ms: Number((frames / 30).toFixed(6)), d: 20 / 30 }]);
      expect(late, `media start at frame ${frames}`).toEqual(expected!.slice(frames, frames + 20));
    }
  });

  it("from x264 with intra refresh, whose keyframe flags mark recovery points that do not decode on their own: one pass's frames", async () => {
    // No B-frames: only the flags can mislead a seek. A decoder that starts at a recovery point drops frames until the refresh completes.
    source = join(dir, "refresh.mp4");
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "0", "-intra-refresh", "1", "-pix_fmt", "yuv420p", source);
    const [expected] = await fresh([{ ms: 0, d: 80 / 30 }]);
    for (const frames of [30, 45]) {
      const [late] = await fresh([{ ms: frames / 30, d: 10 / 30 }]);
      expect(late, `media start at frame ${frames}`).toEqual(expected!.slice(frames, frames + 10));
      const root = project(`refresh-${frames}`);
      await runEngine(root, [tag("v", { ms: 0, d: frames / 30 })], { dataFps: 30 });
      const second = (await runEngine(root, [tag("v", { ms: 0, d: 80 / 30 })], { dataFps: 30 })).byId.v!.entry;
      expect(hashes(second.dir, second.frames, "jpg"), `span from frame ${frames + 1}`).toEqual(expected);
    }
  });

  it("from x265 with its defaults, whose open GOPs lead a keyframe with more frames than it reports reordering: one pass's frames", async () => {
    // keyint 30: the keyframe at frame 30 is led by 4 frames decoded after it, while ffprobe reports has_b_frames=2.
    source = join(dir, "hevc.mp4");
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=3", "-c:v", "libx265", "-x265-params", "keyint=30:min-keyint=30:log-level=error", "-pix_fmt", "yuv420p", source);
    const [expected] = await fresh([{ ms: 0, d: 80 / 30 }]);
    for (const frames of [26, 27, 28, 29, 30]) {
      const [late] = await fresh([{ ms: Number((frames / 30).toFixed(6)), d: 10 / 30 }]);
      expect(late, `media start at frame ${frames}`).toEqual(expected!.slice(frames, frames + 10));
      const root = project(`hevc-${frames}`);
      await runEngine(root, [tag("v", { ms: 0, d: frames / 30 })], { dataFps: 30 });
      const second = (await runEngine(root, [tag("v", { ms: 0, d: 80 / 30 })], { dataFps: 30 })).byId.v!.entry;
      expect(hashes(second.dir, second.frames, "jpg"), `span from frame ${frames + 1}`).toEqual(expected);
    }
    // The same stream in Matroska, whose index and timestamps differ from mp4's: the same frames.
    source = join(dir, "hevc.mkv");
    ffmpeg("-i", join(dir, "hevc.mp4"), "-c", "copy", source);
    for (const frames of [28, 29, 30]) {
      const [late] = await fresh([{ ms: Number((frames / 30).toFixed(6)), d: 10 / 30 }]);
      expect(late, `mkv media start at frame ${frames}`).toEqual(expected!.slice(frames, frames + 10));
    }
  });

  it("does not reuse frames that do not line up, and still extracts them right", async () => {
    const root = project("offgrid");
    const first = await runEngine(root, [tag("v", { ms: 1, d: 1 })], { dataFps: 30 });
    const second = await runEngine(root, [tag("v", { ms: 1.01, d: 1 })], { dataFps: 30 });
    const old = new Set(inodes(first.byId.v!.entry.dir, 30, "jpg"));
    expect(inodes(second.byId.v!.entry.dir, 30, "jpg").some((ino) => old.has(ino))).toBe(false);
    const [expected] = await fresh([{ ms: 1.01, d: 1 }]);
    expect(hashes(second.byId.v!.entry.dir, 30, "jpg")).toEqual(expected);
  });
});

describe("overlapping trims in one run", () => {
  it("are decoded in one ffmpeg pass, each byte-identical to its own extraction", async () => {
    const root = project("overlap");
    const ffmpeg = countingFfmpeg(dir);
    const windows = [
      { ms: 0.5, d: 1.5 },
      { ms: 1, d: 1.5 },
      { ms: 2.5, d: 1 }, // touches the second
    ];
    const run = await runEngine(root, windows.map((w, i) => tag(`v${i}`, w)), { dataFps: 30, ffmpegPath: ffmpeg.path });
    expect(run.errors).toEqual([]);
    expect(ffmpeg.runs()).toBe(1);
    const expected = await fresh(windows);
    windows.forEach((_, i) => {
      const entry = run.byId[`v${i}`]!.entry;
      expect(hashes(entry.dir, entry.frames, "jpg")).toEqual(expected[i]);
    });
    // The shared pass leaves nothing behind in the store.
    const second = await runEngine(root, windows.map((w, i) => tag(`v${i}`, w)), { dataFps: 30, ffmpegPath: ffmpeg.path });
    expect(Object.values(second.byId).map((r) => r.cache)).toEqual(["hit", "hit", "hit"]);
    expect(ffmpeg.runs()).toBe(1);
  });
});

describe("segments extracted side by side", () => {
  async function segmented(root: string, w: Window, segments: number) {
    writeFiles(root, { "index.html": `<!doctype html>\n<div data-composition-id="main" data-fps="30">${tag("v", w)}</div>\n` });
    const engine = new Engine({ root, allow: [], options: resolveOptions({ cacheDir: join(root, "cache") }), logger: silentLogger, segments });
    try {
      const { results, errors } = await engine.run([join(root, "index.html")]);
      expect(errors).toEqual([]);
      return results[0]!.entry;
    } finally {
      await engine.dispose();
    }
  }

  for (const w of [{ ms: 0.5, d: 3 }, { ms: 2, d: 3 }]) {
    it(`are byte-identical to one pass (${w.ms} s + ${w.d} s${w.ms + w.d > 4 ? ", past the source's end" : ""})`, async () => {
      const entry = await segmented(project("segments"), w, 4);
      const [expected] = await fresh([w]);
      expect(hashes(entry.dir, entry.frames, "jpg")).toEqual(expected);
      const read = await readSentinel(entry.dir);
      expect(read.kind === "json" && read.sentinel.written).toBe(Math.min(90, 120 - w.ms * 30));
    });
  }
});
