#!/usr/bin/env bash
# Vendor the dashboard's charting library (uPlot) from the npm registry at a pinned version.
#
# The dashboard has no build step and loads nothing from a CDN: the library's files are committed
# under static/vendor/. Run this script to reproduce them (or, after changing UPLOT_VERSION and
# UPLOT_INTEGRITY, to upgrade). Needs npm and tar.
set -euo pipefail
cd "$(dirname "$0")/.."

UPLOT_VERSION="1.6.32"
# `npm view uplot@<version> dist.integrity`
UPLOT_INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
VENDOR_DIR="services/metrics/src/collabcache_metrics/static/vendor"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "uplot@${UPLOT_VERSION}" >/dev/null)
tarball="$work/uplot-${UPLOT_VERSION}.tgz"

actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$UPLOT_INTEGRITY" ]]; then
  echo "uplot@${UPLOT_VERSION}: integrity mismatch ($actual)" >&2
  exit 1
fi

tar -xzf "$tarball" -C "$work"
mkdir -p "$VENDOR_DIR"
cp "$work/package/dist/uPlot.iife.min.js" "$VENDOR_DIR/uPlot.iife.min.js"
cp "$work/package/dist/uPlot.min.css" "$VENDOR_DIR/uPlot.min.css"
cp "$work/package/LICENSE" "$VENDOR_DIR/uPlot.LICENSE"
echo "uplot@${UPLOT_VERSION}" >"$VENDOR_DIR/VERSION"
echo "vendored uplot@${UPLOT_VERSION} into ${VENDOR_DIR}"
