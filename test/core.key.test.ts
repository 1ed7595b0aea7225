import { describe, expect, it } from "vitest";
import { computeKey, entryName, keyInput, transformTag } from "../src/core/key.js";

describe("key", () => {
  const vectors = [
    [
      { p: "/abs/project/assets/clip.mp4", m: 1700000000000, s: 1048576, ms: 1.5, d: 3, f: 30, fmt: "jpg" },
      "b86d7bc350c1b67eba3b0036f25dd85329bf3ab62f8988e7e81c501a0e118540",
      "hfcache-v2-b86d7bc350c1b67e",
    ],
    [
      { p: "/abs/project/assets/clip.mp4", m: 1700000000000, s: 1048576, ms: 0, d: -1, f: "30000/1001", fmt: "png" },
      "c8c3dbc168f94ae3df41cbd40dce9a29a9723d603a1b0ca5679d823b8b22099c",
      "hfcache-v2-c8c3dbc168f94ae3",
    ],
    [
      { p: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", m: 0, s: 1048576, ms: 1.5, d: 3, f: 30, fmt: "jpg" },
      "4a1f540247751c06e38ca3dc4750e65b4405b49e3f0a40c9e4b0262b821209cd",
      "hfcache-v2-4a1f540247751c06",
    ],
  ] as const;

  it.each(vectors)("reproduces the DESIGN test vector %#", (input, key, name) => {
    const built = keyInput({ ...input });
    expect(JSON.stringify(built)).toBe(JSON.stringify(input));
    expect(computeKey(built)).toBe(key);
    expect(entryName(key)).toBe(name);
  });

  it("normalises an unresolved duration to -1", () => {
    expect(keyInput({ p: "x", m: 0, s: 1, ms: 0, d: Infinity, f: 30, fmt: "jpg" }).d).toBe(-1);
  });

  it("adds t last, with sorted name=value pairs, only when a setting differs", () => {
    const input = keyInput({ p: "x", m: 0, s: 1, ms: 0, d: 1, f: 30, fmt: "jpg" }, { w: 640, q: 80 });
    expect(Object.keys(input)).toEqual(["p", "m", "s", "ms", "d", "f", "fmt", "t"]);
    expect(input.t).toBe("q=80+w=640");
    expect("t" in keyInput({ p: "x", m: 0, s: 1, ms: 0, d: 1, f: 30, fmt: "jpg" })).toBe(false);
    expect(transformTag({ tonemap: "hable" })).toBe("tonemap=hable");
  });
});
