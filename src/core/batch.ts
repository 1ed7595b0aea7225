import { seekPoint, type Keyframe } from "./ffmpeg-args.js";
import type { Task } from "./plan.js";

/**
 * Bounds of one ffmpeg process over several windows of a source. Measured on 2 cores with
 * twelve 0.5 s windows of a 30 s 1080p H.264 source: ffmpeg 5.1 decodes a process's inputs one
 * after another on its main thread, so one batch of twelve took 3.9 s, as long as twelve runs one
 * after another (3.7 s), and four batches two at a time 2.4 s single-threaded. Every input keeps
 * its decoder and encoder until the process ends, about 45–80 MB at 1080p (0.6–1 GB for twelve),
 * so a batch is bounded by the pixels it decodes as well as by inputs and frames.
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
  /** Four 1080p inputs, each decoding with codec threads: about 370 MB (ffmpeg itself is 53 MB). */
  pixels: 4 * 1920 * 1080,
  /** On one thread an input takes about 46 MB at 1080p: six, 331 MB. */
  singleThreadedPixels: 6 * 1920 * 1080,
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
 * What a window costs its process, in microseconds of media: the decode from its seek (a keyframe
 * from the table, the seek time, or the source's start) to its end, plus the encoding of its
 * frames, each about as costly as decoding two frames (1080p jpg, 2 cores). Consecutive windows
 * of a source differ most in the first part.
 */
export function windowCost(task: Task, keyframes?: readonly Keyframe[]): number {
  const from = seekPoint(task, 0, keyframes) ?? 0;
  const frame = (task.fps.den * 1e6) / task.fps.num;
  return Math.max(0, task.seek + task.span - from) + ENCODE_COST * task.frameCount * frame;
}

const ENCODE_COST = 2;

/** How many of these windows' inputs one process may decode within `pixels`. */
function mostInputs(tasks: readonly Task[], pixels: number, limits: typeof BATCH_LIMITS): number {
  const size = (t: Task) => (t.sourceSize ?? t.size).width * (t.sourceSize ?? t.size).height;
  return Math.min(limits.inputs, Math.max(1, Math.floor(pixels / Math.max(1, ...tasks.map(size)))));
}

/** A process of a batch, and whether its decoders and encoders run on one thread each. */
export interface BatchProcess {
  tasks: Task[];
  singleThreaded: boolean;
}

/**
 * The misses of one source as splitBatch cuts them for `slots` processes side by side on `cores`,
 * without the windows left alone. Processes side by side that fill the cores gain nothing from
 * codec threads, which only cost there, and on one thread an input takes less memory, so where
 * the windows make at least one round of such processes they take more inputs (twelve 0.5 s
 * windows of 1080p on 2 cores: two processes of six, 2.46 s; four of three, 2.51 s; medians of
 * 8 runs alternated). Fewer windows are cut for threads: merged onto one thread, windows that
 * would run side by side with threads would leave cores idle. A last round with cores to spare
 * keeps its threads where its processes are small enough for them.
 */
export function batchProcesses(tasks: readonly Task[], slots: number, cores: number, cost?: (task: Task) => number, limits = BATCH_LIMITS): { alone: Task[]; shared: BatchProcess[] } {
  const filling = slots >= cores;
  const single = filling ? splitBatch(tasks, slots, cost, { ...limits, pixels: limits.singleThreadedPixels }) : [];
  const round = single.filter((b) => b.length > 1).length >= slots;
  const cut = round ? single : splitBatch(tasks, slots, cost, limits);
  const shared = cut.filter((b) => b.length > 1);
  const fullRounds = filling ? Math.floor(shared.length / slots) * slots : 0;
  const threaded = mostInputs(tasks, limits.pixels, limits);
  return {
    alone: cut.filter((b) => b.length < 2).flat(),
    shared: shared.map((b, i) => ({ tasks: b, singleThreaded: i < fullRounds || b.length > threaded })),
  };
}

/**
 * The misses of one source cut into processes within BATCH_LIMITS, in whole rounds of `slots`
 * processes side by side where there are windows enough, none with more windows than an even share
 * rounded up. Each window,
 * costliest first (see windowCost), goes to the process with the least work so far that has room,
 * so that processes side by side end together; the costliest process comes first. A batch of one
 * is a window's own run.
 */
export function splitBatch(tasks: readonly Task[], slots: number, cost: (task: Task) => number = (t) => t.frameCount, limits = BATCH_LIMITS): Task[][] {
  const most = mostInputs(tasks, limits.pixels, limits);
  const byStart = [...tasks].sort((a, b) => a.mediaStart - b.mediaStart);
  // A source too large to decode twice in one process: each window alone.
  if (most < 2) return byStart.map((t) => [t]);
  const frames = tasks.reduce((n, t) => n + t.frameCount, 0);
  const needed = Math.max(Math.ceil(tasks.length / most), Math.ceil(frames / limits.frames));
  const count = Math.max(1, Math.min(Math.floor(tasks.length / 2), Math.ceil(needed / slots) * slots));
  // The cap on `count` can leave fewer processes than `needed`; `most` still bounds each.
  const room = Math.min(most, Math.ceil(tasks.length / count));
  const costs = new Map(tasks.map((t) => [t, cost(t)]));
  const batches = Array.from({ length: count }, () => ({ tasks: [] as Task[], cost: 0, frames: 0 }));
  const costliest = [...byStart].sort((a, b) => costs.get(b)! - costs.get(a)! || a.mediaStart - b.mediaStart || (a.key < b.key ? -1 : 1));
  for (const task of costliest) {
    const open = batches.filter((b) => b.tasks.length < room && b.frames + task.frameCount <= limits.frames);
    // No process with room (uneven frame counts, or fewer processes than inputs need): one more.
    const batch = open.length ? open.reduce((a, b) => (b.cost < a.cost ? b : a)) : batches[batches.push({ tasks: [], cost: 0, frames: 0 }) - 1]!;
    batch.tasks.push(task);
    batch.cost += costs.get(task)!;
    batch.frames += task.frameCount;
  }
  return batches
    .sort((a, b) => b.cost - a.cost)
    .map((b) => b.tasks.sort((x, y) => x.mediaStart - y.mediaStart || (x.key < y.key ? -1 : 1)));
}
