#!/usr/bin/env bash
# System packages nnssl-adapt uses on Debian 12: oneDNN for the fast CPU backend, PyTorch and nibabel for the
# cross-checks in the test suite, Jupyter (nbconvert) for running the notebooks headless, the classic Jupyter Notebook
# server and Chromium for the notebooks' browser test (Chromium's SwiftShader Vulkan driver also gives the webgpu
# backend a software GPU for tests) with the Vulkan loader, strace for fault injection and util-linux/mount (unshare,
# mount) for the small tmpfs folders of test/faults.
# Oracles for the other image formats: Pillow, tifffile, imageio and scikit-image (NaturalImage2DIO/Tiff3DIO), ITK
# through plastimatch and teem's unu (.mha/.nrrd written and read by tools that are not ours).
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  libdnnl-dev python3-torch python3-nibabel python3-scipy python3-numpy \
  jupyter-nbconvert python3-nbclient jupyter-client python3-jupyter-client python3-ipython \
  jupyter-notebook chromium libvulkan1 strace util-linux mount \
  python3-pil python3-tifffile python3-imageio python3-skimage plastimatch teem-apps >/dev/null
