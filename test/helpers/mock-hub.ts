// A loopback HTTP server that answers like the Hugging Face Hub for file downloads (the exchange of huggingface_hub's
// hf_hub_download): the `Range: bytes=0-0` probe gets 206 + Content-Range + ETag + X-Repo-Commit, the plain GET the
// whole body, a missing file 404 with `X-Error-Code: EntryNotFound`. Tests point HF_ENDPOINT at it and run the real download code.

import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface MockHubRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface MockHubOptions {
  /** repo id -> file path -> content */
  repos: Record<string, Record<string, Uint8Array | string>>;
  /** When set, requests must carry `Authorization: Bearer <token>` (else 401). */
  token?: string;
  commit?: string;
}

export interface MockHub {
  url: string;
  requests: MockHubRequest[];
  /** Replace a file (changes its ETag). */
  setFile(repo: string, file: string, content: Uint8Array | string): void;
  /** The next full GET of `file` sends only `bytes` bytes of the body, then drops the connection. */
  interruptNext(file: string, bytes: number): void;
  /** The next full GET of `file` sends `bytes` bytes of the body, then stalls (connection open, no more data). */
  stallNext(file: string, bytes: number): void;
  close(): Promise<void>;
}

export async function startMockHub({ repos, token, commit = "0123456789abcdef0123456789abcdef01234567" }: MockHubOptions): Promise<MockHub> {
  const files = new Map<string, Buffer>();
  const set = (repo: string, file: string, c: Uint8Array | string) => files.set(`${repo}/${file}`, Buffer.from(c));
  for (const [repo, fs] of Object.entries(repos)) for (const [f, c] of Object.entries(fs)) set(repo, f, c);
  const interrupts = new Map<string, number>();
  const stalls = new Map<string, number>();
  const requests: MockHubRequest[] = [];

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { "X-Error-Code": "GatedRepo", "Content-Type": "application/json" });
      return void res.end(JSON.stringify({ error: "Access to this model is restricted. You must be authenticated." }));
    }
    const m = /^\/(.+?\/.+?)\/resolve\/([^/]+)\/(.+)$/.exec(decodeURIComponent((req.url ?? "").split("?")[0]!));
    const body = m ? files.get(`${m[1]}/${m[3]}`) : undefined;
    if (!m || !body) {
      res.writeHead(404, { "X-Error-Code": m ? "EntryNotFound" : "RepoNotFound", "Content-Type": "application/json" });
      return void res.end(JSON.stringify({ error: "Entry not found" }));
    }
    const etag = `"${createHash("sha256").update(body).digest("hex")}"`;
    const common = { ETag: etag, "X-Repo-Commit": commit, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream" };
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (range) {
      const a = Number(range[1]);
      const b = Math.min(Number(range[2]), body.length - 1);
      res.writeHead(206, { ...common, "Content-Range": `bytes ${a}-${b}/${body.length}`, "Content-Length": String(b - a + 1) });
      return void res.end(req.method === "HEAD" ? undefined : body.subarray(a, b + 1));
    }
    res.writeHead(200, { ...common, "Content-Length": String(body.length) });
    if (req.method === "HEAD") return void res.end();
    const stall = stalls.get(m[3]!);
    if (stall !== undefined) {
      stalls.delete(m[3]!);
      res.write(body.subarray(0, stall)); // and nothing more until the client gives up (or close() ends it)
      return;
    }
    const cut = interrupts.get(m[3]!);
    if (cut !== undefined) {
      interrupts.delete(m[3]!);
      res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setFile: set,
    interruptNext: (file, bytes) => interrupts.set(file, bytes),
    stallNext: (file, bytes) => stalls.set(file, bytes),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
