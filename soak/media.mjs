import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

// The layout of test/helpers/media.ts: 12 columns of 16 px, black = 0, white = 1.
const BITS = 12;
const BIT_WIDTH = 16;
const WIDTH = BITS * BIT_WIDTH;
const HEIGHT = 32;

/** A 1 s 30 fps clip whose frame N shows `offset + N`, so any frame tells which bytes and which instant it came from. */
export function makeSource(file, offset) {
  const lum = `if(bitand(N+${offset}\\,pow(2\\,floor(X/${BIT_WIDTH})))\\,235\\,16)`;
  const graph = `color=c=black:s=${WIDTH}x${HEIGHT}:r=30:d=1,geq=lum='${lum}':cb=128:cr=128`;
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", graph, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-f", "mp4", file]);
}

/** The numbers shown by frame_00001.jpg… frame_<count>.jpg in `dir`, in one ffmpeg run. */
export async function decodeNumbers(dir, count) {
  const args = ["-v", "error", "-i", join(dir, "frame_%05d.jpg"), "-vf", `scale=${WIDTH}:${HEIGHT}:flags=neighbor`, "-frames:v", String(count), "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"];
  const { stdout } = await promisify(execFile)("ffmpeg", args, { encoding: "buffer", maxBuffer: 1 << 26 });
  const numbers = [];
  for (let offset = 0; offset + WIDTH * HEIGHT <= stdout.length; offset += WIDTH * HEIGHT) {
    let n = 0;
    for (let bit = 0; bit < BITS; bit++) if (stdout[offset + (HEIGHT / 2) * WIDTH + bit * BIT_WIDTH + BIT_WIDTH / 2] > 128) n |= 1 << bit;
    numbers.push(n);
  }
  return numbers;
}
