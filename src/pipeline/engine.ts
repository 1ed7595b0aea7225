import pLimit from "p-limit";
import { FramecacheError } from "../core/errors.js";
import { dedupeWarnings, type DedupedLogger, type Logger } from "../core/logger.js";
import type { ResolvedOptions } from "../core/options.js";
import type { Task } from "../core/plan.js";
import { TreeTiming } from "../core/timeline.js";
import { emptyReport, type ExtractionProgress, type Report } from "../core/report.js";
import { seeksByTable } from "../core/ffmpeg-args.js";
import type { Binaries } from "../media/binaries.js";
import { knownEntries } from "../store/inventory.js";
import { openRemote, type RemoteCache } from "../store/remote/client.js";
import type { Composition, ProjectPaths } from "./compositions.js";
import { localEntries, remoteEntries, withSourceBytes, type EntrySource } from "./entry-sources.js";
import { explainMisses } from "./explain.js";
import { extraction } from "./extraction.js";
import { Planner, type RunSources } from "./planner.js";
import { Producer } from "./producer.js";
import { RemoteSources } from "./remote-sources.js";
import { sharedSourceRecords } from "./source-records.js";
import { addError, countResults, withLocation, type Outcome, type VideoResult } from "./results.js";
import { SourceFacts } from "./sources.js";
import { batchCandidates } from "../core/batch.js";
import { Batches } from "./batch.js";
import { donorSnapshot } from "./reuse.js";
import { StoreDir } from "./store-dir.js";
import { ExtractionStrategy } from "./strategy.js";

export type { CacheOutcome, Outcome, PlannedVideo, VideoResult } from "./results.js";

export interface RunResult {
  compositions: Map<string, Composition>;
  results: VideoResult[];
  errors: FramecacheError[];
  /** The entries' timelines, which the output writes into the HTML. */
  timing: TreeTiming;
}

export interface EngineOptions extends ProjectPaths {
  options: ResolvedOptions;
  logger: Logger;
  /** Called with each task about to be extracted; tests count runs with it. */
  onExtract?: (task: Task) => void;
  /** Only tasks this accepts are produced (`framecache extract --shard`); the rest are left out. */
  select?: (task: Task) => boolean;
  /** Log, for each miss, which key fields differ from the nearest entry (`--explain`, `FRAMECACHE_DEBUG=1`). */
  explain?: boolean;
  /** Told of each extraction and fed ffmpeg's own progress; see createProgress. */
  progress?: ExtractionProgress;
  /** Split each extraction into this many segments run side by side; default from the machine's cores (1 below 8). */
  segments?: number;
  /** Short windows of one source share ffmpeg processes (the default); false runs one per window. */
  batch?: boolean;
}

/**
 * The extraction pipeline shared by the Vite plugin and the CLI, put together from its parts:
 * the planner (compositions → tasks), the producer (a task's entry from the local store, the
 * shared cache or extraction) and the extraction strategy. Probes, digests and extractions are
 * memoised for the engine's lifetime, so a dev server pays for each input once.
 */
export class Engine {
  readonly report: Report = emptyReport();
  readonly logger: DedupedLogger;
  private readonly store: StoreDir;
  private readonly facts: SourceFacts;
  private readonly remote?: RemoteCache;
  private readonly remoteSources?: RemoteSources;
  private readonly planner: Planner;
  private readonly strategy: ExtractionStrategy;
  private readonly producer: Producer;
  private readonly slots: ReturnType<typeof pLimit>;

  constructor(readonly config: EngineOptions) {
    const { options } = config;
    this.logger = dedupeWarnings(config.logger);
    this.store = new StoreDir(config.root, options.cacheDir, this.logger);
    // Remembered in the store, but not in the throwaway store of an uncached run.
    this.facts = new SourceFacts(options, async () => {
      const dir = await this.store.get();
      return this.store.cached ? dir : undefined;
    }, this.report);
    this.remote = openRemote(options, this.logger, this.report);
    const records = this.remote && sharedSourceRecords(this.remote);
    this.remoteSources = options.remoteSources && new RemoteSources(options.remoteSources, () => this.store.get(), this.logger, this.report, records);
    this.planner = new Planner(config, options, this.facts, this.logger, this.report, this.remoteSources);
    this.slots = pLimit(options.concurrency);
    const binaries = () => this.facts.binaries();
    this.strategy = new ExtractionStrategy({
      binaries,
      keyframes: (task, through) => this.facts.keyframesOf(task, through),
      timeout: options.timeout,
      concurrency: options.concurrency,
      segments: config.segments,
      logger: this.logger,
    });
    const sources: EntrySource[] = [localEntries];
    // Shared cache: between the local store and ffmpeg (DESIGN §6).
    if (this.remote) sources.push(remoteEntries(this.remote));
    const extract = extraction({ binaries, strategy: this.strategy, slots: this.slots, report: this.report, progress: config.progress, onExtract: config.onExtract });
    const remoteSources = this.remoteSources;
    sources.push(remoteSources ? withSourceBytes(extract, (path, signal) => remoteSources.materialize(path, signal)) : extract);
    this.producer = new Producer(sources, this.store, { maxSize: options.maxCacheSize, report: this.report, logger: this.logger });
  }

  /** ffmpeg, checked, and what its build can do. */
  binaries(): Promise<Binaries> {
    return this.facts.binaries();
  }

  /** The store directory; an unwritable cache costs one warning and the work goes on uncached. */
  storeDir(): Promise<string> {
    return this.store.get();
  }

  get cached(): boolean {
    return this.store.cached;
  }

  /** Stop listings made ahead of need, finish remote uploads, then remove the temporary store used when caching is off. */
  async dispose(): Promise<void> {
    await this.facts.dispose();
    await this.remote?.close();
    await this.store.dispose();
  }

  load(roots: string[]): ReturnType<Planner["load"]> {
    return this.planner.load(roots);
  }

  timeline(...args: Parameters<Planner["timeline"]>): ReturnType<Planner["timeline"]> {
    return this.planner.timeline(...args);
  }

  plan(...args: Parameters<Planner["plan"]>): ReturnType<Planner["plan"]> {
    return this.planner.plan(...args);
  }

  planFile(...args: Parameters<Planner["planFile"]>): ReturnType<Planner["planFile"]> {
    return this.planner.planFile(...args);
  }

  /** A complete entry for the task: from the store, else fetched or extracted once however many callers ask. */
  ensure(task: Task, signal?: AbortSignal): Promise<Outcome> {
    return this.producer.ensure(task, { signal });
  }

  /** The ffmpeg arguments of one pass over the task into `outDir`, as the engine would run it (the benchmark's baseline). */
  commandFor(task: Task, outDir: string): Promise<string[]> {
    return this.strategy.commandFor(task, outDir);
  }

  /**
   * List the keyframes of a task's source ahead of need, at idle priority, so that the first trim
   * edit into it finds the table in the store. Not beside a cold extraction: on 2 cores even an
   * idle-priority ffprobe slowed ffmpeg by 3–6 %.
   */
  async prefetchKeyframes(task: Task): Promise<void> {
    if (!this.cached || !task.seekable || !seeksByTable(task)) return;
    await this.facts.prefetchKeyframesOf(task);
  }

  /** Stop listings made ahead of need: an extraction is about to start. */
  stopPrefetches(): void {
    this.facts.stopPrefetches();
  }

  collectGarbage(inUse?: ReadonlySet<string>): Promise<void> {
    return this.producer.collectGarbage(inUse);
  }

  /** Plan and extract everything under the given root compositions. */
  async run(roots: string[], signal?: AbortSignal): Promise<RunResult> {
    const started = performance.now();
    this.refreshRemoteSources();
    const { compositions, errors } = await this.load(roots);
    // Every root is an entry with a timeline of its own.
    const timing = new TreeTiming();
    for (const root of new Set(roots)) if (compositions.has(root)) timing.add(root, await this.timeline(root, compositions));
    const sources: RunSources = new Map();
    const planned = await Promise.all([...compositions.values()].map((c) => this.plan(c, timing.windows.get(c.file) ?? [], sources)));
    const select = this.config.select;
    const videos = planned.flatMap((p) => p.videos).filter((v) => !select || select(v.task));
    errors.push(...planned.flatMap((p) => p.errors));
    const store = await this.storeDir();
    // What the store held before this run, so misses are explained against earlier entries only.
    const known = this.config.explain ? await knownEntries(store) : undefined;
    // Overlapping misses wait for their shared pass; everything else starts at once. With a shared
    // cache there is none: it may hold them, and fetching beats decoding.
    const shared = this.remote ? undefined : await this.strategy.decodeShared(store, videos.map((v) => v.task), this.slots, this.report, signal);
    const donors = donorSnapshot(store);
    const batch = this.batches(videos.map((v) => v.task).filter((t) => !shared?.members.has(t.key)), signal);
    const settled = await Promise.allSettled(
      videos.map(async (v) => {
        if (shared?.members.has(v.task.key)) await shared.ready;
        // A member that never reaches extraction (a hit) must not hold its batch up.
        return this.producer.ensure(v.task, { signal, shared: shared?.donors, batch, donors }).finally(() => batch?.withdraw(v.task));
      }),
    );
    await shared?.dispose();
    const results: VideoResult[] = [];
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") results.push({ ...videos[i]!, ...s.value });
      else if (s.reason instanceof FramecacheError) addError(errors, withLocation(s.reason, videos[i]!.ref));
      else throw s.reason;
    });
    this.count(compositions, results);
    // Uploads run beside the extractions; the report counts their bytes.
    await this.remote?.flush();
    if (known) explainMisses(results, known, this.logger);
    this.report.totalMs += performance.now() - started;
    return { compositions, results, errors, timing };
  }

  /** The next plan of each remote source asks its server again, unless inside `freshFor` (a build starts; a dev server polls). */
  refreshRemoteSources(): void {
    this.remoteSources?.refresh();
  }

  /** The digest of a remote source's bytes as its server has them now (within `freshForMs`, default the option's, as last seen). */
  async remoteDigest(url: string, freshForMs?: number): Promise<string | undefined> {
    return (await this.remoteSources?.resolve(url, freshForMs))?.digest;
  }

  /** Short windows of one source, to extract in shared ffmpeg processes; none with a shared cache, which may hold them. */
  private batches(tasks: Task[], signal?: AbortSignal): Batches | undefined {
    if (this.remote || this.config.batch === false) return undefined;
    const groups = batchCandidates([...new Map(tasks.map((t) => [t.key, t])).values()]);
    if (groups.length === 0) return undefined;
    const config = { binaries: () => this.facts.binaries(), keyframes: (t: Task) => this.facts.keyframesOf(t), timeout: this.config.options.timeout, slots: this.slots, report: this.report, signal };
    return new Batches(groups, config);
  }

  /** Add results to the report's counts. */
  count(compositions: Map<string, Composition>, results: VideoResult[]): void {
    countResults(this.report, compositions.values(), results);
  }
}
