// `-pc https://huggingface.co/<org>/<repo>` resolution, as upstream's `maybe_download_pretrained_weights`
// (like_nnssl.py): adaptation_plan.json, checkpoint_final.pth and config.json go into
// `$nnssl_pretrained_models/<org>_<repo>/`. @huggingface/hub reads no environment variables, so HF_TOKEN, HF_ENDPOINT
// and HF_HUB_OFFLINE are mapped by config/switches.ts (hfSettings). Files are written to a temporary name and renamed, and huggingface_hub's
// local_dir metadata (`.cache/huggingface/download/<file>.metadata`) is kept so Python and we skip unchanged files alike.

import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { downloadFile, fileDownloadInfo } from "@huggingface/hub";
import { CheckpointError } from "../errors.js";
import type { Paths } from "../config/env.js";
import { HF_URL_PREFIX, hfRepoId, isHuggingFaceUrl, pretrainedModelFolder } from "../config/folders.js";
import { hfSettings, type HfSettings } from "../config/switches.js";
import { ensureDir, exists, ioError, isSystemError, removeStaleTempFiles, tempName, writeFileAtomic } from "../util/fs.js";
import { withFolderLock } from "../util/lock.js";
import { noProgress, type ProgressCallback } from "../util/progress.js";
import { warn } from "../warnings.js";

/** Downloaded in this order; config.json only "for download tracking purposes" upstream, but still required. */
export const HF_FILES = ["adaptation_plan.json", "checkpoint_final.pth", "config.json"] as const;

export interface ResolveOptions {
  paths?: Paths;
  onProgress?: ProgressCallback;
  /** Defaults to process.env (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

/** The absolute local path of a checkpoint: a local file as is, a Hub URL downloaded (or found) first. */
export async function resolveCheckpointPath(pathOrUrl: string, { paths, onProgress = noProgress, env }: ResolveOptions = {}): Promise<string> {
  if (!isHuggingFaceUrl(pathOrUrl)) {
    const file = path.resolve(pathOrUrl);
    if (!(await exists(file))) {
      const hint = /^(https?:|hf\.co)/.test(pathOrUrl) ? ` (only ${HF_URL_PREFIX}<org>/<repo> URLs are downloaded)` : "";
      throw new CheckpointError(`file not found${hint}`, { file: pathOrUrl });
    }
    return file;
  }
  const settings = hfSettings(env);
  const repo = hfRepoId(pathOrUrl);
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new CheckpointError(`expected ${HF_URL_PREFIX}<org>/<repo>, got repo id ${JSON.stringify(repo)}`, { file: pathOrUrl });
  }
  const dir = pretrainedModelFolder(pathOrUrl, paths);
  const ckpt = path.join(dir, "checkpoint_final.pth");
  if (settings.offline) {
    const missing: string[] = [];
    for (const f of HF_FILES) if (!(await exists(path.join(dir, f)))) missing.push(f);
    if (missing.length) {
      throw new CheckpointError(`HF_HUB_OFFLINE is set and ${dir} has no complete copy (missing ${missing.join(", ")})`, { file: pathOrUrl });
    }
    return ckpt;
  }
  const created = !(await exists(dir));
  // one download per model folder: a second process refuses (naming the first) instead of writing the same files
  await withFolderLock(dir, async () => {
    await ensureDir(dir);
    await removeStaleTempFiles(dir);
    try {
      for (const f of HF_FILES) await downloadToLocalDir(pathOrUrl, repo, f, dir, settings, onProgress);
    } catch (err) {
      // a folder this run created and that got no file must not look like a (broken) model afterwards
      if (created && !(await hasAnyFile(dir))) await fsp.rm(dir, { recursive: true, force: true });
      throw err;
    }
  });
  return ckpt;
}

/** Whether `dir` holds any of the model files (huggingface_hub's .cache metadata does not count). */
async function hasAnyFile(dir: string): Promise<boolean> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  return names.some((n) => n !== ".cache");
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

async function readMetadata(file: string): Promise<{ commit: string; etag: string } | null> {
  try {
    const [commit, etag] = (await fsp.readFile(file, "utf8")).split("\n");
    return commit !== undefined && etag !== undefined ? { commit, etag } : null;
  } catch {
    return null;
  }
}

async function downloadToLocalDir(url: string, repo: string, file: string, dir: string, s: HfSettings, onProgress: ProgressCallback): Promise<void> {
  const dest = path.join(dir, file);
  const metaDir = path.join(dir, ".cache", "huggingface", "download");
  const metaFile = path.join(metaDir, `${file}.metadata`);
  let commit = "";
  // Keeps the commit the Hub reports (X-Repo-Commit) for the metadata file, as huggingface_hub records it, and gives
  // up on a server that does not answer (the timer stops once headers arrive; the body has its own idle timeout).
  const recordingFetch: typeof fetch = async (input, init) => {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new Error(`no answer within ${s.etagTimeout} s`)), s.etagTimeout * 1000);
    try {
      const r = await fetch(input, { ...init, signal: ctl.signal });
      commit = r.headers.get("x-repo-commit") ?? commit;
      return r;
    } finally {
      clearTimeout(timer);
    }
  };
  const common = { repo, path: file, hubUrl: s.hubUrl, fetch: recordingFetch, ...(s.accessToken ? { accessToken: s.accessToken } : {}) };
  let info: Awaited<ReturnType<typeof fileDownloadInfo>>;
  try {
    info = await fileDownloadInfo(common);
  } catch (err) {
    if (await exists(dest)) {
      // huggingface_hub does the same: a local copy beats failing when the Hub cannot be reached.
      warn(`${url}: could not check ${file} on ${s.hubUrl} (${errorText(err)}); using the existing ${dest}`);
      return;
    }
    throw new CheckpointError(`cannot download ${file} from ${s.hubUrl}: ${errorText(err)}`, { file: url, cause: err });
  }
  if (info === null) {
    if (file === "adaptation_plan.json") {
      throw new CheckpointError(`${repo} does not contain an adaptation_plan.json file, so it is not compatible with nnssl fine-tuning`, { file: url });
    }
    throw new CheckpointError(`${repo} has no ${file}`, { file: url });
  }
  const etag = normalizeEtag(info.etag);
  const meta = await readMetadata(metaFile);
  const local = await fsp.stat(dest).catch(() => null);
  if (meta?.etag === etag && local?.size === info.size) return;

  const blob = await downloadFile({ ...common, downloadInfo: info });
  if (!blob) throw new CheckpointError(`${repo} has no ${file}`, { file: url });
  const tmp = tempName(dest);
  const fh = await fsp.open(tmp, "w").catch((err) => {
    throw ioError(err, "write", dest);
  });
  let done = 0;
  try {
    const reader = blob.stream().getReader();
    onProgress({ task: `download ${file}`, done, total: info.size });
    for (;;) {
      const { value, done: end } = await readWithin(reader, s.downloadTimeout);
      if (end) break;
      await fh.write(value);
      done += value.length;
      onProgress({ task: `download ${file}`, done, total: info.size });
    }
    await fh.close();
    if (done !== info.size) throw new Error(`received ${done} of ${info.size} bytes`);
    await fsp.rename(tmp, dest);
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    if (isSystemError(err) && ["open", "write", "close", "rename"].includes(err.syscall!)) throw ioError(err, "write", dest);
    throw new CheckpointError(`download of ${file} was interrupted (${errorText(err)}); nothing was kept, run again to retry`, { file: url, cause: err });
  }
  await fsp.mkdir(metaDir, { recursive: true });
  await writeFileAtomic(path.join(dir, ".cache", "huggingface", ".gitignore"), "*\n");
  await writeFileAtomic(metaFile, `${commit}\n${etag}\n${Date.now() / 1000}\n`);
}

/** reader.read(), or an error when no data arrives for `seconds` (a stalled connection must not hang the command). */
async function readWithin<T>(reader: ReadableStreamDefaultReader<T>, seconds: number): Promise<ReadableStreamReadResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no data for ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } catch (err) {
    void reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  const e = err as { message?: string; statusCode?: number; cause?: { message?: string } };
  let msg = e?.message ?? String(err);
  if (e?.cause?.message && !msg.includes(e.cause.message)) msg += ` (${e.cause.message})`;
  if (e?.statusCode === 401 || e?.statusCode === 403) msg += "; for gated or private repos set HF_TOKEN=hf_...";
  return msg;
}
