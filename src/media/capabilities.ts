import type { Binary } from "./binaries.js";
import { run } from "./run.js";

/** Names from ffmpeg's `-filters` and `-decoders` listings. */
export interface FfmpegCapabilities {
  filters: Set<string>;
  decoders: Set<string>;
}

/** What this ffmpeg build can do, from its own listings (two quick runs). */
export async function ffmpegCapabilities(ffmpeg: Binary): Promise<FfmpegCapabilities> {
  const [filters, decoders] = await Promise.all(
    ["-filters", "-decoders"].map((flag) =>
      run(ffmpeg.path, ["-hide_banner", flag], { timeoutMs: 15_000 }),
    ),
  );
  return { filters: listedNames(filters!.stdout), decoders: listedNames(decoders!.stdout) };
}

/**
 * Names in a listing such as ` TSC zscale   V->V   Apply resizing…` or
 * ` V....D libvpx-vp9   libvpx VP9 (codec vp9)`; legend lines (`T.. = Timeline support`) are skipped.
 */
export function listedNames(listing: string): Set<string> {
  const names = new Set<string>();
  for (const line of listing.split("\n")) {
    const m = /^ (?:[A-Z.]{3}|[A-Z.]{6}) (\S+)/.exec(line);
    if (m && m[1] !== "=") names.add(m[1]!);
  }
  return names;
}
