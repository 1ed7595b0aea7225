import type { UpdatedVideo } from "../core/events.js";
import type { AttributeEdits } from "../core/html.js";
import { formatBytes, formatDuration } from "../core/format.js";
import type { Task } from "../core/plan.js";
import { videoId } from "../core/video-id.js";
import type { Composition } from "./compositions.js";
import type { Outcome, PlannedVideo } from "./results.js";

/** A composition as last served: its plan and the attributes each `<video>` was given. */
export interface Served {
  composition: Composition;
  videos: PlannedVideo[];
  /** Per `<video>` in document order: its attributes plus the frame attributes. */
  attributes: Record<string, string>[];
  frameAttributes: Map<number, Record<string, string>>;
  /** What its hosts and root are given. */
  layout: Pick<AttributeEdits, "hosts" | "root">;
  errors: number;
  started: number;
}

/** Videos whose attributes differ between two servings of one composition. */
export function changedVideos(before: Record<string, string>[], after: Record<string, string>[]): UpdatedVideo[] {
  const changed: UpdatedVideo[] = [];
  for (let i = 0; i < after.length; i++) {
    const old = before[i] ?? {};
    const now = after[i]!;
    if (sameAttributes(old, now)) continue;
    changed.push({
      id: videoId((name) => now[name], i),
      previous: old["data-frames"] ?? null,
      frames: now["data-frames"] ?? null,
      frameCount: now["data-frame-count"] ? Number(now["data-frame-count"]) : null,
      fps: fpsOf(now["data-frame-fps"]),
      attributes: now,
    });
  }
  return changed;
}

/** `framecache  index.html ready · 3 videos · 1 hit · 2 extracted · 90 frames (1.2 MB) · 2.1s`; a key counts once. */
export function readyLine(label: string, runs: { task: Task; outcome?: Outcome }[], ms: number): string {
  let hit = 0;
  let extracted = 0;
  let failed = 0;
  let frames = 0;
  let bytes = 0;
  const counted = new Set<string>();
  for (const run of runs) {
    const outcome = run.outcome;
    if (!outcome) {
      failed++;
      continue;
    }
    if (outcome.cache === "miss" && !counted.has(run.task.key)) extracted++;
    else hit++;
    if (!counted.has(run.task.key)) {
      frames += outcome.entry.frames;
      bytes += outcome.entry.bytes;
    }
    counted.add(run.task.key);
  }
  const parts = [`${runs.length} video${runs.length === 1 ? "" : "s"}`, `${hit} hit`, `${extracted} extracted`];
  if (failed > 0) parts.push(`${failed} failed`);
  parts.push(`${frames} frames (${formatBytes(bytes)})`, formatDuration(ms));
  return `framecache  ${label} ready · ${parts.join(" · ")}`;
}

/** Two servings gave a composition's hosts and root the same resolved windows. */
export function sameLayout(a: Pick<AttributeEdits, "hosts" | "root">, b: Pick<AttributeEdits, "hosts" | "root">): boolean {
  const text = (l: typeof a) => JSON.stringify([[...(l.hosts ?? [])], l.root ?? {}]);
  return text(a) === text(b);
}

function sameAttributes(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function fpsOf(text: string | undefined): number | string | null {
  if (text === undefined) return null;
  return /^\d+$/.test(text) ? Number(text) : text;
}
