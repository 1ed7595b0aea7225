import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { countingFfmpeg, range, readFrameNumbers, tempDir } from "./helpers/media.js";
import { referenceProject } from "./helpers/project.js";

const CLI = join(__dirname, "../dist/cli.js");

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe("framecache extract", () => {
  it("warms the store, writes frames and a manifest with --out, and reports JSON", async () => {
    referenceProject(dir);
    const ffmpeg = countingFfmpeg(dir);
    const env = { FFMPEG_PATH: ffmpeg.path };
    const args = [CLI, "extract", "index.html", "--cache-dir", "cache", "--out", "out", "--json"];

    const cold = await execa("node", args, { cwd: dir, env });
    const report = JSON.parse(cold.stdout);
    expect(report).toMatchObject({ videos: 3, cacheHits: 0, cacheMisses: 3, framesWritten: 105 });
    for (const phase of ["scanMs", "probeMs", "hashMs", "extractMs", "emitMs"]) expect(report[phase]).toBeTypeOf("number");
    const manifest = JSON.parse(readFileSync(join(dir, "out/framecache-manifest.json"), "utf8"));
    const b = manifest.videos.find((v: { id: string }) => v.id === "b");
    expect(readFrameNumbers(join(dir, "out", b.frames, ".."))).toEqual(range(60, 45));
    expect(readFileSync(join(dir, "out/scenes/intro.html"), "utf8")).toContain('data-frame-count="30"');

    const warm = await execa("node", [CLI, "extract", "index.html", "--cache-dir", "cache"], { cwd: dir, env });
    expect(warm.stdout).toMatch(/^framecache {2}3 videos · 3 hit · 0 extracted · 105 frames/);
    expect(ffmpeg.runs()).toBe(2);
  });

  it("exits 1 naming every failing video, and 2 on a usage error", async () => {
    referenceProject(dir);
    const html = readFileSync(join(dir, "index.html"), "utf8").replace(/media\/clip\.mp4/g, "media/missing.mp4");
    await import("node:fs").then((fs) => fs.writeFileSync(join(dir, "bad.html"), html));
    const failed = await execa("node", [CLI, "extract", "bad.html", "--cache-dir", "cache"], { cwd: dir, reject: false });
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toMatch(/bad\.html:4:3: video "a" src="\.\/media\/missing\.mp4" was not found/);
    expect(failed.stderr).toMatch(/bad\.html:5:3: video "b"/);

    const usage = await execa("node", [CLI, "extract", "index.html", "--fps", "29.97"], { cwd: dir, reject: false });
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain("FC_BAD_OPTION");
  });
});
