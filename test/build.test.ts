import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { countingFfmpeg, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { referenceProject, viteBuild } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

interface Manifest {
  version: number;
  videos: {
    composition: string;
    id: string;
    entry: string;
    frames: string;
    frameCount: number;
    cache: string;
    start: number;
    end: number | null;
    mediaStart: number;
    fps: number | string;
    instances: { start: number; end: number | null; mediaStart: number }[];
  }[];
}

function readDist(out: string) {
  const manifest = JSON.parse(readFileSync(join(out, "framecache-manifest.json"), "utf8")) as Manifest;
  const byId = Object.fromEntries(manifest.videos.map((v) => [v.id, v]));
  const frameBytes = (id: string) => {
    const folder = join(out, byId[id]!.frames, "..");
    return readdirSync(folder).sort().map((f) => createHash("sha256").update(readFileSync(join(folder, f))).digest("hex"));
  };
  return { manifest, byId, frameBytes };
}

describe("vite build", () => {
  it("emits every frame of every video, right frame by frame, then hits on a rebuild with no ffmpeg run", async () => {
    referenceProject(dir);
    const ffmpeg = countingFfmpeg(dir);
    const cacheDir = join(dir, "cache");
    const options = { ffmpegPath: ffmpeg.path, cacheDir };

    const cold = await viteBuild(dir, options);
    expect(cold.summary).toMatch(/^framecache {2}3 videos · 0 hit · 3 extracted · 105 frames \(\d+(\.\d+)? kB\) · \d/);
    // a (0-1 s) and n (0.5-1.5 s) overlap whole frames apart: one ffmpeg pass serves both.
    expect(ffmpeg.runs()).toBe(2);

    const out = join(dir, "dist");
    const { manifest, byId, frameBytes } = readDist(out);
    expect(manifest.version).toBe(1);
    expect(byId.a).toMatchObject({ composition: "index.html", start: 0, end: 1, mediaStart: 0, fps: 30, frameCount: 30, cache: "miss" });
    expect(byId.b).toMatchObject({ start: 1, end: 2.5, mediaStart: 2, frameCount: 45 });
    // Resolved on the entry's timeline: the nested clip starts where its host does, 2.5 s in.
    expect(byId.n).toMatchObject({ composition: "scenes/intro.html", start: 2.5, end: 3.5, mediaStart: 0.5, frameCount: 30, rate: 1, loop: null });
    expect(byId.n!.instances).toEqual([{ start: 2.5, end: 3.5, mediaStart: 0.5 }]);

    // Each extracted still shows exactly the source frame its time asks for.
    expect(readFrameNumbers(join(out, byId.a!.frames, ".."))).toEqual(range(0, 30));
    expect(readFrameNumbers(join(out, byId.b!.frames, ".."))).toEqual(range(60, 45));
    expect(readFrameNumbers(join(out, byId.n!.frames, ".."))).toEqual(range(15, 30));

    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).toContain(`id="a" src=`);
    // The host of the nested composition carries its resolved window.
    expect(html).toContain(`data-composition-src="scenes/intro.html" data-start="2.5" data-frame-start="2.5">`);
    expect(html).toContain(`data-frames="/assets/frames/${byId.a!.entry}/frame_%05d.jpg" data-frame-count="30" data-frame-fps="30"`);
    expect(html).toContain(`data-frames="/assets/frames/${byId.b!.entry}/frame_%05d.jpg" data-frame-count="45" data-frame-fps="30"`);
    const nested = readFileSync(join(out, "scenes/intro.html"), "utf8");
    expect(nested).toBe(
      readFileSync(join(dir, "scenes/intro.html"), "utf8").replace(
        `data-media-start="0.5">`,
        `data-media-start="0.5" data-frames="/assets/frames/${byId.n!.entry}/frame_%05d.jpg" data-frame-count="30" data-frame-fps="30" data-frame-start="0" data-frame-end="1" data-frame-rate="1">`,
      ),
    );
    const report = JSON.parse(readFileSync(join(out, "framecache-report.json"), "utf8"));
    expect(report).toMatchObject({ cacheHits: 0, cacheMisses: 3, framesWritten: 105 });
    const before = { a: frameBytes("a"), b: frameBytes("b"), n: frameBytes("n") };

    const warm = await viteBuild(dir, options);
    expect(warm.summary).toMatch(/ 3 videos · 3 hit · 0 extracted · 105 frames /);
    expect(ffmpeg.runs()).toBe(2);
    const again = readDist(out);
    expect(again.manifest.videos.map((v) => v.cache)).toEqual(["hit", "hit", "hit"]);
    expect({ a: again.frameBytes("a"), b: again.frameBytes("b"), n: again.frameBytes("n") }).toEqual(before);
  });

  it('with key:"stat" names entries as the HyperFrames v2 engine does, and serves an engine-written entry', async () => {
    referenceProject(dir);
    const cacheDir = join(dir, "cache");
    const clip = join(dir, "media/clip.mp4");
    const st = statSync(clip);
    const engineName = (ms: number, d: number) =>
      "hfcache-v2-" +
      createHash("sha256")
        .update(JSON.stringify({ p: clip, m: Math.floor(st.mtimeMs), s: st.size, ms, d, f: 30, fmt: "jpg" }))
        .digest("hex")
        .slice(0, 16);

    // Seed the nested video's entry the way the engine writes it: frames, then an empty sentinel.
    const seeded = join(cacheDir, engineName(0.5, 1));
    mkdirSync(seeded, { recursive: true });
    for (let i = 1; i <= 30; i++) writeFileSync(join(seeded, `frame_${String(i).padStart(5, "0")}.jpg`), `frame ${i}`);
    writeFileSync(join(seeded, ".hf-complete"), "");

    const ffmpeg = countingFfmpeg(dir);
    const result = await viteBuild(dir, { key: "stat", cacheDir, ffmpegPath: ffmpeg.path });
    expect(result.summary).toMatch(/ 3 videos · 1 hit · 2 extracted /);
    // The two misses are short windows of one source: one ffmpeg process for both.
    expect(ffmpeg.runs()).toBe(1);
    const { byId } = readDist(join(dir, "dist"));
    expect(byId.a!.entry).toBe(engineName(0, 1));
    expect(byId.b!.entry).toBe(engineName(2, 1.5));
    expect(byId.n!.entry).toBe(engineName(0.5, 1));
    expect(byId.n!.cache).toBe("hit");
    expect(readFileSync(join(dir, "dist", byId.n!.frames.replace("%05d", "00007")), "utf8")).toBe("frame 7");
    expect(existsSync(join(cacheDir, engineName(0, 1), ".hf-complete"))).toBe(true);
  });
});
