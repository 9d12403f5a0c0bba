// Real torch as the oracle for the writer: loads a file with /usr/bin/python3's torch and describes it in the
// fixtures' expected.json tree schema (test/fixtures/README.md, section 2), so compareTree can check what torch actually read.

import { runPythonJson } from "../../helpers/python.js";

const DESCRIBE = String.raw`
import sys, json, math, collections, torch
import numpy as np
path, weights_only = sys.argv[1], sys.argv[2] == "1"
obj = torch.load(path, weights_only=True) if weights_only else torch.load(path)
sids = {}
def fl(x):
    if isinstance(x, float) and math.isnan(x): return "nan"
    if x == math.inf: return "inf"
    if x == -math.inf: return "-inf"
    return x
def d(v):
    if isinstance(v, torch.Tensor):
        st = v.storage()
        sid = sids.setdefault(st._cdata, len(sids))
        out = {"type": "tensor", "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "stride": list(v.stride()),
               "storage_offset": v.storage_offset(), "storage_id": sid, "storage_numel": st.size(),
               "is_contiguous": v.is_contiguous(), "numel": v.numel()}
        flat = v.detach().reshape(-1)
        if v.dtype in (torch.float16, torch.bfloat16): flat = flat.double()
        vals = flat.tolist()
        if v.dtype == torch.int64 and any(abs(x) >= 2**53 for x in vals): out["values_exact"] = [str(x) for x in vals]
        else: out["values"] = [fl(x) for x in vals]
        if isinstance(v, torch.nn.Parameter): out["parameter"] = True
        return out
    if isinstance(v, np.ndarray): return {"type": "numpy.ndarray", "dtype": str(v.dtype), "shape": list(v.shape), "values": v.reshape(-1).tolist()}
    if isinstance(v, np.generic): return {"type": "numpy.scalar", "dtype": str(v.dtype), "value": fl(v.item())}
    if isinstance(v, bool): return {"type": "bool", "value": v}
    if isinstance(v, int): return {"type": "int", "value": str(v) if abs(v) >= 2**53 else v, "as_string": abs(v) >= 2**53}
    if isinstance(v, float): return {"type": "float", "value": fl(v)}
    if isinstance(v, str): return {"type": "str", "value": v}
    if v is None: return {"type": "None"}
    if isinstance(v, bytes): return {"type": "bytes", "hex": v.hex()}
    if isinstance(v, torch.device): return {"type": "torch.device", "value": str(v)}
    if isinstance(v, torch.dtype): return {"type": "torch.dtype", "value": str(v)}
    if isinstance(v, torch.Size): return {"type": "torch.Size", "items": [d(x) for x in v]}
    if isinstance(v, collections.OrderedDict): return {"type": "OrderedDict", "entries": [[d(k), d(x)] for k, x in v.items()],
        "metadata": d(v._metadata) if hasattr(v, "_metadata") else None}
    if isinstance(v, dict): return {"type": "dict", "entries": [[d(k), d(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)): return {"type": "set", "items": sorted([d(x) for x in v], key=json.dumps)}
    if isinstance(v, list): return {"type": "list", "items": [d(x) for x in v]}
    if isinstance(v, tuple): return {"type": "tuple", "items": [d(x) for x in v]}
    raise TypeError(type(v))
print(json.dumps({"root": d(obj), "n_distinct_storages": len(sids)}))
`;

export interface TorchDescription {
  root: { type: string; [k: string]: unknown };
  n_distinct_storages: number;
}

/** What `torch.load(file, weights_only=...)` returns, as an expected.json tree. Throws with torch's error. */
export function describeWithTorch(file: string, weightsOnly: boolean): TorchDescription {
  return runPythonJson<TorchDescription>(DESCRIBE, [file, weightsOnly ? "1" : "0"]);
}
