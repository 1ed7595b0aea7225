import { FramecacheError } from "./errors.js";

/** One slice of the tasks: `index` is 1-based, as CI matrices count. */
export interface Shard {
  index: number;
  count: number;
}

/** `"2/4"` → `{ index: 2, count: 4 }`; anything else throws FC_BAD_OPTION. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(count >= 1 && count <= 10_000 && index >= 1 && index <= count)) {
    throw new FramecacheError("FC_BAD_OPTION", `--shard is ${JSON.stringify(text)}; use I/N with 1 ≤ I ≤ N, e.g. --shard 2/4`, {
      hint: "Give each of N jobs its own --shard I/N so together they cover every task once.",
    });
  }
  return { index, count };
}

/**
 * Whether a task belongs to a shard. Decided by the key alone (its first 64 bits
 * modulo N), so every job, on any machine, agrees without coordinating, and two
 * videos that share a key always fall in the same shard.
 */
export function inShard(key: string, shard: Shard): boolean {
  return BigInt(`0x${key.slice(0, 16)}`) % BigInt(shard.count) === BigInt(shard.index - 1);
}
