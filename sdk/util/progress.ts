// Progress of long steps, as plain events. The CLI draws them as a terminal bar (sdk/cli/progress.ts), notebooks as an
// updating display (kernel-extensions), tests just count them.

export interface ProgressEvent {
  /** What is running, e.g. "fingerprint", "preprocess", "epoch 3". */
  task: string;
  done: number;
  total: number;
  /** Extra values worth showing beside the bar (a case id, the loss). */
  detail?: Record<string, string | number>;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** A callback that does nothing; the default wherever progress is optional. */
export const noProgress: ProgressCallback = () => {};
