// Constants shared with upstream nnU-Net (nnunetv2/configuration.py) and nnssl.

/** Determines when a sample is considered anisotropic: max(spacing) / min(spacing) > ANISO_THRESHOLD. */
export const ANISO_THRESHOLD = 3;

/** nnU-Net's default number of worker processes (env `nnUNet_def_n_proc`); we use threads, capped by the core count. */
export const DEFAULT_NUM_PROCESSES = 8;
