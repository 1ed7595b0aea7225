import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { FramecacheError } from "../core/errors.js";
import type { FfmpegFeatures } from "../core/ffmpeg-args.js";
import { run } from "./run.js";

export type ChosenBy = "option" | "env" | "PATH" | "npm";
export type BinaryName = "ffmpeg" | "ffprobe";

/** A binary found, not yet run. */
export interface Located {
  name: BinaryName;
  path: string;
  chosenBy: ChosenBy;
}

export interface Binary extends Located {
  /** `[major, minor]`; git snapshots (`N-47683-g…`) get `[major, 0]` from their libavformat. */
  version?: [number, number];
  versionText: string;
  /** The build's `-version` output, which also lists its configure flags. */
  banner: string;
}

/** What an extraction needs: a checked ffmpeg and what its build can do. */
export interface Binaries {
  ffmpeg: Binary;
  features: FfmpegFeatures;
}

export interface BinaryOptions {
  ffmpegPath?: string;
  ffprobePath?: string;
  env?: NodeJS.ProcessEnv;
}

const MIN_VERSION: [number, number] = [4, 0];
const INSTALL_HINT =
  "Install ffmpeg (Debian/Ubuntu: `apt-get install ffmpeg`, macOS: `brew install ffmpeg`), " +
  "set FFMPEG_PATH/FFPROBE_PATH, pass the ffmpegPath/ffprobePath options, " +
  "or add the optional packages @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe.";

/** How each binary was chosen, as messages say it. */
export const CHOSEN_BY: Record<ChosenBy, (name: BinaryName) => string> = {
  option: (name) => `from the ${name}Path option`,
  env: (name) => `from ${name.toUpperCase()}_PATH`,
  PATH: () => "found on PATH",
  npm: (name) => `from the @${name}-installer/${name} package`,
};

/** What an ffmpeg build can do, from its `-version` banner's configure flags. */
export function ffmpegFeatures(ffmpeg: Binary): FfmpegFeatures {
  return { zscale: ffmpeg.banner.includes("--enable-libzimg") };
}

/** One binary, found and run with `-version`; `framecache doctor` reports each on its own. */
export async function locateBinary(name: BinaryName, options: BinaryOptions = {}): Promise<Binary> {
  return checkBinary(await findBinary(name, options), options.env ?? process.env);
}

/**
 * Where a binary is, without running it: the option, then the env variable, then PATH,
 * then the optional npm package. Spawning `-version` to ask costs more than a whole warm run.
 */
export async function findBinary(name: BinaryName, options: BinaryOptions = {}): Promise<Located> {
  const env = options.env ?? process.env;
  const option = name === "ffmpeg" ? options.ffmpegPath : options.ffprobePath;
  if (option) return { name, path: option, chosenBy: "option" };
  const fromEnv = env[`${name.toUpperCase()}_PATH`];
  if (fromEnv) return { name, path: fromEnv, chosenBy: "env" };
  const onPath = await searchPath(name, env);
  if (onPath) return { name, path: onPath, chosenBy: "PATH" };
  const fromNpm = await npmBinary(`@${name}-installer/${name}`);
  if (fromNpm) return { name, path: fromNpm, chosenBy: "npm" };
  throw new FramecacheError("FC_FFMPEG_MISSING", `${name} was not found`, { hint: INSTALL_HINT });
}

/** The error for a binary that is there but would not run (missing file, not executable, crashed). */
export function cannotRun(binary: Located, cause: unknown): FramecacheError {
  const how = CHOSEN_BY[binary.chosenBy](binary.name);
  const fix =
    binary.chosenBy === "option" || binary.chosenBy === "env"
      ? `Point ${how.replace(/^from /, "")} at a working ${binary.name} binary, or unset it to search PATH.`
      : `Set FFMPEG_PATH/FFPROBE_PATH to a working build, or reinstall ${binary.name}.`;
  return new FramecacheError("FC_FFMPEG_MISSING", `${binary.name} at ${binary.path} (${how}) could not be run`, {
    hint: `${fix} ${INSTALL_HINT}`,
    cause,
  });
}

/** Throws FC_FFMPEG_TOO_OLD below the minimum; an unknown version is assumed current. */
export function requireVersion(binary: Located, versionText: string, banner: string): [number, number] | undefined {
  const version = releaseVersion(versionText) ?? snapshotVersion(banner);
  if (version && !atLeast(version, MIN_VERSION)) {
    throw new FramecacheError("FC_FFMPEG_TOO_OLD", `${binary.name} ${versionText} at ${binary.path} is too old; ${MIN_VERSION.join(".")} or newer is needed`, {
      hint: INSTALL_HINT,
    });
  }
  return version;
}

/** Run `-version`: the binary works and is new enough, or this throws with the fix. */
export async function checkBinary(located: Located, env: NodeJS.ProcessEnv = process.env): Promise<Binary> {
  const result = await run(located.path, ["-version"], { env, timeoutMs: 15_000 });
  if (result.exitCode !== 0) {
    const why = result.timedOut ? "it did not answer -version within 15 s" : result.signal ? `it was killed by ${result.signal}` : undefined;
    throw cannotRun(located, result.stderr || result.error || why);
  }
  const versionText = /version (\S+)/.exec(result.stdout)?.[1] ?? "unknown";
  const version = requireVersion(located, versionText, result.stdout);
  return { ...located, version, versionText, banner: result.stdout };
}

/** A regular file this process may run: a directory named ffmpeg passes access(X_OK) too. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function searchPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function releaseVersion(text: string): [number, number] | undefined {
  const m = /^n?(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Git snapshots name no release; libavformat's major is the release's major + 54 (58 → 4.x … 61 → 7.x). */
function snapshotVersion(banner: string): [number, number] | undefined {
  const m = /^libavformat\s+(\d+)\./m.exec(banner);
  return m && Number(m[1]) >= 56 ? [Number(m[1]) - 54, 0] : undefined;
}

async function npmBinary(pkg: string): Promise<string | undefined> {
  try {
    const mod = (await import(pkg)) as { path?: string; default?: { path?: string } };
    return mod.path ?? mod.default?.path;
  } catch {
    return undefined;
  }
}

function atLeast(version: [number, number], min: [number, number]): boolean {
  return version[0] > min[0] || (version[0] === min[0] && version[1] >= min[1]);
}
