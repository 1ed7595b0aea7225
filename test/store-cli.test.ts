import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { countingFfmpeg, makeCodedVideo, range, readFrameNumbers } from "./helpers/media.js";
import { referenceProject, writeFiles } from "./helpers/project.js";
import { deadPid, ENTRY, HOUR, setAge, storeCliProject } from "./helpers/store-cli.js";

let dir: string;
let cache: string;
const { spawnCli, framecache, json, entries, storeFiles } = storeCliProject((made) => ({ dir, cache } = made));

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("one store, many processes", () => {
  it("two concurrent extracts of one composition run ffmpeg once per key, and both succeed", async () => {
    referenceProject(dir);
    // Each ffmpeg run is held back a second, so the two processes surely overlap.
    const ffmpeg = countingFfmpeg(dir, { delaySeconds: 1 });
    const env = { FFMPEG_PATH: ffmpeg.path };
    const [a, b] = await Promise.all(["out-a", "out-b"].map((out) => json(["extract", "index.html", "--out", out], { env })));
    expect([a!.exitCode, b!.exitCode]).toEqual([0, 0]);
    expect(ffmpeg.runs()).toBe(3);
    // What one process extracted, the other waited for and read.
    expect(a!.out.cacheMisses + b!.out.cacheMisses).toBe(3);
    expect(a!.out.cacheHits + b!.out.cacheHits).toBe(3);
    for (const out of ["out-a", "out-b"]) {
      const manifest = JSON.parse(readFileSync(join(dir, out, "framecache-manifest.json"), "utf8"));
      const clip = manifest.videos.find((v: { id: string }) => v.id === "b");
      expect(readFrameNumbers(join(dir, out, clip.frames, ".."))).toEqual(range(60, 45));
    }
    // No lock or partial is left behind.
    expect(storeFiles().filter((n) => !ENTRY.test(n))).toEqual(["CACHEDIR.TAG"]);
    expect(entries()).toHaveLength(3);
  });

  it("a process SIGKILLed mid-extraction leaves nothing verify rejects, and the next run completes the entry", async () => {
    mkdirSync(join(dir, "media"));
    makeCodedVideo(join(dir, "media/long.mp4"), { seconds: 60, fps: 60 });
    writeFiles(dir, { "long.html": `<div data-composition-id="long" data-fps="60"><video id="long" src="media/long.mp4"></video></div>` });
    // Its own process group, so the ffmpeg it orphans can be stopped afterwards.
    const victim = spawnCli(["extract", "long.html"], { detached: true });
    const partial = await until(() => {
      const names = existsSync(cache) ? readdirSync(cache) : [];
      return names.find((n) => n.includes(".partial-") && readdirSync(join(cache, n)).length >= 20);
    }, "ffmpeg to be writing frames");
    victim.kill("SIGKILL");
    expect((await victim).signal).toBe("SIGKILL");

    // ffmpeg, orphaned, may still be writing the partial while verify looks.
    const after = await json(["verify"]);
    expect(after.exitCode).toBe(0);
    expect(after.out).toMatchObject({ ok: true, entries: 0, badEntries: 0, strayPartials: 1, staleLocks: 1 });
    expect(after.out.problems.map((p: { name: string }) => p.name).sort()).toEqual([partial, partial.replace(/\.partial-.*/, ".lock")].sort());
    try {
      process.kill(-victim.pid!, "SIGKILL");
    } catch {
      // the orphan had already finished
    }

    const next = await json(["extract", "long.html"]);
    expect(next.exitCode).toBe(0);
    expect(next.out).toMatchObject({ cacheMisses: 1, framesWritten: 3600 });
    const [entry] = entries();
    expect(readFrameNumbers(join(cache, entry!))).toEqual(range(0, 3600));
    // The run broke the dead owner's lock, and its GC removed the dead writer's partial.
    expect(storeFiles()).toEqual(["CACHEDIR.TAG", entry]);
    expect((await json(["verify"])).out).toMatchObject({ ok: true, verified: 1, problems: [] });
  });
});

describe("framecache verify", () => {
  it("finds bytes flipped inside one frame without a change of size, and --fix leaves a clean store", async () => {
    referenceProject(dir);
    expect((await framecache(["extract", "index.html"])).exitCode).toBe(0);
    const [victim, ...others] = entries();
    const frame = join(cache, victim!, "frame_00005.jpg");
    const bytes = readFileSync(frame);
    const original = Buffer.from(bytes);
    for (let i = bytes.length >> 1; i < (bytes.length >> 1) + 8; i++) bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(frame, bytes);

    const human = await framecache(["verify"]);
    expect(human.exitCode).toBe(1);
    expect(human.stdout).toContain(`bad       ${victim}  [digests] frame bytes differ from the recorded digest`);
    expect(human.stdout).toMatch(/verify {2}3 entries checked \(105 frames, [\d.]+ kB digested\) · 2 ok · 1 bad · 0 stray partials · 0 stale locks/);

    const bad = await json(["verify"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.out.problems).toEqual([{ name: victim, step: "digests", reason: expect.any(String), bad: true, fixed: false, code: "FC_STORE_CORRUPT" }]);
    expect(bad.out.steps.map((s: { name: string }) => s.name)).toEqual(["sentinels", "keys", "frames", "digests", "partials", "locks", "downloads", "fix"]);

    const fixed = await json(["verify", "--fix"]);
    expect(fixed.exitCode).toBe(0);
    expect(fixed.out).toMatchObject({ ok: true, badEntries: 1, badRemaining: 0, removed: { entries: 1 } });
    const clean = await json(["verify"]);
    expect(clean.exitCode).toBe(0);
    expect(clean.out).toMatchObject({ entries: 2, verified: 2, problems: [] });
    expect(storeFiles()).toEqual(["CACHEDIR.TAG", ...others].sort());

    // The next run extracts the removed entry again, right.
    const again = await json(["extract", "index.html", "--out", "out"]);
    expect(again.out).toMatchObject({ cacheHits: 2, cacheMisses: 1 });
    expect(readFileSync(frame)).toEqual(original);
  });

  it("an entry whose files a power cut left empty is bad, not a hit, and the next run makes it again", async () => {
    referenceProject(dir);
    expect((await framecache(["extract", "index.html"])).exitCode).toBe(0);
    const [victim, flushedSentinel] = entries();
    // Renamed into place but never flushed: every file of the entry is there with no bytes, the sentinel too.
    for (const name of readdirSync(join(cache, victim!))) writeFileSync(join(cache, victim!, name), "");
    // The same, but the sentinel (written last) made it to disk.
    for (const name of readdirSync(join(cache, flushedSentinel!)).filter((n) => n.endsWith(".jpg"))) writeFileSync(join(cache, flushedSentinel!, name), "");
    const bad = await json(["verify"]);
    expect(bad.exitCode).toBe(1);
    const empty = (name: string) => ({ name, step: "frames", reason: expect.stringMatching(/^\d+ of \d+ frame files are empty$/), bad: true, fixed: false, code: "FC_STORE_CORRUPT" });
    expect(bad.out.problems).toEqual(expect.arrayContaining([empty(victim!), empty(flushedSentinel!)]));
    const again = await json(["extract", "index.html", "--out", "out"]);
    // The third entry shares frames with them (hard links from one shared decode), so it lost them too.
    expect(again.out).toMatchObject({ cacheHits: 0, cacheMisses: 3 });
    for (const entry of entries()) expect(readdirSync(join(cache, entry)).map((name) => statSync(join(cache, entry, name)).size)).not.toContain(0);
    // The broken entry was moved aside for GC, not deleted under a possible reader.
    const after = (await json(["verify"])).out as { ok: boolean; problems: { step: string; bad: boolean }[] };
    expect(after.ok).toBe(true);
    expect(after.problems.map((p) => [p.step, p.bad])).toEqual(after.problems.map(() => ["partials", false]));
  });

  it("runs each named step on what the one before passed, and leaves a writer's work alone", async () => {
    referenceProject(dir);
    await framecache(["extract", "index.html"]);
    const [missingFrame, badJson, renamed] = entries();
    rmSync(join(cache, missingFrame!, "frame_00030.jpg"));
    writeFileSync(join(cache, badJson!, ".hf-complete"), "{ not json");
    renameSync(join(cache, renamed!), join(cache, "hfcache-v2-0000000000000000"));
    // Engine-written entries: frames and an empty sentinel. One whole, one with a gap.
    for (const [name, frames] of [["hfcache-v2-1111111111111111", [1, 2, 3]], ["hfcache-v2-2222222222222222", [1, 2, 4]]] as const) {
      mkdirSync(join(cache, name));
      for (const i of frames) writeFileSync(join(cache, name, `frame_0000${i}.jpg`), `frame ${i}`);
      writeFileSync(join(cache, name, ".hf-complete"), "");
    }
    const oldPartial = join(cache, `hfcache-v2-3333333333333333.partial-${deadPid()}-aaaa`);
    mkdirSync(oldPartial);
    setAge(oldPartial, 2 * HOUR);
    // A writer at work: this very process, with a fresh partial and a live lock.
    const livePartial = `hfcache-v2-4444444444444444.partial-${process.pid}-bbbb`;
    mkdirSync(join(cache, livePartial));
    writeFileSync(join(cache, "hfcache-v2-4444444444444444.lock"), JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString(), token: "x" }));
    writeFileSync(join(cache, "hfcache-v2-5555555555555555.lock"), JSON.stringify({ pid: deadPid(), host: hostname(), started: new Date().toISOString(), token: "y" }));

    const report = await json(["verify"]);
    expect(report.exitCode).toBe(1);
    const byName = Object.fromEntries(report.out.problems.map((p: { name: string; step: string }) => [p.name, p.step]));
    expect(byName).toEqual({
      [badJson!]: "sentinels",
      "hfcache-v2-0000000000000000": "keys",
      [missingFrame!]: "frames",
      "hfcache-v2-2222222222222222": "frames",
      [oldPartial.split("/").pop()!]: "partials",
      "hfcache-v2-5555555555555555.lock": "locks",
    });
    expect(report.out).toMatchObject({ entries: 5, verified: 1, legacy: 1, badEntries: 4 });

    const fixed = await json(["verify", "--fix"]);
    expect(fixed.exitCode).toBe(0);
    expect(fixed.out.removed).toEqual({ entries: 4, partials: 1, locks: 1, downloads: 0 });
    expect(storeFiles()).toEqual(["CACHEDIR.TAG", "hfcache-v2-1111111111111111", "hfcache-v2-4444444444444444.lock", livePartial].sort());
  });
});

describe("content keys", () => {
  it("a project moved to another directory, every video touched, still hits every entry", async () => {
    const before = join(dir, "before");
    referenceProject(before);
    const cold = await json(["extract", "index.html"], { cwd: before });
    expect(cold.out).toMatchObject({ cacheMisses: 3 });

    const after = join(dir, "elsewhere/after");
    mkdirSync(join(dir, "elsewhere"));
    renameSync(before, after);
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(after, "media/clip.mp4"), later, later);
    const ffmpeg = countingFfmpeg(dir);
    const warm = await json(["extract", "index.html", "--explain"], { cwd: after, env: { FFMPEG_PATH: ffmpeg.path } });
    expect(warm.out).toMatchObject({ videos: 3, cacheHits: 3, cacheMisses: 0 });
    expect(ffmpeg.runs()).toBe(0);
    expect(warm.stderr).not.toContain("miss");
  });

  it("digests and probes remembered by one process are used by the next without hashing or probing again", async () => {
    referenceProject(dir);
    setAge(join(dir, "media/clip.mp4"), 24 * HOUR);
    await framecache(["extract", "index.html"]);
    const all = readdirSync(join(cache, ".digests"));
    const records = all.filter((n) => n.startsWith("sha256-"));
    expect(records).toHaveLength(1);
    // Probes are remembered too: a warm run spawns nothing, so it never even looks for ffmpeg.
    expect(all.filter((n) => n.startsWith("probe-"))).toHaveLength(1);
    const nowhere = { FFMPEG_PATH: join(dir, "no-ffmpeg"), FFPROBE_PATH: join(dir, "no-ffprobe") };
    const warm = await json(["extract", "index.html"], { env: nowhere });
    expect(warm.out).toMatchObject({ cacheHits: 3, cacheMisses: 0 });
    // Prove the record is what the next process reads: poison it, and the keys change.
    const record = join(cache, ".digests", records[0]!);
    writeFileSync(record, JSON.stringify({ value: "0".repeat(64) }));
    const poisoned = await json(["extract", "index.html"]);
    expect(poisoned.out).toMatchObject({ cacheHits: 0, cacheMisses: 3 });
    // A change to the file (new mtime) is a new record, hashed from the bytes: back to the real entries.
    setAge(join(dir, "media/clip.mp4"), 12 * HOUR);
    const rehashed = await json(["extract", "index.html"]);
    expect(rehashed.out).toMatchObject({ cacheHits: 3, cacheMisses: 0 });
  });
});

describe("framecache extract --explain", () => {
  it("names the key fields that differ from the nearest entry of the same source", async () => {
    referenceProject(dir);
    const first = await framecache(["extract", "index.html", "--explain"]);
    expect(first.stderr).toMatch(/miss index\.html video "a" → hfcache-v2-[0-9a-f]{16}: no entry for this source yet/);
    const html = readFileSync(join(dir, "index.html"), "utf8");
    writeFileSync(join(dir, "index.html"), html.replace('data-duration="1.5"', 'data-duration="2"'));
    const second = await framecache(["extract", "index.html", "--explain"]);
    expect(second.stderr).toMatch(/miss index\.html video "b" → hfcache-v2-[0-9a-f]{16}: duration 1\.5 → 2 \(nearest hfcache-v2-[0-9a-f]{16}\)/);
    expect(second.stderr.match(/ miss /g)).toHaveLength(1);

    writeFileSync(join(dir, "index.html"), html.replace('data-fps="30"', 'data-fps="60"'));
    makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 5 });
    const third = await framecache(["extract", "index.html", "--explain"]);
    // A 30 fps source at 60 fps is a rate conversion, sampled by DESIGN §4's rule, which the key's t records.
    expect(third.stderr).toMatch(/miss index\.html video "a" → \S+: source content changed, fps 30 → 60, settings \(defaults\) → sample=last \(nearest/);
  });
});
