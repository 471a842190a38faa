#!/usr/bin/env bash
# CI's image job: the gateway's Dockerfile built unchanged with buildah and the image run for real (see
# scripts/image/runImage.ts for what is checked). Needs root; installs buildah and debootstrap when missing.
# Base images cannot be pulled here, so scripts/image/standinBase.sh makes node:20-bookworm-slim locally first.
# Storage (vfs, under /var/cache/dbapi-image) keeps the stand-in base between runs; the gateway image is rebuilt
# each run and removed after it. Usage: bash scripts/image/test.sh  (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS

if ! command -v buildah >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap) >/dev/null
fi

CACHE_DIR="${DBAPI_IMAGE_CACHE:-/var/cache/dbapi-image}"
RUN_ROOT="/run/dbapi-image-$(printf %s "$CACHE_DIR" | sha256sum | cut -c1-8)" # one per storage root
mkdir -p "$CACHE_DIR/storage" "$RUN_ROOT"
# Our own storage root: vfs (no overlay mounts needed inside this sandbox), apart from any other buildah user.
cat >"$CACHE_DIR/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$CACHE_DIR/storage"
runroot = "$RUN_ROOT"
CONF
export CONTAINERS_STORAGE_CONF="$CACHE_DIR/storage.conf" STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot

IMAGE="localhost/dbapi:image-test"
bash scripts/image/standinBase.sh

echo "== buildah bud (the Dockerfile as shipped)"
build_started=$SECONDS
buildah bud --quiet --format docker --pull=never --isolation chroot --network host -t "$IMAGE" -f Dockerfile . >/dev/null
echo "built $IMAGE in $((SECONDS - build_started)) s"

cleanup() {
  buildah rm --all >/dev/null 2>&1 || true
  buildah rmi "$IMAGE" >/dev/null 2>&1 || true
  buildah rmi --prune >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== the image run against PostgreSQL on loopback"
node_modules/.bin/tsx scripts/image/runImage.ts "$IMAGE"
echo "image job: $((SECONDS - started)) s in all"
