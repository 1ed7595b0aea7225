import { FramecacheError, type SourceLocation } from "../core/errors.js";
import type { SourceInfo } from "../core/plan.js";
import type { Keyframe } from "../core/ffmpeg-args.js";
import { KeyframeListing } from "../core/keyframe-listing.js";
import type { Rational } from "../core/time.js";
import { cannotRun, requireVersion, type Located } from "./binaries.js";
import { run, type RunResult } from "./run.js";

interface ProbeStream {
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  has_b_frames?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  duration?: string;
  start_time?: string;
  color_transfer?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}

interface ProbePacket {
  pts_time?: string;
  duration_time?: string;
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string; start_time?: string };
  packets?: ProbePacket[];
  program_version?: { version?: string; configuration?: string };
}

const ALPHA_PIX_FMT = /^(yuva|rgba|bgra|argb|abgr|gbrap|ya[0-9]|pal8|rgb32|bgr32)/;
const HDR_TRANSFERS = new Set(["smpte2084", "arib-std-b67"]);
/**
 * Demuxers without an index, whose seeks land by byte-position estimate: MPEG-TS lands on
 * the next keyframe after the target, MPEG-PS a frame or two off (measured on ffmpeg 5.1 and 4.1).
 */
const INEXACT_SEEK = new Set(["mpegts", "mpegtsraw", "mpeg", "mpegvideo", "h264", "hevc", "m4v"]);

const PROBE_TIMEOUT_MS = 60_000;
const CANNOT_START = new Set(["ENOENT", "EACCES", "ENOEXEC"]);

/** The ffprobe build that answered: its version and configure flags. */
export interface ProbeBuild {
  ffprobe: Located;
  versionText: string;
  configuration: string;
}

/**
 * Probe a source's first video stream. `label` names the video in errors. The probe is also
 * ffprobe's check: one that does not run, or is too old, fails here with the fix.
 */
export async function probeSource(
  binary: Located,
  file: string,
  label: { what: string; loc?: SourceLocation },
  signal?: AbortSignal,
): Promise<{ info: SourceInfo; build?: ProbeBuild }> {
  const entries =
    "stream=codec_name,width,height,pix_fmt,has_b_frames,r_frame_rate,avg_frame_rate,duration,start_time,color_transfer:stream_tags:stream_side_data:format=format_name,duration,start_time";
  const result = await ffprobe(binary, file, ["-show_program_version", "-show_entries", entries], { signal });
  if (result.canceled) throw new FramecacheError("FC_CANCELLED", `probing ${label.what} was cancelled`, { loc: label.loc });
  if (result.timedOut) {
    throw new FramecacheError("FC_FFMPEG_TIMEOUT", `probing ${label.what} took longer than ${PROBE_TIMEOUT_MS} ms; ffprobe was killed`, {
      loc: label.loc,
      hint: "Check the file is not on a stalled network mount, and that it plays in another player.",
    });
  }
  const parsed = result.exitCode === 0 ? parseJson(result.stdout) : undefined;
  const version = parsed?.program_version?.version;
  if (version) requireVersion(binary, version, "");
  const build = version ? { ffprobe: binary, versionText: version, configuration: parsed?.program_version?.configuration ?? "" } : undefined;
  const stream = parsed?.streams?.[0];
  // ffmpeg's -ss counts from the container's start; a media start counts from the first video frame.
  const streamStart = firstFinite(stream?.start_time);
  const containerStart = firstFinite(parsed?.format?.start_time) ?? streamStart ?? 0;
  const startOffset = Math.max(0, (streamStart ?? containerStart) - containerStart);
  // The video stream's own length: audio or subtitles often run on past it, so the
  // container's duration is the last resort. Matroska's DURATION tag is the stream's end time.
  const duration =
    firstFinite(
      stream?.duration,
      stream?.tags?.DURATION && hms(stream.tags.DURATION) - (streamStart ?? 0),
      parsed?.format?.duration && Number(parsed.format.duration) - startOffset,
    ) ?? (stream ? await measureDuration(binary, file, streamStart ?? containerStart, signal) : undefined);
  if (!stream || !stream.width || !stream.height || duration === undefined || duration <= 0) {
    const failed = result.signal ? `ffprobe crashed (${result.signal})` : (result.stderr || "ffprobe failed").split("\n")[0];
    const why = result.exitCode !== 0 ? failed : stream ? "it has no measurable duration (a still image?)" : "it has no video stream";
    throw new FramecacheError("FC_NOT_A_VIDEO", `${label.what} is not a readable video: ${why}`, {
      loc: label.loc,
      hint: "Point src at a video file (mp4, webm, mov…); re-export the file if it is truncated or damaged.",
    });
  }
  const rotation = Math.abs(stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? Number(stream.tags?.rotate ?? 0)) % 180;
  const frameRate = rational(stream.r_frame_rate);
  const rFrameRate = frameRate ? frameRate.num / frameRate.den : 0;
  const avg = rational(stream.avg_frame_rate);
  const avgFrameRate = avg ? avg.num / avg.den : 0;
  const alphaTag = stream.tags?.alpha_mode === "1" || stream.tags?.ALPHA_MODE === "1";
  const alpha = ALPHA_PIX_FMT.test(stream.pix_fmt ?? "") || alphaTag;
  const info: SourceInfo = {
    duration,
    startTime: streamStart ?? containerStart,
    startOffset,
    seekable: !(parsed?.format?.format_name ?? "").split(",").some((name) => INEXACT_SEEK.has(name)),
    frameRate,
    reorderFrames: typeof stream.has_b_frames === "number" ? stream.has_b_frames : undefined,
    codec: stream.codec_name,
    variableFrameRate: rFrameRate > 0 && avgFrameRate > 0 && Math.abs(rFrameRate - avgFrameRate) / Math.max(rFrameRate, avgFrameRate) > 0.1,
    alpha,
    hdr: HDR_TRANSFERS.has(stream.color_transfer ?? ""),
    width: rotation === 90 ? stream.height : stream.width,
    height: rotation === 90 ? stream.width : stream.height,
    decoder: alphaTag ? (stream.codec_name === "vp8" ? "libvpx" : stream.codec_name === "vp9" ? "libvpx-vp9" : undefined) : undefined,
  };
  return { info, build };
}

interface FfprobeOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  priority?: number;
  /** `json` unless told; `compact` prints a line per packet or frame, to read as it comes. */
  format?: "json" | "compact";
  onStdout?: (chunk: string) => void;
}

async function ffprobe(binary: Located, file: string, args: string[], options: FfprobeOptions = {}): Promise<RunResult> {
  const { timeoutMs = PROBE_TIMEOUT_MS, format = "json", ...rest } = options;
  const result = await run(binary.path, ["-v", "error", "-select_streams", "v:0", ...args, "-of", format, `file:${file}`], { ...rest, timeoutMs });
  // A binary that cannot be started is the binary's fault, not the video's.
  if (CANNOT_START.has(String(result.error?.code)) && !result.canceled) throw cannotRun(binary, result.error);
  return result;
}

/**
 * Files written as a stream (MediaRecorder's webm, for one) carry no duration at all:
 * read the video packets' times to the end, which demuxes but decodes nothing.
 */
async function measureDuration(binary: Located, file: string, start: number, signal?: AbortSignal): Promise<number | undefined> {
  const result = await ffprobe(binary, file, ["-show_entries", "packet=pts_time,duration_time"], { signal });
  if (result.exitCode !== 0) return undefined;
  let end: number | undefined;
  for (const packet of parseJson(result.stdout)?.packets ?? []) {
    const pts = Number(packet.pts_time);
    if (Number.isFinite(pts)) end = Math.max(end ?? pts, pts + (Number(packet.duration_time) || 0));
  }
  return end === undefined ? undefined : end - start;
}

export interface KeyframeOptions {
  /** Keep only flagged packets that decode as keyframes (a codec whose flags may mark recovery points). */
  decodeKeyframes?: boolean;
  decodeTimeoutMs?: number;
  signal?: AbortSignal;
  /** Niceness, for a listing made ahead of need. */
  priority?: number;
  /** Told as the listing reads on: the table is complete before `through` (see KeyframeListing). */
  onProgress?: (listing: KeyframeListing) => void;
}

const DECODING = ["-skip_frame", "nokey", "-skip_idct", "all", "-skip_loop_filter", "all"];

/**
 * The video stream's keyframes (display and decode times, in microseconds on the stream's own
 * clock), sorted: where a seek may start decoding. Reads every packet. With `decodeKeyframes`
 * (a codec whose flags may mark recovery points) it also decodes what the decoder takes for a
 * keyframe, roughly, and keeps only flagged packets that decode as one; it decodes nothing else.
 * That takes long only where every frame is a keyframe (all-intra, 4K): when it runs out of
 * time, the flags are taken as they are if every packet has one, which is right for such a
 * source; otherwise the listing fails, and nothing is remembered. A long source takes seconds
 * (a keyframe decoded costs about 12 ms at 1080p), so `onProgress` hears the table as it grows,
 * from the first listing only: the flags alone are not known to be right until the last packet.
 */
export async function probeKeyframes(binary: Located, file: string, options: KeyframeOptions = {}): Promise<Keyframe[]> {
  const { decodeKeyframes = false, decodeTimeoutMs = PROBE_TIMEOUT_MS, onProgress, ...how } = options;
  const list = async (decode: boolean, timeoutMs: number, told?: (listing: KeyframeListing) => void) => {
    const listing = new KeyframeListing(decode);
    const entries = decode ? "packet=pts_time,dts_time,flags:frame=pts_time,key_frame" : "packet=pts_time,dts_time,flags";
    const onStdout = (chunk: string) => {
      listing.push(chunk);
      told?.(listing);
    };
    const result = await ffprobe(binary, file, [...(decode ? DECODING : []), "-show_entries", entries], { ...how, timeoutMs, format: "compact", onStdout });
    return { result, listing };
  };
  let { result, listing } = await list(decodeKeyframes, decodeKeyframes ? decodeTimeoutMs : PROBE_TIMEOUT_MS, onProgress);
  const decodeTimedOut = decodeKeyframes && result.timedOut && !result.canceled;
  if (decodeTimedOut) ({ result, listing } = await list(false, PROBE_TIMEOUT_MS));
  // Cancelled after ffprobe exited, its output may be cut short: never a table.
  if (result.canceled) throw new Error(`listing the keyframes of ${file} was cancelled`);
  if (result.exitCode !== 0) throw new Error(`ffprobe could not list the keyframes of ${file}: ${result.stderr.split("\n")[0]}`);
  listing.end();
  if (decodeTimedOut && !listing.allFlagged) {
    throw new Error(`decoding the keyframes of ${file} took longer than ${decodeTimeoutMs} ms, and it is not all keyframes`);
  }
  if (!decodeTimedOut) onProgress?.(listing);
  return listing.keyframes();
}

/** ffprobe's JSON; anything else (a broken build, a wrapper's noise) reads as no streams. */
function parseJson(text: unknown): ProbeOutput | undefined {
  try {
    return JSON.parse(String(text)) as ProbeOutput;
  } catch {
    return undefined;
  }
}

/** `30000/1001` as a fraction; undefined for ffprobe's `0/0` (unknown). */
function rational(text: string | undefined): Rational | undefined {
  const [num = 0, den = 0] = (text ?? "").split("/").map(Number);
  return Number.isInteger(num) && Number.isInteger(den) && num > 0 && den > 0 ? { num, den } : undefined;
}


function firstFinite(...values: (string | number | undefined | false)[]): number | undefined {
  for (const v of values) {
    const n = typeof v === "string" ? Number(v) : v;
    if (typeof n === "number" && Number.isFinite(n)) return n;
  }
  return undefined;
}

/** Matroska writes stream durations as `00:00:04.000000000` tags. */
function hms(text: string): number {
  const [h = 0, m = 0, s = 0] = text.split(":").map(Number);
  return h * 3600 + m * 60 + s;
}
