#!/bin/sh
# Ctrl-C in the middle of `npm run drill` leaves nothing running. Starts the drill in a session of its
# own, interrupts it during the fill, then lists every process still in that session (there must be
# none) and any redis-server or course bundle left on the machine that came from it.
#
#   sh kit/drill/interrupt-check.sh group    SIGINT to the whole process group, as a terminal's Ctrl-C
#   sh kit/drill/interrupt-check.sh drill    SIGINT to the drill's node process alone
#   sh kit/drill/interrupt-check.sh term     SIGTERM to the drill's node process alone
set -u
mode=${1:-group}
cd "$(dirname "$0")/../.." || exit 2
log=$(mktemp)
setsid npm run drill -- --carts 5000 --json "$(mktemp -d)/bf.json" >"$log" 2>&1 &
leader=$!
sleep 1
sid=$(ps -o sid= -p "$leader" | tr -d ' ')
# Mid-run: once the fill has begun (the fleet is up, requests are flowing).
i=0
until grep -q 'sticky    start' "$log" || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1
echo "processes in session $sid before the signal:"
ps -s "$sid" -o pid=,ppid=,args= | cut -c1-120
# The node process that runs drill.ts under tsx's loader (not npm, sh, or the tsx wrapper).
drill=$(ps -s "$sid" -o pid=,args= | awk '/preflight\.cjs.*kit\/drill\/drill\.ts/ {print $1; exit}')
case $mode in
  group) /bin/kill -s INT -- "-$sid" ;;
  drill) /bin/kill -s INT "$drill" ;;
  term) /bin/kill -s TERM "$drill" ;;
esac
echo "sent $mode signal (drill pid $drill)"
wait "$leader"
echo "npm exited with $?"
sleep 1
# A zombie (<defunct>) has exited already: only its parent, or init, has still to reap it.
left=$(ps -s "$sid" -o pid=,args= | grep -v "<defunct>")
tail -3 "$log"
if [ -n "$left" ]; then
  echo "LEFT RUNNING in session $sid:"
  echo "$left"
  exit 1
fi
echo "nothing left running in session $sid"
rm -f "$log"
