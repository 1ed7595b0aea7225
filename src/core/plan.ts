import { FramecacheError } from "./errors.js";
import { computeKey, entryName, keyInput, type FrameFormat, type KeyInput, type KeyMode } from "./key.js";
import type { VideoRef } from "./scan.js";
import { formatSeconds } from "./format.js";
import { fpsValue, frameCount, fromMicros, toMicros, type Micros, type Rational } from "./time.js";

/** What ffprobe told us about a source, reduced to what planning needs. */
export interface SourceInfo {
  /** Seconds of video in the source (stream duration when known, else container). */
  duration: number;
  /** Timestamp of the first video frame (1.4 s in a typical MPEG-TS): a media start counts from it. */
  startTime: number;
  /**
   * Seconds from the container's start, where ffmpeg's `-ss` counts from, to the first
   * video frame (non-zero when audio starts first).
   */
  startOffset: number;
  /** ffmpeg's input `-ss` lands exactly in this container (not so in MPEG-TS/PS and raw streams). */
  seekable: boolean;
  /** The stream's base rate (ffprobe's `r_frame_rate`), when known. */
  frameRate?: Rational;
  /** Frames the decoder may hold back to reorder (ffprobe's `has_b_frames`), when known. */
  reorderFrames?: number;
  /** ffprobe's codec name (`h264`, `vp9`…). */
  codec?: string;
  variableFrameRate: boolean;
  alpha: boolean;
  hdr: boolean;
  /** Displayed size, after rotation. */
  width: number;
  height: number;
  /** A decoder to force (VP9 alpha is only kept by libvpx). */
  decoder?: string;
}

/** How a source file is identified in the key. */
export interface SourceIdentity {
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 hex of the bytes, required for `key:"content"`. */
  digest?: string;
  /** The file's stat identity when it was hashed and probed (device, inode, size, mtime): see Task.sourceStamp. */
  stamp?: string;
}

export interface PlanSettings {
  fps: Rational;
  format: FrameFormat | "auto";
  quality: number;
  width?: number;
  height?: number;
  keyMode: KeyMode;
}

export const DEFAULT_QUALITY = 95;

/** One extraction: everything ffmpeg needs and everything the key hashes. */
export interface Task {
  key: string;
  entry: string;
  input: KeyInput;
  source: string;
  /**
   * The source's stat identity when it was planned: a file replaced before ffmpeg is done with it
   * would give frames of other bytes than the key names, so such an extraction is refused.
   */
  sourceStamp?: string;
  mediaStart: Micros;
  /** Where ffmpeg's input `-ss` goes: the media start, counted from the container's start. */
  seek: Micros;
  /**
   * The source has B-frames (or may have): a keyframe is decoded before frames it displays
   * after, and in an open GOP frames shown before it follow it and cannot be decoded from it.
   * Its seeks then go to a keyframe from the source's table (see seekPoint), not to a time.
   */
  reorders: boolean;
  /**
   * The codec may flag recovery points as keyframes (H.264 and HEVC intra refresh): frames that
   * do not decode on their own, where a decoder drops frames until the refresh completes. Its
   * seeks too go to a keyframe from the table, which lists only keyframes that really decode.
   */
  recoveryPoints: boolean;
  /** The source timestamp that becomes frame 1's time: the media start, counted from the first video frame. */
  origin: Micros;
  /** Seek with input `-ss`; otherwise decode from the start and drop what comes before `seek`. */
  seekable: boolean;
  /** Span of source media covered, in microseconds. */
  span: Micros;
  fps: Rational;
  format: FrameFormat;
  frameCount: number;
  variableFrameRate: boolean;
  /**
   * Every source frame sits on one of this task's output ticks (a constant-rate source at
   * exactly the output rate, the media start on a source frame), so frames taken from a
   * window with another media start, whole ticks away, are the frames this one would get.
   * Otherwise some source frames fall near the fps filter's rounding boundary, where the
   * media start's own rounding decides between two frames.
   */
  framesOnTicks: boolean;
  quality: number;
  width?: number;
  height?: number;
  /** Size of the frames written: the displayed (rotated) size, after the width/height options. */
  size: { width: number; height: number };
  /** The source's displayed size, which its decoder's memory grows with (the frames may be scaled down). */
  sourceSize?: { width: number; height: number };
  tonemap: boolean;
  decoder?: string;
}

const RECOVERY_POINT_CODECS = new Set(["h264", "hevc"]);

/**
 * How a seek past the start of this source finds its keyframe (see seekPoint): by its table, listed
 * decoding the flagged packets when they may be recovery points; undefined when a seek takes a
 * time, or the source cannot seek exactly.
 */
export function keyframeListing(info: SourceInfo): { decodeKeyframes: boolean } | undefined {
  const decodeKeyframes = RECOVERY_POINT_CODECS.has(info.codec ?? "");
  return info.seekable && (info.reorderFrames !== 0 || decodeKeyframes) ? { decodeKeyframes } : undefined;
}

/**
 * The key's `t` for frames sampled by DESIGN §4 (the last source frame at or before each tick)
 * where ffmpeg's default rounding (to the nearest tick) could differ: entries made under either
 * rule, or by the HyperFrames v2 engine, never stand in for each other.
 */
export const SAMPLE_LAST = "last";

/** The tone-mapping operator, as ffmpeg's tonemap filter names it and the key's `t` records it. */
export const TONEMAP_OPERATOR = "mobius";

/** Seconds of video in the source, exactly. */
export function availableMicros(info: SourceInfo): Micros {
  return toMicros(Math.max(0, info.duration));
}

/**
 * The task for `clip` (the source from `mediaStart`, `span` long, as the timeline resolved it) of
 * the video `ref`. A media start at or past the source's end fails at the video's location.
 */
export function planTask(ref: VideoRef, clip: { mediaStart: Micros; span: Micros }, id: SourceIdentity, info: SourceInfo, settings: PlanSettings): Task {
  const available = availableMicros(info);
  if (clip.mediaStart >= available) {
    throw new FramecacheError(
      "FC_MEDIA_START_PAST_END",
      `video "${ref.id}" (${ref.src}) starts ${formatSeconds(fromMicros(clip.mediaStart))} into a source that is only ${formatSeconds(info.duration)} long`,
      { loc: ref.loc, hint: "Lower data-media-start (or data-playback-start) below the source's duration." },
    );
  }
  const { mediaStart, span } = clip;
  const format: FrameFormat = settings.format === "auto" ? (info.alpha ? "png" : "jpg") : settings.format;
  const tonemap = info.hdr && format === "jpg";
  const transform: Record<string, string | number> = {};
  if (format === "jpg" && settings.quality !== DEFAULT_QUALITY) transform.q = settings.quality;
  if (settings.width) transform.w = settings.width;
  if (settings.height) transform.h = settings.height;
  if (tonemap) transform.tonemap = TONEMAP_OPERATOR;
  const onTicks = framesOnTicks(info, settings.fps, mediaStart);
  // Off the ticks, ffmpeg's default rounding can pick the next frame; these frames follow §4's rule instead.
  if (!onTicks) transform.sample = SAMPLE_LAST;

  const input = keyInput(
    {
      p: settings.keyMode === "stat" ? id.path : `sha256:${requireDigest(id)}`,
      m: settings.keyMode === "stat" ? Math.floor(id.mtimeMs) : 0,
      s: id.size,
      ms: fromMicros(mediaStart),
      d: fromMicros(span),
      f: fpsValue(settings.fps),
      fmt: format,
    },
    transform,
  );
  const key = computeKey(input);
  return {
    key,
    entry: entryName(key),
    input,
    source: id.path,
    sourceStamp: id.stamp,
    mediaStart,
    seek: mediaStart + toMicros(info.startOffset),
    reorders: info.reorderFrames !== 0,
    recoveryPoints: RECOVERY_POINT_CODECS.has(info.codec ?? ""),
    origin: mediaStart + toMicros(info.startTime),
    seekable: info.seekable,
    span,
    fps: settings.fps,
    format,
    frameCount: frameCount(span, settings.fps, info.variableFrameRate),
    variableFrameRate: info.variableFrameRate,
    framesOnTicks: onTicks,
    quality: settings.quality,
    width: settings.width,
    height: settings.height,
    size: outputSize(info, settings),
    sourceSize: { width: info.width, height: info.height },
    tonemap,
    decoder: info.decoder,
  };
}

/** A media start up to a tenth of a frame after a source frame rounds to it under either rule. */
const ON_TICK = 0.1;

/**
 * The media start is on a source frame, or just after it (1 µs before counts as on it), and the
 * source runs at the output rate: every frame then sits on a tick. Just before a frame it does not:
 * the nearest-frame rule would show that next frame a tick early, where §4 shows the one on screen.
 */
function framesOnTicks(info: SourceInfo, fps: Rational, mediaStart: Micros): boolean {
  const rate = info.frameRate;
  if (info.variableFrameRate || !rate || rate.num * fps.den !== fps.num * rate.den) return false;
  const onScreen = Math.floor(((mediaStart + 1) * rate.num) / (1e6 * rate.den));
  const after = mediaStart - (onScreen * rate.den * 1e6) / rate.num;
  return after < (ON_TICK * rate.den * 1e6) / rate.num;
}

/** ffmpeg's `scale=w:-2` (or `-2:h`): the other side keeps the aspect, rounded to an even number. */
function outputSize(info: SourceInfo, settings: PlanSettings): { width: number; height: number } {
  const { width, height } = settings;
  if (width && height) return { width, height };
  if (width) return { width, height: 2 * Math.round((width * info.height) / (2 * info.width)) };
  if (height) return { width: 2 * Math.round((height * info.width) / (2 * info.height)), height };
  return { width: info.width, height: info.height };
}

function requireDigest(id: SourceIdentity): string {
  if (!id.digest) throw new Error(`content key needs a digest of ${id.path}`);
  return id.digest;
}
