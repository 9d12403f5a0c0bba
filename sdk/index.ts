// nnssl-adapt public API. Named exports only, grouped by concept; internals stay importable by path from dist/.

// backend
export { tf, initBackend, backendInfo } from "./backend/index.js";
export type { BackendInfo } from "./backend/index.js";

// configuration and errors
export { requirePath, lookupPath, resolvePaths, PATH_NAMES } from "./config/env.js";
export type { Paths, PathName } from "./config/env.js";
export { ANISO_THRESHOLD } from "./config/constants.js";
export { NnsslAdaptError, InputError, CheckpointError, ConfigError } from "./errors.js";
export { warn, consumeWarnings, onWarning } from "./warnings.js";

// io
export { parseNpy, formatNpy, readNpyFile, writeNpyFile } from "./io/npy.js";
export type { NpyArray, NpyDtype } from "./io/npy.js";

// progress
export type { ProgressEvent, ProgressCallback } from "./util/progress.js";
