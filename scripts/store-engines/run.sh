#!/bin/bash
# usage: run.sh <engine> <name> <records> [comp]
set -u
cd "$(dirname "$0")"
B=target/release/store-engines
E=$1; N=$2; R=$3; C=${4:-default}
D=data-$N
L=logs/$N.log
mkdir -p logs
rm -rf $D $D.acks
tv() { /usr/bin/time -v "$@" 2> >(grep -E "Maximum resident|Elapsed \(wall|Exit status" >&2); }
sizes() { echo "SIZE[$1] du_sb=$(du -sb $D | cut -f1) du_alloc=$(du -sB1 $D | cut -f1)"; for s in $D/*; do echo "   $(du -sb $s | cut -f1) $(basename $s)"; done; }
{
echo "=== load $E $R $C"; tv $B load $E $D $R $C
sizes after_load_close
echo "=== verify (warm page cache)"; tv $B verify $E $D
python3 evict.py $D
echo "=== verify (after evicting this dir from page cache)"; tv $B verify $E $D
sizes after_verify
echo "=== sit 30s"; tv $B sit $E $D 30
sizes after_sit30_close
if [ $E = fjall ]; then
  echo "=== flush memtables"; tv $B flushmem $E $D; sizes after_memtable_flush
  echo "=== major compaction"; tv $B compact $E $D; sizes after_major_compact
  python3 evict.py $D
  echo "=== verify after compaction (evicted)"; tv $B verify $E $D
  sizes final
fi
} > $L 2>&1
cat $L
