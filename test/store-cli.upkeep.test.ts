import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeCodedVideo } from "./helpers/media.js";
import { referenceProject, writeFiles } from "./helpers/project.js";
import { deadPid, ENTRY, HOUR, setAge, storeCliProject } from "./helpers/store-cli.js";

/** The store's upkeep through the CLI: gc, and what ls, stats and clean say and do. */

let dir: string;
let cache: string;
const { framecache, json, entries, storeFiles } = storeCliProject((made) => ({ dir, cache } = made));

describe("framecache gc", () => {
  it("evicts the least recently used entries down to the budget, never one used in the last hour or locked", async () => {
    makeCodedVideo(join(dir, "clip.mp4"), { seconds: 2 });
    const durations = [0.5, 0.6, 0.7, 0.8];
    writeFiles(dir, {
      "index.html": `<div data-composition-id="m" data-fps="30">${durations.map((d, i) => `<video id="v${i}" src="clip.mp4" data-duration="${d}"></video>`).join("")}</div>`,
    });
    expect((await framecache(["extract", "index.html"])).exitCode).toBe(0);
    const listed = (await json(["ls"])).out.entries as { name: string; bytes: number; input: { d: number } }[];
    const byDuration = (d: number) => listed.find((e) => e.input.d === d)!;
    const [threeDays, twoDays, oneDay, tenMinutes] = durations.map(byDuration);
    const ages = [72 * HOUR, 48 * HOUR, 24 * HOUR, HOUR / 6];
    [threeDays, twoDays, oneDay, tenMinutes].forEach((e, i) => setAge(join(cache, e!.name, ".hf-complete"), ages[i]!));
    const budget = oneDay!.bytes + tenMinutes!.bytes;
    // Leftovers: an old partial of a dead writer, a fresh one of a live writer, a stale lock.
    const deadPartial = `${threeDays!.name}.partial-${deadPid()}-cccc`;
    mkdirSync(join(cache, deadPartial));
    setAge(join(cache, deadPartial), 2 * HOUR);
    const livePartial = `${oneDay!.name}.partial-${process.pid}-dddd`;
    mkdirSync(join(cache, livePartial));
    writeFileSync(join(cache, `${twoDays!.name}.lock`), JSON.stringify({ pid: deadPid(), host: hostname(), started: "", token: "z" }));

    const byAge = await json(["gc", "--max-age", "60h", "--dry-run"]);
    expect(byAge.out.evictedEntries).toEqual([threeDays!.name]);

    const dry = await json(["gc", "--max-size", String(budget), "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    expect(dry.out).toMatchObject({ dryRun: true, evicted: 2, evictedEntries: [threeDays!.name, twoDays!.name], partialsRemoved: 1, locksRemoved: 1 });
    expect(entries()).toHaveLength(4);

    const human = await framecache(["gc", "--max-size", String(budget)]);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toContain(`evicted  ${threeDays!.name}\nevicted  ${twoDays!.name}\n`);
    expect(human.stdout).toMatch(/gc {2}evicted 2 entries \([\d.]+ kB\) · 1 partial and 1 stale lock removed · 2 entries kept/);
    expect(entries()).toEqual([oneDay!.name, tenMinutes!.name].sort());
    expect(storeFiles().filter((n) => !ENTRY.test(n))).toEqual(["CACHEDIR.TAG", livePartial].sort());

    // A running process holds the day-old entry's lock: spared, like the entry used ten minutes ago.
    const lock = join(cache, `${oneDay!.name}.lock`);
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString(), token: "w" }));
    const held = await json(["gc", "--max-size", "0"]);
    expect(held.out).toMatchObject({ evicted: 0, spared: 2 });
    rmSync(lock);
    const last = await json(["gc", "--max-size", "0"]);
    expect(last.out).toMatchObject({ evicted: 1, evictedEntries: [oneDay!.name], spared: 1, kept: 1, bytesKept: tenMinutes!.bytes });
    expect(entries()).toEqual([tenMinutes!.name]);
  });
});

describe("framecache ls, stats, clean", () => {
  it("list entries as a table or stable JSON, total them, and clean only with --yes", async () => {
    referenceProject(dir);
    await framecache(["extract", "index.html"]);

    const ls = await json(["ls"]);
    expect(ls.out.cacheDir).toBe(cache);
    expect(ls.out.entries.map((e: { frames: number }) => e.frames).sort()).toEqual([30, 30, 45]);
    for (const e of ls.out.entries) {
      expect(Object.keys(e)).toEqual(["name", "status", "frames", "bytes", "format", "lastUsed", "created", "source", "key", "input"]);
      expect(e).toMatchObject({ status: "ok", format: "jpg", source: join(dir, "media/clip.mp4") });
    }
    const table = (await framecache(["ls"])).stdout.split("\n");
    expect(table[0]).toMatch(/^ENTRY +FRAMES +SIZE +LAST USED +SOURCE$/);
    expect(table).toHaveLength(4);
    expect(table.some((l) => /^hfcache-v2-[0-9a-f]{16} +45 +[\d.]+ kB +(just now|\d+s ago) +media\/clip\.mp4 \[2 s \+1\.5 s, 30 fps\]$/.test(l))).toBe(true);

    const stats = await json(["stats", "--max-size", "1MB"]);
    const total = ls.out.entries.reduce((n: number, e: { bytes: number }) => n + e.bytes, 0);
    expect(stats.out).toMatchObject({ exists: true, entries: 3, frames: 105, bytes: total, budget: 1_000_000, partials: 0, locks: 0 });
    expect(stats.out.oldest.name).toMatch(ENTRY);
    const human = (await framecache(["stats"])).stdout;
    expect(human).toMatch(/^frames +105$/m);
    expect(human).toMatch(/^size +[\d.]+ kB of 5\.00 GB budget \(0\.0%\)$/m);

    const refused = await framecache(["clean"]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("framecache clean --yes");
    expect(entries()).toHaveLength(3);
    const cleaned = await json(["clean", "--yes"]);
    expect(cleaned.out).toMatchObject({ removed: 3, bytesFreed: total, skipped: 0 });
    expect((await json(["ls"])).out.entries).toEqual([]);
    expect((await framecache(["ls"])).stdout).toBe(`No entries in cache`);
  });

  it("exit 2 on usage errors, and print help for each command", async () => {
    expect((await framecache(["gc", "--max-size", "lots"])).exitCode).toBe(2);
    expect((await framecache(["gc", "--max-age", "7"])).stderr).toContain("--max-age 7 is not a duration");
    expect((await framecache(["verify", "--frobnicate"])).exitCode).toBe(2);
    for (const command of ["ls", "stats", "verify", "gc", "clean"]) {
      const help = await framecache([command, "--help"]);
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toContain(`$ framecache ${command}`);
      expect(help.stdout).toContain("--cache-dir");
      expect(help.stdout).toContain("--json");
    }
    // A store that does not exist yet is empty, not an error.
    expect(await json(["verify"])).toMatchObject({ exitCode: 0, out: { entries: 0, ok: true } });
  });
});
