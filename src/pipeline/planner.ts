import { statSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { FramecacheError, formatLocation, warningLine } from "../core/errors.js";
import type { DedupedLogger } from "../core/logger.js";
import type { ResolvedOptions } from "../core/options.js";
import type { KeyMode } from "../core/key.js";
import { availableMicros, planTask, type SourceIdentity, type SourceInfo, type Task } from "../core/plan.js";
import { timed, type Report } from "../core/report.js";
import type { CompositionScan, VideoRef } from "../core/scan.js";
import type { Micros, Rational } from "../core/time.js";
import { resolveClip, resolveTimeline, unionSpan, type ClipWindow, type ResolvedClip, type Timeline, type TimelineFile } from "../core/timeline.js";
import { loadCompositions, resolveProjectFile, type Composition, type ProjectPaths } from "./compositions.js";
import { addError, withLocation, type PlannedVideo } from "./results.js";
import type { RemoteSources } from "./remote-sources.js";
import { factsKey, statStamp, type SourceFacts } from "./sources.js";

/**
 * The local sources one run's plans resolved, by the folder a `src` is written in and the `src`:
 * each path and its stat, shared by every video naming it (1000 videos of 40 sources, 40 of each).
 * One run's only, so a later run sees the files as they are then.
 */
export type RunSources = Map<string, { path: string; stat: Stats }>;

/** Compositions in, tasks out: reads the files, probes and hashes each source once. */
export class Planner {
  constructor(
    private readonly paths: ProjectPaths,
    private readonly options: ResolvedOptions,
    private readonly facts: SourceFacts,
    private readonly logger: DedupedLogger,
    private readonly report: Report,
    /** Undefined when remote sources are off: their videos are skipped with a warning. */
    private readonly remoteSources?: RemoteSources,
  ) {}

  /** Root compositions and what they nest, their warnings logged. */
  async load(roots: string[]): Promise<{ compositions: Map<string, Composition>; errors: FramecacheError[] }> {
    const scans = await this.facts.scans();
    const loaded = await timed(this.report, "scanMs", () =>
      loadCompositions(roots, this.paths, this.options.fps, (w) => this.logger.warn(warningLine(w)), (html, label) => scans.get(html, label)),
    );
    for (const composition of loaded.compositions.values()) {
      if (!this.remoteSources) skipRemote(composition.scan);
      for (const warning of composition.scan.warnings) {
        // Remote sources are skipped by design: one line with a count, not one per video.
        const cause = warning.code === "FC_REMOTE_SOURCE" ? warning.code : undefined;
        this.logger.warn(warningLine(warning), cause);
      }
    }
    return loaded;
  }

  /**
   * The timeline of the entry composition `root` (DESIGN §3): every video's and host's window.
   * A start reference to a natural-length video probes that video first. Warnings are logged.
   */
  async timeline(root: string, compositions: ReadonlyMap<string, Composition>): Promise<Timeline> {
    const files = new Map<string, TimelineFile>();
    const add = (file: string | undefined): void => {
      const composition = file === undefined || files.has(file) ? undefined : compositions.get(file);
      if (!composition) return;
      files.set(composition.file, { scan: composition.scan, mounts: composition.mounts });
      composition.mounts.forEach(add);
    };
    add(root);
    const lengths = new Map<string, Micros>();
    const natural = (file: string, ref: VideoRef) => lengths.get(`${file}#${ref.index}`);
    let timeline = resolveTimeline(root, files, natural);
    // Each round learns every length the last one asked for; a chain of references takes one round per link.
    for (let round = 0; timeline.needs.length > 0 && round <= lengths.size + files.size; round++) {
      await Promise.all(
        timeline.needs.map(async ({ file, video }) => {
          const composition = compositions.get(file)!;
          const ref = composition.scan.videos.find((v) => v.index === video)!;
          // A source that cannot be probed ends where it starts here; planning it reports why.
          lengths.set(`${file}#${video}`, await this.naturalLength(composition, ref).catch(() => 0));
        }),
      );
      timeline = resolveTimeline(root, files, natural);
    }
    for (const warning of timeline.warnings) this.logger.warn(warningLine(warning));
    return timeline;
  }

  /**
   * Plan the videos of a composition that show in `windows` (its instances' windows on the
   * entry's timeline); without them, every active video as if its file were the entry.
   * Failures are collected, not thrown one by one. `sources`: the run's (see RunSources).
   */
  async plan(composition: Composition, windows?: readonly ClipWindow[], sources?: RunSources): Promise<{ videos: PlannedVideo[]; errors: FramecacheError[] }> {
    const shown = windows ?? composition.scan.videos.filter((ref) => !ref.inactive).map((ref) => standaloneWindow(composition.file, ref));
    const byVideo = new Map<VideoRef, ClipWindow[]>();
    for (const w of shown) byVideo.set(w.ref, [...(byVideo.get(w.ref) ?? []), w]);
    const refs = [...byVideo.keys()];
    const settled = await Promise.allSettled(refs.map((ref) => this.planVideo(composition, ref, byVideo.get(ref)!, sources)));
    const videos: PlannedVideo[] = [];
    const errors: FramecacheError[] = [];
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") videos.push(...(s.value ? [s.value] : []));
      else if (!(s.reason instanceof FramecacheError)) throw s.reason;
      else addError(errors, withLocation(s.reason, refs[i]!));
    });
    return { videos, errors };
  }

  private async planVideo(composition: Composition, ref: VideoRef, windows: ClipWindow[], sources?: RunSources): Promise<PlannedVideo | undefined> {
    // The task starts at the earliest window's media start: past 0 (a host's preroll included), ffmpeg seeks.
    const seeks = windows.every((w) => w.mediaStart > 0);
    const planned = await this.planWindows(await this.describe(composition.file, ref, sources, seeks), ref, windows, composition.fps);
    return planned && { composition, ref, ...planned };
  }

  /** Plan one reference to a file already resolved inside the project, on its own timeline. */
  async planFile(path: string, ref: VideoRef, fps: Rational, format = this.options.format): Promise<{ task: Task; clips: ResolvedClip[] }> {
    // Without a host there is no preroll, so its own window always shows.
    return (await this.planWindows(await this.describeFile(path, ref), ref, [standaloneWindow(path, ref)], fps, format))!;
  }

  /** One task for every window of a video: the source from the earliest media start to the latest end any of them shows. */
  private async planWindows(source: Described, ref: VideoRef, windows: ClipWindow[], fps: Rational, format = this.options.format): Promise<{ task: Task; clips: ResolvedClip[] } | undefined> {
    const what = `video "${ref.id}"`;
    const { identity, info, keyMode } = source;
    if (info.alpha && format === "jpg") {
      this.logger.warn(
        `${formatLocation(ref.loc)}: ${what} (${ref.src}) has an alpha channel, which jpg frames drop; use format "png" or "auto" to keep it`,
      );
    }
    const clips = windows.flatMap((w) => resolveClip(w, availableMicros(info)) ?? []);
    // Every instance starts past its source's end, after a host's preroll: it never shows.
    if (clips.length === 0) return undefined;
    const o = this.options;
    const task = planTask(ref, unionSpan(clips), identity, info, { fps, format, quality: o.quality, width: o.width, height: o.height, keyMode });
    return { task, clips };
  }

  /** What planning needs of a video's source, local or remote; `seeks`: its task starts past the source's start. */
  private async describe(compositionFile: string, ref: VideoRef, sources?: RunSources, seeks = ref.mediaStart > 0): Promise<Described> {
    if (ref.url !== undefined) return this.describeRemote(ref.url, ref, seeks);
    // Only what resolved is kept: a failure names its own video.
    const at = `${dirname(compositionFile)}\0${ref.src}`;
    let source = sources?.get(at);
    if (!source) {
      const path = resolveProjectFile(ref.src, compositionFile, this.paths, ref.loc, `video "${ref.id}"`);
      // Synchronous: one stat of a file the resolve just touched (see realPath).
      source = { path, stat: statSync(path) };
      sources?.set(at, source);
    }
    return this.describeFile(source.path, ref, source.stat, seeks);
  }

  private async describeFile(path: string, ref: VideoRef, st: Stats = statSync(path), seeks = ref.mediaStart > 0): Promise<Described> {
    const identity: SourceIdentity = { path, size: st.size, mtimeMs: st.mtimeMs, stamp: statStamp(st) };
    const memo = factsKey(path, st);
    // Both remembered in the store across runs: a warm run neither probes nor locates ffmpeg.
    // A cold one hashes while ffprobe runs.
    const probing = this.facts.probe(path, memo, { what: `video "${ref.id}" (${ref.src})`, loc: ref.loc }, seeks);
    const hashing = this.options.key === "content" ? this.facts.digest(path, memo) : undefined;
    hashing?.catch(() => undefined); // a probe failure is the one reported
    const info = await probing;
    if (hashing) identity.digest = await hashing;
    return { identity, info, keyMode: this.options.key };
  }

  /** A downloaded file is keyed by its bytes whatever `key` says: its path and mtime are the store's, not the project's. */
  private async describeRemote(url: string, ref: VideoRef, seeks: boolean): Promise<Described> {
    const sources = this.remoteSources;
    if (!sources) throw new Error("remote sources are off, yet a remote video was planned");
    const file = await sources.resolve(url);
    const identity: SourceIdentity = { path: file.path, size: file.size, mtimeMs: 0, digest: file.digest };
    if (file.info) return { identity, info: file.info, keyMode: "content" };
    const st = statSync(file.path);
    identity.stamp = statStamp(st);
    const what = `video "${ref.id}" (${ref.src})`;
    const info = await this.facts.probe(file.path, factsKey(file.path, st), { what, loc: ref.loc }, seeks).catch(async (error: unknown) => {
      // Not kept: the server may serve the video once it is fixed, and no later run should trust this copy.
      await sources.discard(url);
      throw error;
    });
    void sources.share(url, file, info);
    return { identity, info, keyMode: "content" };
  }

  /** The source of a natural-length video, from its media start, on the timeline (a start reference's target). */
  private async naturalLength(composition: Composition, ref: VideoRef): Promise<Micros> {
    const { info } = await this.describe(composition.file, ref);
    return Math.floor(Math.max(0, availableMicros(info) - ref.mediaStart) / ref.playbackRate);
  }
}

interface Described {
  identity: SourceIdentity;
  info: SourceInfo;
  keyMode: KeyMode;
}

/** With remote sources off, their videos are skipped as inline ones are, each with a warning. */
function skipRemote(scan: CompositionScan): void {
  const remote = scan.videos.filter((v) => v.url !== undefined);
  if (remote.length === 0) return;
  scan.videos = scan.videos.filter((v) => v.url === undefined);
  scan.skipped.push(...remote);
  for (const ref of remote) {
    scan.warnings.push({ code: "FC_REMOTE_SOURCE", message: `video "${ref.id}" has a remote src (${ref.src}) and remoteSources is false: not extracted`, loc: ref.loc });
  }
}

/** A video's window on its own file's timeline, as when that file is the entry and has no end. */
function standaloneWindow(file: string, ref: VideoRef): ClipWindow {
  return { file, ref, start: ref.start, end: ref.end, natural: ref.end === undefined, mediaStart: ref.mediaStart, localStart: ref.start, localEnd: ref.end };
}
