import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { badInputProject, manifestFrames } from "./helpers/bad-input.js";
import { makeCodedVideo, range, readFrameNumbers } from "./helpers/media.js";
import { viteBuild, writeFiles, type BuildError } from "./helpers/project.js";

/** Inputs that warn and go on, sources and compositions outside the root, and file names with odd characters. */

let dir: string;
let root: string;
let cache: string;
const { cli, composition, expectCleanStore } = badInputProject((made) => ({ dir, root, cache } = made));

describe("inputs that warn and go on", () => {
  it("an inline src, and a remote one with remoteSources off: skipped with one warning naming its location, not an error", async () => {
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
    writeFiles(root, {
      "index.html": `<div data-fps="30">\n  <video id="r" src="data:video/mp4;base64,example.com"></video>\n  <video id="ok" src="media/clip.mp4"></video>\n</div>\n`,
    });
    const run = await cli(["extract", "index.html", "--cache-dir", cache]);
    expect(run.exitCode).toBe(0);
    const inline = run.stderr.split("\n").filter((l) => l.includes("example.com"));
    expect(inline).toEqual([expect.stringMatching(/^index\.html:2:3: video "r" has an inline src \(data:video\/mp4;base64,example\.com\) and is not extracted$/)]);
    writeFiles(root, {
      "index.html": `<div data-fps="30">\n  <video id="r" src="https://example.com/clip.mp4?sig=hush"></video>\n  <video id="ok" src="media/clip.mp4"></video>\n</div>\n`,
    });
    const built = await viteBuild(root, { cacheDir: cache, remoteSources: false });
    expect(built.warnings.find((w) => w.includes("example.com"))).toMatch(/^index\.html:2:3: video "r" has a remote src \(https:\/\/example\.com\/clip\.mp4\?REDACTED\) and remoteSources is false: not extracted$/);
    expect(built.warnings.filter((w) => w.includes("example.com"))).toHaveLength(1);
    expect(built.summary).toMatch(/1 videos · 1 hit/);
    await expectCleanStore();
  });

  it("attribute values that are not numbers: a warning at the attribute, the attribute ignored", async () => {
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 2 });
    const line = `  <video id="v" src="media/clip.mp4" data-media-start="one" data-duration="1s" data-playback-rate="fast"></video>`;
    writeFiles(root, { "index.html": `<div data-fps="30">\n${line}\n</div>\n` });
    const run = await cli(["extract", "index.html", "--cache-dir", cache, "--out", "out"]);
    expect(run.exitCode, run.stderr).toBe(0);
    for (const [name, value] of [["data-media-start", "one"], ["data-duration", "1s"], ["data-playback-rate", "fast"]] as const) {
      const col = line.indexOf(name) + 1;
      expect(run.stderr.match(new RegExp(`${name}="${value}"`, "g")), name).toHaveLength(1);
      expect(run.stderr).toContain(`index.html:2:${col}: ${name}="${value}" is not a number and is ignored`);
    }
    // All three ignored: the whole source from its start, at rate 1.
    expect(readFrameNumbers(join(root, "out", manifestFrames(join(root, "out"))[0]!))).toEqual(range(0, 60));
    await expectCleanStore();
  });

  it("a read-only cache directory: one warning, and the work goes on uncached", async (ctx) => {
    // Root ignores mode bits; the immutable flag stops it (as test/store-build.test.ts does for vite build).
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
    composition(`<video id="v" src="media/clip.mp4"></video>`);
    try {
      execFileSync("chattr", ["+i", cache], { stdio: "ignore" });
    } catch {
      ctx.skip("chattr +i is not available here");
    }
    try {
      const run = await cli(["extract", "index.html", "--cache-dir", cache, "--out", "out"]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr.match(/cannot be written/g)).toHaveLength(1);
      expect(readFrameNumbers(join(root, "out", manifestFrames(join(root, "out"))[0]!))).toEqual(range(0, 30));
    } finally {
      execFileSync("chattr", ["-i", cache], { stdio: "ignore" });
    }
    expect(readdirSync(cache)).toEqual([]);
  });
});

describe("a src outside the root that server.fs.allow permits", () => {
  it("is extracted by vite build, frames right", async () => {
    const outside = join(dir, "shared-media");
    mkdirSync(outside);
    makeCodedVideo(join(outside, "clip.mp4"), { seconds: 1 });
    composition(`<video id="v" src="/@fs${outside}/clip.mp4" data-media-start="0.5"></video>`);
    await viteBuild(root, { cacheDir: cache }, { server: { fs: { allow: [root, outside] } } });
    expect(readFrameNumbers(join(root, "dist", manifestFrames(join(root, "dist"))[0]!))).toEqual(range(15, 15));
    await expectCleanStore();
  });

  it("a composition there is refused at its reference: the build writes each composition at its own path", async () => {
    const outside = join(dir, "shared");
    writeFiles(outside, { "comp.html": `<div data-fps="30"></div>\n` });
    composition(`<div id="nested" data-composition-src="/@fs${outside}/comp.html"></div>`);
    let error: BuildError | undefined;
    await viteBuild(root, { cacheDir: cache }, { logLevel: "silent", server: { fs: { allow: [root, outside] } } }).catch((e: { errors?: BuildError[] }) => {
      error = e.errors?.[0] ?? (e as BuildError);
    });
    expect(error?.pluginCode).toBe("FC_OUTSIDE_ROOT");
    expect(error?.loc).toMatchObject({ file: join(root, "index.html"), line: 3 });
    expect(error?.message).toContain(`resolves to ${outside}/comp.html, outside the project root`);
  });
});

describe("a composition outside the root given to the CLI", () => {
  it("is refused, and nothing is written outside --out or over the source", async () => {
    // The sibling app has a clip of the same name: a relative src must never find it instead.
    mkdirSync(join(root, "media"));
    makeCodedVideo(join(root, "media/clip.mp4"), { seconds: 1 });
    const site = join(dir, "site");
    mkdirSync(join(site, "media"), { recursive: true });
    makeCodedVideo(join(site, "media/clip.mp4"), { seconds: 2 });
    const page = `<div data-fps="30"><video id="v" src="media/clip.mp4"></video></div>\n`;
    writeFiles(site, { "index.html": page });
    const run = await cli(["extract", "../site/index.html", "--cache-dir", cache, "--out", "."]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`error [FC_OUTSIDE_ROOT] composition ${site}/index.html is outside the project root ${root}`);
    expect(run.stderr).toContain("--root widens it");
    expect(readFileSync(join(site, "index.html"), "utf8")).toBe(page);
    expect(readdirSync(root).sort()).toEqual(["framecache-manifest.json", "media"]);

    // With a root that holds it, its src is its own folder's clip: 60 frames, not 30.
    const widened = await cli(["extract", "../site/index.html", "--root", "..", "--cache-dir", cache, "--out", "out"]);
    expect(widened.exitCode, widened.stderr).toBe(0);
    expect(widened.stdout).toMatch(/1 videos · 0 hit · 1 extracted · 60 frames/);
    expect(readFileSync(join(root, "out/site/index.html"), "utf8")).toContain('data-frame-count="60"');
  });
});

describe("file names with spaces, unicode, % and a leading -", () => {
  const names = ["my clip.mp4", "клип ü 🎬.mp4", "100%.mp4", "-leading.mp4"];
  const srcs = ["media/my clip.mp4", "media/клип ü 🎬.mp4", "media/100%25.mp4", "media/-leading.mp4"];

  it("work through the CLI and vite build, with a cache path holding the same characters, frames right", async () => {
    mkdirSync(join(root, "media"));
    const source = makeCodedVideo(join(dir, "source.mp4"), { seconds: 2 });
    for (const name of names) copyFileSync(source, join(root, "media", name));
    const videos = srcs.map((src, i) => `<video id="v${i}" src="${src}" data-media-start="${i * 0.5}" data-duration="0.5"></video>`);
    writeFiles(root, { "index.html": `<div data-fps="30">\n  ${videos.join("\n  ")}\n</div>\n` });
    const odd = join(dir, "-cache 100% ü");
    const run = await cli(["extract", "index.html", "--cache-dir", odd, "--out", "out"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/4 videos · 0 hit · 4 extracted · 60 frames/);
    const expectFrames = (out: string) => {
      const frames = manifestFrames(out);
      expect(frames).toHaveLength(4);
      frames.forEach((f, i) => expect(readFrameNumbers(join(out, f)), srcs[i]).toEqual(range(i * 15, 15)));
    };
    expectFrames(join(root, "out"));
    const built = await viteBuild(root, { cacheDir: odd });
    expect(built.summary).toMatch(/4 videos · 4 hit/);
    expectFrames(join(root, "dist"));
    await expectCleanStore(odd);
  }, 120_000);
});
