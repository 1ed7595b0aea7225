import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { frameAttributes, framePattern } from "../core/frames.js";
import { setAttributes, type AttributeEdits } from "../core/html.js";
import type { TreeTiming } from "../core/timeline.js";
import { hostTimingAttributes, rootTimingAttributes, videoTimingAttributes } from "../core/timing-attributes.js";
import { fpsValue, fromMicros } from "../core/time.js";
import { linkEntries } from "../store/emit.js";
import type { Composition } from "./compositions.js";
import type { PlannedVideo, VideoResult } from "./results.js";

/** Where frames live relative to the output root: `assets/frames/<entry>`. */
export function framesDir(assetsDir: string, entry: string): string {
  return [assetsDir, "frames", entry].filter(Boolean).join("/");
}

/**
 * Rewrite a composition: each `<video>` gets the frames it shows and its resolved timing, each
 * host its window, an entry root its end (`timing`, from the run's timelines).
 */
export function rewriteComposition(html: string, composition: Composition, results: VideoResult[], urlPrefix: string, assetsDir: string, timing?: TreeTiming): string {
  const videos = new Map<number, Record<string, string>>();
  for (const v of results) {
    if (v.composition !== composition) continue;
    videos.set(v.ref.index, videoEdits(v, `${urlPrefix}${framesDir(assetsDir, v.entry.name)}/${framePattern(v.entry.format)}`, v.entry.frames));
  }
  // The composition's own text was parsed by its scan; any other (Vite's transform of it) is parsed here.
  return setAttributes(html, { videos, ...layoutEdits(composition.file, timing) }, html === composition.html ? composition.scan.sites : undefined);
}

/** Each composition's results, for rewriteComposition: a build of many compositions then reads each result once. */
export function resultsByComposition(results: readonly VideoResult[]): Map<Composition, VideoResult[]> {
  const by = new Map<Composition, VideoResult[]>();
  for (const v of results) {
    const list = by.get(v.composition);
    if (list) list.push(v);
    else by.set(v.composition, [v]);
  }
  return by;
}

/** What a `<video>` is given in the output, build and dev alike: its frames and its resolved timing. */
export function videoEdits(v: PlannedVideo, frames: string, count: number): Record<string, string> {
  const clip = v.clips[0];
  return { ...frameAttributes(frames, count, v.task.fps), ...(clip && videoTimingAttributes(v.ref, v.task, clip)) };
}

/** What a composition's hosts and, for an entry, its root are given: their resolved windows. */
export function layoutEdits(file: string, timing: TreeTiming | undefined): Pick<AttributeEdits, "hosts" | "root"> {
  const hosts = new Map((timing?.hosts.get(file) ?? []).map((h) => [h.index, hostTimingAttributes(h)]));
  return { hosts, root: rootTimingAttributes(timing?.ends.get(file)) };
}

/** One instance of a video on the entry's timeline, resolved: nothing left for a consumer to derive. */
export interface ManifestWindow {
  /** Seconds on the entry's timeline when it starts showing (references, host offsets and preroll applied). */
  start: number;
  /** When it stops: its end cut by its hosts and the timeline's end, or where its source ends; null for a loop that never does. */
  end: number | null;
  /** Seconds into the source at `start`. */
  mediaStart: number;
}

export interface ManifestVideo extends ManifestWindow {
  composition: string;
  id: string;
  src: string;
  /** The playback rate, clamped to [0.1, 5]. */
  rate: number;
  /** Timeline seconds of one pass through the source when it loops (frames repeat with it), else null. */
  loop: number | null;
  /** Every instance (a composition file mounted more than once has several); the fields above are the first's. */
  instances: ManifestWindow[];
  fps: number | string;
  format: string;
  frameCount: number;
  /** Size of the frames: the displayed size (rotation applied), after the width/height options. */
  width: number;
  height: number;
  entry: string;
  frames: string;
  cache: VideoResult["cache"];
}

export function manifestVideo(v: VideoResult, assetsDir: string): ManifestVideo {
  const instances = v.clips.map((c) => ({ start: fromMicros(c.start), end: c.end === undefined ? null : fromMicros(c.end), mediaStart: fromMicros(c.mediaStart) }));
  const cycle = v.clips[0]?.cycle;
  return {
    composition: v.composition.output,
    id: v.ref.id,
    src: v.ref.src,
    ...instances[0]!,
    rate: v.ref.playbackRate,
    loop: cycle === undefined ? null : fromMicros(cycle),
    instances,
    fps: fpsValue(v.task.fps),
    format: v.entry.format,
    frameCount: v.entry.frames,
    width: v.task.size.width,
    height: v.task.size.height,
    entry: v.entry.name,
    frames: `${framesDir(assetsDir, v.entry.name)}/${framePattern(v.entry.format)}`,
    cache: v.cache,
  };
}

export function manifestJson(results: VideoResult[], assetsDir: string): string {
  return JSON.stringify({ version: 1, videos: results.map((v) => manifestVideo(v, assetsDir)) }, null, 2) + "\n";
}

/**
 * Link each distinct entry's frames under `outDir`; returns frames and bytes placed. Folders already
 * there (a previous build's) are checked and kept where they still hold the store's frames.
 */
export async function writeFrames(results: VideoResult[], outDir: string, assetsDir: string): Promise<{ frames: number; bytes: number }> {
  const entries = [...new Map(results.map((v) => [v.entry.name, v.entry])).values()];
  const root = join(outDir, framesDir(assetsDir, ""));
  const placements = entries.map((entry) => ({ entry, dir: join(root, entry.name) }));
  await linkEntries(placements, existsSync(root));
  return { frames: entries.reduce((n, e) => n + e.frames, 0), bytes: entries.reduce((n, e) => n + e.bytes, 0) };
}

export async function writeOutputFile(outDir: string, relativePath: string, text: string): Promise<void> {
  const file = join(outDir, relativePath);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}
