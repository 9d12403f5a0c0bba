#!/usr/bin/env node
import { main } from "../dist/sdk/cli/main.js";
await main();
