import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveOptions } from "../src/core/options.js";
import { DevSession } from "../src/pipeline/dev-session.js";
import { Engine } from "../src/pipeline/engine.js";
import { silentLogger } from "../src/core/logger.js";
import { collectGarbage } from "../src/store/gc.js";
import { entryOf, framesById, until } from "./helpers/dev.js";
import { gatedFfmpeg, makeCodedVideo, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { referenceProject, writeFiles } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe("DevSession", () => {
  it("a frame request waits for its extraction up to the timeout, then gets the entry once it is done", async () => {
    referenceProject(dir);
    const ffmpeg = gatedFfmpeg(dir);
    const options = resolveOptions({ cacheDir: join(dir, "cache"), ffmpegPath: ffmpeg.path });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, waitTimeoutMs: 300 });
    try {
      const page = await session.page(join(dir, "index.html"), readFileSync(join(dir, "index.html"), "utf8"));
      expect(page.videos).toBe(3);
      const entry = entryOf(framesById(page.html).a!);
      expect(await session.entry(entry)).toBe("timeout");
      expect(await session.entry("hfcache-v2-0123456789abcdef")).toBe("missing");
      ffmpeg.open();
      const done = await until(async () => {
        const found = await session.entry(entry);
        return found !== "timeout" && found;
      }, "the entry");
      expect(done).toMatchObject({ name: entry, frames: 30, format: "jpg" });
    } finally {
      await session.dispose();
    }
  });

  it("tries a failed extraction again when its page is planned again", async () => {
    referenceProject(dir);
    // ffmpeg fails while the flag file is there, as on a full disk that is then cleared.
    const flag = join(dir, "fail");
    const failing = join(dir, "ffmpeg-fails");
    writeFileSync(flag, "");
    writeFileSync(failing, `#!/bin/sh\n[ "$1" = "-version" ] && exec ffmpeg "$@"\n[ -f "${flag}" ] && { echo "No space left on device" >&2; exit 1; }\nexec ffmpeg "$@"\n`, { mode: 0o755 });
    const options = resolveOptions({ cacheDir: join(dir, "cache"), ffmpegPath: failing });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined });
    const index = join(dir, "index.html");
    try {
      const entry = entryOf(framesById((await session.page(index, readFileSync(index, "utf8"))).html).a!);
      expect(await session.entry(entry)).toBe("missing");
      rmSync(flag);
      await session.page(index, readFileSync(index, "utf8"));
      expect(await session.entry(entry)).toMatchObject({ name: entry, frames: 30 });
    } finally {
      await session.dispose();
    }
  });

  it("tries a failed extraction again for a change of its own source, not of an unrelated file", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 1 });
    // A page with a plan error (a missing src), so every file change re-plans it; its other video always fails in ffmpeg.
    writeFiles(dir, { "index.html": `<div data-fps="30"><video id="a" src="media/clip.mp4"></video><video id="gone" src="media/gone.mp4"></video></div>` });
    const log = join(dir, "runs.log");
    const failing = join(dir, "ffmpeg-fails");
    writeFileSync(failing, `#!/bin/sh\n[ "$1" = "-version" ] && exec ffmpeg "$@"\necho run >> "${log}"\nexit 1\n`, { mode: 0o755 });
    const runs = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0);
    const options = resolveOptions({ cacheDir: join(dir, "cache"), ffmpegPath: failing });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, debounceMs: 0 });
    const index = join(dir, "index.html");
    try {
      const entry = entryOf(framesById((await session.page(index, readFileSync(index, "utf8"))).html).a!);
      expect(await session.entry(entry)).toBe("missing");
      expect(runs()).toBe(1);
      writeFiles(dir, { "main.ts": "export {};\n" });
      session.fileChanged(join(dir, "main.ts"));
      // The page's plan error makes the change known at once, so its 0 ms debounce timer is already set;
      // Node fires timers of one delay in the order they were set, so once this one fires, that one has queued its re-plan.
      await new Promise((resolve) => setTimeout(resolve, 0));
      // The session plans one thing at a time: this no-op settles only after that re-plan did.
      expect(await session.compositionChanged(join(dir, "never-served.html"), "")).toBe("unknown");
      // Had the re-plan retried, the entry's run would be a new one, and this waits until its ffmpeg failed too.
      expect(await session.entry(entry)).toBe("missing");
      expect(runs()).toBe(1);
      session.fileChanged(join(dir, "media/clip.mp4"));
      await until(() => runs() === 2, "a second extraction");
    } finally {
      await session.dispose();
    }
  });

  it("lists a served source's keyframes once extraction is idle, so the first trim edit runs no ffprobe", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 3 });
    // As old as a recorded file: one changed in the last seconds is not remembered (racy mtime).
    utimesSync(join(dir, "media/clip.mp4"), new Date(2020, 0, 1), new Date(2020, 0, 1));
    const page = (seconds: number) => `<div data-fps="30"><video id="v" src="media/clip.mp4" data-duration="${seconds}"></video></div>`;
    writeFiles(dir, { "index.html": page(1) });
    const log = join(dir, "ffprobe.log");
    const ffprobePath = join(dir, "ffprobe-logged");
    writeFileSync(ffprobePath, `#!/bin/sh\necho "$*" >> "${log}"\nexec ffprobe "$@"\n`, { mode: 0o755 });
    const ffprobes = () => readFileSync(log, "utf8").split("\n").filter(Boolean);
    const engine = new Engine({ root: dir, allow: [], options: resolveOptions({ cacheDir: join(dir, "cache"), ffprobePath }), logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined });
    const index = join(dir, "index.html");
    try {
      const first = entryOf(framesById((await session.page(index, page(1))).html).v!);
      expect(await session.entry(first)).toMatchObject({ frames: 30 });
      await until(() => readdirSync(join(dir, "cache/.digests")).some((name) => name.startsWith("keyframes-")), "the keyframe table remembered");
      const listed = ffprobes().length;
      expect(ffprobes().filter((args) => args.includes("-skip_frame nokey"))).toHaveLength(1);
      // The trim edit: frames 31–60 are extracted from a seek into the source, with the table already there.
      writeFiles(dir, { "index.html": page(2) });
      expect(await session.compositionChanged(index, page(2))).toBe("update");
      const second = entryOf(framesById((await session.page(index, page(2))).html).v!);
      const entry = await until(async () => {
        const found = await session.entry(second);
        return typeof found === "object" ? found : undefined;
      }, "the edited entry");
      expect(readFrameNumbers(entry.dir)).toEqual(range(0, 60));
      expect(ffprobes()).toHaveLength(listed);
    } finally {
      await session.dispose();
    }
  });

  it("serving an entry's frames marks it used, so another process's GC spares a page left open for hours", async () => {
    referenceProject(dir);
    const options = resolveOptions({ cacheDir: join(dir, "cache") });
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, touchEveryMs: 0 });
    try {
      const index = join(dir, "index.html");
      const entry = entryOf(framesById((await session.page(index, readFileSync(index, "utf8"))).html).a!);
      expect(await session.entry(entry)).toMatchObject({ name: entry });
      const sentinel = join(dir, "cache", entry, ".hf-complete");
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      utimesSync(sentinel, twoHoursAgo, twoHoursAgo);
      // A frame request, as the page scrubs.
      expect(await session.entry(entry)).toMatchObject({ name: entry });
      await until(() => Date.now() - statSync(sentinel).mtimeMs < 60_000, "the entry marked used");
      const stats = await collectGarbage(join(dir, "cache"), { maxSize: 1 });
      expect(stats.evictedEntries).not.toContain(entry);
      expect(existsSync(sentinel)).toBe(true);
    } finally {
      await session.dispose();
    }
  });

  it("its background GC spares every entry its pages use, however long ago they were planned", async () => {
    mkdirSync(join(dir, "media"));
    for (const [name, seconds] of [["a", 1], ["b", 2], ["c", 3]] as const) makeCodedVideo(join(dir, `media/${name}.mp4`), { seconds });
    const page = (name: string) => `<div data-fps="30"><video id="${name}" src="media/${name}.mp4"></video></div>`;
    writeFiles(dir, { "a.html": page("a"), "b.html": page("b"), "c.html": page("c") });
    const options = resolveOptions({ cacheDir: join(dir, "cache"), maxCacheSize: 1 });
    // Entry c: made by another process, used by no page of this session.
    const other = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const [c] = (await other.run([join(dir, "c.html")])).results;
    await other.dispose();
    const engine = new Engine({ root: dir, allow: [], options, logger: silentLogger });
    const session = new DevSession(engine, { logger: silentLogger, send: () => undefined, gcDelayMs: 0 });
    const served = async (name: string) => {
      const file = join(dir, `${name}.html`);
      const entry = entryOf(framesById((await session.page(file, readFileSync(file, "utf8"))).html)[name]!);
      expect(await session.entry(entry)).toMatchObject({ name: entry });
      return entry;
    };
    try {
      const a = await served("a");
      // Both entries were last used two hours ago, past GC's one-hour grace.
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      for (const e of [a, c!.entry.name]) utimesSync(join(dir, "cache", e, ".hf-complete"), twoHoursAgo, twoHoursAgo);
      const b = await served("b");
      await until(() => engine.report.gcEvicted > 0, "a collection that evicts c");
      expect(existsSync(join(dir, "cache", c!.entry.name))).toBe(false);
      expect(existsSync(join(dir, "cache", a, "frame_00030.jpg"))).toBe(true);
      expect(existsSync(join(dir, "cache", b))).toBe(true);
    } finally {
      await session.dispose();
    }
  });
});
