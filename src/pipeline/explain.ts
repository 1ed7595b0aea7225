import { explainMiss, type KnownEntry } from "../core/explain.js";
import type { VideoResult } from "./results.js";
import type { Logger } from "../core/logger.js";

/**
 * One line per extracted video saying why it missed, e.g.
 * `framecache  miss index.html video "b" → hfcache-v2-…: duration 1 → 1.5 (nearest hfcache-v2-…)`.
 * `known` is the store as it was before the run (see `knownEntries`).
 */
export function explainMisses(results: VideoResult[], known: KnownEntry[], logger: Logger): void {
  for (const v of results) {
    if (v.cache !== "miss") continue;
    const { nearest, changes } = explainMiss(v.task.input, v.task.source, known);
    const against = nearest ? ` (nearest ${nearest})` : "";
    logger.info(`framecache  miss ${v.composition.label} video "${v.ref.id}" → ${v.task.entry}: ${changes.join(", ")}${against}`);
  }
}
