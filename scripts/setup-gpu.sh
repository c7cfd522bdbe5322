#!/usr/bin/env bash
# Installs Mesa's software WebGPU route on a machine with no usable adapter.
# Idempotent: does nothing when an adapter already works. Names no mirror host: the backports
# suite is added by copying the machine's own Debian apt source with the suite changed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
probe() { node "$here/cli/bin.js" info --probe "$@" >/dev/null 2>&1; }

# On Linux the Vulkan route (a GPU's driver, or lavapipe) is wanted: the OpenGL ES route alone runs
# at the compatibility feature level and trains several times slower, so a machine where only GL
# works still gets lavapipe when this script can install it.
gl_only=0
if probe; then
  if [ "$(uname -s)" != Linux ] || probe --backend vulkan; then
    echo "setup-gpu: a WebGPU adapter already works; nothing to do."
    exit 0
  fi
  gl_only=1
fi
soft_exit() { if [ "$gl_only" = 1 ]; then echo "setup-gpu: only the OpenGL ES route works here (slower); $1" >&2; exit 0; fi; }

if [ ! -r /etc/os-release ] || ! grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; then
  soft_exit "install Mesa's Vulkan driver (lavapipe, Mesa >= 24) and libvulkan1 for the faster route."
  cat <<'MSG'
setup-gpu: no WebGPU adapter found, and this is not Debian/Ubuntu, so nothing was installed.
  Linux: install Mesa's Vulkan driver (lavapipe, Mesa >= 24) and the Vulkan loader from your
         distribution, e.g. 'mesa-vulkan-drivers' and 'libvulkan1', or a real GPU's Vulkan driver.
  macOS: Metal works out of the box. Windows: D3D12 works out of the box with any GPU driver.
Then run: npx matting-engine info
MSG
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then exec sudo -E bash "$0" "$@"; fi
  soft_exit "run 'sudo npm run setup-gpu' to install lavapipe (Vulkan) for the faster route."
  echo "setup-gpu: installing Mesa's software driver needs root; run: sudo npm run setup-gpu" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
codename=${VERSION_CODENAME:-}
apt_quiet() { apt-get -q -o=Dpkg::Use-Pty=0 "$@" 2>&1 | grep -vE '^(Get|Hit|Ign|Reading|Building|Selecting|Preparing|Unpacking|Setting up|Processing)' || true; }

# 1. Lavapipe (Vulkan, core feature level). Dawn needs Mesa >= ~24; Debian 12's own 22.3 is rejected,
#    so take it from backports there.
install_vulkan() {
  local target=()
  if [ "${ID:-}" = debian ] && [ "$codename" = bookworm ]; then
    local src=/etc/apt/sources.list.d/matting-engine-backports.sources
    if [ ! -f "$src" ]; then
      if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        # Copy the stanza that carries the main suite, with the suite renamed.
        awk -v RS= -v ORS='\n\n' '/Suites:[^\n]*bookworm( |$|\n)/ && !/security/ { sub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print; exit }' \
          /etc/apt/sources.list.d/debian.sources > "$src"
      elif [ -f /etc/apt/sources.list ]; then
        grep -E '^deb .* bookworm main' /etc/apt/sources.list | head -1 | sed 's/ bookworm main/ bookworm-backports main/' > "${src%.sources}.list"
        rm -f "$src"; src="${src%.sources}.list"
      fi
    fi
    target=(-t bookworm-backports)
  fi
  apt_quiet update
  apt_quiet install -y --no-install-recommends "${target[@]}" mesa-vulkan-drivers libvulkan1
}

# 2. llvmpipe through OpenGL ES (compatibility feature level), the fallback.
install_gl() {
  # Dawn dlopens the unversioned libEGL.so, which only the -dev package provides.
  apt_quiet install -y --no-install-recommends libegl1 libegl-dev libegl-mesa0 libgles2 libgl1-mesa-dri
}

if [ "$gl_only" = 1 ]; then why="only the OpenGL ES route works"; else why="no WebGPU adapter"; fi
echo "setup-gpu: $why; installing Mesa's software Vulkan driver (lavapipe)..."
install_vulkan || echo "setup-gpu: the Vulkan route failed to install; trying OpenGL ES."
if probe --backend vulkan; then echo "setup-gpu: done (lavapipe)."; node "$here/cli/bin.js" info --brief || true; exit 0; fi
install_gl || true
if probe; then echo "setup-gpu: done (llvmpipe GL, compatibility mode)."; node "$here/cli/bin.js" info --brief || true; exit 0; fi
echo "setup-gpu: installed Mesa's drivers but still no adapter; run 'npx matting-engine info --verbose' for Dawn's messages." >&2
exit 1
