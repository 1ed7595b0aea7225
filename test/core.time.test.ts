import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { frameCount, fpsValue, parseFps, scaleMicros, toMicros } from "../src/core/time.js";

const fps30 = { num: 30, den: 1 };
const ntsc = { num: 30000, den: 1001 };

describe("frame counts", () => {
  it("rounds half up for constant-rate sources without float drift", () => {
    expect(frameCount(toMicros(2.05), fps30)).toBe(62);
    expect(frameCount(toMicros(0.616666), fps30)).toBe(18);
    expect(frameCount(toMicros(0.25025), ntsc)).toBe(8);
  });

  it("takes the ceiling for variable-rate sources", () => {
    expect(frameCount(toMicros(0.616666), fps30, true)).toBe(19);
    expect(frameCount(toMicros(1), fps30, true)).toBe(30);
  });

  it("gives at least one frame for any positive span, none for an empty one", () => {
    expect(frameCount(toMicros(0.001), fps30)).toBe(1);
    expect(frameCount(0, fps30)).toBe(0);
  });

  it("truncates times to microseconds from their decimal form", () => {
    expect(toMicros(0.616666)).toBe(616666);
    expect(toMicros(2.05)).toBe(2050000);
    expect(toMicros(0.1 + 0.2)).toBe(300000);
    expect(toMicros(1.0000009)).toBe(1000000);
    expect(toMicros(1e-7)).toBe(0);
    expect(toMicros(123456.789)).toBe(123456789000);
    expect(Object.is(toMicros(-1e-7), 0)).toBe(true);
  });

  it("gives, below and above 10^9 s, the microseconds of the number's decimal digits (as BigInt arithmetic on them does)", () => {
    // The shortest decimal as digits × 10^exp, scaled to microseconds and truncated, all in BigInt.
    const byDigits = (seconds: number): number => {
      const [mantissa = "0", e = "0"] = Math.abs(seconds).toString().split("e");
      const [whole = "0", frac = ""] = mantissa.split(".");
      const digits = BigInt(whole + frac);
      const shift = Number(e) - frac.length + 6;
      const micros = shift >= 0 ? digits * 10n ** BigInt(shift) : digits / 10n ** BigInt(-shift);
      return Number(seconds < 0 ? -micros : micros);
    };
    const seconds = fc.oneof(fc.double({ min: -2e9, max: 2e9, noNaN: true }), fc.integer({ min: -2e9, max: 2e9 }).map((n) => n / 1000), fc.constantFrom(999_999_999.999999, 1e9, 1_000_000_000.5, -999_999_999.9999999));
    fc.assert(fc.property(seconds, (s) => toMicros(s) === byDigits(s)), { numRuns: 5000 });
  });

  it("scales a span by a playback rate exactly", () => {
    expect(scaleMicros(toMicros(2), 1.5)).toBe(3_000_000);
    expect(scaleMicros(toMicros(1.1), 0.1)).toBe(110_000);
  });
});

describe("fps", () => {
  it("accepts integers and exact ratios and refuses decimals", () => {
    expect(parseFps(30)).toEqual(fps30);
    expect(parseFps("30000/1001")).toEqual(ntsc);
    expect(parseFps("60/2")).toEqual(fps30);
    expect(parseFps(29.97)).toBeUndefined();
    expect(parseFps("29.97")).toBeUndefined();
    expect(parseFps("0")).toBeUndefined();
    expect(parseFps("30/0")).toBeUndefined();
  });

  it("keeps rationals as strings so a decimal never stands for one", () => {
    expect(fpsValue(fps30)).toBe(30);
    expect(fpsValue(ntsc)).toBe("30000/1001");
  });
});
