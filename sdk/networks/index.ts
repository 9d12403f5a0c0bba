// Networks (dynamic_network_architectures in tfjs) and nnssl pretrained-weight transfer.

export { buildNetwork, countParameters, stateDictShapes, SUPPORTED_ARCHITECTURES } from "./build-network.js";
export type { ArchitectureBlock, BuildOptions } from "./build-network.js";
export { Network } from "./network.js";
export type { TransferKeys } from "./network.js";
export type { StateDictInput, TensorLike } from "./state-dict.js";
export { loadPretrainedWeights } from "./pretrained.js";
export type { PretrainedCheckpoint, TransferOptions, TransferReport } from "./pretrained.js";
