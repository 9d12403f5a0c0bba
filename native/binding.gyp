{
  "targets": [
    {
      "target_name": "nnssl_onednn",
      "sources": ["src/addon.cc", "src/conv.cc", "src/matmul.cc", "src/binary.cc", "src/unary.cc", "src/reduce.cc", "src/concat.cc",
                  "src/instance-norm.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-ldnnl"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-trapping-math", "-fopenmp"],
      "ldflags": ["-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags!": ["-fno-exceptions"]
    }
  ]
}
