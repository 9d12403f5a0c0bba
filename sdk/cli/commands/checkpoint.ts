// `nnssl-adapt checkpoint inspect <path-or-url> [--json]`: the adaptation plan and a table of tensors of a .pth file
// or a Hugging Face checkpoint (downloaded like -pc would). The JSON form is a stable interface (sdk/checkpoint/inspect.ts).

import type { Command } from "commander";
import { InputError } from "../../errors.js";
import { resolveCheckpointPath } from "../../checkpoint/hugging-face.js";
import { summarizeCheckpoint, type CheckpointSummary } from "../../checkpoint/inspect.js";
import { loadTorchFile } from "../../io/torch/index.js";
import { terminalProgress } from "../progress.js";
import { checkpointTransfer } from "../../training/checkpoint-transfer.js";

const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(7).replace(/\.?0+(e|$)/, "$1"));
const list = (v: unknown) => (Array.isArray(v) ? `[${v.map((x) => (typeof x === "number" ? num(x) : JSON.stringify(x))).join(", ")}]` : String(v));

/** The human-readable form: plan summary, citations (upstream prints them when fine-tuning starts), tensor table. */
export function formatCheckpointSummary(file: string, s: CheckpointSummary, citations: unknown[] = []): string {
  const lines = [`file  ${file}`];
  const p = s.adaptation_plan as Record<string, any> | null;
  if (p) {
    const configs = Object.entries((p.pretrain_plan?.configurations ?? {}) as Record<string, Record<string, unknown>>);
    const [cname, cfg] = configs[0] ?? ["?", {}];
    lines.push(
      "adaptation plan",
      `  architecture            ${p.architecture_plans?.arch_class_name}${p.architecture_plans?.arch_kwargs ? " (with arch_kwargs)" : ""}`,
      `  pretraining dataset     ${p.pretrain_plan?.dataset_name} / ${p.pretrain_plan?.plans_name} / ${cname}`,
      `  pretraining spacing     ${cfg.spacing === null ? "none (noresample)" : list(cfg.spacing)}`,
      `  pretraining patch size  ${list(p.pretrain_patch_size ?? cfg.patch_size)}`,
      `  input channels          ${p.pretrain_num_input_channels}`,
      `  downstream patch size   ${list(p.recommended_downstream_patchsize)}`,
      `  key_to_encoder          ${p.key_to_encoder}`,
      `  key_to_stem             ${p.key_to_stem}`,
      `  keys_to_in_proj         ${list(p.keys_to_in_proj)}`,
      `  key_to_lpe              ${p.key_to_lpe ?? "None"}`,
    );
  } else {
    lines.push("adaptation plan  none (not an nnssl checkpoint)");
  }
  for (const c of citations) {
    // nnssl's publishing scripts store {type, name, apa_citations}; plain strings occur too
    const o = c as { type?: string; name?: string; apa_citations?: string[] };
    lines.push(typeof c === "string" ? `citation  ${c}` : `citation  ${o.type ?? "?"} used '${o.name ?? "?"}': ${(o.apa_citations ?? []).join(" ")}`);
  }
  const rows = s.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(", ")}]`, num(t.sum)]);
  const head = ["name", "dtype", "shape", "sum"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmtRow = (r: string[]) =>
    r
      .map((c, i) => (i === 3 ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
      .join("  ")
      .trimEnd();
  const numel = s.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  lines.push(`tensors (${s.tensors.length}, ${numel} values counting aliases)`, fmtRow(head), fmtRow(w.map((n) => "-".repeat(n))), ...rows.map(fmtRow));
  return lines.join("\n");
}

export function register(program: Command): void {
  const ck = program.command("checkpoint").description("inspect PyTorch / nnssl checkpoints");
  ck.command("inspect")
    .description("adaptation plan and a table of tensors of a .pth file or https://huggingface.co/<org>/<repo> checkpoint")
    .argument("<path-or-url>", ".pth file or Hugging Face URL (downloaded into $nnssl_pretrained_models)")
    .option("--json", 'print {"adaptation_plan": ..., "tensors": [{"name", "dtype", "shape", "sum", "first"}]}')
    .action(async (pathOrUrl: string, opts: { json?: boolean }) => {
      const progress = terminalProgress();
      let file: string;
      try {
        file = await resolveCheckpointPath(pathOrUrl, { onProgress: progress });
      } finally {
        progress.stop();
      }
      const obj = await loadTorchFile(file);
      const summary = summarizeCheckpoint(obj);
      const citations = (obj as { citations?: unknown })?.citations;
      process.stdout.write((opts.json ? JSON.stringify(summary) : formatCheckpointSummary(file, summary, Array.isArray(citations) ? citations : [])) + "\n");
    });
  ck.command("transfer")
    .description(
      "build the network a trainer would build for a plans file and dataset, load the pretrained weights named in the plans' pretrain_info " +
        "as that trainer would (paths relative to the working directory, as upstream), train nothing, and print what was transferred",
    )
    .requiredOption("-d <dataset>", "dataset id or DatasetXXX_Name")
    .requiredOption("-p <plans>", "plans identifier, e.g. ptPlans_dynamic__MyMAE or ptPlans__MyMAE____Spacing__1.00_1.00_1.00___Norm__Z")
    .option("-c <configuration>", "configuration", "3d_fullres")
    .option("-tr, --trainer <trainer>", "trainer whose network and weight loading to use", "PretrainedTrainer")
    .option("--seed <n>", "seed of the initial weights of what is not transferred", "0")
    .option("--json", 'print {"trainer", "checkpoint", "tensors": [{"name", "shape", "source", "sum", "first"}]} (PyTorch names, shapes, C order)')
    .action(async (opts: { d: string; p: string; c: string; trainer: string; seed: string; json?: boolean }) => {
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new InputError(`--seed: expected a non-negative integer, got ${JSON.stringify(opts.seed)}`);
      const dataset = /^\d+$/.test(opts.d) ? Number(opts.d) : opts.d;
      const r = await checkpointTransfer({ dataset, plans: opts.p, configuration: opts.c, trainer: opts.trainer, seed });
      if (opts.json) process.stdout.write(JSON.stringify({ trainer: r.trainer, checkpoint: r.checkpoint, tensors: r.tensors }) + "\n");
      else process.stdout.write(`trainer ${r.trainer}\n${r.report.toString()}\n`);
    });
}
