// With the oneDNN addon loaded, checkpoints are memory-mapped (copy-on-write) instead of read (sdk/io/torch/load.ts,
// setFileMapper): the same values as a plain read, tensors view the mapping, and writing to them leaves the file as it was.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { registerOnednnBackend } from "../../sdk/backend/onednn.js";
import { loadTorchFile, orderedDict, saveTorchFile, TorchTensor } from "../../sdk/io/torch/index.js";
import { readWhole, setFileMapper } from "../../sdk/io/torch/load.js";

const status = await registerOnednnBackend();
const mustRun = process.env.CI === "true";

describe.skipIf(!status.available && !mustRun)(`checkpoint files mapped by the addon (${status.reason})`, () => {
  it("loads the same tensors as a plain read, as views of the mapping, copy-on-write", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "map-file-")), "checkpoint.pth");
    const w = Float32Array.from({ length: 3 * 4 * 5 }, (_, i) => Math.sin(i));
    await saveTorchFile(file, { network_weights: orderedDict({ "conv.weight": TorchTensor.fromTypedArray(w, [3, 4, 5]) }), epoch: 7 });
    const before = readFileSync(file);

    const mapped = (await loadTorchFile(file)) as { network_weights: Record<string, TorchTensor>; epoch: number };
    const t = mapped.network_weights["conv.weight"]!.toFloat32();
    expect(Array.from(t)).toEqual(Array.from(w));
    expect(mapped.epoch).toBe(7);
    const bytes = await readWhole(file);
    expect(Buffer.isBuffer(bytes)).toBe(false); // a mapping, not the Buffer readFile returns
    expect(bytes.byteLength).toBe(before.length);
    t[0] = 12345;
    expect(readFileSync(file).equals(before)).toBe(true);

    // Vitest runs each test file in its own module scope, so turning mapping off here affects no other file.
    setFileMapper(null);
    expect(Buffer.isBuffer(await readWhole(file))).toBe(true);
    const read = (await loadTorchFile(file)) as { network_weights: Record<string, TorchTensor> };
    expect(Array.from(read.network_weights["conv.weight"]!.toFloat32())).toEqual(Array.from(w));
  });
});
