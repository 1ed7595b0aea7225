import type { Keyframe } from "./ffmpeg-args.js";
import { toMicros, type Micros } from "./time.js";

interface Flagged {
  /** ffprobe's text of its display time, which its decoded frame repeats. */
  time: string;
  key: Keyframe;
}

/**
 * ffprobe's listing of a video stream's packets, and with `decoded` of the keyframes it decoded
 * (`-of compact`: `packet|pts_time=…|dts_time=…|flags=K_`, `frame|key_frame=1|pts_time=…`), read as it
 * comes. A packet flagged as a keyframe counts, with `decoded`, only once its own frame decoded as
 * one. Until the listing ends, the table is final only before `through`: packets come in decode
 * order, so every packet that decodes before `through` has been read, and every keyframe among
 * them has had its frame. A decoder may give frames out of order (open GOPs with `-skip_frame
 * nokey`), so only a packet's own frame settles it.
 */
export class KeyframeListing {
  private rest = "";
  private readonly flagged: Flagged[] = [];
  /** With `decoded`, flagged packets whose own frame has not come yet, by display time. */
  private readonly pending = new Map<string, Flagged>();
  private readonly decodedKeys = new Set<string>();
  /** The latest decode time read. */
  private read = -Infinity;
  /** Decode times went back (a discontinuity, sources joined), or display times repeat: nothing is final before the end. */
  private unordered = false;
  private ended = false;
  /** Whether every packet read carried the keyframe flag (an all-intra source). */
  allFlagged = true;

  constructor(private readonly decoded: boolean) {}

  push(text: string): void {
    const lines = (this.rest + text).split("\n");
    this.rest = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  end(): void {
    this.line(this.rest);
    this.rest = "";
    this.ended = true;
  }

  /** On the stream's clock: no keyframe still to come or to be settled decodes (and so shows) before it. */
  get through(): Micros {
    if (this.ended) return Infinity;
    if (this.unordered) return -Infinity;
    let through = this.read;
    // A broken stream may decode a keyframe after it shows: the earlier of the two holds.
    for (const f of this.pending.values()) through = Math.min(through, f.key.dts, f.key.pts);
    return through;
  }

  /**
   * The keyframes listed so far, sorted by display time. Those that decode before `through` are
   * all there; one that decodes later is there or not, but cannot change a seek before `through`.
   */
  keyframes(): Keyframe[] {
    return this.flagged
      .filter((f) => !this.decoded || this.decodedKeys.has(f.time))
      .map((f) => f.key)
      .sort((a, b) => a.pts - b.pts);
  }

  private line(line: string): void {
    const [section, ...fields] = line.trim().split("|");
    if (section !== "packet" && section !== "frame") return;
    const entry = new Map<string, string>();
    for (const field of fields) {
      const at = field.indexOf("=");
      if (at > 0) entry.set(field.slice(0, at), field.slice(at + 1));
    }
    const time = entry.get("pts_time");
    const pts = Number(time);
    if (section === "frame") {
      if (!Number.isFinite(pts)) return;
      if (entry.get("key_frame") === "1") this.decodedKeys.add(time!);
      this.pending.delete(time!);
      return;
    }
    const dts = Number(entry.get("dts_time"));
    const flagged = entry.get("flags")?.startsWith("K") === true;
    this.allFlagged &&= flagged;
    // A packet without a decode time says nothing of what decodes before it.
    if (Number.isFinite(dts)) {
      this.unordered ||= toMicros(dts) < this.read;
      this.read = Math.max(this.read, toMicros(dts));
    }
    if (!flagged || !Number.isFinite(pts)) return;
    const packet = { time: time!, key: { pts: toMicros(pts), dts: Number.isFinite(dts) ? toMicros(dts) : toMicros(pts) } };
    this.flagged.push(packet);
    if (!this.decoded || this.decodedKeys.has(time!)) return;
    // Frames are matched to packets by display time: two flagged packets with one cannot be told apart.
    this.unordered ||= this.pending.has(time!);
    this.pending.set(time!, packet);
  }
}

/** A table whose listing stopped before its end: final before `through`. */
export interface PartTable {
  through: Micros;
  keyframes: Keyframe[];
}

/**
 * A keyframe table as far as its listing has read: a seek early in a long source need not wait
 * for the whole of it (three minutes of 1080p took 0.9 s to list here, an hour would take about 20 s).
 */
export class GrowingTable {
  private listing?: KeyframeListing;
  private readonly waiting = new Set<{ through: Micros; resolve: (table: Keyframe[]) => void }>();

  grew(listing: KeyframeListing): void {
    this.listing = listing;
    // Told on each piece of ffprobe's output: nothing to work out with no one waiting.
    if (this.waiting.size === 0) return;
    const through = listing.through;
    const ready = [...this.waiting].filter((w) => w.through <= through);
    if (ready.length === 0) return;
    const table = listing.keyframes();
    for (const w of ready) {
      this.waiting.delete(w);
      w.resolve(table);
    }
  }

  /** What the listing has made final so far, if it has read anything. */
  part(): PartTable | undefined {
    return this.listing && { through: this.listing.through, keyframes: this.listing.keyframes() };
  }

  /** The table once final before `through`, or the whole one if that comes first. */
  until(through: Micros, whole: Promise<Keyframe[]>): Promise<Keyframe[]> {
    if (this.listing && this.listing.through >= through) return Promise.resolve(this.listing.keyframes());
    return new Promise((resolve) => {
      const waiter = { through, resolve };
      this.waiting.add(waiter);
      void whole.then(resolve, () => resolve([])).finally(() => this.waiting.delete(waiter));
    });
  }
}
