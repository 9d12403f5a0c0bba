// summary.json text as nnU-Net's save_json writes it (json.dump with sort_keys=True, indent 4): the shared Python-style
// writer in sdk/util/python-json.ts with sorted keys by default.

import { formatPythonJson as formatPython, type PythonJsonOptions } from "../util/python-json.js";

export { PyFloat, pyFloat, pythonFloatRepr } from "../util/python-json.js";

/** Like Python's json.dumps(value, sort_keys=True, indent=4) unless the options say otherwise. */
export function formatPythonJson(value: unknown, opts: PythonJsonOptions = {}): string {
  return formatPython(value, { sortKeys: true, ...opts });
}
