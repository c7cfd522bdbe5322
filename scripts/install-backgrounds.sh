#!/usr/bin/env bash
# Installs photographs to composite training foregrounds onto: Debian's `mate-backgrounds`
# (photographs by MATE contributors, licence GPL-2+; see /usr/share/doc/mate-backgrounds/copyright).
# Its nature/ folder (12 photographs) is what `matting-engine build-data` reads by default. Nothing
# is copied into the repository: build-data writes its output folder wherever you point it.
set -euo pipefail
if [ -d /usr/share/backgrounds/mate/nature ]; then
  echo "install-backgrounds: /usr/share/backgrounds/mate/nature is already there; nothing to do."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-backgrounds: not a Debian/Ubuntu machine; pass your own photographs with 'build-data --photos DIR'." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then exec sudo -E bash "$0" "$@"; fi
  echo "install-backgrounds: installing mate-backgrounds needs root; run: sudo bash $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -q -o=Dpkg::Use-Pty=0 install -y --no-install-recommends mate-backgrounds >/dev/null
echo "install-backgrounds: installed mate-backgrounds (GPL-2+) into /usr/share/backgrounds/mate/"
