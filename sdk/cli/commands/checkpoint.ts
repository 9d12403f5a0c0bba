// `nnssl-adapt checkpoint inspect <path-or-url> [--json]`: the adaptation plan and a table of tensors of a .pth file
// or a Hugging Face checkpoint (downloaded like -pc would). The JSON form is a stable interface (sdk/checkpoint/inspect.ts).

import type { Command } from "commander";
import { resolveCheckpointPath } from "../../checkpoint/hugging-face.js";
import { summarizeCheckpoint, type CheckpointSummary } from "../../checkpoint/inspect.js";
import { loadTorchFile } from "../../io/torch/index.js";
import { terminalProgress } from "../progress.js";

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
  const fmtRow = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join("  ").trimEnd();
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
}
