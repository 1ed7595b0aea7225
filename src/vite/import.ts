import { realpath } from "node:fs/promises";
import { basename } from "node:path";
import type { Plugin, ViteDevServer } from "vite";
import { devFramesUrl } from "../core/dev-url.js";
import { FramecacheError } from "../core/errors.js";
import { isInside, isRelativeBase, urlPrefixFor } from "../core/paths.js";
import type { VideoRef } from "../core/scan.js";
import { parseFps, parseStrictNumber, toMicros } from "../core/time.js";
import { labelOf } from "../pipeline/compositions.js";
import { manifestVideo } from "../pipeline/output.js";
import { scanComposition } from "../core/scan.js";
import { fileLoadingAllowed } from "./compat.js";
import type { PluginShared } from "./shared.js";

const PREFIX = "\0framecache:";
/**
 * Under a relative base the frames' URL depends on where the chunk lands, known only when
 * it is rendered: a marked string until then, made relative to the chunk (as Vite does its assets).
 */
const RELATIVE = "__FRAMECACHE_RELATIVE__/";
const RELATIVE_STRING = /(["'`])__FRAMECACHE_RELATIVE__\/([^"'`]*)\1/g;

/** `import clip from "./clip.mp4?frames&start=1.5&duration=2"` → that clip's manifest entry. */
export function importPlugin(shared: PluginShared): Plugin {
  // The dev server whose server.fs rules hold for `?frames` requests; none in a build.
  let server: ViteDevServer | undefined;
  return {
    name: "framecache:import",
    // Before Vite's resolver and asset plugin, which would otherwise turn `clip.mp4?frames` into a URL string.
    enforce: "pre",

    configureServer(devServer) {
      server = devServer;
    },

    async resolveId(source, importer) {
      const [path, query = ""] = source.split("?", 2);
      if (!path || !new URLSearchParams(query).has("frames")) return null;
      const resolved = await this.resolve(path, importer, { skipSelf: true });
      if (!resolved || resolved.external) return null;
      return `${PREFIX}${resolved.id.split("?")[0]}?${query}`;
    },

    renderChunk(code, chunk) {
      if (!code.includes(RELATIVE)) return null;
      const up = urlPrefixFor("./", chunk.fileName);
      return { code: code.replace(RELATIVE_STRING, (_, _quote, path: string) => `new URL(${JSON.stringify(up + path)}, import.meta.url).href`), map: null };
    },

    async load(id) {
      if (!id.startsWith(PREFIX)) return null;
      const [file = "", query = ""] = id.slice(PREFIX.length).split("?", 2);
      // The current build's or dev server's run, else a new one, as when no buildStart or configureServer made one.
      const run = shared.run ?? shared.startRun();
      const { engine, dev } = run;
      const { root, allow, options, base, assetsDir } = shared.context;
      const real = await realpath(file);
      if (![root, ...allow].some((dir) => isInside(real, dir))) {
        throw new FramecacheError("FC_OUTSIDE_ROOT", `${file} is outside the project root ${root}`, {
          hint: "Move the video into the project, or add its folder to Vite's server.fs.allow.",
        });
      }
      // Any page can request `/x?frames&import`: the dev server's deny list (.env, *.pem, .git/…) holds for it too.
      if (dev && server && !(await fileLoadingAllowed(server, real))) {
        throw new FramecacheError("FC_OUTSIDE_ROOT", `${file} is denied by Vite's server.fs rules`, {
          hint: "Rename or move the video, or change server.fs.deny.",
        });
      }
      const params = new URLSearchParams(query);
      const ref = importRef(file, params, labelOf(file, root));
      const fps = params.has("fps") ? parseFps(params.get("fps")) : options.fps;
      if (!fps) throw new FramecacheError("FC_BAD_OPTION", `fps=${params.get("fps")} in ${id.slice(PREFIX.length)} is not an integer or num/den`);
      const format = params.get("format") ?? undefined;
      if (format && !["jpg", "png", "auto"].includes(format)) {
        throw new FramecacheError("FC_BAD_OPTION", `format=${format} in an import of ${file}; use jpg, png or auto`);
      }
      const { task, clips } = await engine.planFile(real, ref, fps, format as "jpg" | "png" | "auto" | undefined);
      // A new source re-plans the import on the next load (and in dev, through HMR).
      this.addWatchFile(real);
      const { entry, cache } = dev ? await dev.pin(task) : await engine.ensure(task);
      const composition = { file, label: labelOf(file, root), output: labelOf(file, root), html: "", scan: scanComposition("", file), fps, nested: [], mounts: [] };
      const result = { composition, ref, task, clips, entry, cache };
      run.imported.push(result);
      engine.count(new Map(), [result]);
      // The cache outcome stays out of the bundle, which must not change with the state of the cache.
      const { cache: _, ...manifest } = manifestVideo(result, assetsDir);
      const frames = dev ? devFramesUrl(entry.name, entry.format) : (isRelativeBase(base) ? RELATIVE : base) + manifest.frames;
      return `export default ${JSON.stringify({ ...manifest, frames })};\n`;
    },
  };
}

function importRef(file: string, params: URLSearchParams, label: string): VideoRef {
  const seconds = (name: string) => parseStrictNumber(params.get(name));
  const start = toMicros(Math.max(0, seconds("start") ?? 0));
  const duration = seconds("duration");
  const end = seconds("end");
  const until = end !== undefined ? toMicros(end) - start : duration !== undefined ? toMicros(duration) : undefined;
  return {
    id: basename(file),
    // As written in a `<video>`: relative to the project, never the machine's absolute path.
    src: label,
    index: -1,
    loc: { file: label, line: 1, column: 1 },
    start: 0,
    end: until,
    mediaStart: start,
    playbackRate: 1,
    inactive: (duration !== undefined && duration <= 0) || (end !== undefined && toMicros(end) <= start),
    timing: { start: 0, end: until },
    loop: false,
  };
}
