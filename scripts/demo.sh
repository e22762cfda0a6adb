#!/bin/sh
# The whole life of a credit contract, offline on regtest with the fixture keys, as a
# shell pipeline of real `offchain` invocations between a user and a mint, each with
# its own state directory (temporary, removed at the end):
#
#   offer → address → open (refund first) → 3 payments → credit list → rollover (two rounds)
#   → 2 payments on the new contract → a lost payment abandoned → cooperative close → credit list
#   → the mint's exit-credit and the user's refund-credit (the unilateral ways out)
#
# Each message is printed (pretty JSON) on stdout, under a one-line header on stderr.
# The chain is offline: --tip-height, and --confirmations for the mint.
# OFFCHAIN_TEST_SEED defaults to "demo" so the output is reproducible (docs/credit.md
# quotes it); run `OFFCHAIN_TEST_SEED= npm run demo` for real randomness. Test keys and
# a test seed: never use either with real funds.
#
# Usage: npm run demo   (or: sh scripts/demo.sh). Exits non-zero if any step fails.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin/run.js"
if [ ! -f "$root/dist/offchain.cjs" ]; then
  echo "demo: $root/dist is not built: run npm run build (npm ci does it)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/offchain-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

export OFFCHAIN_TEST_SEED="${OFFCHAIN_TEST_SEED-demo}"
MINT_KEY=$(cat "$root/fixtures/keys/mint.key")
USER_KEY=$(cat "$root/fixtures/keys/user.key")
export MINT_KEY USER_KEY

PAYOUT=bcrt1plr5908qjdayaa5ehcxwy7hcur9glqafpvtt2v8c2nc24s4v5899s50wnte   # the mint key's own P2TR address
REFUND=bcrt1py6453jm8063t35dhf6yddhqnf65hel4aryj9sz673xkkqpy73u9sfeux7j   # the user key's own P2TR address
FUNDING="$root/fixtures/credit/funding.psbt"                               # the user's wallet's unsigned funding PSBT

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$(printf '\033[1m'); plain=$(printf '\033[0m'); else bold=; plain=; fi

# Messages go to fd 3 (the demo's stdout) as they pass; stdout inside a pipeline is the pipe.
exec 3>&1

# offchain ARGS…: one invocation. Its stderr is shown afterwards without the test-seed
# warning (said once above); a failure anywhere in a pipeline is recorded, since sh only
# reports the status of a pipeline's last command.
offchain() {
  err=$(mktemp "$work/stderr.XXXXXX")
  status=0
  node "$bin" "$@" 2>"$err" || status=$?
  grep -v 'OFFCHAIN_TEST_SEED is set' "$err" >&2 || true
  rm -f "$err"
  if [ "$status" -ne 0 ]; then
    echo "demo: FAILED (exit $status): offchain $*" >&2
    : >"$work/failed"
  fi
  return "$status"
}
mint() { offchain "$@" --key-env MINT_KEY --state-dir "$work/mint"; }
user() { offchain "$@" --key-env USER_KEY --state-dir "$work/user"; }

# show TITLE: print the message passing through under a header, and pass it on.
show() {
  msg=$(cat)
  [ -n "$msg" ] || return 0
  printf '\n%s== %s%s\n' "$bold" "$1" "$plain" >&2
  printf '%s\n' "$msg" >&3
  printf '%s\n' "$msg"
}

# check: stop at the first failed step (its error is already on stderr).
check() {
  if [ -e "$work/failed" ]; then exit 1; fi
}

# field NAME FILE: a top-level string field of a saved message.
field() {
  sed -n "s/^  \"$1\": \"\\([^\"]*\\)\".*/\\1/p" "$2"
}

step() {
  printf '\n%s### %s%s\n' "$bold" "$1" "$plain" >&2
}

printf '%s\n' "offchain credit demo: regtest, offline, fixture keys, OFFCHAIN_TEST_SEED=${OFFCHAIN_TEST_SEED:-(unset: random)}. Never use these keys or the seed with real funds." >&2

step '1. The mint publishes its offer (standing terms); the user derives the contract address'
mint open-credit --role mint --publish --payout-address "$PAYOUT" | show 'mint → user: credit/offer' >"$work/offer.json"
check
user open-credit --role user <"$work/offer.json" | show 'user: credit/address (the wallet funds it; nothing signed yet)' >/dev/null
check

step '2. Open at tip 1000, expiry +4320: the refund is signed by both and verified before the funding is signed'
user open-credit --role user --offer "$work/offer.json" --tip-height 1000 --expiry +4320 --refund-address "$REFUND" --in "$FUNDING" \
  | show 'user → mint: credit/open-request' \
  | mint open-credit --role mint --tip-height 1000 \
  | show 'mint → user: credit/open-accept' \
  | user open-credit --role user \
  | show 'user: credit/opened (now sign and broadcast the funding PSBT)' >"$work/opened.json"
check
first=$(field contract_id "$work/opened.json")

step '3. Payments (tip 1001, funding confirmed once): the user signs each state, the mint stores it fully signed'
for amount in 10000 25000 40000; do
  user sign-update --role user --amount "$amount" \
    | show "user → mint: credit/update-request (+$amount sat)" \
    | mint sign-update --role mint --tip-height 1001 --confirmations 1 \
    | show 'mint → user: credit/receipt (signed by the mint; no signature on the state)' \
    | user sign-update --role user \
    | show 'user: credit/balance' >/dev/null
  check
done

step '4. The runbook view: the mint lists its contracts, soonest expiry first'
mint credit list --tip-height 1002 | show 'mint: credit/contracts' >/dev/null
check

step '5. Rollover at tip 1002 into a new contract expiring at +4320, in two rounds: the new refund first, then one tx pays the mint and funds it'
user rollover --role user --expiry +4320 --tip-height 1002 \
  | show 'user → mint: credit/rollover-request (the rollover unsigned; the new refund with the user'"'"'s nonce)' \
  | mint rollover --role mint --tip-height 1002 \
  | show 'mint → user: credit/rollover-refund (only the new refund co-signed)' \
  | user rollover --role user \
  | show 'user → mint: credit/rollover-sign (new refund verified; only now the rollover is signed)' \
  | mint rollover --role mint --tip-height 1002 \
  | show 'mint → user: credit/rollover-accept (the old contract is frozen)' \
  | user rollover --role user \
  | show 'user: credit/rolled-over (broadcast the rollover)' >"$work/rolled.json"
check
second=$(field new_contract_id "$work/rolled.json")

step '6. Payments on the new contract (tip 1003, the rollover confirmed once)'
for amount in 20000 30000; do
  user sign-update --role user --amount "$amount" \
    | show "user → mint: credit/update-request (+$amount sat)" \
    | mint sign-update --role mint --tip-height 1003 --confirmations 1 \
    | show 'mint → user: credit/receipt' \
    | user sign-update --role user \
    | show 'user: credit/balance' >/dev/null
  check
done

step '6b. A payment that never reaches the mint (a lost message, or a refusal): the user abandons it through the mint, which burns that nonce and issues a fresh one'
user sign-update --role user --amount 5000 | show 'user → (lost): credit/update-request (+5000 sat)' >/dev/null
check
user credit abandon --role user --start \
  | show 'user → mint: credit/abandon (signed by the user; the request is never resent)' \
  | mint credit abandon --role mint \
  | show 'mint → user: credit/abandoned (nothing was signed at that state; a fresh nonce)' \
  | user credit abandon --role user \
  | show 'user: credit/balance (back at its last confirmed state)' >/dev/null
check

step '7. Cooperative close of the new contract'
user close-credit --role user --start \
  | show 'user → mint: credit/close-request' \
  | mint close-credit --role mint \
  | show 'mint → user: credit/closed' \
  | user close-credit --role user \
  | show 'user: credit/closed (verified: broadcast its hex)' >/dev/null
check

step '8. Until the rollover and the close confirm, the mint keeps both latest states: at tip 5177 one is inside its safety margin'
mint credit list --tip-height 5177 | show 'mint: credit/contracts (must_exit: run exit-credit now)' >/dev/null
check

step '9. Had the rollover not confirmed: the mint exits the first contract with its latest state and a CPFP child'
mint exit-credit --contract "$first" --fee-rate 5 | show 'mint: credit/exit (bitcoin-cli submitpackage state_tx.hex child.hex)' >/dev/null
check

step '10. Had nothing confirmed by its expiry: the user takes the refund of the new contract (tip 5322 = expiry)'
user refund-credit --contract "$second" --tip-height 5322 | show 'user: credit/refund (bitcoin-cli sendrawtransaction hex)' >/dev/null
check

printf '\n%s\n' "demo: done (state directories in $work removed)" >&2
