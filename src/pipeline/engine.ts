import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import pLimit from "p-limit";
import { FramecacheError, formatLocation } from "../core/errors.js";
import type { FfmpegProgress } from "../core/ffmpeg-progress.js";
import { extractionArgs, needsKeyframes, seeksByTable, type Keyframe } from "../core/ffmpeg-args.js";
import { frameFileName } from "../core/frames.js";
import { extractionTimeout, type ResolvedOptions } from "../core/options.js";
import { planTask, type SourceIdentity, type Task } from "../core/plan.js";
import type { VideoRef } from "../core/scan.js";
import { bestReuse, segmentCount, sharedDecodes, type Donor, type SharedDecode } from "../core/spans.js";
import type { Rational } from "../core/time.js";
import type { Binaries } from "../media/binaries.js";
import { digestFollowing } from "../media/digest.js";
import { extractFrames } from "../media/extract.js";
import { collectGarbage } from "../store/gc.js";
import { knownEntries } from "../store/inventory.js";
import { tryLock, waitForLock } from "../store/lock.js";
import { openRemote, type RemoteCache } from "../store/remote/client.js";
import { lookupEntry, openStore, partialDir, publishEntry, type Produced, type StoredEntry } from "../store/store.js";
import { explainMisses } from "./explain.js";
import { loadCompositions, resolveProjectFile, type Composition, type ProjectPaths } from "./compositions.js";
import { dedupeWarnings, type DedupedLogger, type Logger } from "../core/logger.js";
import type { ExtractionProgress } from "../core/report.js";
import { emptyReport, timed, type Report } from "../core/report.js";
import { assembleFrames, clearDir, DamagedDonor, extractSegments, storeDonors } from "./reuse.js";
import { SourceFacts } from "./sources.js";

export type CacheOutcome = "hit" | "miss" | "remote-hit";

export interface PlannedVideo {
  composition: Composition;
  ref: VideoRef;
  task: Task;
}

export interface VideoResult extends PlannedVideo {
  entry: StoredEntry;
  cache: CacheOutcome;
}

export interface EngineOptions extends ProjectPaths {
  options: ResolvedOptions;
  logger: Logger;
  /** Called with each ffmpeg argument list; tests count runs with it. */
  onExtract?: (task: Task) => void;
  /** Only tasks this accepts are produced (`framecache extract --shard`); the rest are left out. */
  select?: (task: Task) => boolean;
  /** Log, for each miss, which key fields differ from the nearest entry (`--explain`, `FRAMECACHE_DEBUG=1`). */
  explain?: boolean;
  /** Told of each extraction and fed ffmpeg's own progress; see createProgress. */
  progress?: ExtractionProgress;
  /** Split each extraction into this many segments run side by side; default from the machine's cores (1 below 8). */
  segments?: number;
}

/**
 * The extraction pipeline shared by the Vite plugin and the CLI: compositions in,
 * complete store entries out. Probes, digests and extractions are memoised for
 * the engine's lifetime, so a dev server pays for each input once.
 */
export class Engine {
  readonly report: Report = emptyReport();
  readonly logger: DedupedLogger;
  private storePromise?: Promise<string>;
  private temporaryStore?: string;
  private readonly facts: SourceFacts;
  /** Entries this engine extracted, and how many of them the last GC had seen. */
  private extracted = 0;
  private extractedAtLastGc = 0;
  private readonly inFlight = new Map<string, Promise<{ entry: StoredEntry; cache: CacheOutcome }>>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly remote?: RemoteCache;
  /** Shared decodes of this run's overlapping misses, which they take their frames from. */
  private shared: Donor[] = [];

  constructor(readonly config: EngineOptions) {
    this.logger = dedupeWarnings(config.logger);
    this.limit = pLimit(config.options.concurrency);
    this.remote = openRemote(config.options, this.logger, this.report);
    // Remembered in the store, but not in the throwaway store of an uncached run.
    this.facts = new SourceFacts(config.options, async () => {
      const dir = await this.storeDir();
      return this.cached ? dir : undefined;
    }, this.report);
  }

  /** ffmpeg, checked, and what its build can do. */
  binaries(): Promise<Binaries> {
    return this.facts.binaries();
  }

  /** The store directory; an unwritable cache costs one warning and the work goes on uncached. */
  storeDir(): Promise<string> {
    this.storePromise ??= (async () => {
      const wanted = this.config.options.cacheDir;
      if (wanted !== undefined) {
        const dir = isAbsolute(wanted) ? wanted : join(this.config.root, wanted);
        try {
          await openStore(dir);
          return dir;
        } catch (error) {
          this.logger.warn(`framecache: cache directory ${dir} cannot be written (${(error as Error).message}); extracting without a cache`);
        }
      }
      this.temporaryStore = await mkdtemp(join(tmpdir(), "framecache-"));
      return this.temporaryStore;
    })();
    return this.storePromise;
  }

  get cached(): boolean {
    return this.temporaryStore === undefined;
  }

  /** Stop listings made ahead of need, finish remote uploads, then remove the temporary store used when caching is off. */
  async dispose(): Promise<void> {
    this.facts.dispose();
    await this.remote?.close();
    if (this.temporaryStore) await rm(this.temporaryStore, { recursive: true, force: true });
  }

  async load(roots: string[]): Promise<{ compositions: Map<string, Composition>; errors: FramecacheError[] }> {
    const loaded = await timed(this.report, "scanMs", () =>
      loadCompositions(roots, this.config, this.config.options.fps, (m) => this.logger.warn(m)),
    );
    for (const composition of loaded.compositions.values()) {
      for (const warning of composition.scan.warnings) {
        // Remote sources are skipped by design: one line with a count, not one per video.
        const cause = warning.code === "FC_REMOTE_SOURCE" ? warning.code : undefined;
        this.logger.warn(`${warning.loc.file}:${warning.loc.line}:${warning.loc.column}: ${warning.message}`, cause);
      }
    }
    return loaded;
  }

  /** Plan every active video of a composition; failures are collected, not thrown one by one. */
  async plan(composition: Composition): Promise<{ videos: PlannedVideo[]; errors: FramecacheError[] }> {
    const active = composition.scan.videos.filter((ref) => !ref.inactive);
    const settled = await Promise.allSettled(active.map((ref) => this.planVideo(composition, ref)));
    const videos: PlannedVideo[] = [];
    const errors: FramecacheError[] = [];
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") videos.push(s.value);
      else if (!(s.reason instanceof FramecacheError)) throw s.reason;
      else addError(errors, withLocation(s.reason, active[i]!));
    });
    return { videos, errors };
  }

  private async planVideo(composition: Composition, ref: VideoRef): Promise<PlannedVideo> {
    const path = await resolveProjectFile(ref.src, composition.file, this.config, ref.loc, `video "${ref.id}"`);
    return { composition, ref, task: await this.planFile(path, ref, composition.fps) };
  }

  /** Plan one reference to a file already resolved inside the project. */
  async planFile(path: string, ref: VideoRef, fps: Rational, format = this.config.options.format): Promise<Task> {
    const what = `video "${ref.id}"`;
    const st = await stat(path);
    const identity: SourceIdentity = { path, size: st.size, mtimeMs: st.mtimeMs };
    const memo = factsKey(path, st);
    // Both remembered in the store across runs: a warm run neither probes nor locates ffmpeg.
    // A cold one hashes while ffprobe runs.
    const probing = this.facts.probe(path, memo, { what: `${what} (${ref.src})`, loc: ref.loc });
    const hashing = this.config.options.key === "content" ? this.facts.digest(path, memo) : undefined;
    hashing?.catch(() => undefined); // a probe failure is the one reported
    const info = await probing;
    if (hashing) identity.digest = await hashing;
    if (info.alpha && format === "jpg") {
      this.logger.warn(
        `${formatLocation(ref.loc)}: ${what} (${ref.src}) has an alpha channel, which jpg frames drop; use format "png" or "auto" to keep it`,
      );
    }
    const o = this.config.options;
    return planTask(ref, identity, info, {
      fps,
      format,
      quality: o.quality,
      width: o.width,
      height: o.height,
      keyMode: o.key,
    });
  }

  /** A complete entry for the task: from the store, else extracted once however many callers ask. */
  ensure(task: Task, signal?: AbortSignal): Promise<{ entry: StoredEntry; cache: CacheOutcome }> {
    let running = this.inFlight.get(task.key);
    if (!running) {
      running = this.produce(task, signal).finally(() => this.inFlight.delete(task.key));
      this.inFlight.set(task.key, running);
    }
    return running;
  }

  private async produce(task: Task, signal?: AbortSignal): Promise<{ entry: StoredEntry; cache: CacheOutcome }> {
    const store = await this.storeDir();
    for (;;) {
      const hit = await lookupEntry(store, task);
      if (hit) return { entry: hit, cache: "hit" };
      // Shared cache: between the local store and ffmpeg (DESIGN §6).
      const fetched = await this.remote?.fetch(task, store, signal);
      if (fetched) return { entry: fetched, cache: "remote-hit" };
      const binaries = await this.binaries();
      const made = await this.limit(() => timed(this.report, "extractMs", () => this.extractLocked(store, binaries, task, signal)));
      if (made?.cache === "miss") this.remote?.upload(task, made.entry);
      if (made) return made;
      // Another process is extracting this key: wait outside our ffmpeg slots, then read its entry.
      await waitForLock(store, task.entry, signal);
    }
  }

  /** Extract under the key's lock, so processes sharing the store run ffmpeg once per key; undefined when another holds it. */
  private async extractLocked(store: string, binaries: Binaries, task: Task, signal?: AbortSignal): Promise<{ entry: StoredEntry; cache: CacheOutcome } | undefined> {
    const lock = await tryLock(store, task.entry);
    if (!lock) return undefined;
    try {
      // Another caller may have published it while this one queued or waited.
      const late = await lookupEntry(store, task);
      if (late) return { entry: late, cache: "hit" };
      // Aborted while queued for a slot: do not start ffmpeg at all.
      if (signal?.aborted) throw new FramecacheError("FC_CANCELLED", `extracting ${task.source} was cancelled`);
      this.config.onExtract?.(task);
      const progress = this.config.progress?.begin(task);
      try {
        const entry = await publishEntry(store, task, (dir) => this.extractInto(store, binaries, task, dir, signal, progress));
        this.extracted++;
        return { entry, cache: "miss" };
      } finally {
        progress?.end();
      }
    } finally {
      await lock.release();
    }
  }

  /**
   * A miss's frames: taken from an entry or shared decode of the same source and settings whose
   * frames line up (a trim edit), extracting only what is missing; else one ffmpeg pass.
   */
  private async extractInto(
    store: string,
    binaries: Binaries,
    task: Task,
    dir: string,
    signal?: AbortSignal,
    progress?: ReturnType<ExtractionProgress["begin"]>,
  ): Promise<Produced> {
    const donors = [...this.shared, ...(await storeDonors(store, task))];
    const plan = bestReuse(task, donors);
    // Segments are spans: exact only when the frames sit on ticks (see planReuse).
    let parts = !task.framesOnTicks ? 1 : (this.config.segments ?? segmentCount(task.frameCount, availableParallelism(), this.config.options.concurrency));
    const keyframes = () => this.keyframes(task);
    // Without its keyframes, every segment of a reordering source would decode from the start.
    if (parts > 1 && seeksByTable(task) && !(await keyframes()).length) parts = 1;
    const options = {
      signal,
      onProgress: progress && ((p: FfmpegProgress) => progress.update(p)),
      timeoutMs: extractionTimeout(task.frameCount, this.config.options.timeout),
      keyframes,
    };
    if (plan) {
      try {
        return await assembleFrames(binaries, task, dir, plan, options);
      } catch (error) {
        if (error instanceof FramecacheError) throw error;
        if (error instanceof DamagedDonor) this.logger.warn(`framecache: ${error.message}; extracting instead. Run \`framecache verify --fix\` to remove it.`);
        // The donor went away (GC), was damaged, or ffmpeg disagreed with it: extract the whole window instead.
        await clearDir(dir);
      }
    }
    if (parts > 1) return extractSegments(binaries, task, dir, parts, options);
    // One pass writes frames in order: they are hashed as they come, not after.
    const extracting = extractFrames(binaries, task, dir, options);
    const digesting = digestFollowing((i) => join(dir, frameFileName(i, task.format)), task.frameCount, extracting);
    const [written, digest] = await Promise.all([extracting, digesting]);
    return { written, digest };
  }

  /** The ffmpeg arguments of one pass over the task into `outDir`, as the engine would run it (the benchmark's baseline). */
  async commandFor(task: Task, outDir: string): Promise<string[]> {
    return extractionArgs(task, outDir, undefined, needsKeyframes(task) ? await this.keyframes(task) : undefined);
  }

  /** The task's source's keyframes, for seeks past its start; empty when ffprobe cannot list them. */
  private async keyframes(task: Task): Promise<Keyframe[]> {
    return this.facts.keyframes(task.source, await this.sourceIdentity(task), task.recoveryPoints);
  }

  /**
   * List the keyframes of a task's source ahead of need, at idle priority, so that the first trim
   * edit into it finds the table in the store. Not beside a cold extraction: on 2 cores even an
   * idle-priority ffprobe slowed ffmpeg by 3–6 %.
   */
  async prefetchKeyframes(task: Task): Promise<void> {
    if (!this.cached || !task.seekable || !seeksByTable(task)) return;
    this.facts.prefetchKeyframes(task.source, await this.sourceIdentity(task), task.recoveryPoints);
  }

  /** Stop listings made ahead of need: an extraction is about to start. */
  stopPrefetches(): void {
    this.facts.stopPrefetches();
  }

  /** The identity under which the task's source facts are remembered (path, size, mtime). */
  private async sourceIdentity(task: Task): Promise<string> {
    return factsKey(task.source, await stat(task.source));
  }

  /**
   * Misses of one source and settings whose windows overlap or touch, whole frames apart, are
   * decoded in one ffmpeg pass over their union; each then takes its frames from it by hard link.
   * Only videos in such a group are looked up here, so a run without overlaps pays nothing.
   */
  private async sharedGroups(store: string, tasks: Task[]): Promise<SharedDecode[]> {
    if (this.remote) return []; // the shared cache may hold them; fetching beats decoding
    const candidates = sharedDecodes([...new Map(tasks.map((t) => [t.key, t])).values()]).flatMap((g) => g.members);
    const misses: Task[] = [];
    for (const task of candidates) if (!(await lookupEntry(store, task))) misses.push(task);
    return sharedDecodes(misses);
  }

  /** Run the groups' passes (each in an ffmpeg slot); `dirs` collects what to remove afterwards. */
  private async decodeGroups(store: string, groups: SharedDecode[], dirs: string[], signal?: AbortSignal): Promise<void> {
    await Promise.all(
      groups.map(async (group) => {
        const dir = partialDir(store, group.task.entry) + "-shared";
        dirs.push(dir);
        try {
          await mkdir(dir, { recursive: true });
          const binaries = await this.binaries();
          const options = { signal, timeoutMs: extractionTimeout(group.task.frameCount, this.config.options.timeout), keyframes: () => this.keyframes(group.task) };
          const written = await this.limit(() => timed(this.report, "extractMs", () => extractFrames(binaries, group.task, dir, options)));
          this.shared.push({ dir, input: group.task.input, frames: group.task.frameCount, written });
        } catch (error) {
          if (signal?.aborted) throw error;
          // Each member then extracts on its own and reports its own error.
        }
      }),
    );
  }

  /**
   * Bring the store under `maxCacheSize` if anything was extracted since the last call
   * (after a build; a dev server may call it after each rebuild), sparing the entries `inUse`.
   * Counts go to the report.
   */
  async collectGarbage(inUse?: ReadonlySet<string>): Promise<void> {
    if (this.extracted === this.extractedAtLastGc || !this.storePromise || !this.cached) return;
    this.extractedAtLastGc = this.extracted;
    try {
      const stats = await collectGarbage(await this.storeDir(), { maxSize: this.config.options.maxCacheSize, inUse });
      this.report.gcEvicted += stats.evicted;
      this.report.gcBytesFreed += stats.bytesFreed;
    } catch (error) {
      this.logger.warn(`framecache: cache cleanup failed (${(error as Error).message}); run \`framecache gc\``);
    }
  }

  /** Plan and extract everything under the given root compositions. */
  async run(roots: string[], signal?: AbortSignal): Promise<{ compositions: Map<string, Composition>; results: VideoResult[]; errors: FramecacheError[] }> {
    const started = performance.now();
    const { compositions, errors } = await this.load(roots);
    const planned = await Promise.all([...compositions.values()].map((c) => this.plan(c)));
    const select = this.config.select;
    const videos = planned.flatMap((p) => p.videos).filter((v) => !select || select(v.task));
    errors.push(...planned.flatMap((p) => p.errors));
    // What the store held before this run, so misses are explained against earlier entries only.
    const known = this.config.explain ? await knownEntries(await this.storeDir()) : undefined;
    // Overlapping misses wait for their shared pass; everything else starts at once.
    const store = await this.storeDir();
    const groups = await this.sharedGroups(store, videos.map((v) => v.task));
    const members = new Set(groups.flatMap((g) => g.members.map((t) => t.key)));
    const sharedDirs: string[] = [];
    const decoded = this.decodeGroups(store, groups, sharedDirs, signal);
    const settled = await Promise.allSettled(
      videos.map((v) => (members.has(v.task.key) ? decoded.then(() => this.ensure(v.task, signal)) : this.ensure(v.task, signal))),
    );
    await decoded.catch(() => undefined);
    this.shared = this.shared.filter((d) => !sharedDirs.includes(d.dir));
    await Promise.all(sharedDirs.map((d) => rm(d, { recursive: true, force: true })));
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
    return { compositions, results, errors };
  }

  /** Add results to the report's counts. */
  count(compositions: Map<string, Composition>, results: VideoResult[]): void {
    const r = this.report;
    r.videos += results.length;
    // One extraction (or download) serves every video that shares its key; only the first counts as such.
    const produced = new Set<string>();
    for (const v of results) {
      if (v.cache !== "hit" && !produced.has(v.task.key)) produced.add(v.task.key);
      else if (v.cache !== "hit") v.cache = "hit";
      if (v.cache === "hit") r.cacheHits++;
      else if (v.cache === "remote-hit") r.remoteHits++;
      else r.cacheMisses++;
    }
    for (const c of compositions.values()) {
      r.skippedRemote += c.scan.skipped.length;
      if (c.scan.scriptsCreateVideo) r.compositionsWithScriptedVideo++;
    }
  }
}

/** What the engine's memos of a source are keyed by: its path and stat identity. */
function factsKey(path: string, st: { size: number; mtimeMs: number }): string {
  return `${path}\0${st.size}\0${st.mtimeMs}`;
}

/** Problems of the machine, not of a video: reported once. */
const GLOBAL_ERRORS = new Set(["FC_FFMPEG_MISSING", "FC_FFMPEG_TOO_OLD"]);

/** A problem of the machine (no ffmpeg) is reported once, at the first video that needed it. */
function addError(errors: FramecacheError[], error: FramecacheError): void {
  if (!GLOBAL_ERRORS.has(error.code) || !errors.some((e) => e.code === error.code)) errors.push(error);
}

/** Media errors do not know the composition; add the reference's location. */
export function withLocation(error: FramecacheError, ref: VideoRef): FramecacheError {
  if (error.loc) return error;
  return new FramecacheError(error.code, `video "${ref.id}" (${ref.src}): ${error.detail}`, { loc: ref.loc, hint: error.hint, cause: error.cause });
}
