// Loading the oneDNN addon tells glibc to reuse freed heap for large tensor buffers (sdk/backend/onednn.ts,
// tuneAllocator): after the first 40 MB buffer is freed, the next ones are served without page faults. Observed from a
// child process's minor-fault counter, with the default (tuned) and with NNSSL_ADAPT_MALLOC=default.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { registerOnednnBackend } from "../../sdk/backend/onednn.js";

const status = await registerOnednnBackend();
const dist = join(import.meta.dirname, "..", "..", "dist", "sdk", "backend", "onednn.js");

const SCRIPT = `
import { readFileSync } from "node:fs";
const { registerOnednnBackend } = await import(process.argv[1]);
const status = await registerOnednnBackend();
const faults = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
const touch = () => new Float32Array(10_000_000).fill(1).length;
touch(); globalThis.gc();
const before = faults();
touch(); globalThis.gc(); touch(); globalThis.gc();
console.log(JSON.stringify({ available: status.available, faults: faults() - before }));
`;

function faultsOfTwoBuffers(env: Record<string, string>): { available: boolean; faults: number } {
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", SCRIPT, dist], {
    encoding: "utf8", env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split("\n").pop()!) as { available: boolean; faults: number };
}

describe.skipIf(!status.available || process.platform !== "linux" || !existsSync(dist))("glibc heap reuse for large tensors", () => {
  it("re-allocating a freed 40 MB buffer faults (almost) no pages in; NNSSL_ADAPT_MALLOC=default restores glibc's mmap per buffer", () => {
    const tuned = faultsOfTwoBuffers({});
    const plain = faultsOfTwoBuffers({ NNSSL_ADAPT_MALLOC: "default" });
    expect(tuned.available && plain.available).toBe(true);
    // Two 40 MB buffers are ~19,500 4-KiB pages: fresh mappings fault each one in.
    expect(plain.faults).toBeGreaterThan(15000);
    expect(tuned.faults).toBeLessThan(2000);
  });
});
