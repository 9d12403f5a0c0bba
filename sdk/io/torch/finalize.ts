// The last step of loading: unpickling stand-ins become the public representation (dicts with string keys -> plain
// objects, other dicts -> Maps, numpy stand-ins -> values), keeping shared references shared.

import { CheckpointError } from "../../errors.js";
import { NpDtype, PendingNdarray } from "./allowlist.js";
import { ORDERED_DICT, PY_STATE, setKey } from "./py-types.js";
import { PyDict } from "./unpickle.js";

/** Turns unpickling stand-ins into the public representation (dicts -> objects / Maps, numpy stand-ins -> values). */
export function finalize(root: unknown, file: string): unknown {
  const done = new Map<object, unknown>();
  const conv = (v: unknown): unknown => {
    if (typeof v !== "object" || v === null) return v;
    const hit = done.get(v);
    if (hit !== undefined) return hit;
    if (v instanceof PyDict) {
      const stringKeys = [...v.keys()].every((k) => typeof k === "string");
      const out: Record<string, unknown> | Map<unknown, unknown> = stringKeys ? {} : new Map();
      done.set(v, out);
      for (const [k, x] of v) {
        if (out instanceof Map) out.set(conv(k), conv(x));
        else setKey(out, k as string, conv(x));
      }
      if (v.ordered) Object.defineProperty(out, ORDERED_DICT, { value: true, enumerable: false, configurable: true });
      if (v.state !== undefined) Object.defineProperty(out, PY_STATE, { value: conv(v.state), enumerable: false, configurable: true });
      return out;
    }
    if (Array.isArray(v)) {
      done.set(v, v);
      for (let i = 0; i < v.length; i++) v[i] = conv(v[i]);
      return v;
    }
    if (v instanceof PendingNdarray) {
      if (!v.result) throw new CheckpointError("numpy array without data (missing BUILD)", { file });
      done.set(v, v.result);
      return v.result;
    }
    if (v instanceof NpDtype) {
      done.set(v, v.str);
      return v.str;
    }
    if (v instanceof Set) {
      const out = new Set<unknown>();
      done.set(v, out);
      for (const x of v) out.add(conv(x));
      return out;
    }
    return v;
  };
  try {
    return conv(root);
  } catch (err) {
    if (err instanceof RangeError) throw new CheckpointError("the object tree is nested too deeply", { file, cause: err });
    throw err;
  }
}
