// The in-page part of the volume viewer (volume-viewer.ts), written as a type-checked function whose source text is
// sent into the notebook page (`VIEWER_RUNTIME`). It must not refer to anything outside its own body. It draws with
// a 2-D canvas (no WebGL needed, so it also works in headless browsers and remote desktops without a GPU):
// - one slice plane for every volume side by side, or all three planes (multi-planar), at one physical scale;
// - mouse wheel / slider: slice; drag: window (left-right) and level (up-down); click in the 3-plane view: move the
//   crosshair; label overlay on/off and its opacity; a legend with the dataset's label names; a voxel readout.
// Volumes side by side share their slice positions as fractions of each axis, so a raw case and its resampled
// versions show the same anatomy.

/** What volume-viewer.ts puts into the page for one viewer (JSON). */
export interface ViewerSpec {
  volumes: {
    title: string;
    dims: [number, number, number];
    spacing: [number, number, number];
    /** gzip + base64 of uint16 intensities, value = imin + q / 65535 * (imax - imin). */
    image: string;
    imin: number;
    imax: number;
    window: [number, number];
    /** gzip + base64 of uint8 labels, or null. */
    label: string | null;
    notice: string | null;
  }[];
  labels: { value: number; name: string; color: [number, number, number] }[];
  axis: 0 | 1 | 2;
  /** Slice position per axis as a fraction of the axis (0..1). */
  position: [number, number, number];
  alpha: number;
  /** Largest edge of one drawn plane in CSS pixels. */
  size: number;
}

export function viewerRuntime(): void {
  type Spec = ViewerSpec;
  interface Vol {
    spec: Spec["volumes"][number];
    img: Uint16Array;
    lab: Uint8Array | null;
  }
  const w = window as unknown as { nnsslViewer?: { mount(id: string): Promise<void> } };
  if (w.nnsslViewer) return;

  async function inflate(b64: string): Promise<ArrayBuffer> {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
  }
  function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ""): HTMLElementTagNameMap[K] {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  }
  const fmt = (v: number) => (Math.abs(v) >= 1000 || Math.abs(v) < 0.01 ? v.toPrecision(3) : String(+v.toFixed(2)));
  // In-plane (row, column) axes of a plane cut across `axis`, as in the static PNG slices.
  const planeAxes = (axis: number): [number, number] => (axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1]);

  async function mount(id: string): Promise<void> {
    const box = document.getElementById(id);
    const specEl = document.getElementById(`${id}-spec`);
    if (!box || !specEl || box.getAttribute("data-nnssl-viewer")) return;
    box.setAttribute("data-nnssl-viewer", "loading");
    const spec = JSON.parse(specEl.textContent ?? "{}") as Spec;
    const vols: Vol[] = await Promise.all(
      spec.volumes.map(async (v) => ({
        spec: v,
        img: new Uint16Array(await inflate(v.image)),
        lab: v.label ? new Uint8Array(await inflate(v.label)) : null,
      })),
    );
    const colors = new Map(spec.labels.map((l) => [l.value, l.color]));
    const names = new Map(spec.labels.map((l) => [l.value, l.name]));
    const state = {
      mode: spec.axis as number, // 0, 1, 2 or 3 (= all three planes)
      pos: spec.position.slice() as number[],
      win: spec.volumes.map((v) => v.window.slice() as [number, number]),
      showLabels: true,
      alpha: spec.alpha,
    };
    // One physical scale (CSS pixels per mm) for every volume and plane: the largest that fits `size` everywhere.
    let pxPerMm = Infinity;
    for (const v of vols) {
      for (let a = 0; a < 3; a++) {
        const [ra, ca] = planeAxes(a);
        const d = v.spec.dims,
          s = v.spec.spacing;
        pxPerMm = Math.min(pxPerMm, spec.size / Math.max(d[ra]! * s[ra]!, d[ca]! * s[ca]!));
      }
    }
    // The output area's width (not laid out yet in some front ends: then 1000 px, what the static row uses).
    const avail = box.parentElement?.clientWidth ?? 0;
    const maxRow = avail >= 300 ? avail - 20 : 1000;
    const rowMm = (a: number) => vols.reduce((t, v) => t + v.spec.dims[planeAxes(a)[1]]! * v.spec.spacing[planeAxes(a)[1]]!, 0);
    const widest = Math.max(rowMm(0), rowMm(1), rowMm(2));
    pxPerMm = Math.min(pxPerMm, (maxRow - 12 * vols.length) / widest);

    box.innerHTML = "";
    box.style.font = "12px sans-serif";
    const bar = el("div", { style: "display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:2px 0 6px" });
    const modeSel = el("select", { class: "nnssl-plane", title: "plane" });
    ["axis 0", "axis 1", "axis 2", "3 planes"].forEach((t, i) => modeSel.append(el("option", { value: String(i) }, t)));
    modeSel.value = String(state.mode);
    const slider = el("input", { type: "range", class: "nnssl-slider", min: "0", max: "1000", step: "1", style: "width:160px", title: "slice (mouse wheel)" });
    const sliceText = el("span", { style: "min-width:70px" });
    const winIn = el("input", { type: "number", class: "nnssl-window", style: "width:70px", title: "window width", step: "any" });
    const lvlIn = el("input", { type: "number", class: "nnssl-level", style: "width:70px", title: "window level (centre)", step: "any" });
    const auto = el("button", { type: "button", title: "reset the intensity window" }, "auto");
    const labCb = el("input", { type: "checkbox", class: "nnssl-labels" });
    labCb.checked = true;
    const alphaIn = el("input", {
      type: "range",
      min: "0",
      max: "100",
      value: String(Math.round(state.alpha * 100)),
      style: "width:70px",
      title: "label opacity",
    });
    const labLbl = el("label", {}, "");
    labLbl.append(labCb, document.createTextNode(" labels "));
    bar.append(modeSel, slider, sliceText, el("span", {}, "window"), winIn, el("span", {}, "level"), lvlIn, auto);
    if (vols.some((v) => v.lab)) bar.append(labLbl, alphaIn);
    const legend = el("div", { class: "nnssl-legend", style: "display:flex;flex-wrap:wrap;gap:10px;margin:0 0 6px" });
    for (const l of spec.labels) {
      const item = el("span", { style: "display:inline-flex;align-items:center;gap:4px" });
      item.append(
        el("span", { style: `display:inline-block;width:12px;height:12px;background:rgb(${l.color.join(",")})` }),
        document.createTextNode(`${l.value}: ${l.name}`),
      );
      legend.append(item);
    }
    const grid = el("div", { style: "display:grid;gap:8px 12px;align-items:end;overflow-x:auto" });
    const readout = el("div", { class: "nnssl-readout", style: "min-height:16px;color:#444;margin-top:4px" });
    box.append(bar);
    if (spec.labels.length && vols.some((v) => v.lab)) box.append(legend);
    box.append(grid, readout);

    interface View {
      vol: number;
      axis: number;
      canvas: HTMLCanvasElement;
      caption: HTMLElement;
    }
    let views: View[] = [];
    const index = (v: Vol, a: number) => Math.min(v.spec.dims[a]! - 1, Math.max(0, Math.round(state.pos[a]! * (v.spec.dims[a]! - 1))));

    function layout(): void {
      grid.innerHTML = "";
      views = [];
      const axes = state.mode === 3 ? [0, 1, 2] : [state.mode];
      grid.style.gridTemplateColumns = `repeat(${vols.length}, max-content)`;
      for (const a of axes) {
        vols.forEach((v, k) => {
          const [ra, ca] = planeAxes(a);
          const cell = el("figure", { style: "margin:0" });
          const canvas = el("canvas", { class: "nnssl-slice", "data-volume": String(k), "data-axis": String(a) });
          canvas.width = Math.max(1, Math.round(v.spec.dims[ca]! * v.spec.spacing[ca]! * pxPerMm));
          canvas.height = Math.max(1, Math.round(v.spec.dims[ra]! * v.spec.spacing[ra]! * pxPerMm));
          canvas.style.cursor = "crosshair";
          const caption = el("figcaption", { style: "text-align:center;max-width:" + Math.max(canvas.width, 120) + "px" });
          cell.append(caption, canvas);
          if (a === axes[0] && v.spec.notice)
            cell.append(el("div", { style: "color:#a60;font-size:11px;max-width:" + Math.max(canvas.width, 160) + "px" }, v.spec.notice));
          grid.append(cell);
          const view = { vol: k, axis: a, canvas, caption };
          views.push(view);
          attach(view);
        });
      }
      syncControls();
      draw();
    }

    function drawView(view: View): void {
      const v = vols[view.vol]!,
        a = view.axis,
        d = v.spec.dims;
      const [ra, ca] = planeAxes(a);
      const rows = d[ra]!,
        cols = d[ca]!;
      const strides = [d[1]! * d[2]!, d[2]!, 1];
      const base = index(v, a) * strides[a]!;
      const [lo, hi] = state.win[view.vol]!;
      const scale = (v.spec.imax - v.spec.imin) / 65535;
      const img = new ImageData(cols, rows);
      const px = img.data;
      const alpha = state.showLabels ? state.alpha : 0;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const i = base + r * strides[ra]! + c * strides[ca]!;
          const val = v.spec.imin + v.img[i]! * scale;
          const g = Math.max(0, Math.min(255, Math.round(((val - lo) / (hi - lo || 1)) * 255)));
          let R = g,
            G = g,
            B = g;
          const l = v.lab ? v.lab[i]! : 0;
          if (l && alpha > 0) {
            const col = colors.get(l) ?? [255, 255, 255];
            R = Math.round((1 - alpha) * g + alpha * col[0]);
            G = Math.round((1 - alpha) * g + alpha * col[1]);
            B = Math.round((1 - alpha) * g + alpha * col[2]);
          }
          const o = (r * cols + c) * 4;
          px[o] = R;
          px[o + 1] = G;
          px[o + 2] = B;
          px[o + 3] = 255;
        }
      }
      const off = document.createElement("canvas");
      off.width = cols;
      off.height = rows;
      off.getContext("2d")!.putImageData(img, 0, 0);
      const ctx = view.canvas.getContext("2d")!;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(off, 0, 0, view.canvas.width, view.canvas.height);
      if (state.mode === 3) {
        // Crosshair: where the other two planes cut this one.
        const y = ((index(v, ra) + 0.5) / rows) * view.canvas.height,
          x = ((index(v, ca) + 0.5) / cols) * view.canvas.width;
        ctx.strokeStyle = "rgba(255,255,0,0.6)";
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(0, y);
        ctx.lineTo(view.canvas.width, y);
        ctx.moveTo(x, 0);
        ctx.lineTo(x, view.canvas.height);
        ctx.stroke();
      }
      view.caption.textContent = `${v.spec.title} · axis ${a} slice ${index(v, a)}/${d[a]! - 1}`;
    }

    function draw(): void {
      for (const view of views) drawView(view);
      box!.setAttribute("data-nnssl-viewer", "ready");
      box!.setAttribute("data-draws", String(Number(box!.getAttribute("data-draws") ?? "0") + 1));
    }

    function syncControls(): void {
      const a = state.mode === 3 ? 0 : state.mode;
      slider.value = String(Math.round(state.pos[a]! * 1000));
      const v0 = vols[0]!;
      sliceText.textContent = state.mode === 3 ? "axis 0" : `slice ${index(v0, a)}/${v0.spec.dims[a]! - 1}`;
      const [lo, hi] = state.win[0]!;
      winIn.value = fmt(hi - lo);
      lvlIn.value = fmt((lo + hi) / 2);
    }

    function step(a: number, delta: number): void {
      // One voxel of the volume with the most slices on this axis.
      const n = Math.max(...vols.map((v) => v.spec.dims[a]!));
      state.pos[a] = Math.min(1, Math.max(0, state.pos[a]! + delta / Math.max(1, n - 1)));
      syncControls();
      draw();
    }

    function voxelAt(view: View, ev: MouseEvent): number[] {
      const v = vols[view.vol]!,
        d = v.spec.dims;
      const [ra, ca] = planeAxes(view.axis);
      const rect = view.canvas.getBoundingClientRect();
      const r = Math.min(d[ra]! - 1, Math.max(0, Math.floor(((ev.clientY - rect.top) / rect.height) * d[ra]!)));
      const c = Math.min(d[ca]! - 1, Math.max(0, Math.floor(((ev.clientX - rect.left) / rect.width) * d[ca]!)));
      const ijk = [0, 0, 0];
      ijk[view.axis] = index(v, view.axis);
      ijk[ra] = r;
      ijk[ca] = c;
      return ijk;
    }

    function attach(view: View): void {
      const c = view.canvas;
      c.addEventListener(
        "wheel",
        (ev) => {
          ev.preventDefault();
          step(view.axis, ev.deltaY > 0 ? 1 : -1);
        },
        { passive: false },
      );
      c.addEventListener("contextmenu", (ev) => ev.preventDefault());
      c.addEventListener("mousedown", (ev) => {
        ev.preventDefault();
        const x0 = ev.clientX,
          y0 = ev.clientY;
        const start = state.win.map((w0) => w0.slice() as [number, number]);
        let moved = false;
        const move = (e: MouseEvent) => {
          const dx = e.clientX - x0,
            dy = e.clientY - y0;
          if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
          if (!moved) return;
          // Every volume keeps its own intensity scale: the drag changes each window relative to its own width.
          state.win = start.map(([lo, hi]) => {
            const width = Math.max(1e-6, (hi - lo) * Math.exp(dx / 150)),
              level = (lo + hi) / 2 - ((hi - lo) * dy) / 300;
            return [level - width / 2, level + width / 2] as [number, number];
          });
          syncControls();
          draw();
        };
        const up = (e: MouseEvent) => {
          window.removeEventListener("mousemove", move);
          window.removeEventListener("mouseup", up);
          if (!moved && state.mode === 3) {
            const v = vols[view.vol]!,
              ijk = voxelAt(view, e);
            for (let a = 0; a < 3; a++) if (a !== view.axis) state.pos[a] = ijk[a]! / Math.max(1, v.spec.dims[a]! - 1);
            syncControls();
            draw();
          }
        };
        window.addEventListener("mousemove", move);
        window.addEventListener("mouseup", up);
      });
      c.addEventListener("mousemove", (ev) => {
        const v = vols[view.vol]!,
          d = v.spec.dims,
          ijk = voxelAt(view, ev);
        const i = ijk[0]! * d[1]! * d[2]! + ijk[1]! * d[2]! + ijk[2]!;
        const val = v.spec.imin + (v.img[i]! * (v.spec.imax - v.spec.imin)) / 65535;
        const l = v.lab ? v.lab[i]! : null;
        readout.textContent =
          `${v.spec.title}: voxel [${ijk.join(", ")}] intensity ${fmt(val)}` + (l === null ? "" : ` · label ${l}${names.has(l) ? ` (${names.get(l)})` : ""}`);
      });
    }

    modeSel.addEventListener("change", () => {
      state.mode = Number(modeSel.value);
      layout();
    });
    slider.addEventListener("input", () => {
      const a = state.mode === 3 ? 0 : state.mode;
      state.pos[a] = Number(slider.value) / 1000;
      syncControls();
      draw();
    });
    const setWindow = () => {
      const width = Math.max(1e-6, Number(winIn.value)),
        level = Number(lvlIn.value);
      if (!Number.isFinite(width) || !Number.isFinite(level)) return;
      const [lo0, hi0] = state.win[0]!;
      // The typed values are for the first volume; the others follow relative to their own default window.
      state.win = state.win.map(([lo, hi], k) => {
        if (k === 0) return [level - width / 2, level + width / 2];
        const f = width / (hi0 - lo0 || 1),
          shift = (level - (lo0 + hi0) / 2) / (hi0 - lo0 || 1);
        const wk = (hi - lo) * f,
          ck = (lo + hi) / 2 + shift * (hi - lo);
        return [ck - wk / 2, ck + wk / 2];
      });
      draw();
    };
    winIn.addEventListener("change", setWindow);
    lvlIn.addEventListener("change", setWindow);
    auto.addEventListener("click", () => {
      state.win = spec.volumes.map((v) => v.window.slice() as [number, number]);
      syncControls();
      draw();
    });
    labCb.addEventListener("change", () => {
      state.showLabels = labCb.checked;
      draw();
    });
    alphaIn.addEventListener("input", () => {
      state.alpha = Number(alphaIn.value) / 100;
      draw();
    });
    layout();
  }

  w.nnsslViewer = { mount };
}

/** The runtime as page script text (defines window.nnsslViewer once). */
export const VIEWER_RUNTIME = `(${viewerRuntime.toString()})();`;
