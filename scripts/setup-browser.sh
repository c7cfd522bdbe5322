#!/usr/bin/env bash
# Installs Debian's chromium for the web app's end-to-end test (test/browser/), which drives it with
# playwright-core (no browser download: the network may be closed). Debian as root only, like
# setup-gpu's Mesa install; elsewhere it says what the test needs and succeeds (the test then skips
# with that reason). Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "setup-browser: /usr/bin/chromium is installed; the browser tests can run."
  exit 0
fi
if [ ! -r /etc/os-release ] || ! grep -qE '^ID=debian' /etc/os-release || [ "$(id -u)" != 0 ]; then
  echo "setup-browser: not Debian as root, so chromium was not installed; the browser tests (test/browser/) skip" \
    "unless MATTING_CHROMIUM names a Chromium with WebGPU (apt-get install chromium on Debian)."
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -q -o=Dpkg::Use-Pty=0 update >/dev/null
apt-get -q -o=Dpkg::Use-Pty=0 install -y --no-install-recommends chromium 2>&1 | grep -vE '^(Get|Hit|Ign|Reading|Building|Selecting|Preparing|Unpacking|Setting up|Processing)' || true
[ -x /usr/bin/chromium ] && echo "setup-browser: installed chromium for the browser tests."
