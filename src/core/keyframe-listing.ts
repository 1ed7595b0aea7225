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
 * comes. A packet flagged as a keyframe counts, with `decoded`, only once its frame decoded as
 * one. Until the listing ends, the table is complete only before `through`: a stream's packets
 * come in decode order and none shows before it decodes, and a decoder gives its frames in the
 * order they show, so a flagged packet whose frame has not come yet holds `through` at its time.
 */
export class KeyframeListing {
  private rest = "";
  private readonly flagged: Flagged[] = [];
  /** With `decoded`, flagged packets whose frame has not come yet: a few, as a decoder holds a few frames back. */
  private pending: Flagged[] = [];
  private readonly decodedKeys = new Set<string>();
  /** The decode time of the last packet read, and the display time of the last frame decoded. */
  private read = -Infinity;
  private shown = -Infinity;
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

  /** On the stream's clock: no keyframe still to come shows or decodes before it. */
  get through(): Micros {
    if (this.ended) return Infinity;
    return this.pending.reduce((through, f) => Math.min(through, f.key.pts), this.read);
  }

  /** The keyframes listed, sorted by display time: those before `through` are final. */
  keyframes(): Keyframe[] {
    const through = this.through;
    return this.flagged
      .filter((f) => f.key.pts < through && (!this.decoded || this.decodedKeys.has(f.time)))
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
      this.shown = Math.max(this.shown, toMicros(pts));
      this.pending = this.pending.filter((f) => f.key.pts > this.shown && !this.decodedKeys.has(f.time));
      return;
    }
    const dts = Number(entry.get("dts_time"));
    const flagged = entry.get("flags")?.startsWith("K") === true;
    this.allFlagged &&= flagged;
    if (Number.isFinite(dts) || Number.isFinite(pts)) this.read = Math.max(this.read, toMicros(Number.isFinite(dts) ? dts : pts));
    if (!flagged || !Number.isFinite(pts)) return;
    const packet = { time: time!, key: { pts: toMicros(pts), dts: Number.isFinite(dts) ? toMicros(dts) : toMicros(pts) } };
    this.flagged.push(packet);
    if (this.decoded) this.pending.push(packet);
  }
}

/**
 * A keyframe table as far as its listing has read: a seek early in a long source need not wait
 * for the whole of it (three minutes of 1080p took 0.9 s to list here, an hour would take about 20 s).
 */
export class GrowingTable {
  private listing?: KeyframeListing;
  private readonly waiting: { through: Micros; resolve: (table: Keyframe[]) => void }[] = [];

  grew(listing: KeyframeListing): void {
    this.listing = listing;
    // Told on every line ffprobe writes: nothing to work out with no one waiting.
    if (this.waiting.length === 0) return;
    const through = listing.through;
    for (const [i, w] of [...this.waiting.entries()].reverse()) {
      if (w.through > through) continue;
      this.waiting.splice(i, 1);
      w.resolve(listing.keyframes());
    }
  }

  /** The table once complete before `through`, or the whole one if that comes first. */
  until(through: Micros, whole: Promise<Keyframe[]>): Promise<Keyframe[]> {
    if (this.listing && this.listing.through >= through) return Promise.resolve(this.listing.keyframes());
    return new Promise((resolve) => {
      this.waiting.push({ through, resolve });
      void whole.then(resolve, () => resolve([]));
    });
  }
}
