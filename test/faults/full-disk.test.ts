// A full disk and read-only folders, on small tmpfs mounts in a private mount namespace (`unshare -m`, as root):
// the error is one line naming the file or folder the user knows and the operation (no hidden temporary name, no
// bare errno), nothing half-written stays, read-only folders are found before the long work, and after space is
// freed a re-run gives the uninterrupted result.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticDataset, type SyntheticDataset } from "../training/helpers/synthetic-dataset.js";
import { PREPROCESS_ARGS, ROOT, faultSuiteRuns, leftovers, runBin, snapshot, tinyRoots, type Env } from "./helpers.js";

const RUNS = faultSuiteRuns(import.meta.url);

/** stderr without the progress lines the CLI prints when it is not on a terminal. */
const errorLines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l && !/^[\w ./]+: \d+\/\d+/.test(l))
    .map((l) => l + "\n")
    .join("");

/** Runs a shell script in a private mount namespace (mounts vanish with it); `$NODE` and `$BIN` are set. */
function inNamespace(script: string, env: Env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("unshare", ["-m", "sh", "-eu", "-c", script], {
    env: { ...process.env, ...env, NODE: process.execPath, BIN: path.join(ROOT, "bin"), UV_THREADPOOL_SIZE: "1" },
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!RUNS)("nnUNetv2_preprocess on a full disk", () => {
  let t: ReturnType<typeof tinyRoots>;
  let reference: Record<string, string>;
  beforeAll(() => {
    t = tinyRoots("faults-disk-");
    const r = runBin("nnUNetv2_preprocess", PREPROCESS_ARGS, t.env);
    expect(r.status, r.stderr).toBe(0);
    reference = snapshot(t.preBase);
    // the planned state (plans, fingerprint, dataset.json) to start from on the tmpfs
    mkdirSync(path.join(t.root, "planned"));
    for (const f of ["nnUNetPlans.json", "dataset_fingerprint.json", "dataset.json"])
      writeFileSync(path.join(t.root, "planned", f), readFileSync(path.join(t.preBase, f)));
  });
  afterAll(() => rmSync(t.root, { recursive: true, force: true }));

  it("fails with one line naming the file (ENOSPC), leaves no partial output, and completes once there is space", { timeout: 120_000 }, () => {
    const out = path.join(t.root, "after");
    const r = inNamespace(
      `
      PRE="$nnUNet_preprocessed"; rm -rf "$PRE"; mkdir -p "$PRE"
      mount -t tmpfs -o size=600k none "$PRE"
      mkdir "$PRE/Dataset900_Tiny"; cp "$PLANNED"/* "$PRE/Dataset900_Tiny/"
      set +e; "$NODE" "$BIN/nnUNetv2_preprocess.js" ${PREPROCESS_ARGS.join(" ")} >/dev/null 2>"$OUT.err1"; echo $? >"$OUT.rc1"; set -e
      (cd "$PRE" && find . | sort) >"$OUT.list1"
      mount -o remount,size=8m "$PRE"
      set +e; "$NODE" "$BIN/nnUNetv2_preprocess.js" ${PREPROCESS_ARGS.join(" ")} >/dev/null 2>"$OUT.err2"; echo $? >"$OUT.rc2"; set -e
      cp -a "$PRE/Dataset900_Tiny" "$OUT"
    `,
      { ...t.env, PLANNED: path.join(t.root, "planned"), OUT: out },
    );
    expect(r.status, r.stderr).toBe(0);
    const err1 = errorLines(`${out}.err1`);
    expect(readFileSync(`${out}.rc1`, "utf8").trim()).toBe("1");
    expect(err1).toMatch(/^nnUNetv2_preprocess: error: \S+: cannot write: no space left on device \(ENOSPC\)\n$/);
    const named = /error: (\S+): cannot write/.exec(err1)![1]!;
    expect(named.startsWith(path.join(t.env.nnUNet_preprocessed!, "Dataset900_Tiny"))).toBe(true);
    expect(path.basename(named)).not.toMatch(/^\./);
    // the failed overwrite left neither a partial data folder nor temporaries
    expect(
      readFileSync(`${out}.list1`, "utf8")
        .split("\n")
        .filter((l) => /tmp-|\.lock|nnUNetPlans_3d_fullres/.test(l)),
    ).toEqual([]);
    expect(errorLines(`${out}.err2`)).toBe("");
    expect(readFileSync(`${out}.rc2`, "utf8").trim()).toBe("0");
    expect(snapshot(out)).toEqual(reference);
  });

  it("a read-only preprocessed folder is reported before the fingerprint is computed, naming the folder", () => {
    const r = inNamespace(
      `
      PRE="$nnUNet_preprocessed"
      mount -t tmpfs -o size=1m none "$PRE"
      mkdir "$PRE/Dataset900_Tiny"; cp "$PLANNED"/dataset.json "$PRE/Dataset900_Tiny/"
      mount -o remount,ro "$PRE"
      set +e; "$NODE" "$BIN/nnUNetv2_extract_fingerprint.js" -d 900 -np 1 --clean >/dev/null 2>"$OUT.err"; echo $? >"$OUT.rc"
    `,
      { ...t.env, PLANNED: path.join(t.root, "planned"), OUT: path.join(t.root, "ro") },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(t.root, "ro.rc"), "utf8").trim()).toBe("1");
    expect(readFileSync(path.join(t.root, "ro.err"), "utf8")).toBe(
      `nnUNetv2_extract_fingerprint: error: ${path.join(t.env.nnUNet_preprocessed!, "Dataset900_Tiny")}: cannot write into the folder: read-only file system (EROFS)\n`,
    );
  });
});

describe.skipIf(!RUNS)("nnUNetv2_train on a read-only or full results folder", () => {
  let ds: SyntheticDataset;
  const ARGS = [
    "998",
    "3d_fullres",
    "0",
    "--num_epochs",
    "2",
    "--num_iterations_per_epoch",
    "1",
    "--num_val_iterations_per_epoch",
    "1",
    "--num_workers",
    "0",
    "--seed",
    "5",
  ];
  beforeAll(async () => {
    ds = await writeSyntheticDataset(mkdtempSync(path.join(tmpdir(), "faults-disk-train-")), { id: 998, numCases: 5, size: 10 });
  });
  afterAll(() => rmSync(ds.root, { recursive: true, force: true }));

  it("a read-only results folder: one line naming the fold and EROFS (not ENOENT), before training", () => {
    const out = path.join(ds.root, "ro");
    const r = inNamespace(
      `
      mount -t tmpfs -o size=1m none "$nnUNet_results"; mount -o remount,ro "$nnUNet_results"
      set +e; "$NODE" "$BIN/nnUNetv2_train.js" ${ARGS.join(" ")} >/dev/null 2>"$OUT.err"; echo $? >"$OUT.rc"
    `,
      { ...ds.paths, OUT: out },
    );
    expect(r.status, r.stderr).toBe(0);
    const fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0");
    expect(readFileSync(`${out}.rc`, "utf8").trim()).toBe("1");
    expect(readFileSync(`${out}.err`, "utf8")).toBe(`nnUNetv2_train: error: ${fold}: cannot create folder: read-only file system (EROFS)\n`);
  });

  it(
    "a full results folder: one line naming the checkpoint (ENOSPC), no partial checkpoint, and --c finishes once there is space",
    { timeout: 120_000 },
    () => {
      const out = path.join(ds.root, "full");
      const r = inNamespace(
        `
      mount -t tmpfs -o size=1800k none "$nnUNet_results"
      set +e; "$NODE" "$BIN/nnUNetv2_train.js" ${ARGS.join(" ")} >/dev/null 2>"$OUT.err1"; echo $? >"$OUT.rc1"; set -e
      (cd "$nnUNet_results" && find . | sort) >"$OUT.list1"
      mount -o remount,size=16m "$nnUNet_results"
      set +e; "$NODE" "$BIN/nnUNetv2_train.js" ${ARGS.join(" ")} --c >/dev/null 2>"$OUT.err2"; echo $? >"$OUT.rc2"; set -e
      cp -a "$nnUNet_results" "$OUT"
    `,
        { ...ds.paths, OUT: out },
      );
      expect(r.status, r.stderr).toBe(0);
      const fold = path.join(ds.paths.nnUNet_results, ds.datasetName, "nnUNetTrainer__nnUNetPlans__3d_fullres", "fold_0");
      expect(readFileSync(`${out}.rc1`, "utf8").trim()).toBe("1");
      expect(errorLines(`${out}.err1`)).toMatch(
        new RegExp(`^nnUNetv2_train: error: ${fold}/checkpoint_\\w+\\.pth: cannot write: no space left on device \\(ENOSPC\\)\\n$`),
      );
      expect(
        readFileSync(`${out}.list1`, "utf8")
          .split("\n")
          .filter((l) => /tmp-|\.lock/.test(l)),
      ).toEqual([]);
      expect(readFileSync(`${out}.rc2`, "utf8").trim()).toBe("0");
      const copied = path.join(out, path.relative(ds.paths.nnUNet_results, fold));
      expect(existsSync(path.join(copied, "checkpoint_final.pth"))).toBe(true);
      expect(leftovers(out)).toEqual([]);
    },
  );
});
