import type { Task } from "./plan.js";

/**
 * Bounds of one ffmpeg process over several windows of a source. Measured on 2 cores with
 * twelve 0.5 s windows of a 30 s 1080p H.264 source: ffmpeg 5.1 decodes a process's inputs one
 * after another on its main thread, so one batch of twelve took 3.7–4.7 s where twelve runs took
 * 4.2 s, and two batches side by side 2.8–3.4 s. Every input keeps its decoder and encoder until
 * the process ends, about 70–80 MB at 1080p (1 GB for twelve), so a batch is bounded by the
 * pixels it decodes as well as by inputs and frames.
 */
export const BATCH_LIMITS = {
  /**
   * Longer windows gain little: a start-up is ~0.15 s of CPU, a 150-frame 1080p window several
   * seconds (four 3 s windows of 1080p, two processes of two side by side: 11.8 s; four runs two at
   * a time: 11.2 s, on a loaded machine).
   */
  windowFrames: 150,
  inputs: 16,
  frames: 900,
  /** Four 1080p inputs: about 330 MB. */
  pixels: 4 * 1920 * 1080,
};

/**
 * Windows of a run that may share ffmpeg processes: those of one source short enough to gain
 * from it, grouped by source, two or more a group. Tasks are given once each (by key).
 */
export function batchCandidates(tasks: readonly Task[], limits = BATCH_LIMITS): Task[][] {
  const bySource = new Map<string, Task[]>();
  for (const task of tasks) {
    if (task.frameCount > limits.windowFrames) continue;
    const group = bySource.get(task.source);
    if (group) group.push(task);
    else bySource.set(task.source, [task]);
  }
  return [...bySource.values()].filter((group) => group.length > 1);
}

/**
 * The misses of one source cut into processes within BATCH_LIMITS: consecutive windows, as
 * even as can be, in whole rounds of `slots` processes side by side so that none is left to
 * run alone at the end. A batch of one is a window's own run.
 */
export function splitBatch(tasks: readonly Task[], slots: number, limits = BATCH_LIMITS): Task[][] {
  const sorted = [...tasks].sort((a, b) => a.mediaStart - b.mediaStart);
  const pixels = (t: Task) => (t.sourceSize ?? t.size).width * (t.sourceSize ?? t.size).height;
  const perInput = Math.max(1, Math.floor(limits.pixels / Math.max(1, ...sorted.map(pixels))));
  const most = Math.min(limits.inputs, perInput);
  // A source too large to decode twice in one process: each window alone.
  if (most < 2) return sorted.map((t) => [t]);
  const frames = sorted.reduce((n, t) => n + t.frameCount, 0);
  const needed = Math.max(Math.ceil(sorted.length / most), Math.ceil(frames / limits.frames));
  const count = Math.max(1, Math.min(Math.floor(sorted.length / 2), Math.ceil(needed / slots) * slots));
  // Lengths differing by one at most; a bound that a ceil would overrun is kept by `needed` ≤ count.
  const batches: Task[][] = [];
  for (let i = 0, start = 0; i < count; i++) {
    const end = start + Math.floor(sorted.length / count) + (i < sorted.length % count ? 1 : 0);
    batches.push(sorted.slice(start, end));
    start = end;
  }
  return batches;
}
