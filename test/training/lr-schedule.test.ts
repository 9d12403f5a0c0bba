import { describe, it, expect } from "vitest";
import { polyLr, warmupPolyLr, trainingStage } from "../../sdk/training/lr-schedule.js";

describe("polyLr(0.01, 1000)", () => {
  it.each([
    [0, 0.01],
    [1, 0.009991],
    [500, 0.0053589],
    [999, 1.9953e-5],
  ])("epoch %i -> %f (upstream's PolyLRScheduler)", (e, lr) => {
    expect(polyLr(0.01, 1000)(e)).toBeCloseTo(lr, 7);
    expect(Math.abs(polyLr(0.01, 1000)(e) - lr) / lr).toBeLessThan(1e-4);
  });
});

describe("warmupPolyLr(1e-3, 1000, 50) (PretrainedTrainer)", () => {
  it.each([
    [0, 2e-5],
    [1, 4e-5],
    [49, 1e-3],
    [50, 1e-3],
    [100, 9.5e-4],
    [500, 5.6e-4],
    [999, 2.1e-6],
  ])("epoch %i -> %f (the nnssl fork's warm-up + PolyLRScheduler_offset)", (e, lr) => {
    expect(Math.abs(warmupPolyLr(1e-3, 1000, 50)(e) - lr) / lr).toBeLessThan(0.01);
  });
  it("is exact on the warm-up ramp and at the switch", () => {
    const s = warmupPolyLr(1e-3, 1000, 50);
    expect(s(24)).toBeCloseTo((1e-3 / 50) * 25, 15);
    expect(s(50)).toBe(1e-3);
    expect(s(100)).toBeCloseTo(1e-3 * Math.pow(1 - 50 / 950, 0.9), 15);
    expect(trainingStage(49, 50)).toBe("warmup_all");
    expect(trainingStage(50, 50)).toBe("train");
  });
  it("150-epoch variant: warm-up 15 then poly to 150", () => {
    const s = warmupPolyLr(1e-3, 150, 15);
    expect(s(14)).toBeCloseTo(1e-3, 15);
    expect(s(149)).toBeCloseTo(1e-3 * Math.pow(1 - 134 / 135, 0.9), 15);
  });
});
