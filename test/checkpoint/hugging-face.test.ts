import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { resolveCheckpointPath } from "../../sdk/checkpoint/hugging-face.js";
import { hfRepoId } from "../../sdk/config/folders.js";
import { hfSettings } from "../../sdk/config/switches.js";
import { Checkpoint } from "../../sdk/checkpoint/checkpoint.js";
import { consumeWarnings } from "../../sdk/warnings.js";
import type { ProgressEvent } from "../../sdk/util/progress.js";
import { startMockHub, type MockHub } from "../helpers/mock-hub.js";

const FIX = new URL("../fixtures/nnssl/", import.meta.url).pathname;
const CKPT = readFileSync(`${FIX}nnssl_ResEncMini.pth`);
const PLAN = readFileSync(`${FIX}nnssl_ResEncMini_adaptation_plan.json`);
const REPO = "AnonRes/ResEncMini-test";
const URL_ = `https://huggingface.co/${REPO}`;

let hub: MockHub;
let root: string;
let env: NodeJS.ProcessEnv;
const fullGets = () => hub.requests.filter((r) => r.method === "GET" && !r.headers.range);

beforeAll(async () => {
  hub = await startMockHub({
    repos: {
      [REPO]: { "adaptation_plan.json": PLAN, "checkpoint_final.pth": CKPT, "config.json": "{}" },
      "org/no-plan": { "checkpoint_final.pth": CKPT, "config.json": "{}" },
    },
  });
});
afterAll(() => hub.close());
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "nnssl-hf-"));
  env = { HF_ENDPOINT: hub.url };
  hub.requests.length = 0;
  consumeWarnings();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const dir = () => path.join(root, "AnonRes_ResEncMini-test");
const resolve = (extra: NodeJS.ProcessEnv = {}, onProgress?: (e: ProgressEvent) => void) =>
  resolveCheckpointPath(URL_, { paths: { nnssl_pretrained_models: root }, env: { ...env, ...extra }, onProgress });

describe("resolveCheckpointPath(url)", () => {
  it("downloads the three files like upstream into $nnssl_pretrained_models/<org>_<repo>", async () => {
    const events: ProgressEvent[] = [];
    const p = await resolve({}, (e) => events.push(e));
    expect(p).toBe(path.join(dir(), "checkpoint_final.pth"));
    expect(readFileSync(p).equals(CKPT)).toBe(true);
    expect(readFileSync(path.join(dir(), "adaptation_plan.json")).equals(PLAN)).toBe(true);
    expect(readFileSync(path.join(dir(), "config.json"), "utf8")).toBe("{}");
    expect(readdirSync(dir()).sort()).toEqual([".cache", "adaptation_plan.json", "checkpoint_final.pth", "config.json"]);
    // the Hub protocol: a Range probe then the full GET, per file, at revision main
    expect(hub.requests.map((r) => [r.url, r.headers.range ?? ""])).toEqual([
      [`/${REPO}/resolve/main/adaptation_plan.json`, "bytes=0-0"],
      [`/${REPO}/resolve/main/adaptation_plan.json`, ""],
      [`/${REPO}/resolve/main/checkpoint_final.pth`, "bytes=0-0"],
      [`/${REPO}/resolve/main/checkpoint_final.pth`, ""],
      [`/${REPO}/resolve/main/config.json`, "bytes=0-0"],
      [`/${REPO}/resolve/main/config.json`, ""],
    ]);
    const ck = events.filter((e) => e.task === "download checkpoint_final.pth");
    expect(ck.length).toBeGreaterThan(2);
    expect(ck.at(-1)).toEqual({ task: "download checkpoint_final.pth", done: CKPT.length, total: CKPT.length });
    const meta = readFileSync(path.join(dir(), ".cache/huggingface/download/checkpoint_final.pth.metadata"), "utf8").split("\n");
    expect(meta[0]).toMatch(/^[0-9a-f]{40}$/);
    expect(meta[1]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("re-uses an up-to-date copy (probe only) and re-downloads a file that changed on the Hub", async () => {
    await resolve();
    hub.requests.length = 0;
    await resolve();
    expect(fullGets()).toEqual([]);
    hub.setFile(REPO, "config.json", '{"v": 2}');
    await resolve();
    expect(fullGets().map((r) => r.url)).toEqual([`/${REPO}/resolve/main/config.json`]);
    expect(readFileSync(path.join(dir(), "config.json"), "utf8")).toBe('{"v": 2}');
    hub.setFile(REPO, "config.json", "{}");
  });

  it("uses an existing complete copy without any request when HF_HUB_OFFLINE=1", async () => {
    await resolve();
    hub.requests.length = 0;
    expect(await resolve({ HF_HUB_OFFLINE: "1" })).toBe(path.join(dir(), "checkpoint_final.pth"));
    expect(hub.requests).toEqual([]);
  });

  it("fails offline without a complete copy, naming what is missing", async () => {
    mkdirSync(dir(), { recursive: true });
    writeFileSync(path.join(dir(), "adaptation_plan.json"), PLAN);
    await expect(resolve({ HF_HUB_OFFLINE: "true" })).rejects.toThrow(
      `${URL_}: HF_HUB_OFFLINE is set and ${dir()} has no complete copy (missing checkpoint_final.pth, config.json)`,
    );
    expect(hub.requests).toEqual([]);
  });

  it("falls back to the existing copy with a warning when the Hub cannot be reached", async () => {
    await resolve();
    const p = await resolve({ HF_ENDPOINT: "http://127.0.0.1:9" });
    expect(p).toBe(path.join(dir(), "checkpoint_final.pth"));
    expect(consumeWarnings().some((w) => w.includes("could not check checkpoint_final.pth"))).toBe(true);
  });

  it("leaves no file behind when the checkpoint download is interrupted, and keeps an older copy intact", async () => {
    hub.interruptNext("checkpoint_final.pth", 100_000);
    await expect(resolve()).rejects.toThrow(/download of checkpoint_final.pth was interrupted/);
    expect(existsSync(path.join(dir(), "checkpoint_final.pth"))).toBe(false);
    expect(readdirSync(dir()).filter((f) => f.includes(".tmp-"))).toEqual([]);
    // an older complete copy survives a failed update
    await resolve();
    hub.setFile(REPO, "checkpoint_final.pth", Buffer.concat([CKPT, Buffer.alloc(10)]));
    hub.interruptNext("checkpoint_final.pth", 50_000);
    await expect(resolve()).rejects.toThrow(/interrupted/);
    expect(readFileSync(path.join(dir(), "checkpoint_final.pth")).equals(CKPT)).toBe(true);
    hub.setFile(REPO, "checkpoint_final.pth", CKPT);
  });

  it("gives up on a stalled download after HF_HUB_DOWNLOAD_TIMEOUT, leaving no file", async () => {
    hub.stallNext("checkpoint_final.pth", 10_000);
    const t0 = Date.now();
    await expect(resolve({ HF_HUB_DOWNLOAD_TIMEOUT: "0.5" })).rejects.toThrow("download of checkpoint_final.pth was interrupted (no data for 0.5 s)");
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(existsSync(path.join(dir(), "checkpoint_final.pth"))).toBe(false);
    expect(readdirSync(dir()).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("refuses a repo without adaptation_plan.json like upstream", async () => {
    await expect(resolveCheckpointPath("https://huggingface.co/org/no-plan/", { paths: { nnssl_pretrained_models: root }, env })).rejects.toThrow(
      "https://huggingface.co/org/no-plan/: org/no-plan does not contain an adaptation_plan.json file",
    );
  });

  it("a failed download leaves no empty model folder behind", async () => {
    await expect(resolveCheckpointPath("https://huggingface.co/org/no-plan", { paths: { nnssl_pretrained_models: root }, env })).rejects.toThrow(
      /does not contain an adaptation_plan.json/,
    );
    await expect(resolveCheckpointPath("https://huggingface.co/org/missing-repo", { paths: { nnssl_pretrained_models: root }, env })).rejects.toThrow();
    expect(readdirSync(root)).toEqual([]);
  });

  it("refuses while another live process downloads into the same folder", async () => {
    const { spawn } = await import("node:child_process");
    const { hostname } = await import("node:os");
    const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      writeFileSync(
        path.join(root, ".AnonRes_ResEncMini-test.lock"),
        JSON.stringify({ pid: sleeper.pid, host: hostname(), command: "nnssl-adapt checkpoint inspect", started: "x", token: "t" }),
      );
      await expect(resolve()).rejects.toThrow(`${dir()}: in use by process ${sleeper.pid} (nnssl-adapt checkpoint inspect, since x)`);
      expect(fullGets()).toEqual([]);
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it("needs nnssl_pretrained_models", async () => {
    const old = process.env.nnssl_pretrained_models;
    delete process.env.nnssl_pretrained_models;
    try {
      await expect(resolveCheckpointPath(URL_, { paths: {}, env })).rejects.toThrow(/nnssl_pretrained_models is not set/);
    } finally {
      if (old !== undefined) process.env.nnssl_pretrained_models = old;
    }
    expect(hub.requests).toEqual([]);
  });
});

describe("resolveCheckpointPath(url) with a gated repo", () => {
  let gated: MockHub;
  beforeAll(async () => {
    gated = await startMockHub({ repos: { [REPO]: { "adaptation_plan.json": PLAN, "checkpoint_final.pth": CKPT, "config.json": "{}" } }, token: "hf_secret" });
  });
  afterAll(() => gated.close());

  it("sends HF_TOKEN as a Bearer token", async () => {
    const p = await resolveCheckpointPath(URL_, { paths: { nnssl_pretrained_models: root }, env: { HF_ENDPOINT: gated.url, HF_TOKEN: "hf_secret" } });
    expect(readFileSync(p).equals(CKPT)).toBe(true);
    expect(gated.requests.every((r) => r.headers.authorization === "Bearer hf_secret")).toBe(true);
  });

  it("explains a 401 without HF_TOKEN", async () => {
    await expect(resolveCheckpointPath(URL_, { paths: { nnssl_pretrained_models: root }, env: { HF_ENDPOINT: gated.url } })).rejects.toThrow(
      /cannot download adaptation_plan.json from .*set HF_TOKEN=hf_/,
    );
  });
});

describe("hfSettings(env) / hfRepoId(url)", () => {
  it.each([
    [{}, { accessToken: undefined, hubUrl: "https://huggingface.co", offline: false, etagTimeout: 10, downloadTimeout: 10 }],
    [
      { HF_TOKEN: "hf_x", HF_ENDPOINT: "http://mirror/", HF_HUB_OFFLINE: "yes", HF_HUB_DOWNLOAD_TIMEOUT: "30" },
      { accessToken: "hf_x", hubUrl: "http://mirror", offline: true, etagTimeout: 10, downloadTimeout: 30 },
    ],
    [{ HF_HUB_OFFLINE: "0" }, { accessToken: undefined, hubUrl: "https://huggingface.co", offline: false, etagTimeout: 10, downloadTimeout: 10 }],
  ])("hfSettings(%j)", (e, expected) => expect(hfSettings(e)).toEqual(expected));
  it("hfSettings refuses a token that is not hf_...", () => expect(() => hfSettings({ HF_TOKEN: "abc" })).toThrow("HF_TOKEN must be"));
  it.each([
    ["https://huggingface.co/AnonRes/ResEncL-OpenMind-MAE", "AnonRes/ResEncL-OpenMind-MAE"],
    ["https://huggingface.co/AnonRes/ResEncL-OpenMind-MAE/", "AnonRes/ResEncL-OpenMind-MAE"],
  ])("hfRepoId(%s)", (u, id) => expect(hfRepoId(u)).toBe(id));
});

describe("Checkpoint.load(url)", () => {
  it("downloads and reads the checkpoint", async () => {
    const old = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.url;
    try {
      const ck = await Checkpoint.load(URL_, { paths: { nnssl_pretrained_models: root } });
      expect(ck.path).toBe(path.join(dir(), "checkpoint_final.pth"));
      expect(ck.adaptationPlan.key_to_encoder).toBe("encoder.stages");
      expect(ck.weights.size).toBe(356);
    } finally {
      if (old === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = old;
    }
  });
});
