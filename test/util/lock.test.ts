// One writer per output folder: a second lock refuses with one line naming the folder and the process holding it;
// the lock of a dead process is taken over; racing takers get exactly one lock.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LockError } from "../../sdk/errors.js";
import { assertNotLocked, lockFileOf, lockFolder } from "../../sdk/util/lock.js";

const root = mkdtempSync(path.join(tmpdir(), "lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const owner = (pid: number, token = "t") =>
  JSON.stringify({ pid, host: hostname(), command: "nnUNetv2_preprocess -d 1", started: "2026-01-01T00:00:00.000Z", token });

describe("lockFolder(folder)", () => {
  it("writes .<name>.lock beside the folder and removes it on release", async () => {
    const folder = path.join(root, "a", "nnUNetPlans_3d_fullres");
    const lock = await lockFolder(folder);
    expect(lock.file).toBe(path.join(root, "a", ".nnUNetPlans_3d_fullres.lock"));
    expect(JSON.parse(readFileSync(lock.file, "utf8")).pid).toBe(process.pid);
    await lock.release();
    expect(existsSync(lock.file)).toBe(false);
  });

  it("refuses a second lock of the same folder, naming the folder and the holder", async () => {
    const folder = path.join(root, "b");
    const lock = await lockFolder(folder);
    const err = await lockFolder(folder).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockError);
    expect((err as Error).message).toMatch(
      new RegExp(`^${folder}: in use by this process \\(pid ${process.pid}\\) \\(.*, since .*\\); wait for it to finish or stop it, then run again$`),
    );
    await lock.release();
    await (await lockFolder(folder)).release();
  });

  it("refuses while another live process holds it, and takes over the lock of a dead one", async () => {
    const folder = path.join(root, "c");
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      writeFileSync(lockFileOf(folder), owner(sleeper.pid!));
      await expect(lockFolder(folder)).rejects.toThrow(
        `${folder}: in use by process ${sleeper.pid} (nnUNetv2_preprocess -d 1, since 2026-01-01T00:00:00.000Z); wait for it to finish or stop it, then run again`,
      );
      await expect(assertNotLocked(folder, "training")).rejects.toThrow(
        `${folder}: being written by process ${sleeper.pid} (nnUNetv2_preprocess -d 1, since 2026-01-01T00:00:00.000Z); training has to wait until it has finished`,
      );
    } finally {
      sleeper.kill("SIGKILL");
    }
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(lockFileOf(folder), owner(dead));
    await assertNotLocked(folder, "training");
    const lock = await lockFolder(folder);
    expect(JSON.parse(readFileSync(lockFileOf(folder), "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("gives exactly one of several racing takers the lock, also when they take over the same stale lock", async () => {
    for (const stale of [false, true]) {
      const folder = path.join(root, `race-${stale}`);
      if (stale) writeFileSync(lockFileOf(folder), owner(spawnSync(process.execPath, ["-e", ""]).pid!, "stale"));
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => lockFolder(folder)));
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      expect(results.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason instanceof LockError)).toBe(true);
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    }
  });

  it("does not remove a lock it no longer owns", async () => {
    const folder = path.join(root, "d");
    const lock = await lockFolder(folder);
    writeFileSync(lock.file, owner(process.pid, "someone-else"));
    await lock.release();
    expect(existsSync(lock.file)).toBe(true);
  });
});
