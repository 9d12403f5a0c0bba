// PyTorch checkpoint (.pth) reading and writing without Python: public surface of sdk/io/torch.

export { TorchTensor, contiguousStrides } from "./tensor.js";
export type { TorchStorage } from "./tensor.js";
export type { TorchDtypeName, TypedArray } from "./dtypes.js";
export { halfToFloat, bfloat16ToFloat, floatToHalf, floatToBfloat16 } from "./dtypes.js";
export { PyTuple, PyFloat, pyFloat, orderedDict, isOrderedDict, ORDERED_DICT, PY_STATE, TorchDevice, TorchDtype, NumpyArray } from "./py-types.js";
export { loadTorchFile, parseTorch } from "./load.js";
export type { LoadTorchOptions } from "./load.js";
export { saveTorchFile, formatTorch } from "./save.js";
export type { FormatTorchOptions } from "./save.js";
