import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** How a coded video draws its frame number: `bits` columns of `bitWidth` pixels, black = 0, white = 1. */
export interface CodedLayout {
  bits: number;
  bitWidth: number;
  height: number;
}

/** 12 bits count up to 4095 frames. */
export const DEFAULT_LAYOUT: CodedLayout = { bits: 12, bitWidth: 16, height: 32 };
export const CODED_SIZE = codedSize(DEFAULT_LAYOUT);

export function codedSize(layout: CodedLayout): { width: number; height: number } {
  return { width: layout.bits * layout.bitWidth, height: layout.height };
}

export interface CodedVideoOptions {
  seconds: number;
  /** Source frame rate, integer or "num/den". */
  fps?: number | string;
  /** Encoder arguments (and any extra output options) placed before the file name. */
  codec?: string[];
  /** Filters applied after the coded pattern is drawn (e.g. `select=…`). */
  filters?: string;
  layout?: CodedLayout;
}

const X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"];

/**
 * A video whose frame N shows N in binary, one black or white column per bit,
 * so any extracted still can be traced to the source frame it came from.
 */
export function makeCodedVideo(file: string, { seconds, fps = 30, codec = X264, filters, layout = DEFAULT_LAYOUT }: CodedVideoOptions): string {
  const { width, height } = codedSize(layout);
  const lum = `if(bitand(N\\,pow(2\\,floor(X/${layout.bitWidth})))\\,235\\,16)`;
  const graph = `color=c=black:s=${width}x${height}:r=${fps}:d=${seconds},geq=lum='${lum}':cb=128:cr=128${filters ? `,${filters}` : ""}`;
  ffmpeg("-f", "lavfi", "-i", graph, ...codec, file);
  return file;
}

/** Run the ffmpeg on PATH to make test media (`-v error -y` added); returns what it wrote to stdout. */
export function ffmpeg(...args: string[]): Buffer {
  return execFileSync("ffmpeg", ["-v", "error", "-y", ...args], { maxBuffer: 1 << 30 });
}

export interface ReadOptions {
  layout?: CodedLayout;
  /** Read `count` frames from frame number `from` on, rather than all of them. */
  from?: number;
  count?: number;
  /** A filter that turns the extracted frames back into the coded layout (e.g. `transpose=2` for a rotated source). */
  filter?: string;
}

/**
 * Source frame numbers shown by `frame_00001.<ext>`… in `dir`, decoded in one ffmpeg pass.
 * Frames are scaled back to the coded size first, so downscaled output reads too.
 */
export function readFrameNumbers(dir: string, ext = "jpg", { layout = DEFAULT_LAYOUT, filter, from = 1, count }: ReadOptions = {}): number[] {
  const { width, height } = codedSize(layout);
  const vf = [filter, `scale=${width}:${height}:flags=neighbor`].filter(Boolean).join(",");
  const limit = count === undefined ? [] : ["-frames:v", String(count)];
  const raw = ffmpeg("-start_number", String(from), "-i", join(dir, `frame_%05d.${ext}`), "-vf", vf, ...limit, "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1");
  const frameBytes = width * height;
  const numbers: number[] = [];
  for (let offset = 0; offset + frameBytes <= raw.length; offset += frameBytes) {
    let n = 0;
    for (let bit = 0; bit < layout.bits; bit++) {
      const x = bit * layout.bitWidth + Math.floor(layout.bitWidth / 2);
      if (raw[offset + Math.floor(height / 2) * width + x]! > 128) n |= 1 << bit;
    }
    numbers.push(n);
  }
  return numbers;
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

export function tempDir(prefix = "framecache-test-", base = tmpdir()): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(base, prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A wrapper script for FFMPEG_PATH that logs each real ffmpeg run (not `-version`
 * checks) to a file, so tests can count extractions across processes. `delaySeconds`
 * holds each run back before the real ffmpeg starts, so two processes surely overlap.
 */
export function countingFfmpeg(dir: string, { delaySeconds = 0 } = {}): { path: string; runs: () => number } {
  const log = join(dir, "ffmpeg-runs.log");
  const path = join(dir, "ffmpeg-counting");
  const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
  const delay = delaySeconds > 0 ? `[ "$1" = "-version" ] || sleep ${delaySeconds}\n` : "";
  writeFileSync(path, `#!/bin/sh\n[ "$1" = "-version" ] || echo run >> "${log}"\n${delay}exec "${real}" "$@"\n`);
  chmodSync(path, 0o755);
  return { path, runs: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0) };
}

/**
 * An FFMPEG_PATH wrapper that holds every extraction until `open()` is called,
 * then runs the real ffmpeg (`exec`, so the process is ffmpeg from then on).
 * `held()` lists the arguments of each run that reached the gate, so a test can wait for one instead of sleeping.
 */
export function gatedFfmpeg(dir: string): { path: string; open: () => void; held: () => string[] } {
  const gate = join(dir, "ffmpeg-gate");
  const log = join(dir, "ffmpeg-held.log");
  const path = join(dir, "ffmpeg-gated");
  const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
  writeFileSync(path, `#!/bin/sh\n[ "$1" = "-version" ] && exec "${real}" "$@"\nprintf '%s\\n' "$*" >> "${log}"\nwhile [ ! -f "${gate}" ]; do sleep 0.05; done\nexec "${real}" "$@"\n`);
  chmodSync(path, 0o755);
  return { path, open: () => writeFileSync(gate, ""), held: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []) };
}

/**
 * An FFMPEG_PATH wrapper that reads each run's input at its own frame rate (`-re`), so
 * extracting an N-second clip lasts at least N seconds however fast the machine is.
 */
export function pacedFfmpeg(dir: string): string {
  const path = join(dir, "ffmpeg-paced");
  const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
  writeFileSync(path, `#!/bin/sh\ncase " $* " in *" -i "*) exec "${real}" -re "$@";; esac\nexec "${real}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Width and height of an image or video file, as ffprobe reads them. */
export function imageSize(file: string): { width: number; height: number } {
  const out = execFileSync("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json", file]);
  const stream = (JSON.parse(out.toString()) as { streams: { width: number; height: number }[] }).streams[0]!;
  return { width: stream.width, height: stream.height };
}

/** The decoded pixels of one image, as `rgba` (4 bytes a pixel) or `gray` (1 byte). */
export function rawPixels(file: string, pixFmt: "rgba" | "gray"): Buffer {
  return ffmpeg("-i", file, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pixFmt, "pipe:1");
}
