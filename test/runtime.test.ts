import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clipTiming, frameIndexAt, frameUrl, parseFrameRate } from "../src/runtime/frame-math.js";

const clip = (over: Partial<Parameters<typeof frameIndexAt>[1]> = {}) => ({ start: 0, end: 1, rate: 1, fps: 30, frameCount: 30, ...over });

describe("frameIndexAt", () => {
  it("shows floor(local · rate · fps + 1e-9), clamped to the last frame, hidden outside [start, end]", () => {
    expect(frameIndexAt(0, clip())).toBe(0);
    expect(frameIndexAt(0.5, clip())).toBe(15);
    // 4.1 · 30 is 122.99999999999999 in floating point; the epsilon keeps frame 123.
    expect(4.1 * 30).toBeLessThan(123);
    expect(frameIndexAt(4.1, clip({ end: 5, frameCount: 150 }))).toBe(123);
    expect(frameIndexAt(1, clip())).toBe(29);
    expect(frameIndexAt(1.001, clip())).toBeUndefined();
    expect(frameIndexAt(-0.001, clip())).toBeUndefined();

    const closing = clip({ start: 1, end: 2.5, frameCount: 45 });
    expect(frameIndexAt(0.999, closing)).toBeUndefined();
    expect(frameIndexAt(1, closing)).toBe(0);
    expect((1.9 - 1) * 30).toBeLessThan(27);
    expect(frameIndexAt(1.9, closing)).toBe(27);
    expect(frameIndexAt(2.5, closing)).toBe(44);

    // Playback rate scales the source span: at 2× the clip walks two frames per output frame time.
    expect(frameIndexAt(0.5, clip({ rate: 2, frameCount: 60 }))).toBe(30);
    // A source that ended early holds its last frame to the clip's end.
    expect(frameIndexAt(0.9, clip({ frameCount: 10 }))).toBe(9);
    // Natural end: as long as the frames last.
    expect(frameIndexAt(3, clip({ start: 2, end: undefined }))).toBe(29);
    expect(frameIndexAt(3.01, clip({ start: 2, end: undefined }))).toBeUndefined();
    // Nothing to show.
    expect(frameIndexAt(0.5, clip({ frameCount: 0 }))).toBeUndefined();
    expect(frameIndexAt(1, clip({ start: 1, end: 1 }))).toBeUndefined();
    expect(frameIndexAt(Number.NaN, clip())).toBeUndefined();
  });

  it("lands exactly on frame k at the k-th frame time and anywhere inside it, for common and NTSC rates", () => {
    const rates = fc.constantFrom(24, 25, 30, 60, 30000 / 1001, 24000 / 1001);
    const playback = fc.constantFrom(0.5, 1, 1.25, 2);
    fc.assert(
      fc.property(rates, playback, fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (fps, rate, startMs, count, within) => {
        const start = startMs / 1000;
        const timing = { start, rate, fps, frameCount: count };
        const k = Math.floor(within * count);
        expect(frameIndexAt(start + k / (fps * rate), timing)).toBe(k);
        expect(frameIndexAt(start + (k + 0.5) / (fps * rate), timing)).toBe(k);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("frameUrl", () => {
  it("fills the printf-like pattern as ffmpeg numbered the files", () => {
    expect(frameUrl("/@framecache/hfcache-v2-0123456789abcdef/frame_%05d.jpg", 7)).toBe("/@framecache/hfcache-v2-0123456789abcdef/frame_00007.jpg");
    expect(frameUrl("frame_%05d.png", 123456)).toBe("frame_123456.png");
    expect(frameUrl("f_%d.jpg", 7)).toBe("f_7.jpg");
    expect(frameUrl("/my%%20app/frame_%03d.jpg", 7)).toBe("/my%20app/frame_007.jpg");
    expect(frameUrl("/a%05d/frame_%05d.jpg", 7)).toBe("/a%05d/frame_00007.jpg");
  });
});

describe("clipTiming", () => {
  const timing = (attrs: Record<string, string>) => clipTiming((name) => attrs[name] ?? null);
  it("reads attributes as the scanner does", () => {
    expect(timing({ "data-start": "1", "data-duration": "1.5", "data-frame-fps": "30", "data-frame-count": "45" })).toEqual({ start: 1, end: 2.5, rate: 1, fps: 30, frameCount: 45 });
    expect(timing({ "data-start": "1", "data-end": "2", "data-duration": "5" }).end).toBe(2);
    expect(timing({ "data-start": "-3", "data-playback-rate": "9" })).toMatchObject({ start: 0, end: undefined, rate: 5 });
    expect(timing({ "data-start": "abc", "data-playback-rate": "0" })).toMatchObject({ start: 0, rate: 0.1 });
    expect(timing({ "data-frame-fps": "30000/1001" }).fps).toBeCloseTo(29.97003, 5);
  });

  it("parses frame rates as integers or exact ratios", () => {
    expect(parseFrameRate("30")).toBe(30);
    expect(parseFrameRate("24000/1001")).toBe(24000 / 1001);
    expect(parseFrameRate("thirty")).toBeNaN();
    expect(parseFrameRate(null)).toBeNaN();
  });
});

describe("the built runtime", () => {
  it("is browser ESM: neither it nor the chunks it imports load Node modules or bare packages", () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const code = readFileSync(file, "utf8");
      for (const m of code.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*["']([^"']+)["']/g)) {
        const spec = m[1]!;
        expect(spec, `${file} imports ${spec}`).toMatch(/^\.\.?\//);
        visit(join(dirname(file), spec));
      }
      expect(code).not.toMatch(/\brequire\(|node:/);
    };
    visit(join(__dirname, "../dist/runtime.js"));
    expect(seen.size).toBeGreaterThan(0);
  });
});

describe("the resolved timing the plugin writes", () => {
  const resolved = (attrs: Record<string, string>) => clipTiming((name) => attrs[name] ?? null);

  it("loops modulo its cycle: a 2 s source looping for 6 s shows source frame 15 at 2.5 s", () => {
    const clip = resolved({ "data-frame-start": "0", "data-frame-end": "6", "data-frame-rate": "1", "data-frame-loop": "2", "data-frame-fps": "30", "data-frame-count": "60" });
    expect([0, 1.999, 2, 2.5, 4.5, 6].map((t) => frameIndexAt(t, clip))).toEqual([0, 59, 0, 15, 15, 0]);
    expect(frameIndexAt(6.01, clip)).toBeUndefined();
  });

  it("loops for ever without an end, until a cap", () => {
    const clip = resolved({ "data-frame-start": "1", "data-frame-loop": "2", "data-frame-fps": "30", "data-frame-count": "60" });
    expect(frameIndexAt(101.5, clip)).toBe(15);
    expect(frameIndexAt(101.5, clip, 50)).toBeUndefined();
  });

  it("hides a clip past its hosts' cut-off and starts its frames after a lead", () => {
    const clip = resolved({ "data-frame-start": "0", "data-frame-end": "5", "data-frame-lead": "2", "data-frame-fps": "30", "data-frame-count": "90" });
    expect(frameIndexAt(2, clip)).toBe(0);
    expect(frameIndexAt(3, clip)).toBe(30);
    expect(frameIndexAt(3.5, clip, 3)).toBeUndefined();
  });

  it("reads the authored attributes only on a page the plugin did not build", () => {
    const clip = resolved({ "data-frame-start": "3", "data-start": "9", "data-duration": "1", "data-frame-fps": "30", "data-frame-count": "30" });
    expect(clip).toMatchObject({ start: 3, end: undefined, rate: 1 });
  });
});
