// Tensors written the way newer torch writes some of them (an untyped storage reinterpreted by
// `_rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype)`, and subclass state through
// `torch._tensor._rebuild_from_type_v2`). Torch 1.13 cannot write these, so the pickles are assembled here by hand.

import { describe, expect, it } from "vitest";
import { parseTorch, TorchTensor } from "../../../sdk/io/torch/index.js";
import { zipChunks } from "../../../sdk/io/torch/zip-write.js";

const enc = new TextEncoder();
const str = (s: string) => {
  const b = enc.encode(s);
  return [0x58, ...new Uint8Array(new Uint32Array([b.length]).buffer), ...b];
};
const glob = (m: string, n: string) => [0x63, ...enc.encode(`${m}\n${n}\n`)];
const MARK = 0x28,
  TUPLE = 0x74,
  REDUCE = 0x52,
  BINPERSID = 0x51,
  NEWFALSE = 0x89,
  EMPTY_TUPLE = 0x29,
  K = 0x4b;

function v3Tensor(dtype: string, numelBytes: number, shape: number[], stride: number[]): number[] {
  return [
    ...glob("torch._utils", "_rebuild_tensor_v3"),
    MARK,
    MARK,
    ...str("storage"),
    ...glob("torch", "UntypedStorage"),
    ...str("0"),
    ...str("cpu"),
    K,
    numelBytes,
    TUPLE,
    BINPERSID,
    K,
    0,
    MARK,
    ...shape.flatMap((d) => [K, d]),
    TUPLE,
    MARK,
    ...stride.flatMap((d) => [K, d]),
    TUPLE,
    NEWFALSE,
    ...glob("collections", "OrderedDict"),
    EMPTY_TUPLE,
    REDUCE,
    ...glob("torch", dtype),
    TUPLE,
    REDUCE,
  ];
}

function archive(pickle: number[], storage: Uint8Array): Uint8Array {
  return Buffer.concat(
    zipChunks([
      { name: "archive/data.pkl", data: new Uint8Array([0x80, 2, ...pickle, 0x2e]) },
      { name: "archive/data/0", data: storage },
    ]),
  );
}

describe("parseTorch(_rebuild_tensor_v3)", () => {
  it("reinterprets an untyped storage as the given dtype", () => {
    const data = new Uint8Array(new Float32Array([1.5, -2, 3, 4]).buffer);
    const t = parseTorch(archive(v3Tensor("float32", 16, [2, 2], [1, 2]), data)) as TorchTensor;
    expect([t.dtype, t.shape, t.stride]).toEqual(["float32", [2, 2], [1, 2]]);
    expect(Array.from(t.toFloat32())).toEqual([1.5, 3, -2, 4]);
  });

  it("reads it through _rebuild_from_type_v2 (tensor with Python state)", () => {
    const inner = v3Tensor("float16", 4, [2], [1]);
    // _rebuild_from_type_v2(func, new_type, args, state): func is the v3 rebuild, args its argument tuple
    const rebuildCall = inner.slice(0, inner.length - 1); // drop the final REDUCE: leaves func and its args tuple
    const pickle = [
      ...glob("torch._tensor", "_rebuild_from_type_v2"),
      MARK,
      ...rebuildCall.slice(0, glob("torch._utils", "_rebuild_tensor_v3").length),
      ...glob("torch", "Tensor"),
      ...rebuildCall.slice(glob("torch._utils", "_rebuild_tensor_v3").length),
      0x7d,
      TUPLE,
      REDUCE,
    ];
    const half = new Uint8Array(new Uint16Array([0x3e00, 0xc000]).buffer); // 1.5, -2
    const t = parseTorch(archive(pickle, half)) as TorchTensor;
    expect(t.dtype).toBe("float16");
    expect(t.toNumbers()).toEqual([1.5, -2]);
  });

  it("refuses a dtype it does not know", () => {
    expect(() => parseTorch(archive(v3Tensor("complex64", 8, [1], [1]), new Uint8Array(8)), "c.pth")).toThrow(
      "c.pth: refusing to load: the pickle asks for torch.complex64, which is not an allowed type",
    );
  });
});
