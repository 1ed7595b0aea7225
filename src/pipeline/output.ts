import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { frameAttributes, framePattern } from "../core/frames.js";
import { setVideoAttributes } from "../core/html.js";
import { fpsValue, fromMicros } from "../core/time.js";
import { linkEntry } from "../store/emit.js";
import type { Composition } from "./compositions.js";
import type { VideoResult } from "./results.js";

/** Where frames live relative to the output root: `assets/frames/<entry>`. */
export function framesDir(assetsDir: string, entry: string): string {
  return [assetsDir, "frames", entry].filter(Boolean).join("/");
}

/** Rewrite a composition's `<video>` elements with the frames each one shows. */
export function rewriteComposition(html: string, composition: Composition, results: VideoResult[], urlPrefix: string, assetsDir: string): string {
  const edits = new Map<number, Record<string, string>>();
  for (const v of results) {
    if (v.composition !== composition) continue;
    edits.set(v.ref.index, frameAttributes(`${urlPrefix}${framesDir(assetsDir, v.entry.name)}/${framePattern(v.entry.format)}`, v.entry.frames, v.task.fps));
  }
  return setVideoAttributes(html, edits);
}

export interface ManifestVideo {
  composition: string;
  id: string;
  src: string;
  start: number;
  end: number | null;
  mediaStart: number;
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
  return {
    composition: v.composition.label,
    id: v.ref.id,
    src: v.ref.src,
    start: fromMicros(v.ref.start),
    end: v.ref.end === undefined ? null : fromMicros(v.ref.end),
    mediaStart: fromMicros(v.ref.mediaStart),
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

/** Link each distinct entry's frames under `outDir`; returns frames and bytes placed. */
export async function writeFrames(results: VideoResult[], outDir: string, assetsDir: string): Promise<{ frames: number; bytes: number }> {
  const entries = new Map(results.map((v) => [v.entry.name, v.entry]));
  let frames = 0;
  let bytes = 0;
  for (const entry of entries.values()) {
    await linkEntry(entry, join(outDir, framesDir(assetsDir, entry.name)));
    frames += entry.frames;
    bytes += entry.bytes;
  }
  return { frames, bytes };
}

export async function writeOutputFile(outDir: string, relativePath: string, text: string): Promise<void> {
  const file = join(outDir, relativePath);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}
