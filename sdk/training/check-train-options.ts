// The numeric options of a training, checked before anything is loaded or written: SDK callers (notebooks, scripts)
// can pass NaN, strings or floats, which used to fail much later (an untyped TypeError from postMessage for
// numWorkers: NaN). Names are the SDK's (`numEpochs`); the CLI checks its flags (`--num_epochs`) while parsing.

import { checkOptionalInt, checkOptionalNumber } from "../util/check-options.js";
import type { TrainOptions } from "./run-training.js";

/** Throws a ConfigError naming the first bad option and its accepted range. */
export function checkTrainOptions(o: TrainOptions): void {
  checkOptionalInt(o.numEpochs, "numEpochs", { min: 1 });
  checkOptionalInt(o.numIterationsPerEpoch, "numIterationsPerEpoch", { min: 1 });
  checkOptionalInt(o.numValIterationsPerEpoch, "numValIterationsPerEpoch", { min: 0 });
  checkOptionalInt(o.warmupEpochs, "warmupEpochs", { min: 1 });
  checkOptionalNumber(o.initialLr, "initialLr", { gt: 0 });
  checkOptionalInt(o.seed, "seed", { min: 0, max: 2 ** 32 - 1 });
  checkOptionalInt(o.numWorkers, "numWorkers", { min: 0 });
}
