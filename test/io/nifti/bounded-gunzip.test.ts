// Decompression of .nii.gz is bounded by the header: a file that is not NIfTI stops after its first inflated bytes,
// a header declaring more than the gzip data can hold fails before allocating, and inflating beyond the declared size
// (plus a small slack) stops. These files are built here, as an attacker would (gzip of a header plus zeros).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createGzip, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { INFLATE_SLACK, parseNifti, readNifti } from "../../../sdk/io/nifti/read.js";
import { formatNifti1 } from "../../../sdk/io/nifti/write.js";
import { InputError } from "../../../sdk/errors.js";

const dir = mkdtempSync(path.join(tmpdir(), "nifti-bomb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EYE = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];

/** gzip of `head` followed by `zeros` zero bytes, streamed (the zeros never exist in memory at once). */
async function gzipWithZeros(head: Uint8Array, zeros: number, tail: Uint8Array = new Uint8Array(0)): Promise<Buffer> {
  const parts: Buffer[] = [];
  const gz = createGzip({ level: 1 });
  gz.on("data", (c: Buffer) => parts.push(c));
  const done = new Promise((r) => gz.on("end", r));
  gz.write(head);
  const z = Buffer.alloc(1 << 20);
  for (let left = zeros; left > 0; left -= z.length) gz.write(left >= z.length ? z : z.subarray(0, left));
  gz.end();
  await done;
  return Buffer.concat([...parts, tail]);
}

const small = formatNifti1(new Uint8Array(8).fill(7), [2, 2, 2], EYE);

describe("bounded decompression of .nii.gz", () => {
  it("stops with one line at the first bytes when the stream is not NIfTI (the corrupt tail is never reached)", async () => {
    const bomb = await gzipWithZeros(new Uint8Array(0), 48 << 20);
    // cut the gzip trailer and append junk: inflating it all would end in 'corrupt gzip data'
    const file = path.join(dir, "zeros.nii.gz");
    writeFileSync(file, Buffer.concat([bomb.subarray(0, bomb.length - 8), Buffer.from("junk-junk-junk")]));
    const err = await readNifti(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`${file}: not a NIfTI file (the data does not start with a NIfTI-1/-2 header: sizeof_hdr is neither 348 nor 540)`);
  });

  it("refuses data beyond what the header declares (plus slack), in readNifti and parseNifti", async () => {
    const bytes = await gzipWithZeros(small, INFLATE_SLACK + (4 << 20));
    const file = path.join(dir, "trailing.nii.gz");
    writeFileSync(file, bytes);
    const msg = `${file}: inflates to more than the ${small.length} bytes its header declares (stopped after ${small.length + INFLATE_SLACK}): not a valid NIfTI file`;
    await expect(readNifti(file)).rejects.toThrow(msg);
    expect(() => parseNifti(bytes, file)).toThrow(msg);
  });

  it("reads a file with a little trailing data (within the slack) like before", async () => {
    const file = path.join(dir, "tail.nii.gz");
    writeFileSync(file, await gzipWithZeros(small, 1000));
    const img = await readNifti(file);
    expect([img.shape, Array.from(img.data as Uint8Array)]).toEqual([
      [2, 2, 2],
      [7, 7, 7, 7, 7, 7, 7, 7],
    ]);
    expect(Array.from(parseNifti(gzipSync(small)).data as Uint8Array)).toEqual([7, 7, 7, 7, 7, 7, 7, 7]);
  });

  it("refuses a header that declares more than its gzip data can inflate to, before allocating", async () => {
    const head = formatNifti1(new Float32Array(1), [1, 1, 1], EYE);
    const dv = new DataView(head.buffer);
    for (const k of [1, 2, 3]) dv.setInt16(40 + 2 * k, 30000, true); // 30000^3 float32 = 108 TB
    const file = path.join(dir, "header-bomb.nii.gz");
    writeFileSync(file, gzipSync(head));
    await expect(readNifti(file)).rejects.toThrow(/header declares \[30000, 30000, 30000\] float32, 108000000000352 bytes, more than one buffer can hold/);
    for (const k of [1, 2, 3]) dv.setInt16(40 + 2 * k, 1000, true); // 4 GB: fits a buffer, not 1 KB of gzip
    writeFileSync(file, gzipSync(head));
    await expect(readNifti(file)).rejects.toThrow(
      /truncated or corrupt: header declares \[1000, 1000, 1000\] float32 \(4000000352 bytes\) but \d+ bytes of gzip data inflate to at most \d+$/,
    );
    const raw = path.join(dir, "header-bomb.nii");
    writeFileSync(raw, head);
    await expect(readNifti(raw)).rejects.toThrow(`${raw}: truncated voxel data (4 of 4000000000 bytes)`);
  });

  it("names the file for system errors: a folder, a missing file", async () => {
    await expect(readNifti(dir)).rejects.toThrow(`${dir}: is a folder, not an image file`);
    await expect(readNifti(path.join(dir, "nope.nii.gz"))).rejects.toThrow(`${path.join(dir, "nope.nii.gz")}: file not found`);
  });
});
