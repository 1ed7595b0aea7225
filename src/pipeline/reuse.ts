import { mkdir, rm } from "node:fs/promises";
import type { Task } from "../core/plan.js";
import { FramecacheError } from "../core/errors.js";
import { sameFrames, splitFrames, type Donor, type ReusePlan } from "../core/spans.js";
import type { Binaries } from "../media/binaries.js";
import { extractSpan, holdFrames, NO_FRAMES_HINT, type ExtractOptions } from "../media/extract.js";
import { placeFrames } from "../store/emit.js";
import { readInventory, type EntryInfo } from "../store/inventory.js";
import { digestFrames } from "../store/sentinel.js";

/**
 * Why a donor's frames cannot be taken, so the window is extracted whole instead:
 * its frames no longer hash to its sentinel's digest (edited in place through a hard link, say),
 * it went away (GC, `framecache clean`), or ffmpeg wrote fewer frames before it than the plan needs.
 */
export class UnusableDonor extends Error {
  override readonly name = "UnusableDonor";
  constructor(
    readonly code: "DONOR_DAMAGED" | "DONOR_GONE" | "DONOR_UNREADABLE" | "DONOR_SHORT",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A donor the filesystem will not give (gone under GC, another user's, an I/O error) is unusable;
 * a failure that is not the filesystem's is a bug and stays what it is.
 */
function goneAsUnusable(donor: string): (error: unknown) => never {
  return (error) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UnusableDonor("DONOR_GONE", `the frames of ${donor} went away`, { cause: error });
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) throw new UnusableDonor("DONOR_UNREADABLE", `the frames of ${donor} cannot be read (${code})`, { cause: error });
    throw error;
  };
}

/**
 * Entries of the store made from the task's source with its rate, format and transform,
 * which recorded how many frames ffmpeg really wrote: what a trim edit can take frames from.
 */
export async function storeDonors(storeDir: string, task: Task): Promise<Donor[]> {
  return donorsIn((await readInventory(storeDir)).entries, task);
}

/**
 * `storeDonors` over one reading of the store, taken when the first miss of a run asks: a read
 * per miss made a cold run of 1000 misses quadratic (and, with misses filled side by side, held
 * a thousand inventories at once). Entries this run publishes are not in it; overlapping misses
 * of one run share a decode instead (see decodeShared), and a donor missed costs time, never frames.
 */
export function donorSnapshot(storeDir: string): (task: Task) => Promise<Donor[]> {
  let entries: Promise<EntryInfo[]> | undefined;
  return async (task) => donorsIn(await (entries ??= readInventory(storeDir).then((i) => i.entries)), task);
}

function donorsIn(entries: readonly EntryInfo[], task: Task): Donor[] {
  return entries.flatMap((e) => {
    const s = e.sentinel;
    if (!s?.input || s.written === undefined || e.name === task.entry || !sameFrames(s.input, task.input)) return [];
    return [{ dir: e.dir, input: s.input, frames: s.frames, written: s.written, digest: s.digest }];
  });
}

/**
 * The task's frames in `dir`: the donor's by hard link, the missing spans from ffmpeg,
 * each written as one pass over the whole window would write it. Returns the frames
 * really decoded (the rest repeat the last). Throws when ffmpeg disagrees with the donor,
 * and UnusableDonor when its frames are not the ones its digest vouches for: the new entry's
 * digest is taken over what it links, so a damaged frame would pass for a good one there.
 */
export async function assembleFrames(binaries: Binaries, task: Task, dir: string, plan: ReusePlan, options: ExtractOptions = {}): Promise<number> {
  const { donor } = plan;
  const gone = goneAsUnusable(donor.dir);
  if (donor.digest !== undefined && (await digestFrames(donor.dir, donor.frames, task.format).catch(gone)).digest !== donor.digest) {
    throw new UnusableDonor("DONOR_DAMAGED", `the frames of ${donor.dir} do not match its digest`);
  }
  await placeFrames(donor.dir, dir, task.format, plan.reuse, plan.offset).catch(gone);
  let written = plan.reuse.first + plan.reuse.count - 1;
  for (const span of plan.extract) {
    const wrote = await extractSpan(binaries, task, dir, span, options);
    if (span.first === 1 && wrote < span.count) throw new UnusableDonor("DONOR_SHORT", `ffmpeg wrote ${wrote} of ${span.count} frames before the reused ones`);
    if (span.first > written) written = span.first - 1 + wrote;
  }
  await holdFrames(dir, task.format, written, task.frameCount);
  return written;
}

/** Empty a partial directory after a failed attempt, so a fresh extraction starts clean. */
export async function clearDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

/**
 * One task's frames as `parts` segments extracted side by side, each written as one pass
 * would write it. A segment that comes up short met the source's end; every later frame
 * repeats the last one written, whatever a later segment wrote.
 */
export async function extractSegments(binaries: Binaries, task: Task, dir: string, parts: number, options: ExtractOptions = {}): Promise<number> {
  const spans = splitFrames(task.frameCount, parts);
  const wrote = await Promise.all(spans.map((span) => extractSpan(binaries, task, dir, span, options)));
  let written = 0;
  for (const [i, span] of spans.entries()) {
    written = span.first - 1 + wrote[i]!;
    if (wrote[i]! < span.count) break;
  }
  if (written === 0) throw new FramecacheError("FC_FFMPEG_FAILED", `ffmpeg wrote no frames for ${task.source}`, { hint: NO_FRAMES_HINT });
  await holdFrames(dir, task.format, written, task.frameCount);
  return written;
}
