// System errors become IOErrors naming the path the user knows and the operation; temporary files of killed runs
// are removed by the next run. (Read-only and full file systems need a mount: see test/faults/.)

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IOError } from "../../sdk/errors.js";
import { copyFileAtomic, ensureDir, probeWritable, readJson, removeStaleTempFiles, replaceFolder, tempName, writeFileAtomic } from "../../sdk/util/fs.js";

const root = mkdtempSync(path.join(tmpdir(), "fs-errors-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
/** The pid of a process that has exited (reuse within the test is practically impossible). */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

describe("system errors as IOErrors naming the path and the operation", () => {
  const afile = path.join(root, "afile.txt");
  writeFileSync(afile, "x");

  it("ENOTDIR: a file where a folder is expected", async () => {
    const err = await writeFileAtomic(path.join(afile, "sub", "x.json"), "{}").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IOError);
    expect((err as IOError).message).toBe(`${path.join(afile, "sub")}: cannot create folder: a part of the path is a file, not a folder (ENOTDIR)`);
    expect((err as IOError).code).toBe("ENOTDIR");
    await expect(probeWritable(path.join(afile, "out"))).rejects.toThrow(
      `${path.join(afile, "out")}: cannot create folder: a part of the path is a file, not a folder (ENOTDIR)`,
    );
  });

  it("EISDIR: a folder where a file is expected; no temporary file stays behind", async () => {
    const dir = path.join(root, "isdir");
    mkdirSync(path.join(dir, "target.json"), { recursive: true });
    await expect(writeFileAtomic(path.join(dir, "target.json"), "{}")).rejects.toThrow(
      `${path.join(dir, "target.json")}: cannot write: is a folder, not a file (EISDIR)`,
    );
    expect(readdirSync(dir)).toEqual(["target.json"]);
    await expect(readJson(path.join(dir, "target.json"))).rejects.toThrow(`${path.join(dir, "target.json")}: cannot read: is a folder, not a file (EISDIR)`);
    await expect(copyFileAtomic(dir, path.join(root, "copy"))).rejects.toThrow(`${dir}: cannot read: is a folder, not a file (EISDIR)`);
  });

  it("ensureDir accepts an existing folder and names the one it cannot create", async () => {
    await ensureDir(root);
    await expect(ensureDir(path.join(afile, "a", "b"))).rejects.toBeInstanceOf(IOError);
  });
});

describe("removeStaleTempFiles(folder)", () => {
  it("removes temporary files and folders of dead processes only", async () => {
    const dir = path.join(root, "stale");
    mkdirSync(dir);
    const dead = deadPid();
    const names = {
      deadFile: `.Case_000.npy.tmp-${dead}-0a1b2c3d`,
      deadFolder: `.nnUNetPlans_3d_fullres.tmp-${dead}-deadbeef`,
      deadCheckpoint: `.checkpoint_final.pth.tmp-${dead}-01234567`,
      live: path.basename(tempName(path.join(dir, "mine.json"))),
      other: `.notours.tmp-${dead}-xyz`,
      data: "Case_000.npy",
    };
    for (const [k, n] of Object.entries(names)) {
      if (k === "deadFolder") {
        mkdirSync(path.join(dir, n));
        writeFileSync(path.join(dir, n, "Case_000.npy"), "x");
      } else writeFileSync(path.join(dir, n), "x");
    }
    const removed = await removeStaleTempFiles(dir);
    expect(removed.map((p) => path.basename(p)).sort()).toEqual([names.deadCheckpoint, names.deadFile, names.deadFolder].sort());
    expect(readdirSync(dir).sort()).toEqual([names.live, names.other, names.data].sort());
    expect(await removeStaleTempFiles(path.join(root, "missing"))).toEqual([]);
  });
});

describe("replaceFolder(staged, target)", () => {
  it("swaps a finished folder into place and removes the old one", async () => {
    const target = path.join(root, "swap");
    mkdirSync(target);
    writeFileSync(path.join(target, "old.txt"), "old");
    const staged = tempName(target);
    mkdirSync(staged);
    writeFileSync(path.join(staged, "new.txt"), "new");
    await replaceFolder(staged, target);
    expect(readdirSync(target)).toEqual(["new.txt"]);
    expect(readdirSync(root).filter((n) => n.includes(".tmp-"))).toEqual([]);
    expect(existsSync(staged)).toBe(false);
  });
});
