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

// V8 frees array buffers on a background sweeper after a GC, so each cycle waits a moment before allocating again.
const SCRIPT = `
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
const { registerOnednnBackend } = await import(process.argv[1]);
const status = await registerOnednnBackend();
const faults = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
const cycle = async () => { new Float32Array(10_000_000).fill(1); globalThis.gc(); await sleep(100); };
await cycle();
const before = faults();
for (let i = 0; i < 3; i++) await cycle();
console.log(JSON.stringify({ available: status.available, faults: faults() - before }));
`;

function faultsOfThreeBuffers(env: Record<string, string>): { available: boolean; faults: number } {
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", SCRIPT, dist], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split("\n").pop()!) as { available: boolean; faults: number };
}

describe.skipIf(!status.available || process.platform !== "linux" || !existsSync(dist))("glibc heap reuse for large tensors", () => {
  it("re-allocating freed 40 MB buffers faults (almost) no pages in; NNSSL_ADAPT_MALLOC=default restores glibc's mmap per buffer", () => {
    const tuned = faultsOfThreeBuffers({});
    const plain = faultsOfThreeBuffers({ NNSSL_ADAPT_MALLOC: "default" });
    expect(tuned.available && plain.available).toBe(true);
    // Three 40 MB buffers are ~29,300 4-KiB pages: fresh mappings fault each one in.
    expect(plain.faults).toBeGreaterThan(25000);
    expect(tuned.faults).toBeLessThan(3000);
  });
});
