# The fork addon: V8's C++ API and libuv's private fields, so one build per
# Node ABI (docs/design.md, "Node versions and internals"). Linux only. It
# compiles the shared family files (../*.cc) for their helpers, so each
# system call keeps one source file (docs/design.md, "Native sources"); only
# the main addon registers their exports.
{
  "variables": {
    "asan%": 0
  },
  "targets": [
    {
      "target_name": "posix_process_fork",
      "sources": [
        "addon.cc",
        "fork.cc",
        "forkchild.cc",
        "../errors.cc",
        "../fds.cc",
        "../objects.cc",
        "../pidfd.cc",
        "../poll.cc",
        "../process.cc",
        "../signal.cc",
        "../wait.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GNU_SOURCE"
      ],
      "cflags_cc": [
        "-std=c++20",
        "-Wall",
        "-Wextra",
        "-fvisibility=hidden",
        "-fstack-protector-strong"
      ],
      # Every symbol bound at load time: in every fork child a lazy PLT
      # lookup would cost page faults; and a V8 symbol this Node lacks makes
      # the load fail at once, which disables fork and nothing else.
      "ldflags": ["-Wl,-z,now", "-Wl,-z,relro"],
      "conditions": [
        ["asan==1", {
          "cflags_cc": ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"],
          "ldflags": ["-fsanitize=address"]
        }]
      ]
    }
  ]
}
