#!/usr/bin/env node
import { runUpstream } from "../dist/sdk/cli/upstream.js";
await runUpstream("nnUNetv2_plan_like_dynamic");
