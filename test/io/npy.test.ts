import { describe, expect, it } from "vitest";
import { formatNpy, parseNpy } from "../../sdk/io/npy.js";

describe("parseNpy(formatNpy(x))", () => {
  it.each([
    ["float32", new Float32Array([1.5, -2, 3e-8, 0, 7, 8])],
    ["int16", new Int16Array([-1, 0, 1, 2, 3, 32767])],
    ["uint8", new Uint8Array([0, 1, 2, 3, 4, 255])],
    ["int64", new BigInt64Array([-1n, 2n ** 60n, 0n, 1n, 2n, 3n])],
  ] as const)("round-trips %s with shape [2, 3]", (dtype, data) => {
    const back = parseNpy(formatNpy({ dtype, shape: [2, 3], data }));
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual([2, 3]);
    expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(Array.from(data as ArrayLike<number | bigint>));
  });
  it("pads the header so data starts on a 64-byte boundary", () => {
    const bytes = formatNpy({ dtype: "float32", shape: [5], data: new Float32Array(5) });
    expect((bytes.length - 20) % 64).toBe(0);
  });
  it("reads Fortran-order and big-endian files", () => {
    const header = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }";
    const h = header + " ".repeat(128 - 10 - header.length - 1) + "\n";
    const bytes = new Uint8Array(10 + h.length + 12);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, h.length, true);
    for (let i = 0; i < h.length; i++) bytes[10 + i] = h.charCodeAt(i);
    const dv = new DataView(bytes.buffer, 10 + h.length);
    [0, 3, 1, 4, 2, 5].forEach((v, i) => dv.setInt16(2 * i, v, false)); // column-major storage of [[0,1,2],[3,4,5]]
    expect(Array.from(parseNpy(bytes).data as Int16Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });
  it("returns arrays of exactly the data's length when given a Node Buffer (Buffer.slice is a view)", () => {
    const bytes = Buffer.from(formatNpy({ dtype: "float32", shape: [3], data: new Float32Array([1, 2, 3]) }));
    const back = parseNpy(bytes);
    expect(back.data.length).toBe(3);
    expect(back.data.buffer.byteLength).toBe(12);
  });
  it("names the file when the data is truncated", () => {
    const bytes = formatNpy({ dtype: "float32", shape: [4], data: new Float32Array(4) });
    expect(() => parseNpy(bytes.subarray(0, bytes.length - 3), "x.npy")).toThrow(/^x\.npy: truncated \.npy data/);
  });
});
