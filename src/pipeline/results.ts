import { FramecacheError } from "../core/errors.js";
import type { Task } from "../core/plan.js";
import type { Report } from "../core/report.js";
import type { VideoRef } from "../core/scan.js";
import type { ResolvedClip } from "../core/timeline.js";
import type { StoredEntry } from "../store/store.js";
import type { Composition } from "./compositions.js";

export type CacheOutcome = "hit" | "miss" | "remote-hit";

/** A complete entry, and where it came from. */
export interface Outcome {
  entry: StoredEntry;
  cache: CacheOutcome;
}

export interface PlannedVideo {
  composition: Composition;
  ref: VideoRef;
  task: Task;
  /** Its windows on the entry's timeline (one per instance of its composition), resolved. */
  clips: ResolvedClip[];
}

export interface VideoResult extends PlannedVideo, Outcome {}

/** Media errors do not know the composition; add the reference's location. */
export function withLocation(error: FramecacheError, ref: VideoRef): FramecacheError {
  if (error.loc) return error;
  return new FramecacheError(error.code, `video "${ref.id}" (${ref.src}): ${error.detail}`, { loc: ref.loc, hint: error.hint, cause: error.cause });
}

/** Problems of the machine, not of a video: reported once. */
const GLOBAL_ERRORS = new Set(["FC_FFMPEG_MISSING", "FC_FFMPEG_TOO_OLD"]);

/** A problem of the machine (no ffmpeg) is reported once, at the first video that needed it. */
export function addError(errors: FramecacheError[], error: FramecacheError): void {
  if (!GLOBAL_ERRORS.has(error.code) || !errors.some((e) => e.code === error.code)) errors.push(error);
}

/** Add results to the report's counts. */
export function countResults(report: Report, compositions: Iterable<Composition>, results: VideoResult[]): void {
  report.videos += results.length;
  // One extraction (or download) serves every video that shares its key; only the first counts as such.
  const produced = new Set<string>();
  for (const v of results) {
    if (v.cache !== "hit" && !produced.has(v.task.key)) produced.add(v.task.key);
    else if (v.cache !== "hit") v.cache = "hit";
    if (v.cache === "hit") report.cacheHits++;
    else if (v.cache === "remote-hit") report.remoteHits++;
    else report.cacheMisses++;
  }
  for (const c of compositions) {
    report.skippedRemote += c.scan.skipped.length;
    if (c.scan.scriptsCreateVideo) report.compositionsWithScriptedVideo++;
  }
}
