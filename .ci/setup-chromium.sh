#!/usr/bin/env bash
# Debian's Chromium, for the test that renders a certification bundle's HTML summary in a real
# headless browser. Idempotent: does nothing when /usr/bin/chromium is there. apt keeps the
# downloaded packages in its own cache (/var/cache/apt), outside the repository.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "setup-chromium: $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-chromium: need root to install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium
echo "setup-chromium: $(chromium --version 2>/dev/null | head -1)"
