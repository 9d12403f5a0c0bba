// Planner registry for `-pl`: an explicit table instead of upstream's recursive class search, so a typo fails at once
// with the list of known names.

import { ConfigError } from "../errors.js";
import { ExperimentPlanner, type PlannerInput, type PlannerOptions } from "./experiment-planner.js";
import { nnUNetPlannerResEncL, nnUNetPlannerResEncM, nnUNetPlannerResEncXL, ResEncUNetPlanner } from "./resenc-planners.js";

/** A planner class: constructible, with the plans identifier it writes by default. */
export type PlannerClass = (new (input: PlannerInput, opts?: PlannerOptions) => ExperimentPlanner) & { readonly defaultPlansName: string };

export const PLANNERS: Readonly<Record<string, PlannerClass>> = {
  ExperimentPlanner,
  ResEncUNetPlanner,
  nnUNetPlannerResEncM,
  nnUNetPlannerResEncL,
  nnUNetPlannerResEncXL,
};

export type PlannerName = keyof typeof PLANNERS;

/** The planner class for a `-pl` name; unknown names list the known ones. */
export function getPlanner(name: string): PlannerClass {
  const cls = PLANNERS[name];
  if (!cls) throw new ConfigError(`unknown experiment planner ${JSON.stringify(name)} (known: ${Object.keys(PLANNERS).join(", ")})`);
  return cls;
}

/** The plans identifier a planner writes when no plans name is given (e.g. nnUNetPlans, nnUNetResEncUNetMPlans). */
export function defaultPlansName(planner: string | PlannerClass = "ExperimentPlanner"): string {
  return (typeof planner === "string" ? getPlanner(planner) : planner).defaultPlansName;
}
