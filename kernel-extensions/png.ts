// The PNG encoder lives in the SDK (the training progress plot writes PNGs too); re-exported for notebook helpers.
export { encodePng } from "../sdk/index.js";
