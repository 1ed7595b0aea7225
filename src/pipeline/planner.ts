import { stat } from "node:fs/promises";
import { FramecacheError, formatLocation, warningLine } from "../core/errors.js";
import type { DedupedLogger } from "../core/logger.js";
import type { ResolvedOptions } from "../core/options.js";
import { planTask, type SourceIdentity, type Task } from "../core/plan.js";
import { timed, type Report } from "../core/report.js";
import type { VideoRef } from "../core/scan.js";
import type { Rational } from "../core/time.js";
import { loadCompositions, resolveProjectFile, type Composition, type ProjectPaths } from "./compositions.js";
import { addError, withLocation, type PlannedVideo } from "./results.js";
import { factsKey, type SourceFacts } from "./sources.js";

/** Compositions in, tasks out: reads the files, probes and hashes each source once. */
export class Planner {
  constructor(
    private readonly paths: ProjectPaths,
    private readonly options: ResolvedOptions,
    private readonly facts: SourceFacts,
    private readonly logger: DedupedLogger,
    private readonly report: Report,
  ) {}

  /** Root compositions and what they nest, their warnings logged. */
  async load(roots: string[]): Promise<{ compositions: Map<string, Composition>; errors: FramecacheError[] }> {
    const loaded = await timed(this.report, "scanMs", () =>
      loadCompositions(roots, this.paths, this.options.fps, (w) => this.logger.warn(warningLine(w))),
    );
    for (const composition of loaded.compositions.values()) {
      for (const warning of composition.scan.warnings) {
        // Remote sources are skipped by design: one line with a count, not one per video.
        const cause = warning.code === "FC_REMOTE_SOURCE" ? warning.code : undefined;
        this.logger.warn(warningLine(warning), cause);
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
    const path = await resolveProjectFile(ref.src, composition.file, this.paths, ref.loc, `video "${ref.id}"`);
    return { composition, ref, task: await this.planFile(path, ref, composition.fps) };
  }

  /** Plan one reference to a file already resolved inside the project. */
  async planFile(path: string, ref: VideoRef, fps: Rational, format = this.options.format): Promise<Task> {
    const what = `video "${ref.id}"`;
    const st = await stat(path);
    const identity: SourceIdentity = { path, size: st.size, mtimeMs: st.mtimeMs };
    const memo = factsKey(path, st);
    // Both remembered in the store across runs: a warm run neither probes nor locates ffmpeg.
    // A cold one hashes while ffprobe runs.
    const probing = this.facts.probe(path, memo, { what: `${what} (${ref.src})`, loc: ref.loc });
    const hashing = this.options.key === "content" ? this.facts.digest(path, memo) : undefined;
    hashing?.catch(() => undefined); // a probe failure is the one reported
    const info = await probing;
    if (hashing) identity.digest = await hashing;
    if (info.alpha && format === "jpg") {
      this.logger.warn(
        `${formatLocation(ref.loc)}: ${what} (${ref.src}) has an alpha channel, which jpg frames drop; use format "png" or "auto" to keep it`,
      );
    }
    const o = this.options;
    return planTask(ref, identity, info, { fps, format, quality: o.quality, width: o.width, height: o.height, keyMode: o.key });
  }
}
