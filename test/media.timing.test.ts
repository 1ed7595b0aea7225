import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FFMPEG_BUILDS } from "./helpers/builds.js";
import { runEngine, videoTag, type EngineOptions } from "./helpers/engine.js";
import { ffmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const clip = (name: string) => join(dir, name);

interface SourceFrame {
  /** The number the frame shows. */
  n: number;
  /** Its time in the source, in seconds. */
  t: number;
}

const constantRate = (fps: number, count: number): SourceFrame[] => range(0, count).map((n) => ({ n, t: n / fps }));

/**
 * The rule the tests hold extraction to (DESIGN §4): output frame i shows what a `<video>` shows
 * at media time start + i/fps, the last source frame whose time is at or before it (1 µs tolerance).
 */
function shownAt(frames: SourceFrame[], start: number, fps: number, ticks: number): number[] {
  return range(0, ticks).map((i) => frames.filter((f) => f.t <= start + i / fps + 1e-6).at(-1)!.n);
}

describe.each(FFMPEG_BUILDS)("frame timing with ffmpeg from $label", (build) => {
  const extract = (videos: string[], options: EngineOptions = {}) =>
    runEngine(dir, videos, { ffmpegPath: build.ffmpegPath, ffprobePath: build.ffprobePath, ...options });

  it("keeps NTSC rates exact: a media start of 1.001 s at 30000/1001 starts on source frame 30", async () => {
    makeCodedVideo(clip("ntsc.mp4"), { seconds: 3, fps: "30000/1001" });
    const run = await extract([videoTag("a", "ntsc.mp4", { "data-duration": "1.001", "data-media-start": "1.001" })], { dataFps: "30000/1001" });
    expect(run.errors).toEqual([]);
    const a = run.byId.a!;
    expect(a.task.input.f).toBe("30000/1001");
    expect(a.entry.frames).toBe(30);
    expect(readFrameNumbers(a.entry.dir)).toEqual(range(30, 30));
  });

  it("keeps 24000/1001 exact over the rest of the source (natural duration)", async () => {
    // 72 frames at 24000/1001 last 3.003 s; from 2.002 s (frame 48) the rest is 24 frames.
    makeCodedVideo(clip("film.mp4"), { seconds: 3, fps: "24000/1001" });
    const run = await extract([videoTag("a", "film.mp4", { "data-media-start": "2.002" })], { dataFps: "24000/1001" });
    expect(run.errors).toEqual([]);
    const a = run.byId.a!;
    expect(a.task.input).toMatchObject({ ms: 2.002, d: 1.001, f: "24000/1001" });
    expect(readFrameNumbers(a.entry.dir)).toEqual(range(48, 24));
  });

  it("15 fps from a 30 fps source shows every second frame", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 4 });
    const run = await extract([videoTag("a", "c.mp4", { "data-duration": "2", "data-media-start": "1" })], { dataFps: 15 });
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(range(0, 30).map((i) => 30 + 2 * i));
  });

  it("60 fps from a 30 fps source shows every frame twice", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 2 });
    const run = await extract([videoTag("a", "c.mp4", { "data-duration": "1" })], { dataFps: 60 });
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(range(0, 60).map((i) => Math.floor(i / 2)));
  });

  it("24 fps from a 30 fps source shows at each tick the last source frame at or before it", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 3 });
    const run = await extract([videoTag("a", "c.mp4", { "data-duration": "2" })], { dataFps: 24 });
    const expected = shownAt(constantRate(30, 90), 0, 24, 48);
    // ffmpeg's default rounding would give 0, 1, 3, 4, 5, 6: frame 2 (0.067 s) is nearer tick 2 (0.083 s) than frame 3.
    expect(expected.slice(0, 6)).toEqual([0, 1, 2, 3, 5, 6]);
    expect(run.byId.a!.task.input.t).toBe("sample=last");
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(expected);
  });

  it("a 25 fps source at 30 fps repeats a frame every sixth tick: 0, 0, 1, 2, 3, 4, 5, 5, …", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 3, fps: 25 });
    const run = await extract([videoTag("a", "c.mp4", { "data-duration": "2" })]);
    const expected = shownAt(constantRate(25, 75), 0, 30, 60);
    expect(expected.slice(0, 8)).toEqual([0, 0, 1, 2, 3, 4, 5, 5]);
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(expected);
  });

  it("an NTSC source at 30 fps with data-media-start=1 starts on frame 29, on screen at 1 s", async () => {
    makeCodedVideo(clip("ntsc.mp4"), { seconds: 3, fps: "30000/1001" });
    const run = await extract([videoTag("a", "ntsc.mp4", { "data-duration": "1", "data-media-start": "1" })]);
    const frames = range(0, 89).map((n) => ({ n, t: (n * 1001) / 30000 }));
    const expected = shownAt(frames, 1, 30, 30);
    expect(expected[0]).toBe(29);
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(expected);
    expect(run.byId.a!.task.input.t).toBe("sample=last");
  });

  it("at 30000/1001, data-media-start=1 (just before frame 30, at 1.001 s) starts on frame 29, the one on screen", async () => {
    makeCodedVideo(clip("ntsc.mp4"), { seconds: 3, fps: "30000/1001" });
    const run = await extract([videoTag("a", "ntsc.mp4", { "data-duration": "0.5", "data-media-start": "1" })], { dataFps: "30000/1001" });
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(range(29, 15));
    expect(run.byId.a!.task.input.t).toBe("sample=last");
  });

  it("an on-tick clip keeps the key the HyperFrames v2 engine gives it (no t)", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 2 });
    const run = await extract([videoTag("a", "c.mp4", { "data-duration": "1", "data-media-start": "0.5" })]);
    expect(run.byId.a!.task.input.t).toBeUndefined();
  });

  it("a 3 s clip from 2 s into a 4 s source holds source frame 119 for its last 30 frames", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 4 });
    const run = await extract([videoTag("a", "c.mp4", { "data-duration": "3", "data-media-start": "2" })]);
    expect(run.errors).toEqual([]);
    expect(run.byId.a!.entry.frames).toBe(90);
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual([...range(60, 60), ...Array(30).fill(119)]);
  });

  it("natural duration is the rest of the source", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 4 });
    const run = await extract([videoTag("a", "c.mp4", { "data-media-start": "1.5" })]);
    expect(run.byId.a!.task.input.d).toBe(2.5);
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(range(45, 75));
  });

  it("a media start at or past the end of the source is FC_MEDIA_START_PAST_END at the video's location", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 2 });
    const run = await extract([
      videoTag("at", "c.mp4", { "data-duration": "1", "data-media-start": "2" }),
      videoTag("past", "c.mp4", { "data-media-start": "7.5" }),
    ]);
    expect(run.byId).toEqual({});
    expect(run.errors.map((e) => [e.code, e.loc?.line, e.loc?.column])).toEqual([
      ["FC_MEDIA_START_PAST_END", 3, 3],
      ["FC_MEDIA_START_PAST_END", 4, 3],
    ]);
    expect(run.errors[1]!.message).toMatch(/index\.html:4:3: video "past" \(c\.mp4\) starts 7\.5 s into a source that is only 2 s long/);
  });

  it("extracts a variable-rate source in one cfr pass and counts its frames with the ceiling rule", async () => {
    // 2 s at 30 fps, then 2 s at 10 fps (every third frame kept): r_frame_rate 30, avg_frame_rate ≈ 21.
    makeCodedVideo(clip("vfr.mp4"), {
      seconds: 4,
      filters: "select='lt(n\\,60)+not(mod(n-60\\,3))'",
      codec: ["-fps_mode", "vfr", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"],
    });
    const run = await extract([
      videoTag("a", "vfr.mp4", { "data-duration": "1.01", "data-media-start": "1.5" }),
      // Starts between two source frames: frame 60 (2.0 s) is on screen, 63 comes at 2.1 s.
      videoTag("b", "vfr.mp4", { "data-duration": "0.5", "data-media-start": "2.05" }),
    ]);
    expect(run.errors).toEqual([]);
    const { a, b } = run.byId;
    expect(a!.task.variableFrameRate).toBe(true);
    // 1.01 s × 30 = 30.3 frames: a constant-rate source would round to 30, a variable one takes 31.
    expect(a!.entry.frames).toBe(31);
    // Frames 0-59 every 1/30 s, then 60, 63, … every 0.1 s.
    const vfrFrames = range(0, 80).map((k) => (k < 60 ? { n: k, t: k / 30 } : { n: 60 + 3 * (k - 60), t: 2 + (k - 60) / 10 }));
    expect(readFrameNumbers(a!.entry.dir)).toEqual(shownAt(vfrFrames, 1.5, 30, 31));
    expect(readFrameNumbers(b!.entry.dir)).toEqual(shownAt(vfrFrames, 2.05, 30, 15));
    expect(readFrameNumbers(b!.entry.dir).slice(0, 6)).toEqual([60, 60, 63, 63, 63, 66]);
  });

  it("a media start between two source frames starts on the frame on screen then", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 2 });
    // 0.04 s: frame 1 (0.033 s) is on screen; 1.02 s: frame 30 (1.0 s) is, though 31 (1.033 s) is nearer.
    const run = await extract([
      videoTag("a", "c.mp4", { "data-duration": "0.5", "data-media-start": "0.04" }),
      videoTag("b", "c.mp4", { "data-duration": "0.5", "data-media-start": "1.02" }),
    ]);
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(range(1, 15));
    expect(readFrameNumbers(run.byId.b!.entry.dir)).toEqual(range(30, 15));
  });

  it("runs the ffmpeg it was given", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 1 });
    const run = await extract([videoTag("a", "c.mp4")]);
    expect(run.ffmpeg.path).toBe(build.ffmpegPath ?? execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim());
    expect(run.ffmpeg.version![0]).toBeGreaterThanOrEqual(4);
  });

  it("counts a media start from the first video frame, when the container starts elsewhere (MPEG-TS)", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 4 });
    // A plain MPEG-TS starts its clock at about 1.4 s; in this one the audio also starts 1 s before the video.
    ffmpeg("-i", clip("c.mp4"), "-c", "copy", clip("c.ts"));
    ffmpeg("-f", "lavfi", "-i", "sine=d=5", "-itsoffset", "1", "-i", clip("c.mp4"), "-map", "1:v", "-map", "0:a", "-c:v", "copy", "-c:a", "mp2", clip("late.ts"));
    const run = await extract([
      videoTag("ts", "c.ts", { "data-duration": "1", "data-media-start": "1" }),
      videoTag("late", "late.ts", { "data-media-start": "0.5" }),
    ]);
    if (build.legacy) {
      // That package's ffprobe (a 2023 static snapshot) crashes on every MPEG-TS file: a clear error, no frames.
      expect(run.errors.map((e) => [e.code, /ffprobe crashed \(SIGSEGV\)/.test(e.message)])).toEqual([
        ["FC_NOT_A_VIDEO", true],
        ["FC_NOT_A_VIDEO", true],
      ]);
      return;
    }
    expect(run.errors).toEqual([]);
    const { ts, late } = run.byId;
    expect(readFrameNumbers(ts!.entry.dir)).toEqual(range(30, 30));
    // The rest of the video after 0.5 s is 3.5 s (the audio's extra second is not video).
    expect(late!.task.input.d).toBe(3.5);
    expect(readFrameNumbers(late!.entry.dir)).toEqual(range(15, 105));
  });

  it("takes the natural duration from the video stream when audio runs longer (mp4, mkv)", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 4 });
    ffmpeg("-i", clip("c.mp4"), "-f", "lavfi", "-i", "sine=d=6", "-c:v", "copy", "-c:a", "aac", "-shortest", "-t", "6", clip("av.mp4"));
    // Matroska keeps the video's length in a DURATION tag, as its end time; opus' pre-skip moves the video start.
    ffmpeg("-i", clip("c.mp4"), "-f", "lavfi", "-i", "sine=d=6", "-c:v", "copy", "-c:a", "libopus", clip("av.mkv"));
    const run = await extract([videoTag("mp4", "av.mp4", { "data-media-start": "2" }), videoTag("mkv", "av.mkv", { "data-media-start": "2" })]);
    expect(run.errors).toEqual([]);
    for (const v of [run.byId.mp4!, run.byId.mkv!]) {
      expect(v.task.input.d).toBeCloseTo(2, 2);
      expect(readFrameNumbers(v.entry.dir)).toEqual(range(60, 60));
    }
  });

  it("measures a source that carries no duration (a webm written as a stream, as MediaRecorder does)", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 4 });
    const webm = ffmpeg("-i", clip("c.mp4"), "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "1M", "-f", "webm", "pipe:1");
    writeFileSync(clip("live.webm"), webm);
    const declared = execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration:stream=duration:stream_tags=DURATION", "-of", "json", clip("live.webm")]);
    expect(JSON.parse(declared.toString())).toEqual({ programs: [], streams: [{ tags: {} }], format: {} });
    const run = await extract([videoTag("a", "live.webm", { "data-media-start": "3" })]);
    expect(run.errors).toEqual([]);
    expect(run.byId.a!.task.input.d).toBeCloseTo(1, 2);
    expect(readFrameNumbers(run.byId.a!.entry.dir)).toEqual(range(90, 30));
  });
});
