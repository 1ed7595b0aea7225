import { mkdir, rm } from "node:fs/promises";
import type { Task } from "../core/plan.js";
import { FramecacheError } from "../core/errors.js";
import { sameFrames, splitFrames, type Donor, type ReusePlan } from "../core/spans.js";
import type { Binaries } from "../media/binaries.js";
import { extractSpan, holdFrames, NO_FRAMES_HINT, type ExtractOptions } from "../media/extract.js";
import { placeFrames } from "../store/emit.js";
import { readInventory } from "../store/inventory.js";
import { digestFrames } from "../store/sentinel.js";

/** A store entry whose frames no longer hash to its sentinel's digest (edited in place through a hard link, say). */
export class DamagedDonor extends Error {
  override readonly name = "DamagedDonor";
}

/**
 * Entries of the store made from the task's source with its rate, format and transform,
 * which recorded how many frames ffmpeg really wrote: what a trim edit can take frames from.
 */
export async function storeDonors(storeDir: string, task: Task): Promise<Donor[]> {
  const { entries } = await readInventory(storeDir);
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
 * and DamagedDonor when its frames are not the ones its digest vouches for: the new entry's
 * digest is taken over what it links, so a damaged frame would pass for a good one there.
 */
export async function assembleFrames(binaries: Binaries, task: Task, dir: string, plan: ReusePlan, options: ExtractOptions = {}): Promise<number> {
  const { donor } = plan;
  if (donor.digest !== undefined && (await digestFrames(donor.dir, donor.frames, task.format)).digest !== donor.digest) {
    throw new DamagedDonor(`the frames of ${donor.dir} do not match its digest`);
  }
  await placeFrames(plan.donor.dir, dir, task.format, plan.reuse, plan.offset);
  let written = plan.reuse.first + plan.reuse.count - 1;
  for (const span of plan.extract) {
    const wrote = await extractSpan(binaries, task, dir, span, options);
    if (span.first === 1 && wrote < span.count) throw new Error(`ffmpeg wrote ${wrote} of ${span.count} frames before the reused ones`);
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
