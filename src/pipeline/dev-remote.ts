import type { Composition } from "./compositions.js";
import type { Served } from "./dev-changes.js";
import type { PlannedVideo } from "./results.js";
import type { Engine } from "./engine.js";

/**
 * A dev server outlives any freshness window: every `freshFor` (at least a second) the remote
 * sources the pages show are revalidated, and a source whose bytes changed on its server is
 * re-planned like an edited local file, which sends the pages an update.
 */
export class RemoteWatch {
  private readonly timer?: NodeJS.Timeout;
  private polling = false;

  constructor(
    private readonly engine: Engine,
    private readonly videos: () => Iterable<PlannedVideo>,
    private readonly changed: (source: string) => void,
  ) {
    const freshFor = engine.config.options.remoteSources?.freshForMs;
    if (freshFor === undefined) return;
    this.timer = setInterval(() => void this.poll(), Math.max(1000, freshFor));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const remote = [...this.videos()].filter((v) => v.ref.url !== undefined);
      if (remote.length === 0) return;
      this.engine.refreshRemoteSources();
      const changed = new Set<string>();
      for (const v of remote) {
        // The poll is the freshness window: a copy checked a moment short of it is asked about now,
        // not a whole interval later. Offline or refused: the pages keep what they show.
        const digest = await this.engine.remoteDigest(v.ref.url!, 0).catch(() => undefined);
        if (digest !== undefined && v.task.input.p !== `sha256:${digest}`) changed.add(v.task.source);
      }
      for (const source of changed) this.changed(source);
    } finally {
      this.polling = false;
    }
  }
}

/**
 * Download (or revalidate) the remote sources of a composition tree before its plan takes the
 * session's queue, so a long download holds up only the page that needs it, not every other page
 * and edit. The plan then finds each source resolved. `known`: the tree's URLs as the session last
 * planned it, which spares loading the tree a second time for a page served before.
 */
export async function prepareRemoteSources(engine: Engine, root: string, known?: Iterable<string>): Promise<void> {
  if (!engine.config.options.remoteSources) return;
  const urls = new Set(known ?? (await loadedUrls(engine, root)));
  // Failures are reported by the plan, at the video.
  await Promise.all([...urls].map((url) => engine.remoteDigest(url).catch(() => undefined)));
}

/** The remote URLs of a tree's files as the session last served them; undefined for a tree not planned yet. */
export function treeUrls(files: Iterable<string> | undefined, served: ReadonlyMap<string, Served>): string[] | undefined {
  return files && [...files].flatMap((f) => compositionUrls(served.get(f)?.composition));
}

async function loadedUrls(engine: Engine, root: string): Promise<string[]> {
  const { compositions } = await engine.load([root]).catch(() => ({ compositions: new Map<string, Composition>() }));
  return [...compositions.values()].flatMap(compositionUrls);
}

function compositionUrls(composition: Composition | undefined): string[] {
  return composition?.scan.videos.flatMap((v) => v.url ?? []) ?? [];
}
