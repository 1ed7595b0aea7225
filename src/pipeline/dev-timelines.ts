import { TreeTiming, type Timeline } from "../core/timeline.js";
import type { Composition } from "./compositions.js";
import type { Engine } from "./engine.js";

/**
 * The timelines of every entry a dev session serves, so that a file several entries mount (or an
 * entry another one mounts) is planned for all its instances, as in a build, and each serving of
 * it plans the same tasks.
 */
export class DevTimelines {
  private readonly byRoot = new Map<string, Timeline>();

  constructor(private readonly engine: Engine) {}

  /** Plan the timeline of `root` from its tree's compositions as they are now; every entry's, merged. */
  async update(root: string, tree: ReadonlyMap<string, Composition>): Promise<TreeTiming> {
    this.byRoot.set(root, await this.engine.timeline(root, tree));
    return this.merged();
  }

  merged(): TreeTiming {
    const timing = new TreeTiming();
    for (const [root, timeline] of this.byRoot) timing.add(root, timeline);
    return timing;
  }
}
