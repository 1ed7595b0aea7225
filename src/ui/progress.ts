import { basename } from "node:path";
import { formatDuration, formatEta } from "../core/format.js";
import type { ExtractionProgress } from "../core/report.js";
import { CLEAR_LINE, colorsFor, columnsOf, isInteractive, printable, type Colors, type TermStream } from "./terminal.js";

export interface ProgressReporter extends ExtractionProgress {
  /** Erase the live line before someone else prints; the next update redraws it. True if it was drawn. */
  clear(): boolean;
}

export interface ProgressOptions {
  /** The terminal for the live line; used only when it is interactive. */
  stream?: TermStream;
  /** Plain lines: the periodic line when not on a terminal, and the final line on one. */
  log(line: string): void;
  env?: NodeJS.ProcessEnv;
  /** Work that ends sooner shows nothing. @default 2000 */
  delayMs?: number;
  /** Plain lines come at most this often. @default 10000 */
  intervalMs?: number;
  now?: () => number;
}

/** What one line shows: the whole run, however many ffmpeg processes it has. */
export interface ProgressSnapshot {
  done: number;
  planned: number;
  /** Sum of the running processes' rates, as ffmpeg reports them. */
  fps: number;
  elapsedMs: number;
  /** Clips being extracted now (or next). */
  names: string[];
  finished: boolean;
}

interface TaskState {
  name: string;
  planned: number;
  frame: number;
  fps: number;
  started: boolean;
  ended: boolean;
}

const REDRAW_MS = 100;

/**
 * Progress of extractions: on a terminal one live line per run (a run lasts while any
 * extraction is queued or running), redrawn in place and finished at 100 %; elsewhere
 * a plain line at most every `intervalMs`. Nothing at all for runs shorter than `delayMs`.
 */
export function createProgress(options: ProgressOptions): ProgressReporter {
  const env = options.env ?? process.env;
  const now = options.now ?? (() => performance.now());
  const delay = options.delayMs ?? 2000;
  const interval = options.intervalMs ?? 10_000;
  const live = isInteractive(options.stream, env);
  const colors = colorsFor(live ? options.stream : undefined, env);

  let tasks: TaskState[] = [];
  let runStarted = 0;
  let shown = false;
  let drawn = false;
  let lastDraw = -Infinity;
  let lastPlain = -Infinity;

  const snapshot = (finished: boolean): ProgressSnapshot => {
    const running = tasks.filter((t) => t.started && !t.ended);
    const next = running.length > 0 ? running : tasks.filter((t) => !t.ended).slice(0, 1);
    return {
      done: tasks.reduce((n, t) => n + (t.ended ? t.planned : Math.min(t.frame, t.planned)), 0),
      planned: tasks.reduce((n, t) => n + t.planned, 0),
      fps: running.reduce((n, t) => n + t.fps, 0),
      elapsedMs: now() - runStarted,
      names: finished ? [...new Set(tasks.map((t) => t.name))] : next.map((t) => t.name),
      finished,
    };
  };

  const clear = () => {
    if (!drawn) return false;
    options.stream!.write(CLEAR_LINE);
    drawn = false;
    return true;
  };

  const tick = () => {
    const t = now();
    if (t - runStarted < delay) return;
    if (live) {
      if (t - lastDraw < REDRAW_MS) return;
      lastDraw = t;
      shown = drawn = true;
      options.stream!.write(CLEAR_LINE + progressLine(snapshot(false), { live: true, columns: columnsOf(options.stream), colors }));
    } else if (t - lastPlain >= interval) {
      lastPlain = t;
      shown = true;
      options.log(progressLine(snapshot(false), { live: false, columns: Infinity, colors }));
    }
  };

  const finish = () => {
    // CI logs get the summary line next; a terminal keeps the finished bar.
    if (live && shown) {
      const line = progressLine(snapshot(true), { live: true, columns: columnsOf(options.stream), colors });
      clear();
      options.log(line);
    }
    tasks = [];
    shown = false;
  };

  return {
    clear,
    begin(task) {
      if (tasks.length === 0) {
        runStarted = now();
        lastDraw = lastPlain = -Infinity;
      }
      const state: TaskState = { name: printable(basename(task.source)), planned: task.frameCount, frame: 0, fps: 0, started: false, ended: false };
      tasks.push(state);
      return {
        update(progress) {
          if (state.ended) return;
          state.started = true;
          state.frame = progress.frame;
          state.fps = progress.fps;
          tick();
        },
        end() {
          if (state.ended) return;
          state.ended = true;
          if (tasks.every((t) => t.ended)) finish();
          else tick();
        },
      };
    },
  };
}

/**
 * `framecache ━━━━━━━━━━━━──────── 61%  276/450 frames · 58 fps · ETA 3s · clip.mp4` on a
 * terminal, `framecache extracting 276/450 frames (61%) · 58 fps · ETA 3s · clip.mp4` in a log.
 * Never wider than the terminal: a wrapped line cannot be redrawn in place.
 */
export function progressLine(s: ProgressSnapshot, style: { live: boolean; columns: number; colors: Colors }): string {
  const c = style.colors;
  const ratio = s.finished ? 1 : s.planned > 0 ? Math.min(0.99, s.done / s.planned) : 0;
  const percent = `${Math.floor(ratio * 100)}%`;
  const rate = s.finished ? (s.done * 1000) / Math.max(1, s.elapsedMs) : s.fps;
  const parts = [`${s.done}/${s.planned} frames`];
  if (!style.live) parts[0] += ` (${percent})`;
  if (rate > 0) parts.push(`${rate < 10 ? rate.toFixed(1) : Math.round(rate)} fps`);
  if (s.finished) parts.push(formatDuration(s.elapsedMs));
  else if (s.fps > 0) parts.push(`ETA ${formatEta((s.planned - s.done) / s.fps)}`);
  if (s.names.length > 0) parts.push(s.names.length === 1 ? s.names[0]! : `${s.names[0]} +${s.names.length - 1}`);

  const barWidth = !style.live ? 0 : style.columns >= 80 ? 20 : style.columns >= 60 ? 10 : 0;
  const filled = Math.floor(ratio * barWidth);
  const bar = barWidth > 0 ? `${"━".repeat(filled)}${"─".repeat(barWidth - filled)} ` : "";
  const head = style.live ? `framecache ${bar}${percent.padStart(4)}  ` : "framecache extracting ";
  // Drop trailing details until the line fits; the counts go last.
  while (parts.length > 1 && head.length + parts.join(" · ").length > style.columns - 1) parts.pop();
  const text = parts.join(" · ").slice(0, Math.max(0, style.columns - 1 - head.length));
  if (!style.live) return head + text;
  if (head.length >= style.columns) return percent;
  const paint = (t: string, color: (t: string) => string) => (t ? color(t) : "");
  const coloredBar = barWidth > 0 ? `${paint("━".repeat(filled), c.cyan)}${paint("─".repeat(barWidth - filled), c.dim)} ` : "";
  return `${c.bold("framecache")} ${coloredBar}${c.bold(percent.padStart(4))}  ${text.replace(/ · /g, c.dim(" · "))}`;
}
