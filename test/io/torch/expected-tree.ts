// Compares what parseTorch returns with a fixture's `<name>.expected.json` tree (written by real torch.load; schema in
// test/fixtures/README.md, section 2). Returns a list of differences, each naming the path, so a failing test says exactly where.

import { PyTuple, TorchTensor, TorchDevice, TorchDtype, NumpyArray, isOrderedDict } from "../../../sdk/io/torch/index.js";

type Node = { type: string; [k: string]: unknown };

export function compareTree(actual: unknown, expected: Node): string[] {
  const diffs: string[] = [];
  const storageIds = new Map<number, object>();
  const idOfStorage = new Map<object, number>();
  const num = (v: unknown): unknown => (v === "inf" ? Infinity : v === "-inf" ? -Infinity : v === "nan" ? NaN : v);

  const walk = (a: unknown, e: Node, path: string): void => {
    const bad = (what: string) => diffs.push(`${path || "<root>"}: ${what}`);
    switch (e.type) {
      case "dict":
      case "OrderedDict": {
        const entries = e.entries as [Node, Node][];
        if (e.type === "OrderedDict" && !isOrderedDict(a)) bad("not marked as OrderedDict");
        const allStr = entries.every(([k]) => k.type === "str");
        if (allStr) {
          if (typeof a !== "object" || a === null || a instanceof Map || Array.isArray(a)) return void bad(`expected a plain object, got ${String(a)}`);
          const keys = Object.keys(a);
          const ek = entries.map(([k]) => k.value as string);
          if (JSON.stringify(keys) !== JSON.stringify(ek)) return void bad(`keys ${JSON.stringify(keys)} != ${JSON.stringify(ek)}`);
          for (const [k, v] of entries) walk((a as Record<string, unknown>)[k.value as string], v, `${path}.${k.value}`);
        } else {
          if (!(a instanceof Map)) return void bad("expected a Map (non-string keys)");
          const got = [...a.entries()];
          if (got.length !== entries.length) return void bad(`has ${got.length} entries, expected ${entries.length}`);
          entries.forEach(([k, v], i) => {
            walk(got[i]![0], k, `${path}[key ${i}]`);
            walk(got[i]![1], v, `${path}[${i}]`);
          });
        }
        return;
      }
      case "list":
      case "tuple":
      case "torch.Size": {
        const items = e.items as Node[];
        if (!Array.isArray(a)) return void bad(`expected a ${e.type}`);
        if ((e.type !== "list") !== a instanceof PyTuple) bad(`list/tuple mismatch (expected ${e.type})`);
        if (a.length !== items.length) return void bad(`length ${a.length} != ${items.length}`);
        items.forEach((x, i) => walk(a[i], x, `${path}[${i}]`));
        return;
      }
      case "int":
        if (e.as_string) {
          if (typeof a !== "bigint" || a.toString() !== e.value) bad(`int ${String(a)} != ${String(e.value)}`);
        } else if (a !== e.value) bad(`int ${String(a)} != ${String(e.value)}`);
        return;
      case "float":
        if (!Object.is(a, num(e.value))) bad(`float ${String(a)} != ${String(e.value)}`);
        return;
      case "str":
      case "bool":
        if (a !== e.value) bad(`${String(a)} != ${String(e.value)}`);
        return;
      case "None":
        if (a !== null) bad(`${String(a)} != None`);
        return;
      case "bytes":
        if (!(a instanceof Uint8Array) || Buffer.from(a).toString("hex") !== e.hex) bad("bytes differ");
        return;
      case "torch.device":
        if (!(a instanceof TorchDevice) || a.toString() !== e.value) bad(`device ${String(a)} != ${String(e.value)}`);
        return;
      case "torch.dtype":
        if (!(a instanceof TorchDtype) || a.toString() !== e.value) bad(`dtype ${String(a)} != ${String(e.value)}`);
        return;
      case "numpy.scalar":
        if (typeof a === "bigint" ? a.toString() !== String(e.value) : !Object.is(a, num(e.value))) bad(`numpy scalar ${String(a)} != ${String(e.value)}`);
        return;
      case "numpy.ndarray":
        if (!(a instanceof NumpyArray)) return void bad("expected a NumpyArray");
        if (a.dtype !== e.dtype) bad(`numpy dtype ${a.dtype} != ${String(e.dtype)}`);
        if (JSON.stringify(a.shape) !== JSON.stringify(e.shape)) bad(`numpy shape ${JSON.stringify(a.shape)}`);
        if (JSON.stringify(Array.from(a.data as ArrayLike<number>, Number)) !== JSON.stringify((e.values as unknown[]).flat(10))) bad("numpy values differ");
        return;
      case "tensor": {
        if (!(a instanceof TorchTensor)) return void bad(`expected a tensor, got ${String(a)}`);
        for (const [k, v] of [
          ["dtype", a.dtype],
          ["shape", a.shape],
          ["stride", a.stride],
          ["storage_offset", a.storageOffset],
          ["storage_numel", a.storage.data.length],
          ["is_contiguous", a.isContiguous()],
          ["numel", a.numel],
        ] as const) {
          if (JSON.stringify(v) !== JSON.stringify(e[k])) bad(`${k} ${JSON.stringify(v)} != ${JSON.stringify(e[k])}`);
        }
        const sid = e.storage_id as number;
        const known = storageIds.get(sid);
        if (known === undefined) {
          if (idOfStorage.has(a.storage)) bad(`storage shared with storage_id ${idOfStorage.get(a.storage)}, expected its own (${sid})`);
          storageIds.set(sid, a.storage);
          idOfStorage.set(a.storage, sid);
        } else if (known !== a.storage) bad(`does not share storage_id ${sid}`);
        if (e.values_exact) {
          const got = Array.from(a.toTypedArray() as BigInt64Array, String);
          if (JSON.stringify(got) !== JSON.stringify(e.values_exact)) bad(`int64 values ${JSON.stringify(got)} != ${JSON.stringify(e.values_exact)}`);
        } else if (e.values) {
          const got = a.toNumbers();
          const exp = (e.values as unknown[]).flat(10).map((v) => (typeof v === "boolean" ? Number(v) : num(v)));
          if (got.length !== exp.length || got.some((v, i) => !Object.is(v, exp[i])))
            bad(`values ${JSON.stringify(got.slice(0, 12))}… != ${JSON.stringify(exp.slice(0, 12))}…`);
        } else {
          const got = a.toNumbers();
          const sum = got.reduce((s, v) => s + v, 0);
          if (Math.abs(sum - (e.sum as number)) > 1e-9 * Math.max(1, Math.abs(e.sum as number))) bad(`sum ${sum} != ${String(e.sum)}`);
          if (JSON.stringify(got.slice(0, 10)) !== JSON.stringify(e.first10)) bad("first10 differ");
          if (JSON.stringify(got.slice(-10)) !== JSON.stringify(e.last10)) bad("last10 differ");
        }
        return;
      }
      default:
        bad(`unknown expected type ${e.type}`);
    }
  };
  walk(actual, expected, "");
  return diffs;
}

/** Number of distinct storages reachable from `root` (tensors anywhere in the tree). */
export function countStorages(root: unknown): number {
  const seen = new Set<object>();
  const storages = new Set<object>();
  const walk = (v: unknown): void => {
    if (typeof v !== "object" || v === null || seen.has(v)) return;
    seen.add(v);
    if (v instanceof TorchTensor) return void storages.add(v.storage);
    if (v instanceof Map)
      for (const [k, x] of v) {
        walk(k);
        walk(x);
      }
    else if (Array.isArray(v)) v.forEach(walk);
    else if (Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach(walk);
  };
  walk(root);
  return storages.size;
}
