// One measured step in a fresh process: prints {"ms", "rssMB"} as JSON on stdout.
// Usage: node bench/measure.mjs <scenario> <json-args>
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";

const [scenario, rawArgs = "{}"] = process.argv.slice(2);
const args = JSON.parse(rawArgs);
const dist = resolve(import.meta.dirname, "../dist");

async function engineRun({ root, cacheDir, compositions, allow = [], segments, batch }) {
  const { Engine, resolveOptions } = await import(join(dist, "internal.js"));
  const engine = new Engine({ root, allow, options: resolveOptions({ cacheDir }), logger: { info() {}, warn() {} }, segments, batch });
  const { results, errors } = await engine.run(compositions.map((c) => join(root, c)));
  await engine.dispose();
  if (errors.length) throw errors[0];
  return { hits: engine.report.cacheHits, misses: engine.report.cacheMisses, frames: results.reduce((n, r) => n + r.entry.frames, 0) };
}

/** The exact ffmpeg command the engine would run for each video (planned, not run), with its ffmpeg. */
async function plan({ root, compositions, allow = [], outDirs }) {
  const { Engine, resolveOptions } = await import(join(dist, "internal.js"));
  const engine = new Engine({ root, allow, options: resolveOptions({}), logger: { info() {}, warn() {} } });
  const { compositions: loaded } = await engine.load(compositions.map((c) => join(root, c)));
  const videos = (await Promise.all([...loaded.values()].map((c) => engine.plan(c)))).flatMap((p) => p.videos);
  const { ffmpeg } = await engine.binaries();
  const commands = await Promise.all(videos.map((v, i) => engine.commandFor(v.task, outDirs[i])));
  await engine.dispose();
  return { ffmpeg: ffmpeg.path, commands };
}

/** `plugin: false` builds the same project without framecache: Vite's own share of a build. */
async function viteBuild({ root, allow = [], options = {}, plugin = true }) {
  const { build } = await import("vite");
  const framecache = (await import(join(dist, "index.js"))).default;
  const plugins = plugin ? [framecache({ cacheDir: join(root, "cache"), ...options })] : [];
  await build({ root, configFile: false, logLevel: "silent", server: { fs: { allow: [root, ...allow] } }, plugins });
  return {};
}

/** `framecache extract` as a user runs it, in this process: its time includes loading the CLI. */
async function cli({ cwd, argv }) {
  const { execFileSync } = await import("node:child_process");
  execFileSync("node", [join(dist, "cli.js"), ...argv], { cwd, stdio: "ignore" });
  // This process's peak would say nothing about the CLI's; the engine scenario reports that.
  return { rssMB: undefined };
}

/** The hashing alone: loading the module is not part of a digest's throughput. */
async function digest({ file }) {
  const { digestFile } = await import(join(dist, "internal.js"));
  const started = performance.now();
  await digestFile(file);
  return { ms: performance.now() - started };
}

const scenarios = {
  engine: engineRun,
  plan,
  vite: viteBuild,
  cli,
  digest,
  ffmpeg: async ({ ffmpeg = "ffmpeg", argv }) => (execFileSync(ffmpeg, argv, { stdio: "ignore" }), {}),
  cp: async ({ from, to }) => (execFileSync("cp", ["-r", from, to]), {}),
};

const started = performance.now();
const detail = await scenarios[scenario](args);
const ms = performance.now() - started;
const rssMB = process.resourceUsage().maxRSS / 1024;
// A scenario may time its own core (`detail.ms`), leaving out its set-up.
process.stdout.write(JSON.stringify({ ms, rssMB, ...detail }) + "\n");
