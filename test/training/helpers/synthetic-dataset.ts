// Writes a tiny preprocessed nnU-Net dataset (the layout nnUNetv2_preprocess produces) for training tests:
// dataset.json, nnUNetPlans.json with a small ResidualEncoderUNet (the forward fixture's architecture, so the
// checkpoint keys can be compared with PyTorch's), <case>.npy / _seg.npy / .json and gt_segmentations/*.nii.gz.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { formatNpy } from "../../../sdk/io/npy.js";
import { writeSeg } from "../../../sdk/io/image-io.js";
import { RandomState } from "../../../sdk/util/random-state.js";

export const FORWARD_FIXTURE = path.resolve(import.meta.dirname, "../../fixtures/forward/ResidualEncoderUNet_2ch");

export interface SyntheticDataset {
  root: string;
  paths: { nnUNet_raw: string; nnUNet_preprocessed: string; nnUNet_results: string };
  datasetName: string;
  ids: string[];
}

export async function writeSyntheticDataset(root: string, { numCases = 6, size = 12, patch = [8, 8, 8], id = 991 } = {}): Promise<SyntheticDataset> {
  const datasetName = `Dataset${id}_SynthTrain`;
  const pre = path.join(root, "preprocessed");
  const base = path.join(pre, datasetName);
  const dataFolder = path.join(base, "nnUNetPlans_3d_fullres");
  const gt = path.join(base, "gt_segmentations");
  mkdirSync(dataFolder, { recursive: true });
  mkdirSync(gt, { recursive: true });
  mkdirSync(path.join(root, "raw"), { recursive: true });
  mkdirSync(path.join(root, "results"), { recursive: true });
  const datasetJson = { channel_names: { "0": "T1", "1": "T2" }, labels: { background: 0, lesion: 1 }, numTraining: numCases, file_ending: ".nii.gz" };
  writeFileSync(path.join(base, "dataset.json"), JSON.stringify(datasetJson, null, 4));
  const fx = JSON.parse(readFileSync(path.join(FORWARD_FIXTURE, "config.json"), "utf8")).kwargs;
  const { input_channels: _i, num_classes: _n, deep_supervision: _d, ...archKwargs } = fx;
  const plans = {
    dataset_name: datasetName,
    plans_name: "nnUNetPlans",
    original_median_spacing_after_transp: [1.0, 1.0, 1.0],
    original_median_shape_after_transp: [size, size, size],
    image_reader_writer: "SimpleITKIO",
    transpose_forward: [0, 1, 2],
    transpose_backward: [0, 1, 2],
    experiment_planner_used: "ExperimentPlanner",
    label_manager: "LabelManager",
    foreground_intensity_properties_per_channel: {},
    configurations: {
      "3d_fullres": {
        data_identifier: "nnUNetPlans_3d_fullres",
        preprocessor_name: "DefaultPreprocessor",
        batch_size: 2,
        patch_size: patch,
        median_image_size_in_voxels: [size, size, size],
        spacing: [1.0, 1.0, 1.0],
        normalization_schemes: ["ZScoreNormalization", "ZScoreNormalization"],
        use_mask_for_norm: [false, false],
        resampling_fn_data: "resample_data_or_seg_to_shape",
        resampling_fn_seg: "resample_data_or_seg_to_shape",
        resampling_fn_data_kwargs: { is_seg: false, order: 3, order_z: 0, force_separate_z: null },
        resampling_fn_seg_kwargs: { is_seg: true, order: 1, order_z: 0, force_separate_z: null },
        resampling_fn_probabilities: "resample_data_or_seg_to_shape",
        resampling_fn_probabilities_kwargs: { is_seg: false, order: 1, order_z: 0, force_separate_z: null },
        architecture: {
          network_class_name: "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet",
          arch_kwargs: archKwargs,
          _kw_requires_import: ["conv_op", "norm_op", "dropout_op", "nonlin"],
        },
        batch_dice: false,
      },
    },
  };
  writeFileSync(path.join(base, "nnUNetPlans.json"), JSON.stringify(plans, null, 4));
  const rs = new RandomState(2024);
  const ids: string[] = [];
  const n = size ** 3;
  for (let k = 0; k < numCases; k++) {
    const cid = `synth_${String(k).padStart(3, "0")}`;
    ids.push(cid);
    const seg = new Int16Array(n);
    const c = [rs.randint(3, size - 3), rs.randint(3, size - 3), rs.randint(3, size - 3)];
    const locs: number[][] = [];
    for (let z = 0; z < size; z++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          if (Math.abs(z - c[0]!) <= 2 && Math.abs(y - c[1]!) <= 2 && Math.abs(x - c[2]!) <= 2) {
            seg[(z * size + y) * size + x] = 1;
            locs.push([0, z, y, x]);
          }
        }
    const data = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      data[i] = (seg[i] ? 1.5 : -0.5) + 0.3 * (rs.randomSample() - 0.5);
      data[n + i] = (seg[i] ? -1 : 0.5) + 0.3 * (rs.randomSample() - 0.5);
    }
    writeFileSync(path.join(dataFolder, `${cid}.npy`), formatNpy({ dtype: "float32", shape: [2, size, size, size], data }));
    writeFileSync(path.join(dataFolder, `${cid}_seg.npy`), formatNpy({ dtype: "int16", shape: [1, size, size, size], data: seg }));
    const sitk = { spacing: [1.0, 1.0, 1.0], origin: [0.0, 0.0, 0.0], direction: [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0] };
    const props = {
      sitk_stuff: sitk,
      spacing: [1.0, 1.0, 1.0],
      shape_before_cropping: [size, size, size],
      bbox_used_for_cropping: [
        [0, size],
        [0, size],
        [0, size],
      ],
      shape_after_cropping_and_before_resampling: [size, size, size],
      class_locations: { "1": locs },
    };
    writeFileSync(path.join(dataFolder, `${cid}.json`), JSON.stringify(props));
    await writeSeg(Uint8Array.from(seg), [size, size, size], path.join(gt, `${cid}.nii.gz`), { spacing: [1, 1, 1], sitk_stuff: sitk }, "SimpleITKIO");
  }
  return { root, paths: { nnUNet_raw: path.join(root, "raw"), nnUNet_preprocessed: pre, nnUNet_results: path.join(root, "results") }, datasetName, ids };
}
