import { readFileSync, realpathSync } from "node:fs";
import { dirname, relative, sep } from "node:path";
import { FramecacheError, type SourceLocation, type Warning } from "../core/errors.js";
import { isInside, sourceCandidates } from "../core/paths.js";
import { scanComposition, type CompositionScan } from "../core/scan.js";
import type { Rational } from "../core/time.js";

export interface Composition {
  /** Absolute path. */
  file: string;
  /** Path relative to the project root, `/`-separated, used in messages. */
  label: string;
  /** Where it is written in the output and fetched from, `/`-separated: the label, or its path in `publicDir`. */
  output: string;
  html: string;
  scan: CompositionScan;
  fps: Rational;
  /** Absolute paths of compositions pulled in through `data-composition-src`. */
  nested: string[];
  /** Parallel to `scan.nested`: the file each host mounts, or undefined when it was not loaded (missing, outside, a cycle). */
  mounts: (string | undefined)[];
}

export interface ProjectPaths {
  root: string;
  publicDir?: string;
  /** Directories besides the root that may be read (Vite's `server.fs.allow`). */
  allow: string[];
}

export function labelOf(file: string, root: string): string {
  return relative(root, file).split(sep).join("/");
}

/**
 * Resolve a `src` to a real file inside the project: lexically clamped first,
 * then with symlinks resolved, so a link cannot lead outside either. Synchronous, as its calls
 * are (see realPath): a run keeps the answer before another video asks (see RunSources).
 */
export function resolveProjectFile(
  src: string,
  fromFile: string,
  paths: ProjectPaths,
  loc: SourceLocation,
  what: string,
  missing: "FC_SOURCE_MISSING" | "FC_COMPOSITION_MISSING" = "FC_SOURCE_MISSING",
): string {
  const candidates = sourceCandidates(src, dirname(fromFile), paths.root, paths.publicDir);
  const allowed = (file: string) => [paths.root, paths.publicDir, ...paths.allow].some((dir) => dir !== undefined && isInside(file, dir));
  const outside = (file: string) =>
    new FramecacheError("FC_OUTSIDE_ROOT", `${what} src="${src}" resolves to ${file}, outside the project root ${paths.root}`, {
      loc,
      hint: "Move the file into the project, or add its folder to Vite's server.fs.allow.",
    });
  for (const candidate of candidates) {
    // Refused before it is touched, so an error does not even tell whether it exists.
    if (!allowed(candidate)) throw outside(candidate);
    const real = realPath(candidate);
    if (!real) continue;
    if (!allowed(real)) throw outside(real);
    return real;
  }
  throw new FramecacheError(missing, `${what} src="${src}" was not found (looked for ${candidates.join(", ")})`, {
    loc,
    hint: "Check the path: it is relative to the composition file, or to the project root when it starts with /.",
  });
}

/**
 * The file's real path, or undefined when it is not there. Synchronous, as are the reads of
 * compositions: a warm run resolves every video, and each promise-based call cost a trip
 * through libuv's pool (0.04–0.07 ms of the main thread) where the call itself takes microseconds.
 */
function realPath(file: string): string | undefined {
  try {
    return realpathSync.native(file);
  } catch {
    return undefined;
  }
}

/**
 * Read root compositions and, recursively, those they nest. A cycle is reported
 * once and not followed; a missing nested file is an error at its reference.
 */
export async function loadCompositions(
  roots: string[],
  paths: ProjectPaths,
  defaultFps: Rational,
  warn: (warning: Warning) => void,
  scan: (html: string, label: string) => CompositionScan = scanComposition,
): Promise<{ compositions: Map<string, Composition>; errors: FramecacheError[] }> {
  const compositions = new Map<string, Composition>();
  const errors: FramecacheError[] = [];
  // Each composition is written at its own path in the output, which must not climb out of it.
  const inProject = (file: string) => [paths.root, paths.publicDir].some((dir) => dir !== undefined && isInside(file, dir));
  const outside = (message: string, loc?: SourceLocation) =>
    new FramecacheError("FC_OUTSIDE_ROOT", `${message} the project root ${paths.root}`, {
      loc,
      hint: "Keep compositions inside the project (the CLI's --root widens it); only videos may come from Vite's server.fs.allow folders.",
    });

  const load = async (file: string, inheritedFps: Rational, stack: string[]): Promise<void> => {
    if (compositions.has(file)) return;
    const label = labelOf(file, paths.root);
    const html = readFileSync(file, "utf8");
    const scanned = scan(html, label);
    // A page fetches a publicDir file at its path there (`/scene.html`), where Vite copies it.
    const output = paths.publicDir && isInside(file, paths.publicDir) ? labelOf(file, paths.publicDir) : label;
    const composition: Composition = { file, label, output, html, scan: scanned, fps: scanned.fps ?? inheritedFps, nested: [], mounts: scanned.nested.map(() => undefined) };
    compositions.set(file, composition);
    for (const [i, ref] of scanned.nested.entries()) {
      try {
        const nested = resolveProjectFile(ref.src, file, paths, ref.loc, "data-composition-src", "FC_COMPOSITION_MISSING");
        if (!inProject(nested)) throw outside(`data-composition-src="${ref.src}" resolves to ${nested}, outside`, ref.loc);
        if (stack.includes(nested)) {
          warn({ code: "FC_COMPOSITION_CYCLE", message: `data-composition-src="${ref.src}" nests a composition inside itself; not followed`, loc: ref.loc });
          continue;
        }
        composition.nested.push(nested);
        composition.mounts[i] = nested;
        await load(nested, composition.fps, [...stack, nested]);
      } catch (error) {
        if (!(error instanceof FramecacheError)) throw error;
        errors.push(error);
      }
    }
  };
  for (const root of roots) {
    if (inProject(root)) await load(root, defaultFps, [root]);
    else errors.push(outside(`composition ${root} is outside`));
  }
  return { compositions, errors };
}
