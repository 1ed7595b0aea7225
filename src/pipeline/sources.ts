import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import pLimit from "p-limit";
import type { SourceLocation } from "../core/errors.js";
import { keyframeListing, type SourceInfo, type Task } from "../core/plan.js";
import type { Keyframe } from "../core/ffmpeg-args.js";
import { checkBinary, ffmpegFeatures, findBinary, isExecutable, requireVersion, type Binaries, type Binary, type Located } from "../media/binaries.js";
import { probeKeyframes, probeSource, type ProbeBuild } from "../media/probe.js";
import { DIGEST_MEMO_DIR, DigestMemo, StatMemo } from "../store/digest-memo.js";
import { ScanMemo } from "../store/scan-memo.js";
import { timed, type Report } from "../core/report.js";
import { GrowingTable, type KeyframeListing } from "../core/keyframe-listing.js";
import type { Micros } from "../core/time.js";

/** A file's stat identity: it changes when the file is replaced (a new inode) or written (size, mtime). */
export function statStamp(st: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** What the memos of a source are keyed by: its path and stat identity. */
export function factsKey(path: string, st: { size: number; mtimeMs: number }): string {
  return `${path}\0${st.size}\0${st.mtimeMs}`;
}

/**
 * What the engine learns about files by running or parsing something: ffmpeg and ffprobe, each
 * source's probe and content digest, each composition's scan. Each is memoised for the engine's
 * lifetime and remembered in the store's `.digests/` across runs, so a warm run spawns nothing
 * and parses nothing, and a dev server pays once.
 */
export class SourceFacts {
  private binariesPromise?: Promise<Binaries>;
  private ffprobePromise?: Promise<Located>;
  /** The ffprobe build the first probe reported, if one ran. */
  private probedBuild?: ProbeBuild;
  private memos?: Promise<Memos>;
  private readonly probes = new Map<string, Promise<SourceInfo>>();
  private readonly keyframeTables = new Map<string, Promise<Keyframe[]>>();
  /** The tables being listed now, by identity, as far as they are listed. */
  private readonly listings = new Map<string, GrowingTable>();
  /** Tables being listed ahead of need, by identity, one at a time. */
  private readonly prefetches = new Map<string, AbortController>();
  private readonly prefetchQueue = pLimit(1);
  /** Listings made beside a probe (see listBeside), until they end. */
  private readonly besides = new Set<AbortController>();
  /** Listings asked for by a seek, until they end. */
  private readonly seekListings = new Set<AbortController>();
  /** Sources a video seeks into, by identity: as many as `probes` holds, and kept as long. */
  private readonly seeking = new Set<string>();
  /** Probes running now, by identity, each with what settles the listing made beside it. */
  private readonly coldProbes = new Map<string, ((info: SourceInfo | undefined) => void) | undefined>();
  private disposed = false;
  private readonly digests = new Map<string, Promise<string>>();

  /** `memoDir` resolves to undefined when nothing may be remembered (a throwaway store). */
  constructor(
    private readonly options: { ffmpegPath?: string; ffprobePath?: string },
    private readonly memoDir: () => Promise<string | undefined>,
    private readonly report: Report,
  ) {}

  /**
   * ffmpeg, checked: needed before the first extraction. The check is remembered in the store
   * by the binary's stat identity.
   */
  binaries(): Promise<Binaries> {
    this.binariesPromise ??= (async () => {
      const located = await findBinary("ffmpeg", { ffmpegPath: this.options.ffmpegPath });
      const { binaries } = await this.memo();
      const checked = await binaries.get(located.path, async () => (await this.sameBuild(located)) ?? checkBinary(located));
      const ffmpeg: Binary = { ...checked, ...located };
      return { ffmpeg, features: ffmpegFeatures(ffmpeg) };
    })();
    return this.binariesPromise;
  }

  /** ffprobe, found but not run: the first probe checks it. */
  ffprobe(): Promise<Located> {
    this.ffprobePromise ??= findBinary("ffprobe", { ffprobePath: this.options.ffprobePath });
    return this.ffprobePromise;
  }

  /**
   * The source's probe; `identity` changes when the file does (path, size, mtime). With `seeks` (a
   * video starts past the source's start) a probe that has to run lists the keyframes beside it.
   */
  probe(path: string, identity: string, label: { what: string; loc?: SourceLocation }, seeks = false): Promise<SourceInfo> {
    if (seeks && !this.seeking.has(identity)) {
      this.seeking.add(identity);
      // The probe another video asked for runs already: the listing starts now.
      if (this.coldProbes.has(identity)) this.coldProbes.set(identity, this.listBeside(path, identity));
    }
    return this.once(this.probes, identity, "probeMs", async () =>
      (await this.memo()).probes.get(path, async () => {
        this.coldProbes.set(identity, this.seeking.has(identity) ? this.listBeside(path, identity) : undefined);
        const settle = (info: SourceInfo | undefined) => {
          this.coldProbes.get(identity)?.(info);
          this.coldProbes.delete(identity);
        };
        try {
          const { info, build } = await probeSource(await this.ffprobe(), path, label);
          this.probedBuild ??= build;
          settle(info);
          return info;
        } catch (error) {
          settle(undefined);
          throw error;
        }
      }),
    );
  }

  /**
   * The source's keyframes, for seeks past its start; `identity` as for `probe`. A listing that
   * fails is remembered as empty for this engine (its seeks decode from the start), not on disk.
   */
  keyframes(path: string, identity: string, decodeKeyframes: boolean, through?: Micros): Promise<Keyframe[]> {
    // Needed now: a listing at idle priority would make this wait, so it gives way.
    this.prefetches.get(identity)?.abort();
    // Registered now, not once the memo has missed: a caller waiting on part of it is this one.
    const table = this.keyframeTables.has(identity) ? undefined : this.growing(identity);
    const whole = this.once(this.keyframeTables, identity, "probeMs", async () =>
      (await this.memo()).keyframes
        .get(path, async () => {
          // Stopped by dispose, as the listings beside probes are: a seek that needed only part of it is done.
          const controller = new AbortController();
          this.seekListings.add(controller);
          const options = { decodeKeyframes, signal: controller.signal, onProgress: (l: KeyframeListing) => table?.grew(l) };
          return probeKeyframes(await this.ffprobe(), path, options).finally(() => this.seekListings.delete(controller));
        })
        .catch(() => [])
        .finally(() => table && this.listed(identity, table)),
    );
    return through === undefined ? whole : (this.listings.get(identity)?.until(through, whole) ?? whole);
  }

  /** Where a listing tells its progress to those waiting on part of its table, until it ends. */
  private growing(identity: string, table = new GrowingTable()): GrowingTable {
    this.listings.set(identity, table);
    return table;
  }

  private listed(identity: string, table: GrowingTable): void {
    if (this.listings.get(identity) === table) this.listings.delete(identity);
  }

  /**
   * The keyframes of a source listed while ffprobe probes it, on another core: most sources that
   * videos seek into are H.264 or HEVC, whose seeks take the table, and the listing would otherwise
   * wait for the probe (twelve windows of a 1080p source: 110 ms before the first ffmpeg). Kept, and
   * remembered, when the probe says seeks take a table listed this way; otherwise stopped. At most
   * one per core at a time: many new sources at once list on demand, as before.
   */
  private listBeside(path: string, identity: string): ((info: SourceInfo | undefined) => void) | undefined {
    if (this.disposed || this.besides.size >= availableParallelism()) return undefined;
    const controller = new AbortController();
    this.besides.add(controller);
    const table = new GrowingTable();
    let ended = false;
    const listing = this.ffprobe().then((ffprobe) => probeKeyframes(ffprobe, path, { decodeKeyframes: true, signal: controller.signal, onProgress: (l) => table.grew(l) }));
    void listing
      .catch(() => undefined)
      .finally(() => {
        ended = true;
        this.besides.delete(controller);
        this.listed(identity, table);
      });
    return (info) => {
      if (info && keyframeListing(info)?.decodeKeyframes && !this.keyframeTables.has(identity)) {
        // A failed listing is remembered as empty for this engine, as `keyframes` does.
        this.keyframeTables.set(identity, this.memo().then((m) => m.keyframes.get(path, () => listing)).catch(() => []));
        if (!ended) this.growing(identity, table);
      } else controller.abort();
    };
  }

  /** Compositions' scans, remembered by their text (a scan runs nothing, but parsing is a warm run's largest cost). */
  async scans(): Promise<ScanMemo> {
    return (await this.memo()).scans;
  }

  /** The keyframes of a task's source as it is now on disk: all of them, or at least those before `through`. */
  async keyframesOf(task: Task, through?: Micros): Promise<Keyframe[]> {
    return this.keyframes(task.source, factsKey(task.source, await stat(task.source)), task.recoveryPoints, through);
  }

  /** `prefetchKeyframes` for a task's source as it is now on disk. */
  async prefetchKeyframesOf(task: Task): Promise<void> {
    this.prefetchKeyframes(task.source, factsKey(task.source, await stat(task.source)), task.recoveryPoints);
  }

  /** List a source's keyframes at idle priority, remembered for later seeks; `dispose` stops it. */
  prefetchKeyframes(path: string, identity: string, decodeKeyframes: boolean): void {
    if (this.disposed || this.keyframeTables.has(identity) || this.prefetches.has(identity)) return;
    const controller = new AbortController();
    this.prefetches.set(identity, controller);
    const listing = async () => {
      const ffprobe = await this.ffprobe();
      return probeKeyframes(ffprobe, path, { decodeKeyframes, signal: controller.signal, priority: 19 });
    };
    void this.prefetchQueue(async () => (await this.memo()).keyframes.get(path, listing))
      .catch(() => undefined)
      .finally(() => this.prefetches.delete(identity));
  }

  /** Stop listings made ahead of need (an extraction starts, and should have the cores); they may be asked for again. */
  stopPrefetches(): void {
    for (const controller of this.prefetches.values()) controller.abort();
  }

  dispose(): void {
    this.disposed = true;
    this.stopPrefetches();
    for (const controller of [...this.besides, ...this.seekListings]) controller.abort();
  }

  /** The source's sha256; `identity` as for `probe`. */
  digest(path: string, identity: string): Promise<string> {
    return this.once(this.digests, identity, "hashMs", async () => (await this.memo()).digests.digest(path));
  }

  /**
   * ffmpeg as described by the ffprobe build beside it, when a probe ran: one directory holds
   * one build (distro packages, Homebrew, static builds), and a second binary start on 2 cores
   * costs a cold run about 100 ms. It is remembered like ffmpeg's own answer: that premise holds
   * as long as the ffmpeg file does, and a later run (a trim edit) would otherwise pay 150 ms
   * for `-version` before its ffmpeg could start.
   */
  private async sameBuild(ffmpeg: Located): Promise<Binary | undefined> {
    const build = this.probedBuild;
    if (!build || dirname(build.ffprobe.path) !== dirname(ffmpeg.path)) return undefined;
    // Not a missing or unusable ffmpeg beside a working ffprobe: that one is run, and fails with the fix.
    if (!(await isExecutable(ffmpeg.path))) return undefined;
    const version = requireVersion(ffmpeg, build.versionText, build.configuration);
    return { ...ffmpeg, version, versionText: build.versionText, banner: build.configuration };
  }

  private memo(): Promise<Memos> {
    this.memos ??= this.memoDir().then((dir) => {
      const memoDir = dir && join(dir, DIGEST_MEMO_DIR);
      return {
        probes: new StatMemo(memoDir, "probe-4", isSourceInfo),
        keyframes: new StatMemo(memoDir, "keyframes-3", isKeyframes),
        digests: new DigestMemo(memoDir),
        binaries: new StatMemo(memoDir, "ffmpeg-1", isBinary),
        scans: new ScanMemo(memoDir),
      };
    });
    return this.memos;
  }

  private once<T>(map: Map<string, Promise<T>>, key: string, phase: "probeMs" | "hashMs", work: () => Promise<T>): Promise<T> {
    let found = map.get(key);
    if (!found) {
      found = timed(this.report, phase, work);
      map.set(key, found);
      found.catch(() => map.delete(key));
    }
    return found;
  }
}

interface Memos {
  probes: StatMemo<SourceInfo>;
  keyframes: StatMemo<Keyframe[]>;
  digests: DigestMemo;
  binaries: StatMemo<Binary>;
  scans: ScanMemo;
}

function isKeyframes(value: unknown): value is Keyframe[] {
  return Array.isArray(value) && value.every((k: Keyframe) => Number.isInteger(k?.pts) && Number.isInteger(k?.dts));
}

function isSourceInfo(value: unknown): value is SourceInfo {
  return typeof (value as SourceInfo | undefined)?.duration === "number";
}

function isBinary(value: unknown): value is Binary {
  const b = value as Binary | undefined;
  return typeof b?.versionText === "string" && typeof b.banner === "string";
}
