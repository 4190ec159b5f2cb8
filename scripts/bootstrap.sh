#!/usr/bin/env bash
# Bootstraps a Kestrel environment on Debian 12: the Debian packages, then a virtualenv.
#   scripts/bootstrap.sh VENV EXTRAS     e.g.  scripts/bootstrap.sh .venv dev,train
# EXTRAS may be empty for the runtime only (no torch). Idempotent: a second run is quick.
set -euo pipefail
venv=${1:?usage: bootstrap.sh VENV [EXTRAS]}
extras=${2:-}
python=${PYTHON:-python3.11}
here=$(cd "$(dirname "$0")/.." && pwd)

# Debian packages: GStreamer 1.22 with its Python bindings and RTSP server (REFERENCE §6),
# the headers PyGObject builds against inside a venv.
debs=(
  python3-venv python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-x gstreamer1.0-rtsp
  libgirepository1.0-dev libcairo2-dev pkg-config
)
# The MQTT broker the service's tests publish to (started by the tests on 127.0.0.1, never as a system service);
# libpython3.11 for the Python-backend stub of the Triton server the Triton tests start.
if [[ ",$extras," == *",dev,"* ]]; then
  debs+=(mosquitto mosquitto-clients libpython3.11)
fi
# The GUI's real X11 window (Qt's xcb platform) and the virtual screen its test runs on.
if [[ ",$extras," == *",gui,"* ]]; then
  debs+=(
    xvfb xauth libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
    libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
    libxcb-xfixes0 libxcb-xinerama0 libxcb-xinput0 libxcb-xkb1
  )
fi
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: need root for apt-get; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "bootstrap: creating $venv with $python"
  "$python" -m venv "$venv"
fi
stamp="$venv/.kestrel-installed-${extras:-runtime}"
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  spec="$here"
  [ -n "$extras" ] && spec="$here[$extras]"
  echo "bootstrap: installing kestrel-vision${extras:+[$extras]} into $venv (torch takes a minute or two)"
  "$venv/bin/python" -m pip install -q -e "$spec"
  # Debian's gst-python overrides (Gst.Fraction, buffer mapping helpers) into the venv's gi package.
  gi_dir=$("$venv/bin/python" -c "import gi, os; print(os.path.dirname(gi.__file__))")
  cp -f /usr/lib/python3/dist-packages/gi/overrides/Gst*.py /usr/lib/python3/dist-packages/gi/overrides/_gi_gst*.so \
    "$gi_dir/overrides/" 2>/dev/null || echo "bootstrap: Debian's Gst overrides not found (python3-gst-1.0)"
  touch "$stamp"
fi
