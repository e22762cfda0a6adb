#!/usr/bin/env bash
# Capture what real Nutshell 0.20.3 mints announce (GET /v1/keysets, /v1/keys, /v1/keys/{id}) for
# the settings the credit mint must reproduce: test/vectors/nutshell/README.md says what each
# folder holds. Run from the repository root with NUTSHELL=<the folder holding setup.sh and
# start.sh> (CI: ../shared/nutshell); it writes only under test/vectors/nutshell/.
set -euo pipefail
: "${NUTSHELL:?set NUTSHELL to the folder holding setup.sh and start.sh}"
OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d)
trap 'for p in "$WORK"/*.pid; do [[ -f $p ]] && kill "$(cat "$p")" 2>/dev/null || true; done; sleep 2; rm -rf "$WORK"' EXIT
export VENV=$WORK/venv
"$NUTSHELL/setup.sh" >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
get() { python3 -c 'import json,sys,urllib.request; print(json.dumps(json.loads(urllib.request.urlopen(sys.argv[1]).read()), indent=2, sort_keys=True))' "$1"; }
start() { # NAME [ENV=VALUE …]: a mint with its management RPC open (no TLS) on 127.0.0.1
  local name=$1; shift
  local port rpc; port=$(free_port); rpc=$(free_port)
  echo "$port" >"$WORK/$name.port"; echo "$rpc" >"$WORK/$name.rpc"
  env DATA_DIR="$WORK/$name" MINT_RPC_SERVER_ENABLE=TRUE MINT_RPC_SERVER_MUTUAL_TLS=FALSE MINT_RPC_SERVER_ADDR=127.0.0.1 \
    MINT_RPC_SERVER_PORT="$rpc" "$@" "$NUTSHELL/start.sh" "$port" TEST_PRIVATE_KEY >"$WORK/$name.pid"
}
stop() { local pid; pid=$(cat "$WORK/$1.pid"); kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done; rm "$WORK/$1.pid"; }
rotate() { (cd "$WORK/$1" && "$VENV/bin/mint-cli" --insecure -h 127.0.0.1 -p "$(cat "$WORK/$1.rpc")" next-keyset "${@:2}" >&2); }
save() { # NAME DIR: its keysets and the keys of each
  local url=http://127.0.0.1:$(cat "$WORK/$1.port") dir=$OUT/$2
  mkdir -p "$dir"
  get "$url/v1/keysets" >"$dir/keysets.json"
  get "$url/v1/keys" >"$dir/keys.json"
  for id in $(python3 -c 'import json,sys; [print(k["id"]) for k in json.load(open(sys.argv[1]))["keysets"]]' "$dir/keysets.json"); do
    get "$url/v1/keys/$id" >"$dir/keys-${id:0:16}.json"
  done
}
start once
rotate once sat 100                    # a rotation from the default: index 1, fee 100, final_expiry 0
save once default-rotated-once
stop once
start default
save default default
stop default
start default DERIVATION_PATH="m/0'/0'/1'"   # the same database restarted with the next index
save default default-restarted-index-1
rotate default sat                     # index 2: no fee, and (no expiry given) final_expiry 0
rotate default sat 100 64 2059210353   # index 3: fee 100, final expiry 2035-04-03
save default default-rotated
stop default
start fee0 INPUT_FEE_PPK=0
save fee0 fee0
stop fee0
start v1 KEYSET_ID_VERSION=v1
save v1 upgraded-0.19
rotate v1 sat 100
save v1 upgraded-0.19-rotated
stop v1
"$VENV/bin/mint" --version >"$OUT/VERSION"
