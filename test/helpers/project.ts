import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { build, createLogger, type InlineConfig, type Logger } from "vite";
import framecache, { type FramecacheOptions } from "../../src/index.js";
import { makeCodedVideo } from "./media.js";

/** Write files (path → text) under `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/**
 * The reference project: a root composition with two trims of one source,
 * and a nested composition in a subfolder whose src climbs to ../media. Its a (0-1 s) and
 * n (0.5-1.5 s) overlap whole frames apart, so a cold run is two ffmpeg passes for three keys.
 */
export function referenceProject(dir: string): void {
  mkdirSync(join(dir, "media"), { recursive: true });
  makeCodedVideo(join(dir, "media/clip.mp4"), { seconds: 4 });
  writeFiles(dir, {
    "index.html": `<!doctype html>
<html><body>
<div id="root" data-composition-id="main" data-fps="30">
  <video id="a" src="./media/clip.mp4" data-start="0" data-duration="1"></video>
  <video id="b" src="media/clip.mp4" data-start="1" data-duration="1.5" data-media-start="2"></video>
  <div data-composition-src="scenes/intro.html" data-start="2.5"></div>
</div>
</body></html>
`,
    "scenes/intro.html": `<div data-composition-id="intro">
  <template><video id="n" src="../media/clip.mp4" data-duration="1" data-media-start="0.5"></video></template>
</div>
`,
  });
}

export interface BuildOutcome {
  logs: string[];
  warnings: string[];
  summary: string | undefined;
}

/** A real `vite build` of `root` with the plugin, its log captured. */
export async function viteBuild(root: string, options: FramecacheOptions, extra: InlineConfig = {}): Promise<BuildOutcome> {
  const { logger, logs, warnings } = capturingLogger();
  await build({
    root,
    configFile: false,
    logLevel: "info",
    customLogger: logger,
    plugins: [framecache(options)],
    ...extra,
  });
  return { logs, warnings, summary: logs.find((l) => l.startsWith("framecache  ")) };
}

/** A Vite logger that keeps what it is told, for assertions; errors join the warnings when asked. */
export function capturingLogger(captureErrors = false): { logger: Logger; logs: string[]; warnings: string[] } {
  const logs: string[] = [];
  const warnings: string[] = [];
  const base = createLogger("info", { allowClearScreen: false });
  const logger: Logger = {
    ...base,
    info: (msg) => void logs.push(msg),
    warn: (msg) => void warnings.push(msg),
    warnOnce: (msg) => void warnings.push(msg),
    ...(captureErrors && { error: (msg: string) => void warnings.push(msg) }),
  };
  return { logger, logs, warnings };
}

/** What a failed `vite build` reports for the plugin's error. */
export interface BuildError {
  message: string;
  pluginCode?: string;
  loc?: { file: string; line: number; column: number };
}

/** The error a `vite build` of `root` fails with (Rolldown wraps the plugin's in `errors`). */
export async function viteBuildError(root: string, options: FramecacheOptions): Promise<BuildError> {
  try {
    await viteBuild(root, options, { logLevel: "silent" });
  } catch (error) {
    return ((error as { errors?: BuildError[] }).errors?.[0] ?? error) as BuildError;
  }
  throw new Error("vite build must fail");
}

/** Every file under `root`, recursively. */
export function walk(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}
