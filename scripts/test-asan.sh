#!/usr/bin/env bash
# Runs the raw posix tests (both sentinel paths) and the fork suite against
# an AddressSanitizer build of the addon (`npm run test:asan`).
#
# The addon is built with -fsanitize=address (binding.gyp's `asan` variable)
# in a separate tree, .asan/, so build/Release stays as it is for everyone
# else. The tests load that build through node-gyp-build's
# POSIX_PROCESS_PREBUILD override; node itself is not instrumented, so the
# ASan runtime is preloaded (LD_PRELOAD) and inherited by every child the
# tests start. Leak detection is off: node does not free everything at
# exit. Any ASan report, in the test runner or in any child (log_path
# catches those), fails the run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
asan_dir="$root/.asan"
cd "$root"

libasan="$(gcc -print-file-name=libasan.so)"
if [ ! -e "$libasan" ]; then
  echo "test-asan: libasan.so not found (gcc -print-file-name=libasan.so gave '$libasan')" >&2
  exit 2
fi

# 1. A separate tree with the native sources, built with ASan. The flags go
#    in through CXXFLAGS/LDFLAGS (appended last by gyp's Makefile): `-Dasan=1`
#    alone does not work, because node's own config.gypi defines `asan: 0`
#    and gyp lets that plain definition override binding.gyp's `asan%`.
asan_flags="-fsanitize=address -fno-omit-frame-pointer -O1 -g"
rm -rf "$asan_dir/native" "$asan_dir/build"
mkdir -p "$asan_dir"
cp -R binding.gyp package.json native "$asan_dir/"
if ! (cd "$asan_dir" &&
  npx --no-install node-gyp configure -- -Dasan=1 &&
  CXXFLAGS="$asan_flags" LDFLAGS="-fsanitize=address" npx --no-install node-gyp build) >"$asan_dir/build.log" 2>&1; then
  cat "$asan_dir/build.log" >&2
  exit 2
fi
if grep -E "warning:" "$asan_dir/build.log" >&2; then
  echo "test-asan: the build has warnings" >&2
  exit 2
fi
#    The fork addon (native/fork/) the same way, in its own gyp tree.
if ! (cd "$asan_dir/native/fork" &&
  npx --no-install node-gyp configure -- -Dasan=1 &&
  CXXFLAGS="$asan_flags" LDFLAGS="-fsanitize=address" npx --no-install node-gyp build) >"$asan_dir/build-fork.log" 2>&1; then
  cat "$asan_dir/build-fork.log" >&2
  exit 2
fi
if grep -E "warning:" "$asan_dir/build-fork.log" >&2; then
  echo "test-asan: the fork addon's build has warnings" >&2
  exit 2
fi
addon="$asan_dir/build/Release/posix_process.node"
fork_addon="$asan_dir/native/fork/build/Release/posix_process_fork.node"
export POSIX_PROCESS_FORK_PREBUILD="$fork_addon"
for built in "$addon" "$fork_addon"; do
  if ! nm -D "$built" | grep __asan_ >/dev/null; then
    echo "test-asan: $built is not instrumented" >&2
    exit 2
  fi
done

# 2. The TypeScript layer as usual.
npx --no-install tsc -p .

# 3. The posix tests, the reactor's users (wait(), the stdout/stderr
#    readers, program children) and the forkserver (whose server and
#    children load the instrumented addons too), with reports from every
#    process collected.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
specs=(test/1[0-9].*.test.js test/25.wait.objects.test.js test/27.posix.fds.test.js test/29.process.pipe-reader.test.js
  test/32.process.program.test.js test/39.process.forkserver.test.js)
status=0
# Both sentinel paths: pidfd, and the pipe fallback.
for no_pidfd in 0 1; do
  echo "test-asan: POSIX_PROCESS_NO_PIDFD=$no_pidfd"
  POSIX_PROCESS_NO_PIDFD=$no_pidfd \
    POSIX_PROCESS_PREBUILD="$asan_dir" \
    LD_PRELOAD="$libasan" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$logs/asan:${ASAN_OPTIONS:-}" \
    npx --no-install mocha --no-config --timeout 120000 --slow 5000 "${specs[@]}" || status=$?
done

# 4. The fork suite (the fork addon, native/fork/), under --single-threaded
#    as always; its fixtures inherit the preload and the build override.
#    Left out: the one test that forks while threadpool threads malloc
#    (pbkdf2 and fs work in flight). GCC 12's ASan allocator, which replaces
#    malloc, has no fork handler (glibc's malloc takes its locks across
#    fork()): a child forked while a thread held one of its locks hangs in its
#    first malloc. That is the sanitizer runtime, not the code under test.
echo "test-asan: fork suite"
POSIX_PROCESS_PREBUILD="$asan_dir" \
  LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$logs/asan:${ASAN_OPTIONS:-}" \
  node --single-threaded node_modules/mocha/bin/mocha.js --no-config --timeout 300000 --slow 10000 \
  --grep 'in-flight pbkdf2/fs survive' --invert test/fork/*.test.js || status=$?

# Make sure the tests really ran on the instrumented addon.
POSIX_PROCESS_PREBUILD="$asan_dir" LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 \
  node --input-type=module -e "
    import { readFileSync } from 'node:fs';
    const { forkBinding } = await import('$root/dist/binding.js');
    if (typeof forkBinding() === 'string') { console.error('test-asan: ' + forkBinding()); process.exit(3); }
    const maps = readFileSync('/proc/self/maps', 'utf8');
    if (!maps.includes('$addon') || !maps.includes('$fork_addon')) { console.error('test-asan: the ASan builds were not loaded'); process.exit(3); }
  " || status=$?

# Errors fail the run. Warnings are shown: the spawn child runs on a stack
# of its own (clone with CLONE_VM), and ASan warns that it cannot unpoison
# that stack when the child calls a noreturn function (_exit, execve).
errors=0
for f in "$logs"/asan.*; do
  [ -e "$f" ] || continue
  if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|SUMMARY: AddressSanitizer" "$f"; then
    errors=$((errors + 1))
    echo "--- ASan error report $f" >&2
    cat "$f" >&2
  else
    echo "--- ASan warning $f: $(head -1 "$f")" >&2
  fi
done
if [ "$errors" -gt 0 ]; then
  echo "test-asan: $errors AddressSanitizer error report(s)" >&2
  status=1
fi
if [ "$status" -ne 0 ] && [ "$errors" -eq 0 ]; then
  echo "test-asan: no AddressSanitizer error, but the tests failed (status $status)" >&2
fi
if [ "$status" -eq 0 ]; then
  echo "test-asan: no AddressSanitizer error; posix tests (both sentinel paths) and the fork suite passed on the ASan builds ($addon, $fork_addon)"
fi
exit "$status"
