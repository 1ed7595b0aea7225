import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
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

describe("a rebuild into the previous build's output", () => {
  it("keeps the folders of unchanged entries, drops unused ones, and replaces any folder that is not the store's frames", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const first = placedEntries();
    expect(first).toHaveLength(3);
    // Marks that a rebuild which re-created the folders would lose.
    for (const entry of first) utimesSync(join(framesRoot(), entry), longAgo, longAgo);
    const [tampered, extra] = first;
    const frame = join(framesRoot(), tampered!, "frame_00002.jpg");
    execFileSync("rm", [frame]);
    writeFileSync(frame, "edited by hand");
    writeFileSync(join(framesRoot(), extra!, "notes.txt"), "left in the output");
    const index = join(dir, "index.html");
    writeFileSync(index, readFileSync(index, "utf8").replace('data-duration="1.5"', 'data-duration="1.2"'));

    const { summary } = await viteBuild(dir, { cacheDir: cache });
    expect(summary).toContain("1 extracted");
    const second = placedEntries();
    expect(second).toHaveLength(3);
    const gone = first.filter((e) => !second.includes(e));
    expect(gone).toHaveLength(1);
    for (const entry of second.filter((e) => first.includes(e))) {
      const untouched = entry !== tampered && entry !== extra;
      expect(statSync(join(framesRoot(), entry)).mtime.getTime() === longAgo.getTime(), entry).toBe(untouched);
    }
    expectLinkedFromStore(cache);
    expect(kept(cache)).toEqual([]);
  });

  it("leaves nothing kept when the build fails after extracting, and the output is emptied as Vite does", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const failing = { name: "fails-late", generateBundle() { throw new Error("late failure"); } };
    await expect(viteBuild(dir, { cacheDir: cache }, { logLevel: "silent", plugins: [framecache({ cacheDir: cache }), failing] })).rejects.toThrow("late failure");
    expect(existsSync(framesRoot())).toBe(false);
    expect(kept(cache)).toEqual([]);
    expect(readdirSync(cache).filter((n) => ENTRY.test(n))).toHaveLength(3);
  });

  it("with emptyOutDir false keeps a folder no longer used, as Vite keeps every other file", async () => {
    referenceProject(dir);
    const cache = join(dir, "cache");
    await viteBuild(dir, { cacheDir: cache });
    const first = placedEntries();
    const index = join(dir, "index.html");
    writeFileSync(index, readFileSync(index, "utf8").replace('data-duration="1.5"', 'data-duration="1.2"'));
    await viteBuild(dir, { cacheDir: cache }, { build: { emptyOutDir: false } });
    expect(placedEntries()).toHaveLength(4);
    expect(placedEntries()).toEqual(expect.arrayContaining(first));
    expectLinkedFromStore(cache);
  });
});

describe("kept frames in the store", () => {
  it("are swept by gc once their build's process is gone, and spared while it runs", async () => {
    const cache = join(dir, "cache");
    const dead = execFileSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).trim();
    for (const name of [`${dead}-0badf00d`, `${process.pid}-0000beef`]) {
      mkdirSync(join(cache, ".kept", name, "hfcache-v2-0123456789abcdef"), { recursive: true });
      writeFileSync(join(cache, ".kept", name, "hfcache-v2-0123456789abcdef/frame_00001.jpg"), "x");
    }
    const stats = await collectGarbage(cache);
    expect(stats.partialsRemoved).toBe(1);
    expect(kept(cache)).toEqual([`${process.pid}-0000beef`]);
    // Held for more than an hour: its build is taken for gone even though the pid runs.
    const old = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(join(cache, ".kept", `${process.pid}-0000beef`), old, old);
    expect((await collectGarbage(cache)).partialsRemoved).toBe(1);
    expect(kept(cache)).toEqual([]);
  });
});
