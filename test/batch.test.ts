import { createHash } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isFramecacheError } from "../src/core/errors.js";
import type { FfmpegProgress } from "../src/core/ffmpeg-progress.js";
import { frameFileName } from "../src/core/frames.js";
import { silentLogger } from "../src/core/logger.js";
import { resolveOptions, type FramecacheOptions } from "../src/core/options.js";
import type { Task } from "../src/core/plan.js";
import { Engine, type RunResult } from "../src/pipeline/engine.js";
import { tryLock } from "../src/store/lock.js";
import { videoTag } from "./helpers/engine.js";
import { countingFfmpeg, gatedFfmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  // Eight seconds at 30 fps, B-frames (x264's defaults) and a keyframe every 12 frames: seeks go by the keyframe table.
  makeCodedVideo(join(dir, "src.mp4"), { seconds: 8, codec: ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "12", "-pix_fmt", "yuv420p"] });
});
afterEach(() => cleanup());

type Window = { ms: number; d: number };
/** On ticks, mid-GOP, off a tick (1.02 s: sample=last), on a keyframe, and one running past the source's end. */
const WINDOWS: Window[] = [
  { ms: 0, d: 0.5 },
  { ms: 1.02, d: 0.5 },
  { ms: 2.2, d: 0.4 },
  { ms: 3.2, d: 0.5 },
  { ms: 5, d: 0.3 },
  { ms: 7.8, d: 0.5 },
];

interface Run extends RunResult {
  engine: Engine;
}

async function run(name: string, windows: Window[], options: FramecacheOptions & { batch?: boolean; signal?: AbortSignal; progress?: Map<string, FfmpegProgress[]> } = {}): Promise<Run> {
  const { batch, signal, progress, ...plugin } = options;
  const root = join(dir, name);
  writeFiles(root, {
    "index.html": `<!doctype html>\n<div data-composition-id="main" data-fps="30">\n${windows.map((w, i) => videoTag(`v${i}`, "../src.mp4", { "data-media-start": w.ms, "data-duration": w.d })).join("\n")}\n</div>\n`,
  });
  const engine = new Engine({
    root: dir,
    allow: [],
    options: resolveOptions({ cacheDir: join(root, "cache"), ...plugin }),
    logger: silentLogger,
    batch,
    progress: progress && {
      begin: (task: Task) => {
        const updates: FfmpegProgress[] = [];
        progress.set(task.key, updates);
        return { update: (p) => updates.push(p), end: () => undefined };
      },
    },
  });
  try {
    return { ...(await engine.run([join(root, "index.html")], signal)), engine };
  } finally {
    await engine.dispose();
  }
}

function hashes(result: RunResult["results"][number]): string[] {
  const { dir: entry, frames, format } = result.entry;
  return range(1, frames).map((i) => createHash("sha256").update(readFileSync(join(entry, frameFileName(i, format)))).digest("hex"));
}

function byId(result: RunResult): Record<string, RunResult["results"][number]> {
  return Object.fromEntries(result.results.map((r) => [r.ref.id, r]));
}

/** What is left in a store besides complete entries: partial directories, locks. */
function leftovers(store: string): string[] {
  return existsSync(store) ? readdirSync(store).filter((n) => n.includes(".partial-") || n.endsWith(".lock")) : [];
}

/** An FFMPEG_PATH wrapper that runs `script` (sh, with "$@") before the real ffmpeg, and logs each run's arguments. */
function wrappedFfmpeg(name: string, script: string): { path: string; runs: () => string[] } {
  const log = join(dir, `${name}.log`);
  const path = join(dir, name);
  const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
  writeFileSync(path, `#!/bin/sh\n[ "$1" = "-version" ] && exec "${real}" "$@"\nprintf '%s\\n' "$*" >> "${log}"\n${script}\nexec "${real}" "$@"\n`);
  chmodSync(path, 0o755);
  return { path, runs: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []) };
}

const inputs = (args: string) => args.split(" -i ").length - 1;

describe("short windows of one source share ffmpeg processes", () => {
  it("each window's frames are byte-identical to its own extraction and show the source frames §4 asks for", async () => {
    const ffmpeg = countingFfmpeg(dir);
    const progress = new Map<string, FfmpegProgress[]>();
    const batched = await run("batched", WINDOWS, { ffmpegPath: ffmpeg.path, concurrency: 1, progress });
    expect(batched.errors).toEqual([]);
    // One process for all six windows (one slot).
    expect(ffmpeg.runs()).toBe(1);
    const alone = await run("alone", WINDOWS, { batch: false });
    expect(alone.errors).toEqual([]);
    const [b, a] = [byId(batched), byId(alone)];
    WINDOWS.forEach((w, i) => {
      const mine = b[`v${i}`]!;
      expect(mine.cache).toBe("miss");
      expect(hashes(mine)).toEqual(hashes(a[`v${i}`]!));
      // The frame on screen at each tick: 1.02 s shows frame 30 (on since 1.0 s); past the end the last frame is held.
      const first = Math.floor(w.ms * 30 + 1e-6);
      const count = Math.round(w.d * 30);
      expect(readFrameNumbers(mine.entry.dir), `window ${i}`).toEqual(range(first, count).map((n) => Math.min(n, 239)));
      // Its own progress, not the process's: ends at its own frame count (frames ffmpeg wrote).
      expect(progress.get(mine.task.key)!.at(-1)!.frame).toBe(Math.min(count, 240 - first));
    });
    expect(leftovers(join(dir, "batched", "cache"))).toEqual([]);
    // A warm run spawns nothing.
    const warm = await run("batched", WINDOWS, { ffmpegPath: ffmpeg.path, concurrency: 1 });
    expect(warm.results.map((r) => r.cache)).toEqual(WINDOWS.map(() => "hit"));
    expect(ffmpeg.runs()).toBe(1);
  });

  it("two slots run two batches side by side; hits and misses mix", async () => {
    await run("mixed", WINDOWS.slice(0, 2), { batch: false });
    const ffmpeg = wrappedFfmpeg("ffmpeg-log", "");
    const mixed = await run("mixed", WINDOWS, { ffmpegPath: ffmpeg.path, concurrency: 2 });
    expect(mixed.errors).toEqual([]);
    expect(mixed.results.map((r) => r.cache)).toEqual(["hit", "hit", "miss", "miss", "miss", "miss"]);
    expect(ffmpeg.runs().map(inputs)).toEqual([2, 2]);
    // Where the two fill the cores, each decoder and encoder has one thread: the bytes are the same.
    const threads = ffmpeg.runs().map((args) => args.split(" -threads 1 ").length - 1);
    expect(threads).toEqual(availableParallelism() <= 2 ? [4, 4] : [0, 0]);
    const alone = byId(await run("alone", WINDOWS, { batch: false }));
    for (const r of mixed.results) expect(hashes(r), r.ref.id).toEqual(hashes(alone[r.ref.id]!));
  });

  it("windows go to the process with the least decoding so far, so that processes side by side end together", async () => {
    // A keyframe exactly every 12 frames (0.4 s): 3.6 s and 4 s decode none of their own, 4.35 s and 4.75 s 10 frames first.
    makeCodedVideo(join(dir, "src.mp4"), { seconds: 6, codec: ["-c:v", "libx264", "-preset", "veryfast", "-g", "12", "-sc_threshold", "0", "-pix_fmt", "yuv420p"] });
    const ffmpeg = wrappedFfmpeg("ffmpeg-log", "");
    const windows = [3.6, 4, 4.35, 4.75].map((ms) => ({ ms, d: 0.3 }));
    const balanced = await run("balanced", windows, { ffmpegPath: ffmpeg.path, concurrency: 2 });
    expect(balanced.errors).toEqual([]);
    const origins = ffmpeg.runs().map((args) => [...args.matchAll(/setpts=PTS-\(([\d.]+)\)/g)].map((m) => Number(m[1])).sort((a, b) => a - b));
    // In start order the two that decode ahead would share a process (0.4 s apart); balanced, each process has one.
    expect(origins.map((o) => o.length)).toEqual([2, 2]);
    for (const [a, b] of origins) expect(b! - a!).toBeCloseTo(0.75, 6);
    for (const [i, w] of windows.entries()) {
      expect(readFrameNumbers(byId(balanced)[`v${i}`]!.entry.dir)).toEqual(range(Math.floor(w.ms * 30 + 1e-6), 9));
    }
  });

  it("a window whose ffmpeg fails fails only its own video: the others are extracted alone", async () => {
    // ffmpeg fails on any run that seeks to 3 s (the window at 3.2 s, from its keyframe at 3.2 s or before).
    const probe = await run("probe", [WINDOWS[3]!], { batch: false, ffmpegPath: wrappedFfmpeg("ffmpeg-probe", "").path });
    const seek = readFileSync(join(dir, "ffmpeg-probe.log"), "utf8").match(/-ss (\S+)/)![1]!;
    expect(probe.errors).toEqual([]);
    const ffmpeg = wrappedFfmpeg("ffmpeg-poisoned", `case " $* " in *" -ss ${seek} "*) echo "poisoned window" >&2; exit 1;; esac`);
    const result = await run("poisoned", WINDOWS, { ffmpegPath: ffmpeg.path, concurrency: 1 });
    expect(result.errors).toHaveLength(1);
    expect(isFramecacheError(result.errors[0], "FC_FFMPEG_FAILED")).toBe(true);
    expect(result.errors[0]!.message).toMatch(/v3/);
    expect(result.results.map((r) => r.ref.id).sort()).toEqual(["v0", "v1", "v2", "v4", "v5"]);
    // The batch, then each window alone.
    expect(ffmpeg.runs().map(inputs)).toEqual([6, 1, 1, 1, 1, 1, 1]);
    const alone = byId(await run("poisoned-alone", WINDOWS, { batch: false }));
    for (const r of result.results) expect(hashes(r)).toEqual(hashes(alone[r.ref.id]!));
    expect(leftovers(join(dir, "poisoned", "cache"))).toEqual([]);
  });

  it("a batch that runs past the timeout is killed and its windows extracted alone, each with its own timeout", async () => {
    const ffmpeg = wrappedFfmpeg("ffmpeg-hung", `[ "$(printf '%s\\n' "$@" | grep -c '^-i$')" -gt 1 ] && sleep 30`);
    const result = await run("hung", WINDOWS.slice(0, 3), { ffmpegPath: ffmpeg.path, concurrency: 1, timeout: 2500 });
    expect(result.errors).toEqual([]);
    expect(ffmpeg.runs().map(inputs)).toEqual([3, 1, 1, 1]);
    expect(leftovers(join(dir, "hung", "cache"))).toEqual([]);
  }, 30_000);

  it("a window whose key another process holds is left out of the batch, and taken once that one is done", async () => {
    // The first run only plans and locks v2's key, as another process would while extracting it.
    const planned = await run("locked", [], {});
    await planned.engine.dispose();
    const store = join(dir, "locked", "cache");
    const planner = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: store }), logger: silentLogger });
    writeFiles(join(dir, "locked"), { "index.html": `<!doctype html>\n<div data-fps="30">${videoTag("v2", "../src.mp4", { "data-media-start": 2.2, "data-duration": 0.4 })}</div>\n` });
    const { compositions } = await planner.load([join(dir, "locked", "index.html")]);
    const [video] = (await planner.plan([...compositions.values()][0]!)).videos;
    await planner.dispose();
    const lock = (await tryLock(store, video!.task.entry))!;
    const ffmpeg = wrappedFfmpeg("ffmpeg-locked", "");
    const running = run("locked", WINDOWS, { ffmpegPath: ffmpeg.path, concurrency: 1 });
    // The other five do not wait for it.
    while (readdirSync(store).filter((n) => n.startsWith("hfcache-v2-") && !n.includes(".")).length < 5) await new Promise((r) => setTimeout(r, 50));
    expect(ffmpeg.runs().map(inputs)).toEqual([5]);
    await lock.release();
    const result = await running;
    expect(result.errors).toEqual([]);
    expect(result.results.map((r) => r.cache)).toEqual(WINDOWS.map(() => "miss"));
    expect(ffmpeg.runs().map(inputs)).toEqual([5, 1]);
  }, 30_000);

  it("cancelling a run kills the batch; each window removes its own partial and leaves no lock", async () => {
    const gate = gatedFfmpeg(dir);
    const controller = new AbortController();
    const running = run("cancel", WINDOWS, { ffmpegPath: gate.path, concurrency: 1, signal: controller.signal });
    while (gate.held().length === 0) await new Promise((r) => setTimeout(r, 20));
    expect(inputs(gate.held()[0]!)).toBe(WINDOWS.length);
    controller.abort();
    const result = await running;
    expect(result.results).toEqual([]);
    expect(result.errors.length).toBeGreaterThan(0);
    expect(result.errors.every((e) => isFramecacheError(e, "FC_CANCELLED"))).toBe(true);
    expect(leftovers(join(dir, "cancel", "cache"))).toEqual([]);
    gate.open();
  });
});
