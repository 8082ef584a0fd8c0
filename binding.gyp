{
  "variables": {
    "asan%": 0
  },
  "targets": [
    {
      "target_name": "posix_process",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/fds.cc",
        "native/objects.cc",
        "native/pidfd.cc",
        "native/poll.cc",
        "native/process.cc",
        "native/signal.cc",
        "native/spawn.cc",
        "native/tie.cc",
        "native/wait.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # A call that fails while its worker is being terminated cannot throw
        # into JS: without this, node-addon-api rethrows it as a C++
        # exception that escapes the callback and aborts the whole process.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "_GNU_SOURCE"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        # Node's common.gypi turns this one off; the addon's own code and
        # node-addon-api build clean with it.
        "-Wunused-parameter",
        "-fvisibility=hidden",
        "-fstack-protector-strong"
      ],
      # Bind every symbol at load time: a fork child's first call through
      # an unresolved PLT slot would run the dynamic linker's lookup there,
      # ~50 copy-on-write and file page faults in every child. This addon
      # uses Node-API and libuv's public calls only, so it loads on every
      # Node; the fork addon (native/fork/binding.gyp) is built per ABI.
      "ldflags": ["-Wl,-z,now", "-Wl,-z,relro"],
      "conditions": [
        ["asan==1", {
          "cflags_cc": ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"],
          "ldflags": ["-fsanitize=address"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "OTHER_CPLUSPLUSFLAGS": ["-Wall", "-Wextra", "-fvisibility=hidden"]
          }
        }]
      ]
    }
  ]
}
