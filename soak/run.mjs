// `npm run soak -- --seconds 900`: a real `vite dev` server on ~20 compositions, driven for a while
// with edits, replaced and deleted videos, added and removed compositions, page and frame requests,
// `vite build` and `framecache gc` beside it, and one build killed with SIGKILL. Every frame served
// is checked against the source bytes it was made from. Prints a JSON summary; exits 1 on a failure.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createServer } from "vite";
import framecache from "../dist/index.js";
import { decodeNumbers, makeSource } from "./media.mjs";

const run = promisify(execFile);
const here = import.meta.dirname;
const CLI = join(here, "../dist/cli.js");
const seconds = Number(process.argv[process.argv.indexOf("--seconds") + 1] || 60);
const dir = mkdtempSync(join(tmpdir(), "framecache-soak-"));
const cache = join(dir, "cache");
const SOURCES = 8;
const COMPOSITIONS = 20;

const figures = { operations: {}, pagesChecked: 0, framesServed: 0, framesChecked: 0, framesRefused: 0, faults: { killedBuilds: 0, deletedVideos: 0, replacedVideos: 0 }, builds: 0, gcRuns: 0 };
const failures = [];
let unhandled = 0;
process.on("unhandledRejection", (error) => {
  unhandled++;
  failures.push(`unhandled rejection: ${error?.stack ?? error}`);
});

/** Each source path's generations: digest → the frame number its first frame shows. */
const generations = new Map();
/** When each source (`media/sN.mp4`) last changed: a page fetched before that may name frames that will never be made. */
const changedAt = new Map();
let nextOffset = 0;
function writeSource(i) {
  const file = join(dir, `media/s${i}.mp4`);
  const offset = (nextOffset += 40);
  const temp = `${file}.tmp.mp4`;
  makeSource(temp, offset % 4000);
  const digest = createHash("sha256").update(readFileSync(temp)).digest("hex");
  generations.set(digest, { file, offset: offset % 4000 });
  renameSync(temp, file);
  changedAt.set(`media/s${i}.mp4`, performance.now());
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const STARTS = [0, 0.1, 0.2, 0.3];
function composition(i) {
  const videos = [0, 1, 2].map((j) => {
    const ms = pick(STARTS);
    return `  <video id="v${j}" src="media/s${(i + j) % SOURCES}.mp4" data-start="${j * 0.5}" data-duration="${pick([0.3, 0.5])}" data-media-start="${ms}"></video>`;
  });
  return `<!doctype html>\n<div data-composition-id="c${i}" data-fps="30">\n${videos.join("\n")}\n</div>\n`;
}

mkdirSync(join(dir, "media"), { recursive: true });
for (let i = 0; i < SOURCES; i++) writeSource(i);
const pages = new Set();
for (let i = 0; i < COMPOSITIONS; i++) {
  writeFileSync(join(dir, `c${i}.html`), composition(i));
  pages.add(`c${i}.html`);
}
writeFileSync(
  join(dir, "build.mjs"),
  `import { build } from ${JSON.stringify(join(here, "../node_modules/vite/dist/node/index.js"))};
import framecache from ${JSON.stringify(join(here, "../dist/index.js"))};
const input = Object.fromEntries(process.argv.slice(3).map((p) => [p, p]));
await build({ root: ${JSON.stringify(dir)}, configFile: false, logLevel: "silent", build: { outDir: process.argv[2], rollupOptions: { input } }, plugins: [framecache({ cacheDir: ${JSON.stringify(cache)} })] });
`,
);

const logger = { info() {}, warn() {}, warnOnce() {}, error() {}, clearScreen() {}, hasErrorLogged: () => false, hasWarned: false };
const server = await createServer({ root: dir, configFile: false, logLevel: "silent", customLogger: logger, plugins: [framecache({ cacheDir: cache })], server: { host: "127.0.0.1", port: 0 } });
await server.listen();
const origin = `http://127.0.0.1:${server.httpServer.address().port}`;

/** Request a page and some of its frames; check each frame against the entry's source generation and media start. */
async function checkPage(page) {
  const fetchedAt = performance.now();
  const res = await fetch(`${origin}/${page}`);
  if (res.status !== 200) return;
  const html = await res.text();
  figures.pagesChecked++;
  const checks = [];
  for (const [, tag] of html.matchAll(/(<video[^>]*>)/g)) {
    const frames = /data-frames="\/@framecache\/(hfcache-v2-[0-9a-f]{16})\/frame_%05d\.jpg"/.exec(tag)?.[1];
    if (!frames) continue; // a deleted source: the page shows the error instead
    const src = /src="([^"]+)"/.exec(tag)[1];
    const ms = Number(/data-media-start="([^"]+)"/.exec(tag)[1]);
    const count = Number(/data-frame-count="(\d+)"/.exec(tag)[1]);
    checks.push({ entry: frames, src, ms, k: 1 + Math.floor(Math.random() * count), fetchedAt });
  }
  await checkFrames(checks, page);
}

/** Old frame URLs too: an entry being replaced answers with its own frames or not at all, never with others. */
const seen = [];
async function checkFrames(checks, page) {
  const batch = mkdtempSync(join(dir, "check-"));
  const expected = [];
  for (const c of checks) {
    const res = await fetch(`${origin}/@framecache/${c.entry}/frame_${String(c.k).padStart(5, "0")}.jpg`);
    if (res.status !== 200) {
      // The source changed after the page was served: its extraction may rightly have been refused.
      if ((changedAt.get(c.src) ?? 0) >= c.fetchedAt) figures.framesRefused++;
      else if (!c.old) failures.push(`${page}: frame ${c.k} of ${c.entry} answered ${res.status}`);
      continue;
    }
    figures.framesServed++;
    const sentinel = JSON.parse(readFileSync(join(cache, c.entry, ".hf-complete"), "utf8"));
    const generation = generations.get(sentinel.input.p.replace("sha256:", ""));
    if (!generation) failures.push(`${c.entry}: made from bytes no source ever had`);
    else if (!c.old && !generation.file.endsWith(c.src)) failures.push(`${page}: ${c.entry} was made from ${generation.file}, the page shows ${c.src}`);
    else if (!c.old && Math.abs(sentinel.input.ms - c.ms) > 1e-9) failures.push(`${page}: ${c.entry} starts at ${sentinel.input.ms}, the page says ${c.ms}`);
    writeFileSync(join(batch, `frame_${String(expected.length + 1).padStart(5, "0")}.jpg`), Buffer.from(await res.arrayBuffer()));
    expected.push({ c, want: (generation?.offset ?? -1) + Math.round(sentinel.input.ms * 30) + c.k - 1 });
    if (!c.old) seen.push({ ...c, old: true });
  }
  if (expected.length > 0) {
    const got = await decodeNumbers(batch, expected.length);
    expected.forEach(({ c, want }, i) => {
      figures.framesChecked++;
      if (got[i] !== want) failures.push(`${page}: frame ${c.k} of ${c.entry} shows ${got[i]}, not ${want}`);
    });
  }
  rmSync(batch, { recursive: true, force: true });
}

const ops = {
  async editAttributes() {
    const i = Math.floor(Math.random() * COMPOSITIONS);
    writeFileSync(join(dir, `c${i}.html`), composition(i));
    await new Promise((r) => setTimeout(r, 150));
    await checkPage(`c${i}.html`);
  },
  async replaceVideo() {
    writeSource(Math.floor(Math.random() * SOURCES));
    figures.faults.replacedVideos++;
    await new Promise((r) => setTimeout(r, 300));
    await checkPage(pick([...pages]));
  },
  async deleteVideo() {
    const i = Math.floor(Math.random() * SOURCES);
    rmSync(join(dir, `media/s${i}.mp4`), { force: true });
    changedAt.set(`media/s${i}.mp4`, performance.now());
    figures.faults.deletedVideos++;
    await checkPage(`c${i}.html`);
    writeSource(i);
  },
  async addComposition() {
    const page = `extra-${Math.floor(Math.random() * 4)}.html`;
    writeFileSync(join(dir, page), composition(Math.floor(Math.random() * 100)));
    pages.add(page);
    await checkPage(page);
  },
  async removeComposition() {
    const extra = [...pages].filter((p) => p.startsWith("extra-"));
    if (extra.length === 0) return;
    const page = pick(extra);
    pages.delete(page);
    rmSync(join(dir, page), { force: true });
  },
  async requestPage() {
    await checkPage(pick([...pages]));
  },
  async requestOldFrames() {
    await checkFrames(seen.splice(0, 5), "old frames");
  },
};
const weights = [["editAttributes", 3], ["replaceVideo", 2], ["deleteVideo", 1], ["addComposition", 1], ["removeComposition", 1], ["requestPage", 4], ["requestOldFrames", 2]];
const table = weights.flatMap(([name, w]) => Array(w).fill(name));

let killed = false;
async function buildBeside() {
  const out = join(dir, `dist-${figures.builds}`);
  const child = spawn("node", [join(dir, "build.mjs"), out, ...[...pages].filter((p) => p.startsWith("c")).slice(0, 6)], { stdio: "ignore" });
  if (!killed) {
    killed = true;
    setTimeout(() => child.kill("SIGKILL"), 1200);
    figures.faults.killedBuilds++;
  }
  await new Promise((r) => child.on("exit", r));
  figures.builds++;
  rmSync(out, { recursive: true, force: true });
}
const gc = () => run("node", [CLI, "gc", "--cache-dir", cache, "--max-size", "20MB"]).then(() => figures.gcRuns++, (e) => failures.push(`gc failed: ${e.stderr ?? e.message}`));

const started = Date.now();
const rss = [];
let besides = Promise.resolve();
let lastBeside = 0;
while (Date.now() - started < seconds * 1000) {
  const name = pick(table);
  figures.operations[name] = (figures.operations[name] ?? 0) + 1;
  await ops[name]().catch((error) => failures.push(`${name}: ${error.stack ?? error}`));
  if (Date.now() - lastBeside > 8000) {
    lastBeside = Date.now();
    besides = besides.then(() => Promise.all([buildBeside(), gc()]));
  }
  rss.push(process.memoryUsage().rss);
}
await besides;
await server.close();
await gc();
await new Promise((r) => setTimeout(r, 1000));

const { stdout: processes } = await run("ps", ["-eo", "args"]);
const left = processes.split("\n").filter((line) => /ffmpeg|ffprobe/.test(line) && line.includes(dir));
if (left.length > 0) failures.push(`ffmpeg left running: ${left.join("; ")}`);
const stray = [cache, join(cache, "downloads")].filter(existsSync).flatMap((d) => readdirSync(d).filter((n) => /\.partial-|\.lock/.test(n)));
if (stray.length > 0) failures.push(`left in the store: ${stray.join(", ")}`);
const verify = await run("node", [CLI, "verify", "--cache-dir", cache]).catch((e) => e);
if (verify.code) failures.push(`framecache verify: ${verify.stdout}`);
const warm = rss.slice(0, Math.ceil(rss.length / 5));
const baseline = Math.max(...warm);
const peak = Math.max(...rss);
// A leak shows as growth after the first fifth of the run, once every composition was planned.
if (peak - baseline > 150e6) failures.push(`the dev server's RSS grew from ${baseline} to ${peak} bytes`);
figures.seconds = Math.round((Date.now() - started) / 1000);
figures.rssMB = { baseline: Math.round(baseline / 1e6), peak: Math.round(peak / 1e6) };
figures.unhandledRejections = unhandled;
figures.failures = failures.slice(0, 20);
console.log(JSON.stringify(figures, null, 2));
rmSync(dir, { recursive: true, force: true });
process.exit(failures.length > 0 ? 1 : 0);
