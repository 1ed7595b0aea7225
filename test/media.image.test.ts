import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FFMPEG_BUILDS } from "./helpers/builds.js";
import { runEngine, videoTag, type EngineOptions } from "./helpers/engine.js";
import { ffmpeg, imageSize, makeCodedVideo, range, rawPixels, readFrameNumbers, tempDir } from "./helpers/media.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const CLI = join(__dirname, "../dist/cli.js");
const clip = (name: string) => join(dir, name);
const firstFrame = (entryDir: string, ext: string) => join(entryDir, `frame_00001.${ext}`);

/** Eight grey bars, black to white, 32 px wide each: the HDR test pattern. */
const GREY_BARS = "color=c=black:s=256x64:r=30:d=0.2,format=gbrp,geq=r='floor(X/32)*255/7':g='floor(X/32)*255/7':b='floor(X/32)*255/7'";

function barLuma(file: string): number[] {
  const grey = rawPixels(file, "gray");
  return range(0, 8).map((bar) => grey[32 * 256 + bar * 32 + 16]!);
}

function displayRotation(file: string): string {
  const out = execFileSync("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0", file]);
  return out.toString().trim();
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Transparent, half-transparent and opaque thirds of a red 96×32 frame. */
const ALPHA_THIRDS = "color=c=red:s=96x32:r=30:d=0.2,format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,32),0,if(lt(X,64),128,255))'";

/** PNG colour type from the IHDR chunk: 6 is RGBA, 4 grey + alpha, 2 RGB. */
const pngColorType = (file: string) => readFileSync(file)[25];

describe.each(FFMPEG_BUILDS)("frame pixels with ffmpeg from $label", (build) => {
  const extract = (videos: string[], options: EngineOptions = {}) =>
    runEngine(dir, videos, { ffmpegPath: build.ffmpegPath, ffprobePath: build.ffprobePath, ...options });

  it("tone-maps HDR (PQ and HLG) to SDR for jpg, as bright as the SDR grade of the same pattern, and records it in t", async () => {
    // The SDR twin, and HDR twins graded as BT.2408 says: SDR white at 203 cd/m².
    ffmpeg("-f", "lavfi", "-i", GREY_BARS, "-vf", "zscale=m=bt709:r=tv,format=yuv420p", "-c:v", "libx264", "-crf", "10",
      "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", clip("sdr.mp4"));
    for (const trc of ["smpte2084", "arib-std-b67"]) {
      ffmpeg("-f", "lavfi", "-i", GREY_BARS,
        "-vf", `zscale=tin=bt709:pin=bt709:min=gbr:t=${trc}:p=bt2020:m=bt2020nc:r=tv:npl=203,format=yuv420p10le`,
        "-c:v", "libx265", "-x265-params", "log-level=error:crf=10",
        "-color_primaries", "bt2020", "-color_trc", trc, "-colorspace", "bt2020nc", clip(`${trc}.mp4`));
    }
    const window = { "data-duration": "0.1" };
    const run = await extract([
      videoTag("sdr", "sdr.mp4", window),
      videoTag("pq", "smpte2084.mp4", window),
      videoTag("hlg", "arib-std-b67.mp4", window),
    ]);
    expect(run.errors).toEqual([]);
    const { sdr, pq, hlg } = run.byId;
    expect(sdr!.task.input.t).toBeUndefined();
    const sdrBars = barLuma(firstFrame(sdr!.entry.dir, "jpg"));
    expect(sdrBars[7]).toBeGreaterThan(245);
    for (const hdr of [pq!, hlg!]) {
      expect(hdr.task.input).toMatchObject({ fmt: "jpg", t: "tonemap=mobius" });
      const bars = barLuma(firstFrame(hdr.entry.dir, "jpg"));
      // The curve is the identity up to 30 % of peak and rolls off only highlights: measured,
      // bars 0-5 within 2 code values of SDR, 80 % and white at about 200 and 215 (SDR 218, 255),
      // the mean 6 % under SDR's. Untone-mapped PQ (washed out) is 27 % under, with its black
      // lifted and its white at 148; hable with 100 cd/m² white, 35 % under. 10 % tells them apart.
      bars.slice(0, 5).forEach((v, i) => expect(Math.abs(v - sdrBars[i]!)).toBeLessThanOrEqual(6));
      expect(bars[7]).toBeGreaterThan(200);
      expect(Math.abs(mean(bars) - mean(sdrBars)) / mean(sdrBars)).toBeLessThan(0.1);
    }
  });

  it("leaves HDR untouched in png (format chosen by the user), which is why jpg tone-maps", async () => {
    ffmpeg("-f", "lavfi", "-i", GREY_BARS, "-vf", "zscale=m=bt709:r=tv,format=yuv420p", "-c:v", "libx264", "-crf", "10", clip("sdr.mp4"));
    ffmpeg("-f", "lavfi", "-i", GREY_BARS,
      "-vf", "zscale=tin=bt709:pin=bt709:min=gbr:t=smpte2084:p=bt2020:m=bt2020nc:r=tv:npl=203,format=yuv420p10le",
      "-c:v", "libx265", "-x265-params", "log-level=error:crf=10",
      "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc", clip("pq.mp4"));
    const run = await extract([videoTag("sdr", "sdr.mp4", { "data-duration": "0.1" }), videoTag("pq", "pq.mp4", { "data-duration": "0.1" })], { format: "png" });
    const { sdr, pq } = run.byId;
    expect(pq!.task.tonemap).toBe(false);
    expect(pq!.task.input.t).toBeUndefined();
    const washed = barLuma(firstFrame(pq!.entry.dir, "png"));
    const sdrBars = barLuma(firstFrame(sdr!.entry.dir, "png"));
    // The check above would catch this: the mean is far more than 10 % off.
    expect(Math.abs(mean(washed) - mean(sdrBars)) / mean(sdrBars)).toBeGreaterThan(0.2);
  });

  it("gives png with a real alpha channel for every alpha source under format auto, and jpg otherwise", async () => {
    const sources: Record<string, string[]> = {
      "vp9.webm": ["-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-deadline", "realtime", "-b:v", "2M"],
      "vp8.webm": ["-c:v", "libvpx", "-pix_fmt", "yuva420p", "-auto-alt-ref", "0", "-b:v", "2M"],
      "prores4444.mov": ["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le"],
      "qtrle.mov": ["-c:v", "qtrle", "-pix_fmt", "argb"],
      "png.mov": ["-c:v", "png", "-pix_fmt", "rgba"],
      "opaque.mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p"],
    };
    for (const [name, codec] of Object.entries(sources)) ffmpeg("-f", "lavfi", "-i", ALPHA_THIRDS, ...codec, clip(name));
    const names = Object.keys(sources);
    const run = await extract(names.map((name, i) => videoTag(`v${i}`, name, { "data-duration": "0.1" })));
    expect(run.errors).toEqual([]);
    expect(run.warnings).toEqual([]);
    names.forEach((name, i) => {
      const v = run.byId[`v${i}`]!;
      const opaque = name === "opaque.mp4";
      expect([name, v.entry.format]).toEqual([name, opaque ? "jpg" : "png"]);
      if (opaque) return;
      const frame = firstFrame(v.entry.dir, "png");
      expect([name, pngColorType(frame)]).toEqual([name, 6]);
      const rgba = rawPixels(frame, "rgba");
      const at = (x: number) => rgba.subarray((16 * 96 + x) * 4, (16 * 96 + x) * 4 + 4);
      expect([name, at(16)[3]]).toEqual([name, 0]);
      expect([name, Math.abs(at(48)[3]! - 128) <= 4]).toEqual([name, true]);
      expect([name, at(80)[3], at(80)[0]! > 240, at(80)[1]! < 16]).toEqual([name, 255, true, true]);
    });
  });

  it("warns when jpg is asked for a source with alpha", async () => {
    ffmpeg("-f", "lavfi", "-i", ALPHA_THIRDS, "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p", "-deadline", "realtime", clip("alpha.webm"));
    const run = await extract([videoTag("logo", "alpha.webm", { "data-duration": "0.1" })], { format: "jpg" });
    expect(run.errors).toEqual([]);
    expect(run.byId.logo!.entry.format).toBe("jpg");
    expect(run.warnings).toEqual([
      'index.html:3:3: video "logo" (alpha.webm) has an alpha channel, which jpg frames drop; use format "png" or "auto" to keep it',
    ]);
  });

  it("turns rotated phone video upright and reports the displayed size", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 1 });
    // What phones write: landscape pixels and a display matrix. ffmpeg 5.1 has no -display_rotation
    // yet; its mov muxer turns the `rotate` tag into a matrix (270 gives an iPhone's portrait matrix).
    ffmpeg("-i", clip("c.mp4"), "-c", "copy", "-metadata:s:v", "rotate=270", clip("portrait.mp4"));
    ffmpeg("-i", clip("c.mp4"), "-c", "copy", "-metadata:s:v", "rotate=90", clip("upside.mp4"));
    const run = await extract([videoTag("a", "portrait.mp4", { "data-duration": "0.5" }), videoTag("b", "upside.mp4", { "data-duration": "0.5" })]);
    expect(run.errors).toEqual([]);
    for (const [id, file] of [["a", "portrait.mp4"], ["b", "upside.mp4"]] as const) {
      const v = run.byId[id]!;
      expect(v.task.size).toEqual({ width: 32, height: 192 });
      expect(imageSize(firstFrame(v.entry.dir, "jpg"))).toEqual({ width: 32, height: 192 });
      // The matrix turns the picture counterclockwise by `rotation` degrees (libavutil's convention);
      // turned back, every frame reads as its source frame: upright, and not mirrored.
      const undo = { "-90": "transpose=cclock", "90": "transpose=clock" }[displayRotation(clip(file))];
      expect(undo).toBeDefined();
      expect(readFrameNumbers(v.entry.dir, "jpg", { filter: undo })).toEqual(range(0, 15));
    }
    // The manifest the CLI writes gives the displayed size.
    const env = { ...(build.ffmpegPath && { FFMPEG_PATH: build.ffmpegPath, FFPROBE_PATH: build.ffprobePath }) };
    await execa("node", [CLI, "extract", "index.html", "--cache-dir", "cache", "--out", "out"], { cwd: dir, env });
    const manifest = JSON.parse(readFileSync(join(dir, "out/framecache-manifest.json"), "utf8")) as { videos: { width: number; height: number }[] };
    expect(manifest.videos.map((v) => [v.width, v.height])).toEqual([[32, 192], [32, 192]]);
  });

  it("applies width, height and quality, and records each in t", async () => {
    makeCodedVideo(clip("c.mp4"), { seconds: 1 });
    const window = { "data-duration": "0.5" };
    const sized = await extract([videoTag("a", "c.mp4", window)], { width: 96 });
    const tall = await extract([videoTag("a", "c.mp4", window)], { height: 16 });
    const both = await extract([videoTag("a", "c.mp4", window)], { width: 100, height: 20 });
    const plain = await extract([videoTag("a", "c.mp4", window)]);
    const rough = await extract([videoTag("a", "c.mp4", window)], { quality: 50 });
    const cases = [
      [sized, "w=96", { width: 96, height: 16 }],
      [tall, "h=16", { width: 96, height: 16 }],
      [both, "h=20+w=100", { width: 100, height: 20 }],
      [plain, undefined, { width: 192, height: 32 }],
      [rough, "q=50", { width: 192, height: 32 }],
    ] as const;
    for (const [run, t, size] of cases) {
      const v = run.byId.a!;
      expect(v.task.input.t).toBe(t);
      expect(v.task.size).toEqual(size);
      expect(imageSize(firstFrame(v.entry.dir, "jpg"))).toEqual(size);
      expect(readFrameNumbers(v.entry.dir)).toEqual(range(0, 15));
    }
    expect(new Set(cases.map(([run]) => run.byId.a!.entry.name)).size).toBe(cases.length);

    // The coded frames are too plain for quality to show in bytes; a detailed picture shows it.
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=0.2", "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", clip("detail.mp4"));
    const bytes = async (quality: number) => {
      const v = (await extract([videoTag("a", "detail.mp4", { "data-duration": "0.1" })], { quality })).byId.a!;
      return readdirSync(v.entry.dir).filter((f) => f.endsWith(".jpg")).reduce((n, f) => n + statSync(join(v.entry.dir, f)).size, 0);
    };
    const [q50, q95, q100] = [await bytes(50), await bytes(95), await bytes(100)];
    expect(q50).toBeLessThan(0.6 * q95);
    expect(q100).toBeGreaterThan(q95);
  });
});

it("refuses to tone-map with an ffmpeg built without zscale, and says what to do", async () => {
  // The one failure injected: a real ffmpeg whose -version hides libzimg, as distro builds without it print.
  const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
  const fake = join(dir, "ffmpeg-without-zimg");
  writeFileSync(fake, `#!/bin/sh\nif [ "$1" = "-version" ]; then "${real}" -version | sed 's/--enable-libzimg//'; exit 0; fi\nexec "${real}" "$@"\n`);
  chmodSync(fake, 0o755);
  ffmpeg("-f", "lavfi", "-i", GREY_BARS,
    "-vf", "zscale=tin=bt709:pin=bt709:min=gbr:t=smpte2084:p=bt2020:m=bt2020nc:r=tv:npl=203,format=yuv420p10le",
    "-c:v", "libx265", "-x265-params", "log-level=error", "-color_trc", "smpte2084", clip("pq.mp4"));
  const run = await runEngine(dir, [videoTag("pq", "pq.mp4", { "data-duration": "0.1" })], { ffmpegPath: fake });
  expect(run.errors.map((e) => e.code)).toEqual(["FC_FFMPEG_FAILED"]);
  expect(run.errors[0]!.message).toMatch(/index\.html:3:3: .*is HDR and needs tone mapping, but .*ffmpeg-without-zimg was built without zscale/);
  expect(run.errors[0]!.hint).toMatch(/--enable-libzimg/);
});
