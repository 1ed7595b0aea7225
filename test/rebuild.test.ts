import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import framecache from "../src/index.js";
import { collectGarbage } from "../src/store/gc.js";
import { tempDir } from "./helpers/media.js";
import { referenceProject, viteBuild } from "./helpers/project.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const ENTRY = /^hfcache-v2-[0-9a-f]{16}$/;
const framesRoot = () => join(dir, "dist/assets/frames");
const placedEntries = () => readdirSync(framesRoot()).sort();
const kept = (cache: string) => (existsSync(join(cache, ".kept")) ? readdirSync(join(cache, ".kept")) : []);
const longAgo = new Date("2020-01-01T00:00:00Z");

/** Each placed frame is the store's own file (a hard link), and nothing else is in its folder. */
function expectLinkedFromStore(cache: string): void {
  for (const entry of placedEntries()) {
    const names = readdirSync(join(framesRoot(), entry)).sort();
    expect(names).toEqual(readdirSync(join(cache, entry)).filter((n) => n.startsWith("frame_")).sort());
    for (const name of names) {
      const placed = statSync(join(framesRoot(), entry, name));
      const stored = statSync(join(cache, entry, name));
      expect([placed.ino, placed.dev]).toEqual([stored.ino, stored.dev]);
    }
  }
}

/** The entry of each video id, from the build's manifest. */
function entryById(): Record<string, string> {
  const manifest = JSON.parse(readFileSync(join(dir, "dist/framecache-manifest.json"), "utf8")) as { videos: { id: string; entry: string }[] };
  return Object.fromEntries(manifest.videos.map((v) => [v.id, v.entry]));
}

const setDuration = (from: string, to: string) => {
  const index = join(dir, "index.html");
  writeFileSync(index, readFileSync(index, "utf8").replace(`data-duration="${from}"`, `data-duration="${to}"`));
};

describe("a rebuild into the previous build's output", () => {
  it("keeps the folders of unchanged entries and drops unused ones", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const before = entryById();
    expect(placedEntries()).toEqual(Object.values(before).sort());
    // Marks that a rebuild which made the folders again would lose.
    for (const entry of placedEntries()) utimesSync(join(framesRoot(), entry), longAgo, longAgo);
    setDuration("1.5", "1.2");

    const { summary } = await viteBuild(dir, { cacheDir: cache });
    expect(summary).toContain("1 extracted");
    const after = entryById();
    expect(after.b).not.toBe(before.b);
    expect(placedEntries()).toEqual(Object.values(after).sort());
    for (const id of ["a", "n"]) expect(statSync(join(framesRoot(), after[id]!)).mtime, id).toEqual(longAgo);
    expectLinkedFromStore(cache);
    expect(existsSync(join(dir, "dist/.framecache-frames-kept"))).toBe(false);
    expect(kept(cache)).toEqual([]);
  });

  it("places again a folder whose frames are not the store's, or that holds anything else", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const { a, n } = entryById();
    const frame = join(framesRoot(), a!, "frame_00002.jpg");
    execFileSync("rm", [frame]);
    writeFileSync(frame, "edited by hand");
    writeFileSync(join(framesRoot(), n!, "notes.txt"), "left in the output");
    await viteBuild(dir, { cacheDir: cache });
    expect(placedEntries()).toEqual(Object.values(entryById()).sort());
    expectLinkedFromStore(cache);
  });

  it("gives the frames back untouched when another plugin fails the build before Vite empties the output", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const before = placedEntries();
    // Ours keeps the frames and Vite never empties the output: the marker says so. (Rollup's
    // bundles close before our buildEnd returns: vite-versions.test.ts.)
    const failing = { name: "fails-early", async buildEnd() { throw new Error("early failure"); } };
    await expect(viteBuild(dir, { cacheDir: cache }, { logLevel: "silent", plugins: [framecache({ cacheDir: cache }), failing] })).rejects.toThrow("early failure");
    expect(placedEntries()).toEqual(before);
    expectLinkedFromStore(cache);
    expect(kept(cache)).toEqual([]);
    expect(existsSync(join(dir, "dist/.framecache-frames-kept"))).toBe(false);
  });

  it("leaves nothing kept when the build fails after Vite emptied the output", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const failing = { name: "fails-late", generateBundle() { throw new Error("late failure"); } };
    await expect(viteBuild(dir, { cacheDir: cache }, { logLevel: "silent", plugins: [framecache({ cacheDir: cache }), failing] })).rejects.toThrow("late failure");
    expect(existsSync(framesRoot())).toBe(false);
    // The frames were kept (the folder exists), and dropped.
    expect(existsSync(join(cache, ".kept"))).toBe(true);
    expect(kept(cache)).toEqual([]);
    expect(readdirSync(cache).filter((n) => ENTRY.test(n))).toHaveLength(3);
  });

  it("with emptyOutDir false keeps a folder no longer used, as Vite keeps every other file", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const first = placedEntries();
    setDuration("1.5", "1.2");
    await viteBuild(dir, { cacheDir: cache }, { build: { emptyOutDir: false } });
    expect(placedEntries()).toHaveLength(4);
    expect(placedEntries()).toEqual(expect.arrayContaining(first));
    expectLinkedFromStore(cache);

    // What a build killed while it kept the frames leaves: no frames folder, and the marker.
    execFileSync("rm", ["-r", framesRoot()]);
    writeFileSync(join(dir, "dist/.framecache-frames-kept"), "stale");
    await viteBuild(dir, { cacheDir: cache }, { build: { emptyOutDir: false } });
    expect(existsSync(join(dir, "dist/.framecache-frames-kept"))).toBe(false);
    expect(placedEntries()).toEqual(Object.values(entryById()).sort());
  });

  it("places every frame in each of two outputs", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    const legacy = join(dir, "dist-legacy");
    const outputs = { build: { rollupOptions: { output: [{}, { dir: legacy }] } } };
    await viteBuild(dir, { cacheDir: cache }, outputs);
    await viteBuild(dir, { cacheDir: cache }, outputs);
    expect(placedEntries()).toEqual(Object.values(entryById()).sort());
    expect(readdirSync(join(legacy, "assets/frames")).sort()).toEqual(placedEntries());
    expectLinkedFromStore(cache);
    expect(kept(cache)).toEqual([]);
  });
});

describe("kept frames in the store", () => {
  it("are swept by gc once their build's process is gone, and spared while it runs", async () => {
    const cache = join(dir, "cache");
    const dead = execFileSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).trim();
    const host = (name: string) => `${createHash("sha256").update(hostname()).digest("hex").slice(0, 8)}-${name}`;
    for (const name of [host(`${dead}-0badf00d`), host(`${process.pid}-0000beef`), `0othrhst-${dead}-00c0ffee`]) {
      mkdirSync(join(cache, ".kept", name, "frames/hfcache-v2-0123456789abcdef"), { recursive: true });
      writeFileSync(join(cache, ".kept", name, "frames/hfcache-v2-0123456789abcdef/frame_00001.jpg"), "x");
    }
    // Another host's pid says nothing here: only its age counts.
    const stats = await collectGarbage(cache);
    expect(stats.partialsRemoved).toBe(1);
    expect(kept(cache).sort()).toEqual([`0othrhst-${dead}-00c0ffee`, host(`${process.pid}-0000beef`)].sort());
    // Held for more than an hour: its build is taken for gone even though the pid runs.
    const old = new Date(Date.now() - 2 * 3_600_000);
    for (const name of kept(cache)) utimesSync(join(cache, ".kept", name), old, old);
    expect((await collectGarbage(cache)).partialsRemoved).toBe(2);
    expect(kept(cache)).toEqual([]);
  });
});
