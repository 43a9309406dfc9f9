#!/bin/sh
# The weight EMA at the command line (docs/TRAIN.md, "Weight EMA"), on a small
# synthetic set (cfg/synth.cfg's layers, batch 8, 2 short epochs, onecycle):
#  1. the epoch table says that validation scores the EMA;
#  2. _final.weights (the EMA) and _final_raw.weights (the trained weights)
#     are both written, and differ;
#  3. `detector valid -loss` of _final.weights gives the table's last
#     val_loss (and the raw weights do not).
set -u
BIN=${BIN:-./detector}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dt_cli_ema.XXXXXX") || exit 2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" synth "$T/s" -n 24 -size 112 -seed 5 >/dev/null 2>&1 || fail "synth"
sed -e "s|^data=.*|data=$T/s/synth.data|" -e "s|^batch=.*|batch=8|" -e '/^\[stage\]/,$d' \
    -e 's|^\[net\]$|[net]\nema=0.9|' "$ROOT/cfg/synth.cfg" >"$T/m.cfg"
grep -q '^ema=0.9$' "$T/m.cfg" || fail "cfg edit"
printf '[stage]\nepochs=2\nlr=1e-3\nschedule=onecycle\n' >>"$T/m.cfg"
"$BIN" train "$T/m.cfg" -clear -quiet -threads 2 >"$T/train.log" 2>&1 || fail "train: $(tail -5 "$T/train.log")"
grep -q "^# val_loss and metrics: the weights' EMA (ema=0.9)" "$T/train.log" || fail "no EMA line in the table: $(cat "$T/train.log")"
B=$T/s/backup
[ -s "$B/m_final.weights" ] && [ -s "$B/m_final_raw.weights" ] || fail "final weights missing: $(ls "$B")"
cmp -s "$B/m_final.weights" "$B/m_final_raw.weights" && fail "the EMA equals the raw weights"
# the last table row's val_loss (column 3), to valid's 4 decimals
want=$(awk '$1 ~ /^[0-9]+$/ && NF >= 3 { v = $3 } END { printf "%.4f", v }' "$T/train.log")
loss_of() {
    "$BIN" valid "$T/m.cfg" "$1" -loss -threads 2 2>&1 |
        sed -n 's/.*(\([0-9.]*\) per batch of 8, train.s val_loss).*/\1/p'
}
ema=$(loss_of "$B/m_final.weights")
raw=$(loss_of "$B/m_final_raw.weights")
echo "table val_loss $want; valid: EMA weights $ema, raw weights $raw"
[ -n "$ema" ] && [ -n "$raw" ] || fail "no loss from valid"
[ "$ema" = "$want" ] || fail "valid of the EMA weights gives $ema, the table $want"
[ "$raw" != "$want" ] || fail "the raw weights give the table's val_loss too ($raw): the check cannot tell"
echo "PASS cli_ema"
