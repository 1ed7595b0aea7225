import type { Task } from "./plan.js";
import type { VideoRef } from "./scan.js";
import { fromMicros, type Micros } from "./time.js";
import type { HostWindow, ResolvedClip } from "./timeline.js";

/**
 * The resolved timing the output writes into the HTML (README "Outputs"), so the runtime and any
 * other consumer never re-derive references, caps or loops. Times are seconds on the timeline of
 * the file the element is in; a mounted file is placed by its host's `data-frame-start`.
 */
export function videoTimingAttributes(ref: VideoRef, task: Pick<Task, "mediaStart">, clip: ResolvedClip): Record<string, string> {
  const attrs: Record<string, string> = { "data-frame-start": seconds(clip.localStart) };
  if (clip.localEnd !== undefined) attrs["data-frame-end"] = seconds(clip.localEnd);
  attrs["data-frame-rate"] = String(ref.playbackRate);
  if (clip.cycle !== undefined) attrs["data-frame-loop"] = seconds(clip.cycle);
  // Frames start later than the clip when every instance of it starts before 0 (a host at a negative time).
  const lead = Math.floor((task.mediaStart - ref.mediaStart) / ref.playbackRate);
  if (lead > 0) attrs["data-frame-lead"] = seconds(lead);
  return attrs;
}

/** A host's window: where its mounted file starts (negative allowed) and where it is cut off. */
export function hostTimingAttributes(host: HostWindow): Record<string, string> {
  const attrs: Record<string, string> = { "data-frame-start": seconds(host.start) };
  if (host.end !== undefined) attrs["data-frame-end"] = seconds(host.end);
  return attrs;
}

/** An entry root's end: nothing under it shows from then on. */
export function rootTimingAttributes(end: Micros | undefined): Record<string, string> {
  return end === undefined ? {} : { "data-frame-end": seconds(end) };
}

function seconds(micros: Micros): string {
  return String(fromMicros(micros));
}
