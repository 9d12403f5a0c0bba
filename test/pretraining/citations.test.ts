// The citations of the checkpoints we write (nnssl-adapt pretrain, the example checkpoint) in the form nnU-Net
// master's PretrainedTrainer.print_citations reads; master printed "Could not print checkpoint citations ('str' object
// has no attribute 'get')" on the old plain-string form.

import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { Checkpoint } from "../../sdk/checkpoint/checkpoint.js";
import { PRETRAIN_CITATIONS } from "../../sdk/pretraining/mae-trainer.js";
import { citationBlock } from "../../sdk/training/trainer-network.js";
import { pythonSkipReason, runPython } from "../helpers/python.js";

const EXAMPLE = fileURLToPath(new URL("../../datasets-examples/nnssl-example-mae/checkpoint_final.pth", import.meta.url));

/** master's print_citations body (pretrainedTrainer.py), printing instead of logging. */
const PRINT_CITATIONS = String.raw`
import sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
try:
    cits = ck.get("citations", [])
    if len(cits) > 0:
        all_strings = []
        all_strings.append(
            "\n#######################################################################\nPlease cite the associated papers when using pre-trained weights:\n"
        )
        for cit in sorted(cits, key=lambda x: x.get("type", "")):
            all_strings.append(f"{cit.get('type', '?')} used '{cit.get('name', '?')}'. Associated paper(s):")
            papers = cit.get("apa_citations") or cit.get("bibtex_citations") or []
            for c in papers:
                all_strings.append(c)
            all_strings[-1] += "\n"
        all_strings.append("#######################################################################\n")
        sys.stdout.write("\n".join(all_strings))
except Exception as e:
    print(f"[like_nnssl] Could not print checkpoint citations ({e}).")
`;

describe("checkpoint citations", () => {
  it("plain-string entries (older checkpoints) are printed as they are; none print nothing", () => {
    expect(citationBlock([])).toBeNull();
    expect(citationBlock(undefined)).toBeNull();
    expect(citationBlock(["Cite me"])).toContain("\nCite me\n");
  });

  it("are dicts with type, name and apa_citations, in pretrain's constant and in the example checkpoint", async () => {
    for (const c of PRETRAIN_CITATIONS) {
      expect(Object.keys(c).sort()).toEqual(["apa_citations", "name", "type"]);
      expect(c.apa_citations.length).toBeGreaterThan(0);
    }
    const ck = await Checkpoint.load(EXAMPLE);
    expect(ck.citations).toEqual(PRETRAIN_CITATIONS);
  });

  const reason = pythonSkipReason(["torch"]);
  it.skipIf(reason !== null && process.env.CI !== "true")(`master's print_citations prints the example's ${reason ?? ""}`, () => {
    const out = runPython(PRINT_CITATIONS, [EXAMPLE]);
    expect(out).not.toContain("Could not print");
    expect(out).toContain("Pretraining method used 'nnssl MAE (BaseMAETrainer recipe, run by nnssl-adapt pretrain)'. Associated paper(s):");
    expect(out).toContain("An OpenMind for 3D medical vision self-supervised learning");
    // the training log gets the same block
    expect(citationBlock(PRETRAIN_CITATIONS)).toBe(out);
  });
});
