import { execa } from "execa";
import { FramecacheError } from "../core/errors.js";
import type { FfmpegFeatures } from "../core/ffmpeg-args.js";

export type ChosenBy = "option" | "env" | "PATH" | "npm";

export interface Binary {
  path: string;
  chosenBy: ChosenBy;
  /** `[major, minor]`; git snapshots (`N-47683-g…`) get `[major, 0]` from their libavformat. */
  version?: [number, number];
  versionText: string;
  /** The build's `-version` output, which also lists its configure flags. */
  banner: string;
}

export interface Binaries {
  ffmpeg: Binary;
  ffprobe: Binary;
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

const located = new Map<string, Promise<Binaries>>();

/** Find ffmpeg and ffprobe: option, then env, then PATH, then the optional npm packages. Memoised. */
export function locateBinaries(options: BinaryOptions = {}): Promise<Binaries> {
  const env = options.env ?? process.env;
  const memo = JSON.stringify([options.ffmpegPath, options.ffprobePath, env.FFMPEG_PATH, env.FFPROBE_PATH, env.PATH]);
  let found = located.get(memo);
  if (!found) {
    found = locate(options, env);
    located.set(memo, found);
    found.catch(() => located.delete(memo));
  }
  return found;
}

async function locate(options: BinaryOptions, env: NodeJS.ProcessEnv): Promise<Binaries> {
  const [ffmpeg, ffprobe] = await Promise.all([locateBinary("ffmpeg", options), locateBinary("ffprobe", options)]);
  return { ffmpeg, ffprobe, features: { zscale: ffmpeg.banner.includes("--enable-libzimg") } };
}

/** One of the two binaries, found as locateBinaries does; `framecache doctor` reports each on its own. */
export function locateBinary(name: "ffmpeg" | "ffprobe", options: BinaryOptions = {}): Promise<Binary> {
  const env = options.env ?? process.env;
  return name === "ffmpeg"
    ? find("ffmpeg", options.ffmpegPath, env.FFMPEG_PATH, "@ffmpeg-installer/ffmpeg", env)
    : find("ffprobe", options.ffprobePath, env.FFPROBE_PATH, "@ffprobe-installer/ffprobe", env);
}

async function find(
  name: "ffmpeg" | "ffprobe",
  option: string | undefined,
  envPath: string | undefined,
  npmPackage: string,
  env: NodeJS.ProcessEnv,
): Promise<Binary> {
  // An explicit choice that does not work is an error, not a reason to fall back silently.
  if (option) return check(name, option, "option", env, true);
  if (envPath) return check(name, envPath, "env", env, true);
  const onPath = await check(name, name, "PATH", env, false);
  if (onPath) return onPath;
  const fromNpm = await npmBinary(npmPackage);
  if (fromNpm) {
    const binary = await check(name, fromNpm, "npm", env, false);
    if (binary) return binary;
  }
  throw new FramecacheError("FC_FFMPEG_MISSING", `${name} was not found`, { hint: INSTALL_HINT });
}

async function check(name: string, path: string, chosenBy: ChosenBy, env: NodeJS.ProcessEnv, required: true): Promise<Binary>;
async function check(name: string, path: string, chosenBy: ChosenBy, env: NodeJS.ProcessEnv, required: false): Promise<Binary | undefined>;
async function check(name: string, path: string, chosenBy: ChosenBy, env: NodeJS.ProcessEnv, required: boolean): Promise<Binary | undefined> {
  const result = await execa(path, ["-version"], { reject: false, env, extendEnv: false, timeout: 15_000, stdin: "ignore" });
  if (result.exitCode !== 0 || typeof result.stdout !== "string") {
    if (!required) return undefined;
    const source = chosenBy === "option" ? `the ${name}Path option` : `${name.toUpperCase()}_PATH`;
    throw new FramecacheError("FC_FFMPEG_MISSING", `${name} at ${path} (from ${source}) could not be run`, {
      hint: `Point ${source} at a working ${name} binary, or unset it to search PATH. ${INSTALL_HINT}`,
      cause: result.stderr || result.message,
    });
  }
  const versionText = /version (\S+)/.exec(result.stdout)?.[1] ?? "unknown";
  const version = releaseVersion(versionText) ?? snapshotVersion(result.stdout);
  if (version && !atLeast(version, MIN_VERSION)) {
    throw new FramecacheError("FC_FFMPEG_TOO_OLD", `${name} ${versionText} at ${path} is too old; ${MIN_VERSION.join(".")} or newer is needed`, {
      hint: INSTALL_HINT,
    });
  }
  return { path, chosenBy, version, versionText, banner: result.stdout };
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

/** Unknown versions are assumed current. */
function atLeast(version: [number, number] | undefined, min: [number, number]): boolean {
  if (!version) return true;
  return version[0] > min[0] || (version[0] === min[0] && version[1] >= min[1]);
}
