// The one seam to the optional oneDNN native addon (native/). Nothing else imports the .node file.
// Filled in by the oneDNN backend work; until then the addon is reported as unavailable.

export interface OnednnStatus {
  available: boolean;
  /** Why the addon is not available (not built, libdnnl missing, load error), or the oneDNN version when it is. */
  reason: string;
}

/** Tries to load the native addon and register the `cpu-onednn` tfjs backend. Never throws. */
export async function registerOnednnBackend(): Promise<OnednnStatus> {
  return { available: false, reason: "the oneDNN backend is not part of this build" };
}
