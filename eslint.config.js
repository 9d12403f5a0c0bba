// ESLint (flat config): @eslint/js and typescript-eslint's recommended rules, and the layer order of ARCHITECTURE.md.
// `npm run lint` runs it together with `prettier --check` (formatting is prettier's job, not ESLint's).

import * as path from "node:path";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const ROOT = import.meta.dirname;

/**
 * The layers of sdk/, lowest first. A module may import its own layer and the layers below it, never one above.
 * Folders are sdk/<name>/, files sdk/<name>.ts.
 */
const LAYERS = [
  ["io", "util", "config", "backend", "errors.ts", "warnings.ts"],
  ["dataset", "checkpoint", "networks"],
  ["fingerprint", "planning", "preprocessing"],
  ["training", "inference", "evaluation", "pretraining"],
  ["facade.ts", "cli", "index.ts"],
];
const LAYER_OF = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));

/** "sdk/<top>" unit of a path relative to the repository root, or null outside sdk/. */
function sdkUnit(rel) {
  const parts = rel.split(path.sep);
  if (parts[0] !== "sdk" || parts.length < 2) return null;
  return parts.length === 2 ? parts[1].replace(/\.js$/, ".ts") : parts[1];
}

/** Enforces LAYERS inside sdk/, and that kernel-extensions/ uses the SDK only through its public entry (sdk/index). */
const layerOrder = {
  meta: {
    type: "problem",
    docs: { description: "imports follow the layer order of ARCHITECTURE.md" },
    messages: {
      upward: "sdk/{{from}} (layer {{fromLayer}}) must not import sdk/{{to}} (layer {{toLayer}}): lower layers never depend on higher ones (ARCHITECTURE.md)",
      unknown: "sdk/{{to}} is in no layer: add it to LAYERS in eslint.config.js and to ARCHITECTURE.md",
      publicOnly: "{{where}} may import the SDK only through its public API (sdk/index.js), not {{spec}}",
      outside: "sdk/ must not import {{spec}} (outside sdk/)",
    },
    schema: [],
  },
  create(context) {
    const file = path.relative(ROOT, context.filename);
    const fromUnit = sdkUnit(file);
    const inExtensions = file.startsWith(`kernel-extensions${path.sep}`);
    const check = (node, spec) => {
      if (typeof spec !== "string" || !spec.startsWith(".")) return;
      const target = path.relative(ROOT, path.resolve(path.dirname(context.filename), spec));
      const toUnit = sdkUnit(target);
      if (inExtensions) {
        if (toUnit !== null && target !== path.join("sdk", "index.js"))
          context.report({ node, messageId: "publicOnly", data: { where: "kernel-extensions/", spec } });
        return;
      }
      if (fromUnit === null) return;
      if (toUnit === null) {
        // node_modules-free relative imports that leave sdk/ (kernel-extensions, test, dist) break the package layout.
        context.report({ node, messageId: "outside", data: { spec } });
        return;
      }
      if (toUnit === fromUnit) return;
      const fromLayer = LAYER_OF.get(fromUnit),
        toLayer = LAYER_OF.get(toUnit);
      if (toLayer === undefined) return context.report({ node, messageId: "unknown", data: { to: toUnit } });
      if (fromLayer === undefined) return context.report({ node, messageId: "unknown", data: { to: fromUnit } });
      if (toLayer > fromLayer) context.report({ node, messageId: "upward", data: { from: fromUnit, to: toUnit, fromLayer, toLayer } });
    };
    const fromSource = (node) => node.source && check(node.source, node.source.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => node.source.type === "Literal" && check(node.source, node.source.value),
    };
  },
};

/** @type {Record<string, "readonly">} */
const NODE_GLOBALS = Object.fromEntries(
  [
    "process",
    "console",
    "Buffer",
    "URL",
    "URLSearchParams",
    "TextEncoder",
    "TextDecoder",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "setImmediate",
    "performance",
    "fetch",
    "structuredClone",
    "queueMicrotask",
    "AbortController",
    "SharedArrayBuffer",
    "Atomics",
    "WebAssembly",
  ].map((n) => [n, "readonly"]),
);

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "native/build/", ".jupyter-prefix/", "tmp/", ".nnssl-work/", "datasets-examples/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: NODE_GLOBALS },
    plugins: { nnssl: { rules: { "layer-order": layerOrder } } },
    rules: {
      "nnssl/layer-order": "error",
      // Pragmatic choices for this code base: parsers of untrusted files and tfjs glue handle `any` at their edges,
      // and `_`-prefixed names mark deliberately unused parameters (upstream signatures kept whole).
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
      "no-unused-vars": "off",
      "prefer-const": ["error", { destructuring: "all" }],
      "no-constant-condition": ["error", { checkLoops: false }],
      "no-control-regex": "off",
      // Prettier wraps code at 160 characters but never comments; this catches those (a warning until every branch
      // has been merged and formatted, then an error).
      "max-len": ["error", { code: 100000, comments: 160, ignoreUrls: true }],
    },
  },
  {
    // Tests: vitest globals are imported explicitly; non-null assertions and empty catch blocks are fine there.
    files: ["test/**/*.ts"],
    rules: { "no-empty": "off" },
  },
);
