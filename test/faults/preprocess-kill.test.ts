// nnUNetv2_preprocess killed (SIGKILL, by strace) at each of its renames, then run again: the result is byte-identical
// to an uninterrupted run, with no temporary or lock file left. An overwrite killed at any rename leaves the previous
// folder or (between the two renames of the swap) no folder, never a partial one.

import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IN_CI, PREPROCESS_ARGS, countRenames, faultSuiteRuns, faultToolsMissing, leftovers, runBin, snapshot, tinyRoots } from "./helpers.js";

const RUNS = faultSuiteRuns(import.meta.url);

describe.runIf(IN_CI)("the fault-injection suite under CI", () => {
  it("has strace and tmpfs mounts (it must not skip there)", () => expect(faultToolsMissing()).toBeNull());
});

describe.skipIf(!RUNS)("nnUNetv2_preprocess killed at each rename", () => {
  let t: ReturnType<typeof tinyRoots>;
  let reference: Record<string, string>;
  let renames = 0;
  const fresh = () => {
    rmSync(t.dataFolder, { recursive: true, force: true });
    rmSync(t.gt, { recursive: true, force: true });
  };
  beforeAll(() => {
    t = tinyRoots("faults-pp-");
    const { count, run } = countRenames("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env, t.root);
    expect(run.status, run.stderr).toBe(0);
    renames = count;
    reference = snapshot(t.preBase);
  });
  afterAll(() => rmSync(t.root, { recursive: true, force: true }));

  it("writes 5 cases x 3 files and 5 reference segmentations, with 15 + 2 + 5 renames", () => {
    expect(Object.keys(reference).filter((k) => k.startsWith("nnUNetPlans_3d_fullres/"))).toHaveLength(15);
    expect(Object.keys(reference).filter((k) => k.startsWith("gt_segmentations/"))).toHaveLength(5);
    expect(renames).toBe(22);
    expect(leftovers(t.root)).toEqual([]);
  });

  it("from scratch: a kill at rename N (every N), then a re-run, gives the uninterrupted result", { timeout: 400_000 }, () => {
    for (let n = 1; n <= renames; n++) {
      fresh();
      const killed = runBin("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env, { killAtRename: n });
      expect(killed.signal, `rename ${n}: ${killed.stderr}`).toBe("SIGKILL");
      const again = runBin("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env);
      expect(again.status, `after a kill at rename ${n}: ${again.stderr}`).toBe(0);
      expect(snapshot(t.preBase), `after a kill at rename ${n}`).toEqual(reference);
      expect(leftovers(t.root)).toEqual([]);
    }
  });

  it("overwriting a complete folder: after a kill the folder is the old one or absent, and a re-run restores it", { timeout: 200_000 }, () => {
    const data = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).filter(([k]) => k.startsWith("nnUNetPlans_3d_fullres/")));
    // 15 renames of case files into the new folder, then the swap (old folder aside, new folder into place)
    for (const n of [1, 8, 15, 16, 17]) {
      expect(snapshot(t.preBase)).toEqual(reference);
      const killed = runBin("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env, { killAtRename: n });
      expect(killed.signal, `rename ${n}: ${killed.stderr}`).toBe("SIGKILL");
      const after = data(snapshot(t.preBase, (rel) => rel.startsWith(".")));
      expect(after, `kill at rename ${n}`).toEqual(n === 17 ? {} : data(reference));
      const again = runBin("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env);
      expect(again.status, again.stderr).toBe(0);
      expect(snapshot(t.preBase)).toEqual(reference);
    }
  });
});
