{
  "targets": [
    {
      "target_name": "bpf_ts",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/util.cc",
        "src/object.cc",
        "src/program.cc",
        "src/link.cc",
        "src/map.cc",
        "src/ringbuf.cc",
        "src/socket.cc",
        "src/packet_rx.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": [
        "-std=gnu++17",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "-Wno-missing-field-initializers",
        "<!@(pkg-config --cflags libbpf)"
      ],
      "libraries": [
        "<!@(pkg-config --libs libbpf)",
        "-lelf",
        "-lz"
      ]
    }
  ]
}
