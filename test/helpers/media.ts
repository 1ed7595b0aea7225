import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Width of one bit column in a coded frame; 12 bits count up to 4095 frames. */
const BIT_WIDTH = 16;
const BITS = 12;
export const CODED_SIZE = { width: BIT_WIDTH * BITS, height: 32 };

export interface CodedVideoOptions {
  seconds: number;
  /** Source frame rate, integer or "num/den". */
  fps?: number | string;
  codec?: string[];
}

/**
 * A video whose frame N shows N in binary, one black or white column per bit,
 * so any extracted still can be traced to the source frame it came from.
 */
export function makeCodedVideo(file: string, { seconds, fps = 30, codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"] }: CodedVideoOptions): string {
  const { width, height } = CODED_SIZE;
  const lum = `if(bitand(N\\,pow(2\\,floor(X/${BIT_WIDTH})))\\,235\\,16)`;
  execFileSync("ffmpeg", [
    "-v", "error", "-y",
    "-f", "lavfi", "-i", `color=c=black:s=${width}x${height}:r=${fps}:d=${seconds},geq=lum='${lum}':cb=128:cr=128`,
    ...codec,
    file,
  ]);
  return file;
}

/** Source frame numbers shown by `frame_00001.<ext>`… in `dir`, decoded in one ffmpeg pass. */
export function readFrameNumbers(dir: string, ext = "jpg"): number[] {
  const { width, height } = CODED_SIZE;
  const raw = execFileSync("ffmpeg", ["-v", "error", "-i", join(dir, `frame_%05d.${ext}`), "-f", "rawvideo", "-pix_fmt", "gray", "-"], {
    maxBuffer: 1 << 30,
  });
  const frameBytes = width * height;
  const numbers: number[] = [];
  for (let offset = 0; offset + frameBytes <= raw.length; offset += frameBytes) {
    let n = 0;
    for (let bit = 0; bit < BITS; bit++) {
      const x = bit * BIT_WIDTH + BIT_WIDTH / 2;
      if (raw[offset + (height / 2) * width + x]! > 128) n |= 1 << bit;
    }
    numbers.push(n);
  }
  return numbers;
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

export function tempDir(prefix = "framecache-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
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
 */
export function gatedFfmpeg(dir: string): { path: string; open: () => void } {
  const gate = join(dir, "ffmpeg-gate");
  const path = join(dir, "ffmpeg-gated");
  const real = execFileSync("sh", ["-c", "command -v ffmpeg"]).toString().trim();
  writeFileSync(path, `#!/bin/sh\n[ "$1" = "-version" ] && exec "${real}" "$@"\nwhile [ ! -f "${gate}" ]; do sleep 0.05; done\nexec "${real}" "$@"\n`);
  chmodSync(path, 0o755);
  return { path, open: () => writeFileSync(gate, "") };
}
