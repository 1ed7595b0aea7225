// `npm run bench`: each scenario side by side with its baseline, several runs, medians and ratios.
// Writes bench/results.json and bench/results.md. Media is generated once into bench/media.
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { thousandRows } from "./thousand.mjs";

const here = import.meta.dirname;
const media = join(here, "media");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
mkdirSync(media, { recursive: true });

function ffmpeg(...argv) {
  execFileSync("ffmpeg", ["-v", "error", "-y", ...argv], { stdio: "inherit" });
}

/** `seconds` of 1080p30 H.264; `gop` frames between keyframes. */
function hdClip(name, gop, seconds = 10) {
  const file = join(media, name);
  if (!existsSync(file)) ffmpeg("-f", "lavfi", "-i", `testsrc2=s=1920x1080:r=30:d=${seconds}`, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "fast", "-crf", "23", "-g", String(gop), file);
  return file;
}

/** Each file made the first time a scenario asks for it, so `--only` makes only what it runs. */
const lazyMedia = {
  // A keyframe every 2 s, as camera and screen-recorder exports and streaming encodes have.
  get hd() { return hdClip("hd10-g60.mp4", 60); },
  // x264's default of 250 frames, which puts this clip's only other keyframe at 8.33 s.
  get hdLongGop() { return hdClip("hd10-g250.mp4", 250); },
  get hd30() { return hdClip("hd30-g60.mp4", 60, 30); },
  get long() {
    const long = join(media, "long200.mp4");
    if (!existsSync(long)) ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=200", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "fast", long);
    return long;
  },
  get blob() {
    const blob = join(media, "blob-512mb.bin");
    if (!existsSync(blob)) {
      const fd = openSync(blob, "w");
      execFileSync("head", ["-c", String(512 * 2 ** 20), "/dev/urandom"], { stdio: ["ignore", fd, "inherit"] });
      closeSync(fd);
    }
    return blob;
  },
  /** 40 small sources (160×90, 10 s, a keyframe a second), each a different hue. */
  get small() {
    const dir = join(media, "small");
    mkdirSync(dir, { recursive: true });
    return Array.from({ length: 40 }, (_, i) => {
      const file = join(dir, `s${i}.mp4`);
      if (!existsSync(file)) ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x90:r=30:d=10", "-vf", `hue=h=${i * 9}`, "-c:v", "libx264", "-preset", "fast", "-g", "30", "-pix_fmt", "yuv420p", file);
      return file;
    });
  },
};

function measure(scenario, args) {
  const out = execFileSync("node", [join(here, "measure.mjs"), scenario, JSON.stringify(args)], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop());
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A scratch project with one composition; returns its root. */
function project(videos, source) {
  const root = mkdtempSync(join(tmpdir(), "framecache-bench-"));
  // A symlink out of the project is refused, as it should be; the media folder is allowed instead.
  execFileSync("ln", ["-s", source, join(root, "src.mp4")]);
  const tags = videos.map(([ms, d], i) => `<video id="v${i}" src="src.mp4" data-media-start="${ms}" data-duration="${d}"></video>`);
  writeFileSync(join(root, "index.html"), `<!doctype html><html><body><div data-fps="30">${tags.join("")}</div></body></html>`);
  return root;
}

/**
 * The engine's own ffmpeg command for each video of a project, writing into `outDirs`:
 * planned through the Engine (probe and keyframe table included) by `Engine.commandFor`,
 * so the baseline is exactly what framecache runs, minus framecache.
 */
function rawCommands(root, outDirs) {
  for (const d of outDirs) mkdirSync(d, { recursive: true });
  const { ffmpeg, commands } = measure("plan", { allow: [media], root, compositions: ["index.html"], outDirs });
  return commands.map((argv) => ({ ffmpeg, argv }));
}

function scratch() {
  return mkdtempSync(join(tmpdir(), "framecache-bench-out-"));
}

/** Run `ours` and `base` alternately RUNS times; `setup` runs untimed before each pair. */
function pair(name, { ours, base, setup = () => ({}), target }) {
  const a = [];
  const b = [];
  let extra = {};
  for (let i = 0; i < RUNS; i++) {
    const ctx = setup();
    const mine = ours(ctx);
    a.push(mine.ms);
    extra = mine;
    b.push(base(ctx).ms);
    ctx.cleanup?.();
  }
  const row = { scenario: name, ours: median(a), baseline: median(b), ratio: median(a) / median(b), target, rssMB: extra.rssMB };
  console.log(`${name.padEnd(44)} ${row.ours.toFixed(0).padStart(7)} ms  vs ${row.baseline.toFixed(0).padStart(7)} ms  ratio ${row.ratio.toFixed(3)}  (${target})`);
  return row;
}

// `--only twelve,thousand` runs those scenarios alone and writes bench/results.only.{json,md}.
const onlyArg = process.argv.find((a) => a.startsWith("--only"));
const only = onlyArg && (onlyArg.includes("=") ? onlyArg.split("=")[1] : process.argv[process.argv.indexOf(onlyArg) + 1]).split(",");
const SCENARIOS = ["cold", "warm", "trim", "overlap", "twelve", "segments", "emit", "digest", "thousand"];
if (only?.some((name) => !SCENARIOS.includes(name))) throw new Error(`--only takes ${SCENARIOS.join(", ")}`);
const selected = (name) => !only || only.includes(name);
// Other work on the machine skews every number; the load average is recorded beside them.
const loadBefore = loadavg()[0];
const rows = [];

/** A fresh store against the engine's own ffmpeg command for the same video, run directly. */
function cold(source, seconds) {
  return {
    setup: () => {
      const root = project([[0, seconds]], source);
      const out = scratch();
      const [raw] = rawCommands(root, [out]);
      return { root, raw, cleanup: () => (rmSync(root, { recursive: true, force: true }), rmSync(out, { recursive: true, force: true })) };
    },
    ours: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "cache"), compositions: ["index.html"] }),
    base: ({ raw }) => measure("ffmpeg", raw),
  };
}

if (selected("cold")) {
  rows.push(pair("cold: 8 s of 1080p vs the same ffmpeg command", { ...cold(lazyMedia.hd, 8), target: "≤ 1.05" }));
  // The same fixed cost over a longer clip.
  rows.push(pair("cold: 30 s of 1080p vs the same ffmpeg command", { ...cold(lazyMedia.hd30, 30), target: "≤ 1.05" }));
}

if (selected("warm")) {
  rows.push(
    pair("warm: all hits vs cold", {
      setup: () => {
        const root = project([[0, 8]], lazyMedia.hd);
        return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
      },
      base: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "cold-cache"), compositions: ["index.html"] }),
      ours: ({ root }) => {
        measure("engine", { allow: [media], root, cacheDir: join(root, "cache"), compositions: ["index.html"] });
        return measure("engine", { allow: [media], root, cacheDir: join(root, "cache"), compositions: ["index.html"] });
      },
      target: "≤ 0.05",
    }),
  );
}

if (selected("trim")) {
  /** A 9 s window where an 8 s one was extracted, against a fresh 9 s extraction. */
  function trimEdit(source) {
    return {
      setup: () => {
        const root = project([[0, 8]], source);
        measure("engine", { allow: [media], root, cacheDir: join(root, "cache"), compositions: ["index.html"] });
        writeFileSync(join(root, "index.html"), readFileSync(join(root, "index.html"), "utf8").replace('data-duration="8"', 'data-duration="9"'));
        return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
      },
      ours: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "cache"), compositions: ["index.html"] }),
      base: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "fresh-cache"), compositions: ["index.html"] }),
    };
  }

  rows.push(pair("trim edit 8 s → 9 s vs a fresh 9 s extraction", { ...trimEdit(lazyMedia.hd), target: "≤ 0.35" }));
  // The missing second starts at 8 s, past the last keyframe but one: it decodes from 0 s.
  rows.push(pair("the same with keyframes 8.33 s apart", { ...trimEdit(lazyMedia.hdLongGop), target: "(shows the decode floor)" }));
}

if (selected("overlap")) {
  rows.push(
    pair("two 8 s trims 1 s apart vs two separate extractions", {
      setup: () => {
        const root = project([[0, 8], [1, 8]], lazyMedia.hd);
        const out = scratch();
        const raw = rawCommands(root, [join(out, "a"), join(out, "b")]);
        return { root, raw, cleanup: () => (rmSync(root, { recursive: true, force: true }), rmSync(out, { recursive: true, force: true })) };
      },
      ours: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "cache"), compositions: ["index.html"] }),
      base: ({ raw }) => ({ ms: raw.reduce((sum, command) => sum + measure("ffmpeg", command).ms, 0) }),
      target: "≤ 0.67 (1.5× faster)",
    }),
  );
}

if (selected("twelve")) {
  // Twelve short clips spread over a 30 s source, each seeking to its own keyframe: with one
  // process per clip, ffmpeg's start-up is a large part of each; batched, it is paid per batch.
  const twelve = Array.from({ length: 12 }, (_, i) => [i * 2.5, 0.5]);
  rows.push(
    pair("twelve 0.5 s clips of 30 s of 1080p vs twelve ffmpeg runs", {
      setup: () => {
        const root = project(twelve, lazyMedia.hd30);
        const out = scratch();
        const raw = rawCommands(root, twelve.map((_, i) => join(out, String(i))));
        return { root, raw, cleanup: () => (rmSync(root, { recursive: true, force: true }), rmSync(out, { recursive: true, force: true })) };
      },
      ours: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "cache"), compositions: ["index.html"] }),
      base: ({ raw }) => ({ ms: raw.reduce((sum, command) => sum + measure("ffmpeg", command).ms, 0) }),
      target: "≤ 0.70",
    }),
  );
}

if (selected("segments")) {
  rows.push(
    pair("200 s clip (6000 frames) in 2 segments vs one pass", {
      setup: () => {
        const root = project([[0, 200]], lazyMedia.long);
        return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
      },
      ours: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "seg-cache"), compositions: ["index.html"], segments: 2 }),
      base: ({ root }) => measure("engine", { allow: [media], root, cacheDir: join(root, "one-cache"), compositions: ["index.html"], segments: 1 }),
      target: "sets the default",
    }),
  );
}

if (selected("emit")) {
  const bigRoot = project([[0, 200]], lazyMedia.long);
  measure("engine", { allow: [media], root: bigRoot, cacheDir: join(bigRoot, "cache"), compositions: ["index.html"] });
  rows.push(
    pair("warm vite build emitting 6000 frames (minus the build without the plugin) vs cp -r", {
      setup: () => {
        rmSync(join(bigRoot, "dist"), { recursive: true, force: true });
        const entry = execFileSync("ls", [join(bigRoot, "cache")], { encoding: "utf8" }).split("\n").find((n) => n.startsWith("hfcache-v2-"));
        const out = scratch();
        return { from: join(bigRoot, "cache", entry), to: join(out, "copy"), cleanup: () => rmSync(out, { recursive: true, force: true }) };
      },
      // The emit alone: Vite's own start-up and build of the page are not framecache's.
      ours: () => {
        const build = measure("vite", { root: bigRoot, allow: [media] });
        // Into an empty output too: emptying the frames just placed is not Vite's own work.
        rmSync(join(bigRoot, "dist"), { recursive: true, force: true });
        const bare = measure("vite", { root: bigRoot, allow: [media], plugin: false });
        return { ...build, ms: build.ms - bare.ms, buildMs: build.ms };
      },
      base: ({ from, to }) => measure("cp", { from, to }),
      target: "≤ 1.0, RSS ≤ 250 MB",
    }),
  );
  rmSync(bigRoot, { recursive: true, force: true });
}

if (selected("digest")) {
  execFileSync("cat", [lazyMedia.blob], { stdio: "ignore", maxBuffer: 2 ** 30 });
  const digests = Array.from({ length: RUNS }, () => measure("digest", { file: lazyMedia.blob }).ms);
  const gbps = 512 * 2 ** 20 / 1e9 / (median(digests) / 1000);
  console.log(`content digest of a page-cached 512 MiB file: ${gbps.toFixed(2)} GB/s (target ≥ 1 GB/s)`);
  rows.push({ scenario: "content digest throughput (GB/s)", ours: gbps, baseline: 1, ratio: gbps, target: "≥ 1 GB/s" });
}

if (selected("thousand")) rows.push(...thousandRows({ sources: lazyMedia.small, measure, median, runs: RUNS }));

const machine = `${execFileSync("nproc", { encoding: "utf8" }).trim()} cores, ${execFileSync("ffmpeg", ["-version"], { encoding: "utf8" }).split("\n")[0]}`;
const load = { before: loadBefore, after: loadavg()[0] };
// A partial run does not replace the full table.
const out = only ? "results.only" : "results";
writeFileSync(join(here, `${out}.json`), JSON.stringify({ machine, load, runs: RUNS, date: new Date().toISOString(), rows }, null, 2) + "\n");
const table = [
  `Machine: ${machine}; 1-minute load average ${load.before.toFixed(1)} before, ${load.after.toFixed(1)} after; median of ${RUNS} runs each, measured side by side.`,
  "",
  "| scenario | framecache | baseline | ratio | target |",
  "|---|---:|---:|---:|---|",
  ...rows.map((r) =>
    r.scenario.includes("GB/s")
      ? `| ${r.scenario} | ${r.ours.toFixed(2)} GB/s | | | ${r.target} |`
      : r.unit
        ? `| ${r.scenario} | ${r.ours.toFixed(3)} ms | ${r.baseline.toFixed(3)} ms | ${r.ratio.toFixed(3)} | ${r.target} |`
        : `| ${r.scenario} | ${r.ours.toFixed(0)} ms${r.rssMB ? ` (peak RSS ${r.rssMB.toFixed(0)} MB)` : ""} | ${r.baseline.toFixed(0)} ms | ${r.ratio.toFixed(3)} | ${r.target} |`,
  ),
];
writeFileSync(join(here, `${out}.md`), table.join("\n") + "\n");
console.log("\n" + table.join("\n"));
