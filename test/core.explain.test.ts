import { describe, expect, it } from "vitest";
import { explainMiss, keyChanges, type KnownEntry } from "../src/core/explain.js";
import type { KeyInput } from "../src/core/key.js";

const digest = (c: string) => "sha256:" + c.repeat(64);
const base: KeyInput = { p: digest("a"), m: 0, s: 1000, ms: 0, d: 8, f: 30, fmt: "jpg" };
const known = (name: string, input: Partial<KeyInput>, extra: Partial<KnownEntry> = {}): KnownEntry => ({
  name,
  input: { ...base, ...input },
  source: "/p/clip.mp4",
  lastUsed: 0,
  ...extra,
});

describe("explaining a miss", () => {
  it("names each differing key field as a person would say it", () => {
    expect(keyChanges(base, { ...base, d: 9 })).toEqual(["duration 8 → 9"]);
    expect(keyChanges(base, { ...base, f: 60, fmt: "png" })).toEqual(["fps 30 → 60", "format jpg → png"]);
    expect(keyChanges(base, { ...base, ms: 1.5, t: "q=80" })).toEqual(["media start 0 → 1.5", "settings (defaults) → q=80"]);
    expect(keyChanges(base, { ...base, d: -1 })).toEqual(["duration 8 → (natural)"]);
    // New bytes: one phrase, even though the size changed too.
    expect(keyChanges(base, { ...base, p: digest("b"), s: 2000 })).toEqual(["source content changed"]);
    const stat: KeyInput = { ...base, p: "/p/clip.mp4", m: 1700000000000 };
    expect(keyChanges(stat, { ...stat, m: 1700000000001, s: 1001 })).toEqual(["source modified (mtime)", "source size 1000 → 1001 bytes"]);
    expect(keyChanges(stat, base)).toEqual(["key mode stat → content"]);
  });

  it("compares with the nearest entry of the same source, by path or by content", () => {
    const entries = [
      known("far", { d: 3, f: 60 }),
      known("near", { d: 9 }),
      known("other-file", { p: digest("c"), d: 8 }, { source: "/p/other.mp4" }),
    ];
    expect(explainMiss(base, "/p/clip.mp4", entries)).toEqual({ nearest: "near", changes: ["duration 9 → 8"] });
    // The same bytes at a new path (a moved project) still count as the same source.
    expect(explainMiss({ ...base, p: digest("c"), d: 5 }, "/elsewhere/x.mp4", entries)).toEqual({ nearest: "other-file", changes: ["duration 8 → 5"] });
    expect(explainMiss(base, "/p/new.mp4", [])).toEqual({ changes: ["no entry for this source yet"] });
    // A tie goes to the most recently used entry.
    const tie = [known("old", { d: 7 }, { lastUsed: 1 }), known("new", { d: 9 }, { lastUsed: 2 })];
    expect(explainMiss(base, "/p/clip.mp4", tie).nearest).toBe("new");
  });
});
