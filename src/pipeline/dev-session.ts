import { realpath } from "node:fs/promises";
import pLimit from "p-limit";
import { devFramesUrl } from "../core/dev-url.js";
import { isFramecacheError, warningLine, type FramecacheError } from "../core/errors.js";
import { UPDATE_EVENT, type FramecacheUpdate, type UpdatedVideo } from "../core/events.js";
import { setAttributes, videoAttributes, videoSkeleton } from "../core/html.js";
import { logBug, type Logger } from "../core/logger.js";
import type { Task } from "../core/plan.js";
import type { TreeTiming } from "../core/timeline.js";
import { scanComposition, type VideoRef } from "../core/scan.js";
import { exists } from "../store/sentinel.js";
import type { StoredEntry } from "../store/store.js";
import type { Composition } from "./compositions.js";
import { changedVideos, readyLine, sameLayout, type Served } from "./dev-changes.js";
import { DevRuns, type Run, type RunsOptions } from "./dev-runs.js";
import { prepareRemoteSources, RemoteWatch, treeUrls } from "./dev-remote.js";
import { DevTimelines } from "./dev-timelines.js";
import type { Engine } from "./engine.js";
import { layoutEdits, videoEdits } from "./output.js";
import { withLocation, type Outcome } from "./results.js";

export { UPDATE_EVENT, type FramecacheUpdate, type UpdatedVideo };

export interface DevSessionOptions extends RunsOptions {
  logger: Logger;
  /** Deliver an update to the pages (Vite's HMR channel). */
  send: (update: FramecacheUpdate) => void;
  /** Show a failure on the pages (Vite's error overlay); it is logged as well. */
  error?: (error: FramecacheError) => void;
  /** Start watching a video source. */
  watch?: (file: string) => void;
  /** Quiet time after a source's last change event before re-planning. @default 100 */
  debounceMs?: number;
  /** Wait after an extraction before collecting garbage, so others can settle. @default 10_000 */
  gcDelayMs?: number;
}

/**
 * The dev server's view of the project: which compositions were served with which
 * entries, which extractions run, and what changed since. Planning is serialised,
 * so a page request and a file change never interleave their bookkeeping;
 * extraction runs in the background and frame requests wait for it.
 */
export class DevSession {
  private readonly queue = pLimit(1);
  private readonly served = new Map<string, Served>();
  private readonly runs: DevRuns;
  private readonly timelines: DevTimelines;
  /** Root composition → every composition file of its tree. */
  private readonly roots = new Map<string, Set<string>>();
  private readonly sources = new Set<string>();
  /** Entries that `?frames` imports handed out; never superseded. */
  private readonly pinned = new Set<string>();
  private readonly logged = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private gcTimer?: NodeJS.Timeout;
  private readonly remotes: RemoteWatch;
  private disposed = false;

  constructor(
    readonly engine: Engine,
    private readonly options: DevSessionOptions,
  ) {
    this.runs = new DevRuns(engine, options);
    this.timelines = new DevTimelines(engine);
    const served = () => [...this.served.values()].flatMap((s) => s.videos);
    this.remotes = new RemoteWatch(engine, served, (source) => void this.queue(() => this.sourceChanged(source)));
  }

  /** Plan the composition `file` (with the tree it belongs to) and return `html` with dev frame URLs; extraction goes on after. */
  async page(file: string, html: string): Promise<{ html: string; videos: number }> {
    const real = await realpathOr(file);
    const ahead = this.rootOf(real);
    await prepareRemoteSources(this.engine, ahead, treeUrls(this.roots.get(ahead), this.served));
    return this.queue(async () => {
      // Asked again: the trees may have changed while this waited for the queue.
      const root = this.rootOf(real);
      await this.planRoot(root);
      const served = this.served.get(real);
      const videos = [...(this.roots.get(root) ?? [])].reduce((n, f) => n + (this.served.get(f)?.videos.length ?? 0), 0);
      return { html: served ? setAttributes(html, { videos: served.frameAttributes, ...served.layout }) : html, videos };
    });
  }

  /** Plan root compositions ahead of any request, so their frames are being made when the page asks. */
  async warm(roots: string[]): Promise<void> {
    // One root at a time, so a page requested meanwhile is planned before the rest.
    for (const root of roots) {
      await prepareRemoteSources(this.engine, root);
      await this.queue(async () => {
        if (!this.disposed && (await exists(root))) await this.planRoot(await realpathOr(root));
      });
    }
  }

  /**
   * A composition file changed on disk. When only `<video>` attributes changed,
   * the affected videos are re-planned and the pages told ("update"); anything
   * else needs a reload ("reload"). Files never served are "unknown".
   */
  compositionChanged(file: string, html: string): Promise<"update" | "reload" | "unknown"> {
    return this.queue(async () => {
      const served = this.served.get(await realpathOr(file));
      if (!served) return "unknown";
      if (videoSkeleton(html) !== videoSkeleton(served.composition.html)) return "reload";
      const scan = scanComposition(html, served.composition.label);
      for (const w of scan.warnings) this.engine.logger.warn(warningLine(w));
      const updated = { ...served.composition, html, scan };
      const videos = await this.commit(updated, await this.timingOf(updated));
      // A host moved through a reference (a video's new duration, say): its page and the files it mounts are planned again.
      if (!sameLayout(served.layout, this.served.get(served.composition.file)!.layout)) return "reload";
      if (videos.length > 0) this.options.send({ compositions: [{ composition: served.composition.label, videos }] });
      return "update";
    });
  }

  /** A composition deleted on disk: dropped with what only it mounted, so a change of its sources plans it no more. */
  compositionRemoved(file: string): Promise<void> {
    return this.queue(async () => {
      const files = this.roots.get(file) ?? [file];
      this.roots.delete(file);
      for (const f of files) if (![...this.roots.values()].some((mounted) => mounted.has(f))) this.served.delete(f);
    });
  }

  /** Any file changed; sources of served videos are re-planned once their writes settle. */
  fileChanged(file: string): void {
    if (this.disposed || file.endsWith(".html")) return;
    const known = this.sources.has(file) || [...this.served.values()].some((s) => s.errors > 0);
    if (known) return this.schedule(file);
    void realpathOr(file).then((real) => this.sources.has(real) && this.schedule(real));
  }

  /** The complete entry behind a frame URL, waiting for its extraction when it runs. */
  entry(name: string): Promise<StoredEntry | "missing" | "timeout"> {
    return this.runs.entry(name);
  }

  /** Extract a task for a `?frames` import; its entry stays wanted for the session. */
  async pin(task: Task): Promise<Outcome> {
    this.pinned.add(task.entry);
    this.watchSource(task.source);
    return (await this.track(task)).promise;
  }

  /** Kill every running extraction; their partial directories are removed as they fail. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    clearTimeout(this.gcTimer);
    this.remotes.stop();
    await this.runs.dispose();
    await this.engine.dispose();
  }

  /** Keep the store under its budget in the background; entries the pages use, or used within the hour, are never evicted. */
  private collectGarbageSoon(): void {
    clearTimeout(this.gcTimer);
    this.gcTimer = setTimeout(() => void this.engine.collectGarbage(this.wanted()), this.options.gcDelayMs ?? 10_000);
    this.gcTimer.unref();
  }

  /** Log a failure and show it on the pages; the server keeps serving everything else. */
  private fail(error: FramecacheError): void {
    this.engine.logger.warn(error.message);
    if (!this.disposed) this.options.error?.(error);
  }

  private rootOf(file: string): string {
    if (this.roots.has(file)) return file;
    for (const [root, files] of this.roots) if (files.has(file)) return root;
    return file;
  }

  private async planRoot(root: string): Promise<void> {
    const { compositions, errors } = await this.engine.load([root]);
    for (const error of errors) this.fail(error);
    const timing = await this.timelines.update(root, compositions);
    await Promise.all([...compositions.values()].map((c) => this.commit(c, timing)));
    this.roots.set(root, new Set(compositions.keys()));
  }

  /** The timelines of every entry whose tree holds the composition, taken as it is now. */
  private async timingOf(composition: Composition): Promise<TreeTiming> {
    for (const [root, files] of this.roots) {
      if (!files.has(composition.file)) continue;
      const tree = new Map([...files].flatMap((f) => (this.served.has(f) ? [[f, this.served.get(f)!.composition] as const] : [])));
      tree.set(composition.file, composition);
      await this.timelines.update(root, tree);
    }
    return this.timelines.merged();
  }

  /**
   * Plan a composition, start what it needs, and say which videos changed since it was last served.
   * Failed extractions are tried again for a page request or an edit of the composition ("all"),
   * or for a change of their own source, never for an unrelated file's change.
   */
  private async commit(composition: Composition, timing: TreeTiming, retry: "all" | string = "all"): Promise<UpdatedVideo[]> {
    const started = performance.now();
    const { videos, errors } = await this.engine.plan(composition, timing.windows.get(composition.file) ?? []);
    if (this.disposed) return [];
    for (const error of errors) this.fail(error);
    const frameAttributes = new Map(videos.map((v) => [v.ref.index, videoEdits(v, devFramesUrl(v.task.entry, v.task.format), v.task.frameCount)]));
    const attributes = videoAttributes(composition.html).map((attrs, i) => ({ ...attrs, ...frameAttributes.get(i) }));
    const previous = this.served.get(composition.file);
    this.served.set(composition.file, { composition, videos, attributes, frameAttributes, layout: layoutEdits(composition.file, timing), errors: errors.length, started });
    await Promise.all(videos.map((v) => this.track(v.task, v.ref, retry === "all" || retry === v.task.source)));
    for (const v of videos) this.watchSource(v.task.source);
    this.supersede();
    void this.announce(composition.file);
    return previous ? changedVideos(previous.attributes, attributes) : [];
  }

  /** The run for a task: the current one when it is still good, else a new extraction. `ref` names it in a failure. */
  private async track(task: Task, ref?: VideoRef, retryFailed = true): Promise<Run> {
    const { run, started } = await this.runs.start(task, retryFailed);
    if (!started) return run;
    run.promise.then(
      (outcome) => {
        if (outcome.cache === "miss") this.collectGarbageSoon();
        this.prefetchWhenIdle();
      },
      (error: unknown) => {
        this.prefetchWhenIdle();
        // Not a problem of the project but a bug of ours: it stays the run's rejection, so a `?frames` import fails with it.
        if (!isFramecacheError(error)) return logBug(this.engine.logger, error);
        if (error.code !== "FC_CANCELLED") this.fail(ref ? withLocation(error, ref) : error);
      },
    );
    return run;
  }

  /** Abort running extractions that no served composition or import needs any more. */
  private supersede(): void {
    this.runs.supersede(this.wanted());
  }

  /**
   * Once no extraction runs, list the keyframes of the sources served, so that the first trim
   * edit of each seeks without waiting for ffprobe. It waits for the extractions because even
   * an idle-priority ffprobe slows ffmpeg on a machine with few cores.
   */
  private prefetchWhenIdle(): void {
    if (this.disposed || this.runs.busy) return;
    for (const served of this.served.values()) for (const v of served.videos) void this.engine.prefetchKeyframes(v.task).catch(() => undefined);
  }

  /** Entries that served compositions and imports use. */
  private wanted(): Set<string> {
    const wanted = new Set(this.pinned);
    for (const served of this.served.values()) for (const v of served.videos) wanted.add(v.task.entry);
    return wanted;
  }

  /** One line per composition once its frames are ready, when its set of entries is new. */
  private async announce(file: string): Promise<void> {
    const served = this.served.get(file);
    if (!served || served.videos.length === 0) return;
    const runs = served.videos.map((v) => this.runs.get(v.task.entry)!);
    await Promise.allSettled(runs.map((r) => r.promise));
    // A run that failed and then succeeded on a retry is news too.
    const signature = served.videos.map((v, i) => `${v.task.key}${runs[i]!.outcome ? "" : "!"}`).join(",");
    if (this.disposed || this.served.get(file) !== served || this.logged.get(file) === signature) return;
    this.logged.set(file, signature);
    this.options.logger.info(readyLine(served.composition.label, runs, performance.now() - served.started));
  }

  private watchSource(file: string): void {
    if (!this.sources.has(file)) this.options.watch?.(file);
    this.sources.add(file);
  }

  private schedule(file: string): void {
    clearTimeout(this.timers.get(file));
    const run = () => (this.timers.delete(file), void this.queue(() => this.sourceChanged(file)));
    this.timers.set(file, setTimeout(run, this.options.debounceMs ?? 100));
  }

  /** Re-plan the compositions that use a changed source (and any that had errors), then tell the pages. */
  private async sourceChanged(file: string): Promise<void> {
    if (this.disposed) return;
    const affected = [...this.served.values()].filter((s) => s.errors > 0 || s.videos.some((v) => v.task.source === file));
    const update: FramecacheUpdate = { compositions: [] };
    for (const served of affected) {
      const videos = await this.commit(served.composition, await this.timingOf(served.composition), file);
      if (videos.length > 0) update.compositions.push({ composition: served.composition.label, videos });
    }
    if (update.compositions.length > 0) this.options.send(update);
  }
}

/** Compositions and sources are keyed by real path, as the scanner resolves them. */
function realpathOr(file: string): Promise<string> {
  return realpath(file).catch(() => file);
}

