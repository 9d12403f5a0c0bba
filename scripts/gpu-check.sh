#!/usr/bin/env bash
# The GPU check of the webgpu backend, for a machine with an NVIDIA GPU and no network (issue 15):
#   bash scripts/gpu-check.sh pack   here: builds .gpu/ (about 34 MB, compressed): the checks and benches bundled into single files,
#                                    Dawn (dawn.node from the webgpu package), Node itself (xz) and the Vulkan loader
#                                    (Debian's libvulkan1 .deb), so the GPU machine needs nothing installed.
#   bash scripts/gpu-check.sh run    there, from the repository root with .gpu/ beside it: prints the adapter, runs
#                                    scripts/gpu-check/check.js (kernels against the CPU, networks against PyTorch's
#                                    outputs), the conv3d bench (tfjs' kernels vs ours) and `bench backend --backend
#                                    webgpu` (ours vs PyTorch on the same GPU, fp32 and mixed precision), then `bench
#                                    train|predict --backend webgpu` (a ResEncL training step at 160^3 batch 2 and
#                                    sliding-window inference, against PyTorch on the same GPU). Logs go to $OUT (or
#                                    gpu-check-out/). Exits non-zero when a correctness check fails.
#   GPU_CHECK_STEPS="check conv backend train predict" (the default) picks the parts of `run`; GPU_CHECK_CARRIED=1 makes it
#   use the carried Node and Vulkan loader even where they are installed.
# Without a GPU, `run` uses SwiftShader (Debian's chromium), which is how the script itself is tested.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
pack)
  npm run build >/dev/null
  rm -rf .gpu /tmp/nnssl-gpu-pack
  stage=/tmp/nnssl-gpu-pack
  mkdir -p .gpu/deb "$stage/node_modules/webgpu/dist/linux-x64"
  for entry in scripts/gpu-check/check.js scripts/bench/backend.js scripts/bench/webgpu-conv.js scripts/bench/webgpu-train.js scripts/bench/webgpu-predict.js; do
    # webgpu loads dawn.node by a computed path, so it stays a package beside the bundles.
    node_modules/esbuild/bin/esbuild "$entry" --bundle --minify --platform=node --format=esm --log-level=error \
      --outfile="$stage/$(basename "$entry" .js).mjs" --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
      --banner:js="import { createRequire as nnsslRequire } from 'node:module'; const require = nnsslRequire(import.meta.url);"
  done
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$stage/node_modules/webgpu/"
  cp node_modules/webgpu/dist/linux-x64/dawn.node "$stage/node_modules/webgpu/dist/linux-x64/"
  cp -r test/fixtures/forward "$stage/fixtures"
  # The device machine takes the repository plus what is carried, 64 MiB in all: everything goes compressed.
  tar -C "$stage" -cf - . | xz -T0 -9 > .gpu/payload.tar.xz
  xz -T0 -9 -c "$(command -v node)" > .gpu/node.xz
  (cd .gpu/deb && apt-get download -qq libvulkan1 2>/dev/null)
  rm -rf "$stage"
  du -sh .gpu
  ;;
run)
  [ -d .gpu ] || { echo "gpu-check: .gpu/ missing: run 'bash scripts/gpu-check.sh pack' first and carry .gpu" >&2; exit 2; }
  out="${OUT:-gpu-check-out}"
  mkdir -p "$out" /tmp/nnssl-gpu
  xz -dc .gpu/payload.tar.xz | tar -C /tmp/nnssl-gpu -xf -
  # GPU_CHECK_CARRIED=1 uses the carried Node and Vulkan loader even where they are installed (how the pack is tested).
  carried="${GPU_CHECK_CARRIED:-0}"
  node_bin="$(command -v node || true)"
  if [ -z "$node_bin" ] || [ "$carried" = 1 ]; then
    xz -dc .gpu/node.xz > /tmp/nnssl-node && chmod +x /tmp/nnssl-node && node_bin=/tmp/nnssl-node
  fi
  if [ "$carried" = 1 ] || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
    for f in .gpu/deb/*.deb; do dpkg -x "$f" /tmp/nnssl-vulkan; done
    export LD_LIBRARY_PATH="/tmp/nnssl-vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  # NVIDIA's container runtime puts the driver's Vulkan manifest here rather than in /etc/vulkan/icd.d.
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
  done
  export NNSSL_ADAPT_BENCH_PYTHON="${NNSSL_ADAPT_BENCH_PYTHON:-$(command -v python3 || echo /usr/bin/python3)}"
  { command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; "$node_bin" --version; } 2>&1 | tee "$out/machine.log"
  status=0
  set -o pipefail
  # GPU_CHECK_STEPS picks what runs (default all, in this order), e.g. "check train" where device time is short.
  steps=" ${GPU_CHECK_STEPS:-check conv backend train predict} "
  want() { [[ "$steps" == *" $1 "* ]]; }
  if want check; then "$node_bin" /tmp/nnssl-gpu/check.mjs /tmp/nnssl-gpu/fixtures 2>&1 | tee "$out/check.log" || status=1; fi
  if want conv; then "$node_bin" /tmp/nnssl-gpu/webgpu-conv.mjs "${@:2}" 2>&1 | tee "$out/conv.log" || true; fi
  if want backend; then "$node_bin" /tmp/nnssl-gpu/backend.mjs --backend webgpu "${@:2}" 2>&1 | tee "$out/backend.log" || true; fi
  # `bench train|predict --backend webgpu`: a ResEncL training step at 160^3 batch 2 and sliding-window inference of a
  # 256^3 case against PyTorch on the same GPU (small layouts on a software adapter). GPU_CHECK_TRAIN / GPU_CHECK_PREDICT
  # pass other flags (e.g. "--patch 128").
  if want train; then "$node_bin" /tmp/nnssl-gpu/webgpu-train.mjs ${GPU_CHECK_TRAIN:-} 2>&1 | tee "$out/train.log" || true; fi
  if want predict; then "$node_bin" /tmp/nnssl-gpu/webgpu-predict.mjs ${GPU_CHECK_PREDICT:-} 2>&1 | tee "$out/predict.log" || true; fi
  exit "$status"
  ;;
*)
  echo "usage: bash scripts/gpu-check.sh pack|run [bench flags]" >&2
  exit 2
  ;;
esac
