import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { formatEta } from "../src/core/format.js";
import { FfmpegProgressParser } from "../src/core/ffmpeg-progress.js";
import type { Task } from "../src/core/plan.js";
import { dedupeWarnings } from "../src/core/logger.js";
import { createProgress, progressLine } from "../src/ui/progress.js";
import { colorsFor } from "../src/ui/terminal.js";
import { createLogger } from "vite";
import { viteProgress } from "../src/vite/progress.js";

describe("ffmpeg -progress parser", () => {
  it("reads a real ffmpeg's report, split at every possible byte", () => {
    const text = execFileSync("ffmpeg", [
      "-nostdin", "-hide_banner", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
      "-f", "lavfi", "-i", "testsrc2=s=64x36:r=30:d=2", "-f", "null", "-",
    ]).toString();
    const whole = new FfmpegProgressParser().push(text);
    expect(whole.at(-1)).toMatchObject({ frame: 60, end: true, outTimeUs: 2_000_000 });
    expect(whole.slice(0, -1).every((b) => !b.end)).toBe(true);

    // Pipes deliver arbitrary chunks; every split must give the same blocks.
    for (const size of [1, 7, 64]) {
      const parser = new FfmpegProgressParser();
      const blocks = [];
      for (let i = 0; i < text.length; i += size) blocks.push(...parser.push(text.slice(i, i + size)));
      expect(blocks).toEqual(whole);
    }
  });

  it("keeps the last number when ffmpeg says N/A, and ignores junk", () => {
    const parser = new FfmpegProgressParser();
    expect(parser.push("frame=12\nfps=24.5\nout_time_us=500000\nprogress=continue\n")).toEqual([{ frame: 12, fps: 24.5, outTimeUs: 500000, end: false }]);
    expect(parser.push("garbage line\nframe=N/A\nfps=\nout_time_us=N/A\nprogress=end\n")).toEqual([{ frame: 12, fps: 24.5, outTimeUs: 500000, end: true }]);
  });
});

/** A terminal that records what was written to it. */
function terminal(isTTY: boolean, columns = 100) {
  const writes: string[] = [];
  return { isTTY, columns, writes, write: (text: string) => writes.push(text) };
}

function task(source: string, frameCount: number): Task {
  return { source, frameCount } as Task;
}

const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

describe("progress line", () => {
  it("stays silent for work shorter than 2 s, on a terminal and in a log", () => {
    for (const isTTY of [true, false]) {
      let clock = 0;
      const stream = terminal(isTTY);
      const logged: string[] = [];
      const progress = createProgress({ stream, log: (l) => logged.push(l), env: {}, now: () => clock });
      const t = progress.begin(task("/p/clip.mp4", 60));
      for (clock = 0; clock < 1900; clock += 500) t.update({ frame: clock / 50, fps: 20, outTimeUs: 0, end: false });
      t.end();
      expect(stream.writes).toEqual([]);
      expect(logged).toEqual([]);
    }
  });

  it("on a terminal: one line redrawn in place, finished at 100 %", () => {
    let clock = 0;
    const stream = terminal(true);
    const logged: string[] = [];
    const progress = createProgress({ stream, log: (l) => logged.push(l), env: { NO_COLOR: "1" }, now: () => clock });
    const a = progress.begin(task("/p/a.mp4", 100));
    const b = progress.begin(task("/p/b.mp4", 50));
    for (let frame = 0; frame <= 100; frame += 10) {
      clock += 500;
      a.update({ frame, fps: 20, outTimeUs: 0, end: false });
    }
    a.end();
    clock += 500;
    b.update({ frame: 25, fps: 40, outTimeUs: 0, end: false });
    expect(stream.writes.length).toBeGreaterThan(3);
    expect(stream.writes.every((w) => w.startsWith("\r\x1b[K") && !w.includes("\n"))).toBe(true);
    expect(stream.writes.at(-1)).toBe("\r\x1b[Kframecache ━━━━━━━━━━━━━━━━────  83%  125/150 frames · 40 fps · ETA 1s · b.mp4");
    expect(logged).toEqual([]);

    b.end();
    expect(stream.writes.at(-1)).toBe("\r\x1b[K");
    expect(logged).toEqual([expect.stringMatching(/^framecache ━{20} 100% {2}150\/150 frames · .* · a\.mp4 \+1$/)]);
  });

  it("in a log: plain lines at most every 10 s, no control characters, no final line", () => {
    let clock = 0;
    const stream = terminal(false);
    const logged: string[] = [];
    const progress = createProgress({ stream, log: (l) => logged.push(l), env: {}, now: () => clock });
    const t = progress.begin(task("/p/clip\r\x1b[31m.mp4", 3000));
    for (let frame = 0; frame < 3000; frame += 15) {
      clock += 500;
      t.update({ frame, fps: 30, outTimeUs: 0, end: false });
    }
    t.end();
    expect(stream.writes).toEqual([]);
    // 100 s of work: a line at 2 s, then every 10 s.
    expect(logged).toHaveLength(10);
    expect(logged[0]).toBe("framecache extracting 45/3000 frames (1%) · 30 fps · ETA 1m 39s · clip??[31m.mp4");
    expect(logged.some((l) => CONTROL.test(l))).toBe(false);
  });

  it("erases itself for other output, and never outgrows the terminal", () => {
    let clock = 0;
    const stream = terminal(true, 40);
    const progress = createProgress({ stream, log: () => {}, env: {}, now: () => clock });
    const t = progress.begin(task("/p/a-very-long-clip-name.mp4", 100));
    clock = 3000;
    t.update({ frame: 10, fps: 5, outTimeUs: 0, end: false });
    progress.clear();
    expect(stream.writes.at(-1)).toBe("\r\x1b[K");
    progress.clear();
    expect(stream.writes.filter((w) => w === "\r\x1b[K")).toHaveLength(1);

    const line = progressLine(
      { done: 10, planned: 100, fps: 5, elapsedMs: 3000, names: ["a-very-long-clip-name.mp4"], finished: false },
      { live: true, columns: 40, colors: colorsFor(undefined, {}) },
    );
    expect(line).toBe("framecache  10%  10/100 frames");
    const wider = (columns: number) =>
      progressLine({ done: 10, planned: 100, fps: 5, elapsedMs: 3000, names: ["clip.mp4"], finished: false }, { live: true, columns, colors: colorsFor(undefined, {}) });
    expect(wider(60)).toBe("framecache ━─────────  10%  10/100 frames · 5.0 fps");
    expect(wider(100)).toBe("framecache ━━──────────────────  10%  10/100 frames · 5.0 fps · ETA 18s · clip.mp4");
    expect(wider(16)).toBe("10%");
  });

  it("formats estimates without decimals", () => {
    expect([0.2, 4, 59.1, 65, 3725].map(formatEta)).toEqual(["1s", "4s", "1m 00s", "1m 05s", "1h 02m"]);
  });
});

describe("progress in Vite", () => {
  it("erases the live line before anything Vite logs, and uses Vite's logger for its own lines", () => {
    const events: string[] = [];
    const base = createLogger("info", { allowClearScreen: false });
    const logger = { ...base, info: (m: string) => void events.push(`info ${m}`), warn: (m: string) => void events.push(`warn ${m}`) };
    let clock = 0;
    const stream = { isTTY: true, columns: 100, write: (t: string) => events.push(t === "\r\x1b[K" ? "erase" : t.startsWith("\r\x1b[Kframecache ━") ? "draw" : t) };
    const progress = viteProgress({ logger, logLevel: "info" }, { stream, env: { NO_COLOR: "1" }, now: () => clock })!;
    expect(viteProgress({ logger, logLevel: "info" })).toBe(progress);
    expect(viteProgress({ logger: base, logLevel: "warn" })).toBeUndefined();

    // Vite's own transient lines ("transforming (3) index.html") are erased too.
    logger.warn("before any progress");
    const t = progress.begin(task("/p/clip.mp4", 100));
    clock = 2500;
    t.update({ frame: 50, fps: 25, outTimeUs: 0, end: false });
    logger.warn("another plugin warns");
    clock = 5000;
    t.update({ frame: 99, fps: 25, outTimeUs: 0, end: false });
    t.end();
    expect(events).toEqual([
      "erase",
      "warn before any progress",
      "draw",
      "erase",
      "warn another plugin warns",
      "draw",
      "erase",
      "erase",
      expect.stringMatching(/^info framecache ━{20} 100%  100\/100 frames/),
    ]);
  });
});

describe("warnings", () => {
  it("print one line per cause, then a count of the repeats", () => {
    const lines: string[] = [];
    const logger = dedupeWarnings({ info: () => {}, warn: (m) => lines.push(m) });
    for (let i = 0; i < 3; i++) logger.warn("cache directory cannot be written");
    logger.warn('a.html:1:1: video "a" has a remote src', "FC_REMOTE_SOURCE");
    logger.warn('a.html:2:1: video "b" has a remote src', "FC_REMOTE_SOURCE");
    logger.warn("once only");
    expect(lines).toEqual(["cache directory cannot be written", 'a.html:1:1: video "a" has a remote src', "once only"]);
    logger.flush();
    expect(lines.slice(3)).toEqual(["cache directory cannot be written (×3)", 'a.html:1:1: video "a" has a remote src (×2)']);
    logger.flush();
    expect(lines).toHaveLength(5);
    logger.warn("once only");
    logger.flush();
    expect(lines.at(-1)).toBe("once only (×2)");
  });
});
