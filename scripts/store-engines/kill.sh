#!/bin/bash
# usage: kill.sh <engine> <name> ; SIGKILL the load after 5 s, then reopen+verify
cd "$(dirname "$0")"
B=target/release/store-engines; E=$1; D=data-$2; L=logs/$2.log
rm -rf $D $D.acks
{
echo "=== load $E 1000000 (SIGKILL after 5 s)"
$B load $E $D 1000000 &
pid=$!
sleep 5
kill -9 $pid
wait $pid; echo "load exit status $?"
echo "acks in file: $(wc -l < $D.acks)"
echo "SIZE at kill du_sb=$(du -sb $D | cut -f1)"
echo "=== verify after SIGKILL"
/usr/bin/time -v $B verify $E $D 2> >(grep -E "Maximum resident|Elapsed \(wall|Exit status" >&2)
echo "=== verify again (second open)"
$B verify $E $D | grep -E "reopen|ack_check"
} > $L 2>&1
cat $L
