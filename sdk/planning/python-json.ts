// Moved to sdk/util/python-json.ts (one Python-style JSON writer for plans, fingerprints and summaries). This path stays
// for callers not yet switched (sdk/inference/predict-from-files.ts); new code imports from "../util/python-json.js".

export { formatPythonJson, type JsonPath, type PythonJsonOptions } from "../util/python-json.js";
