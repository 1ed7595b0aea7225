// 200 compositions × 5 videos: 1000 distinct 0.1 s clips of 40 small sources, 25 clips each.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

const dist = join(import.meta.dirname, "../dist");

/** The project, with its sources copied in (the CLI reads only inside its root). */
function project(sources, compositions = 200) {
  const root = mkdtempSync(join(tmpdir(), "framecache-bench-1000-"));
  mkdirSync(join(root, "media"));
  for (const file of sources) copyFileSync(file, join(root, "media", basename(file)));
  for (let c = 0; c < compositions; c++) {
    const tags = Array.from({ length: 5 }, (_, v) => {
      const k = c * 5 + v;
      const start = (Math.floor(k / sources.length) * 0.35).toFixed(2);
      return `<video id="v${v}" src="media/s${k % sources.length}.mp4" data-start="${v}" data-media-start="${start}" data-duration="0.1"></video>`;
    });
    writeFileSync(join(root, `c${c}.html`), `<!doctype html><html><body><div data-composition-id="c${c}" data-fps="30">${tags.join("")}</div></body></html>`);
  }
  writeFileSync(join(root, "index.html"), "<!doctype html><html><body><p>compositions are c*.html</p></body></html>");
  return root;
}

const names = (n) => Array.from({ length: n }, (_, i) => `c${i}.html`);

/** `framecache extract` as a user runs it, Node's start included. */
function cli(root, compositions) {
  const started = performance.now();
  execFileSync("node", [join(dist, "cli.js"), "extract", ...names(compositions), "--cache-dir", "cache", "--quiet"], { cwd: root, stdio: "ignore" });
  return performance.now() - started;
}

/** The rows of the scenario; each figure the median of `runs`, measured in fresh processes. */
export function thousandRows({ sources, measure, median, runs }) {
  const cold = [];
  const warmEngine = [];
  const warm = [];
  const warm100 = [];
  const build = [];
  const bare = [];
  const rebuild = [];
  const bareRebuild = [];
  let root;
  for (let i = 0; i < runs; i++) {
    root = project(sources);
    const engine = (extra = {}) => measure("engine", { root, cacheDir: join(root, "cache"), compositions: names(200), ...extra });
    cold.push(engine());
    // Alternated, so the machine's load falls on both sides alike.
    for (let j = 0; j < 3; j++) {
      warm.push(cli(root, 200));
      warm100.push(cli(root, 20));
    }
    // Not the first warm run: right after a cold one the disk is still writing back its entries.
    warmEngine.push(engine());
    const vite = { root, options: { compositions: "c*.html" } };
    // Each into an empty output first, as in CI; then again into what it wrote, as on a laptop.
    // Vite empties the output before writing, so a build after the other would pay for its files.
    build.push(measure("vite", vite).ms);
    rebuild.push(measure("vite", vite).ms);
    rmSync(join(root, "dist"), { recursive: true, force: true });
    bare.push(measure("vite", { ...vite, plugin: false }).ms);
    bareRebuild.push(measure("vite", { ...vite, plugin: false }).ms);
    rmSync(root, { recursive: true, force: true });
  }
  const ms = (list) => median(list.map((r) => r.ms));
  const rss = (list) => Math.max(...list.map((r) => r.rssMB));
  const marginal = (median(warm) - median(warm100)) / 900;
  const rows = [
    { scenario: "1000 tiny videos (200×5, 40 sources): cold extract vs 30 s", ours: ms(cold), baseline: 30_000, ratio: ms(cold) / 30_000, target: "≤ 1.0 (30 s), RSS ≤ 200 MB", rssMB: rss(cold) },
    { scenario: "the same warm: `framecache extract` vs cold", ours: median(warm), baseline: ms(cold), ratio: median(warm) / ms(cold), target: "(engine alone in-process: " + ms(warmEngine).toFixed(0) + " ms)", rssMB: rss(warmEngine) },
    { scenario: "the same warm: `vite build` vs the build without the plugin", ours: median(build), baseline: median(bare), ratio: median(build) / median(bare), target: "≤ 800 ms" },
    { scenario: "the same rebuilt into its previous output", ours: median(rebuild), baseline: median(bareRebuild), ratio: median(rebuild) / median(bareRebuild), target: "—" },
    { scenario: "warm marginal cost per video, ms (1000 vs 100 videos)", ours: marginal, baseline: 0.5, ratio: marginal / 0.5, target: "≤ 0.5 ms", unit: "ms" },
  ];
  for (const r of rows) console.log(`${r.scenario.padEnd(44)} ${r.ours.toFixed(r.unit ? 3 : 0).padStart(7)}  vs ${r.baseline.toFixed(r.unit ? 3 : 0).padStart(7)}  ratio ${r.ratio.toFixed(3)}  (${r.target})`);
  return rows;
}
