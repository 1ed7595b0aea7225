import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { SourceLocation } from "../core/errors.js";
import type { SourceInfo, Task } from "../core/plan.js";
import type { Keyframe } from "../core/ffmpeg-args.js";
import { checkBinary, ffmpegFeatures, findBinary, isExecutable, requireVersion, type Binaries, type Binary, type Located } from "../media/binaries.js";
import { probeSource, type ProbeBuild } from "../media/probe.js";
import { DIGEST_MEMO_DIR, DigestMemo, StatMemo } from "../store/digest-memo.js";
import { ScanMemo } from "../store/scan-memo.js";
import { timed, type Report } from "../core/report.js";
import type { PartTable } from "../core/keyframe-listing.js";
import { isKeyframes, isPartTable, KeyframeTables } from "./keyframe-tables.js";
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
  /** Sources a video seeks into, by identity: as many as `probes` holds, and kept as long. */
  private readonly seeking = new Set<string>();
  /** Probes running now, by identity, each with what settles the listing made beside it. */
  private readonly coldProbes = new Map<string, ((info: SourceInfo | undefined) => void) | undefined>();
  private readonly digests = new Map<string, Promise<string>>();
  private readonly tables: KeyframeTables;

  /** `memoDir` resolves to undefined when nothing may be remembered (a throwaway store). */
  constructor(
    private readonly options: { ffmpegPath?: string; ffprobePath?: string },
    private readonly memoDir: () => Promise<string | undefined>,
    private readonly report: Report,
  ) {
    this.tables = new KeyframeTables(() => this.ffprobe(), () => this.memo(), report);
  }

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
      if (this.coldProbes.has(identity)) this.coldProbes.set(identity, this.tables.beside(path, identity));
    }
    return this.once(this.probes, identity, "probeMs", async () =>
      (await this.memo()).probes.get(path, async () => {
        this.coldProbes.set(identity, this.seeking.has(identity) ? this.tables.beside(path, identity) : undefined);
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

  /** Compositions' scans, remembered by their text (a scan runs nothing, but parsing is a warm run's largest cost). */
  async scans(): Promise<ScanMemo> {
    return (await this.memo()).scans;
  }

  /** The keyframes of a task's source as it is now on disk: all of them, or at least those before `through`. */
  async keyframesOf(task: Task, through?: Micros): Promise<Keyframe[]> {
    return this.tables.keyframes(task.source, factsKey(task.source, await stat(task.source)), task.recoveryPoints, through);
  }

  /** List the keyframes of a task's source, as it is now on disk, at idle priority (see KeyframeTables.prefetch). */
  async prefetchKeyframesOf(task: Task): Promise<void> {
    this.tables.prefetch(task.source, factsKey(task.source, await stat(task.source)), task.recoveryPoints);
  }

  /** Stop listings made ahead of need: an extraction starts, and should have the cores. */
  stopPrefetches(): void {
    this.tables.stopPrefetches();
  }

  /** Stops every listing; resolves once what they had listed is remembered. */
  dispose(): Promise<void> {
    return this.tables.dispose();
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
        parts: new StatMemo(memoDir, "keyframes-part-1", isPartTable),
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
  parts: StatMemo<PartTable>;
  digests: DigestMemo;
  binaries: StatMemo<Binary>;
  scans: ScanMemo;
}

function isSourceInfo(value: unknown): value is SourceInfo {
  return typeof (value as SourceInfo | undefined)?.duration === "number";
}

function isBinary(value: unknown): value is Binary {
  const b = value as Binary | undefined;
  return typeof b?.versionText === "string" && typeof b.banner === "string";
}
