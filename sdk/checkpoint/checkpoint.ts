// An nnssl pre-training checkpoint: its adaptation plan, citations and network weights, read like the fork's
// `torch.load(pc, weights_only=True)` then `ckpt["nnssl_adaptation_plan"]`, `ckpt.get("citations", [])`,
// `ckpt["network_weights"]`. Upstream reads the plan only from the checkpoint (the adaptation_plan.json beside it is
// never consulted), so a checkpoint without one is an error here too.

import { CheckpointError } from "../errors.js";
import type { Paths } from "../config/env.js";
import type { ProgressCallback } from "../util/progress.js";
import { loadTorchFile, TorchTensor } from "../io/torch/index.js";
import { validateAdaptationPlan, toPlain, type AdaptationPlan } from "./adaptation-plan.js";
import { resolveCheckpointPath } from "./hugging-face.js";

// The contract names these in checkpoint.ts; they live in small siblings.
export { resolveCheckpointPath } from "./hugging-face.js";
export type { AdaptationPlan, ArchitecturePlans, PretrainPlan, PretrainConfigurationPlan } from "./adaptation-plan.js";

export interface CheckpointLoadOptions {
  paths?: Paths;
  onProgress?: ProgressCallback;
}

export class Checkpoint {
  constructor(
    /** Absolute local path of the .pth file. */
    readonly path: string,
    readonly adaptationPlan: AdaptationPlan,
    /** `ckpt["citations"]` (a list of dicts with type / name / apa_citations, or strings), [] when absent. */
    readonly citations: unknown[],
    /** `network_weights` as float32 tensors, in file order. Aliased keys share one storage, as in the file. */
    readonly weights: Map<string, TorchTensor>,
    /** Everything else in the checkpoint (trainer_name, init_args, ...), as read. */
    readonly raw: Record<string, unknown>,
  ) {}

  /** Loads a local .pth or a `https://huggingface.co/<org>/<repo>` checkpoint (downloaded like upstream). */
  static async load(pathOrUrl: string, { paths, onProgress }: CheckpointLoadOptions = {}): Promise<Checkpoint> {
    const file = await resolveCheckpointPath(pathOrUrl, { paths, onProgress });
    return Checkpoint.fromObject(await loadTorchFile(file), file);
  }

  /** Builds a Checkpoint from an already unpickled checkpoint object; `file` names it in errors. */
  static fromObject(obj: unknown, file: string): Checkpoint {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj) || obj instanceof Map || obj instanceof TorchTensor) {
      throw new CheckpointError("not an nnssl checkpoint: the file holds no dict with string keys", { file });
    }
    const ck = obj as Record<string, unknown>;
    if (!("nnssl_adaptation_plan" in ck)) {
      throw new CheckpointError(
        `not an nnssl checkpoint: no nnssl_adaptation_plan (keys: ${Object.keys(ck).slice(0, 8).join(", ")}); ` +
          "retrofit older checkpoints with nnssl's add_adaptation_plan.py",
        { file },
      );
    }
    const plan = validateAdaptationPlan(ck.nnssl_adaptation_plan, file);
    const citations = ck.citations ?? [];
    if (!Array.isArray(citations)) throw new CheckpointError("citations must be a list", { file });
    const nw = ck.network_weights;
    if (nw === undefined) throw new CheckpointError("network_weights is missing", { file });
    if (typeof nw !== "object" || nw === null || Array.isArray(nw) || nw instanceof Map) {
      throw new CheckpointError("network_weights is not a dict with string keys", { file });
    }
    const weights = new Map<string, TorchTensor>();
    const converted = new Map<object, TorchTensor>();
    for (const [name, t] of Object.entries(nw)) {
      if (!(t instanceof TorchTensor)) throw new CheckpointError(`network_weights.${name} is not a tensor`, { file });
      weights.set(name, asFloat32(t, converted));
    }
    return new Checkpoint(file, plan, toPlain(citations) as unknown[], weights, ck);
  }
}

/** float32 tensors pass through untouched (views and sharing kept); others become float32 copies, once per storage view. */
function asFloat32(t: TorchTensor, cache: Map<object, TorchTensor>): TorchTensor {
  if (t.dtype === "float32") return t;
  const hit = cache.get(t);
  if (hit) return hit;
  const out = TorchTensor.fromTypedArray(t.toFloat32().slice(), t.shape);
  cache.set(t, out);
  return out;
}
