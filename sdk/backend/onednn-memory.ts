// Prompt release of tensor buffers on `cpu-onednn`. MathBackendCPU's disposeData only drops its reference to a
// tensor's TypedArray; the memory comes back when V8 next collects the ArrayBuffer, which for a U-Net's forward pass
// means gigabytes of garbage in flight (ResEncL at 160^3: 5.4 GB peak resident where the live tensors never exceed
// about 2.5 GB). Buffers the native kernels allocated (outputF32) are instead detached, i.e. freed, the moment their
// last tensor is disposed, unless the array was handed out (dataSync/data/arraySync, a move to another backend):
// then it is left to the GC like any other, because the caller may still be reading it.

import type * as tf from "@tensorflow/tfjs";

type DataId = object;
interface Stored {
  values?: unknown;
}
/** The parts of MathBackendCPU this wraps. */
interface CpuStore {
  data: { get(dataId: DataId): Stored | undefined; has(dataId: DataId): boolean };
  write(values: unknown, shape: number[], dtype: tf.DataType): DataId;
  move(dataId: DataId, values: unknown, shape: number[], dtype: tf.DataType, refCount: number): void;
  readSync(dataId: DataId): unknown;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

/** Native outputs at least this large are tracked (smaller ones are cheap to leave to the GC). */
const TRACK_MIN_BYTES = 1 << 20;

/** ArrayBuffers the native kernels allocated for their outputs. */
const native = new WeakSet<ArrayBuffer>();

/** Marks `array`'s buffer as allocated by a native kernel, so the backend may free it as soon as it is disposed. */
export function trackNativeOutput<T extends Float32Array | Uint8Array>(array: T): T {
  if (array.byteLength >= TRACK_MIN_BYTES) native.add(array.buffer as ArrayBuffer);
  return array;
}

/**
 * Wraps `backend`'s write/move/readSync/disposeData so that a tracked buffer is freed (via `detach`) once no tensor
 * data entry holds it any more and it was never returned to a caller. Entries are counted per ArrayBuffer because
 * tfjs' cpu kernels may store a view of one tensor's buffer under another data id (a contiguous slice).
 */
export function releaseBuffersOnDispose(backend: CpuStore, detach: (buffer: ArrayBuffer) => boolean): void {
  const holders = new Map<ArrayBuffer, number>();
  const escaped = new WeakSet<ArrayBuffer>();
  const bufferOf = (values: unknown): ArrayBuffer | null => {
    if (!(values instanceof Float32Array || values instanceof Uint8Array)) return null;
    const b = values.buffer as ArrayBuffer;
    return native.has(b) ? b : null;
  };
  // DataStorage.get of an id this backend does not hold asks the engine to move the data here, which reads it from
  // its owner: for an id that is gone, or being moved, that is this very readSync again. Look before reading.
  const stored = (store: CpuStore["data"], dataId: DataId): unknown => (store.has(dataId) ? store.get(dataId)?.values : undefined);
  const hold = (values: unknown): void => {
    const b = bufferOf(values);
    if (b) holders.set(b, (holders.get(b) ?? 0) + 1);
  };
  const { write, move, readSync, disposeData } = backend;
  backend.write = function (values, shape, dtype) {
    hold(values);
    return write.call(this, values, shape, dtype);
  };
  backend.move = function (dataId, values, shape, dtype, refCount) {
    hold(values);
    move.call(this, dataId, values, shape, dtype, refCount);
  };
  backend.readSync = function (dataId) {
    const b = bufferOf(stored(this.data, dataId));
    if (b) escaped.add(b);
    return readSync.call(this, dataId);
  };
  backend.disposeData = function (dataId, force = false) {
    const b = bufferOf(stored(this.data, dataId));
    const removed = disposeData.call(this, dataId, force);
    if (removed && b) {
      const left = (holders.get(b) ?? 1) - 1;
      if (left > 0) holders.set(b, left);
      else {
        holders.delete(b);
        if (!escaped.has(b)) detach(b);
      }
    }
    return removed;
  };
}
