#!/usr/bin/env bash
# test_slurm_cmd.sh: `hipid slurm` without a cluster. The scripts it writes
# for jobs/demo.ini carry the expected #SBATCH values and are the shipped
# ones otherwise; --array 2500 --max-array-size 1000 gives three arrays
# covering shards 0-999, 1000-1999 and 2000-2499 of 2500 (run through the
# generated script with a stand-in srun, the last task sweeps shard
# 2499/2500); --submit chains the report after every array job (a stand-in
# sbatch records the calls) and fails in one line without sbatch; bad
# options and job files give one line and exit 2.
set -u
cd "$(dirname "$0")/.."
: "${HIPID:=bin/hipid}" "${TEST_TMP:=/tmp}"
hipid=$(cd "$(dirname "$HIPID")" && pwd)/$(basename "$HIPID")
dir=$(mktemp -d "$TEST_TMP/slurmcmd.XXXXXX")
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# sbatch_value FILE KEY: the value of the active "#SBATCH --KEY=VALUE" line
sbatch_value() { sed -n "s/^#SBATCH --$2=\([^ ]*\).*/\1/p" "$1"; }

# ---- one MPI job for jobs/demo.ini (20 trials, ranks_per_trial 1, threads 1) ----
out=$dir/demo
"$hipid" slurm jobs/demo.ini --out "$out" --partition short --account proj7 >"$dir/demo.txt" 2>&1 ||
    { fail "hipid slurm jobs/demo.ini exited $?: $(cat "$dir/demo.txt")"; }
s=$out/sweep.sbatch
for kv in job-name=hipid-demo ntasks=16 cpus-per-task=1 partition=short account=proj7 signal=B:USR1@600; do
    [ "$(sbatch_value "$s" "${kv%%=*}")" = "${kv#*=}" ] || fail "sweep.sbatch: expected --$kv, found '$(sbatch_value "$s" "${kv%%=*}")'"
done
grep -qx '#SBATCH --requeue' "$s" || fail "sweep.sbatch lost --requeue"
mem=$(sbatch_value "$s" mem-per-cpu)
[[ $mem =~ ^[0-9]+M$ ]] && [ "${mem%M}" -ge 192 ] && [ "${mem%M}" -le 4096 ] ||
    fail "sweep.sbatch: --mem-per-cpu '$mem' is not a plausible size for cnn-paper at 64x64 (192M..4096M)"
t=$(sbatch_value "$s" time)
[[ $t =~ ^([0-9]+):([0-9]{2}):00$ ]] && [ $((10#${BASH_REMATCH[1]} * 60 + 10#${BASH_REMATCH[2]})) -ge 15 ] ||
    fail "sweep.sbatch: --time '$t' is not HH:MM:00 of at least 15 minutes (the checkpoint warning and start-up)"
n_active=$(($(grep -c '^#SBATCH' slurm/sweep.sbatch) + 3))
[ "$(grep -c '^#SBATCH' "$s")" -eq "$n_active" ] ||
    fail "sweep.sbatch: $(grep -c '^#SBATCH' "$s") active #SBATCH lines, expected $n_active (the shipped active ones; partition, memory and account uncommented)"
# the body (after the settings block) is the shipped one, plus the lines that pin the binary
body() { sed -n '/^# ---- end of settings/,$p' "$1" | grep -vE '^(# written by hipid slurm|HIPID=|HIPID_SLURM_DIR=)'; }
diff <(body slurm/sweep.sbatch) <(body "$s") >/dev/null || fail "sweep.sbatch: the body differs from slurm/sweep.sbatch"
bash -n "$s" || fail "sweep.sbatch is not valid bash"
[ "$(sbatch_value "$out/report.sbatch" job-name)" = hipid-demo-report ] || fail "report.sbatch: job name"
[ "$(sbatch_value "$out/report.sbatch" partition)" = short ] || fail "report.sbatch: no --partition=short"
grep -qF "  sweep=\$(sbatch --parsable $out/sweep.sbatch jobs/demo.ini)" "$dir/demo.txt" ||
    fail "the sweep's sbatch command is not printed: $(cat "$dir/demo.txt")"
grep -qF "  sbatch --dependency=afterok:\$sweep $out/report.sbatch results/demo" "$dir/demo.txt" ||
    fail "the report's chained sbatch command is not printed"
grep -q '^memory per rank: .*model .* MB .*data set .*--mem-per-cpu=' "$dir/demo.txt" || fail "no memory explanation"
grep -q '^time: .* = 1.5 x ' "$dir/demo.txt" || fail "no time explanation"
grep -qF "sbatch --dependency=afterok:\$sweep $out/report.sbatch results/demo" "$out/submit.sh" || fail "submit.sh lacks the report"

# more threads per rank: less memory per CPU, same ranks
"$hipid" slurm jobs/demo.ini --out "$dir/demo4" --cpus-per-task 4 --ntasks 2 --time 1-00:00:00 >/dev/null 2>&1 || fail "--cpus-per-task 4 exited $?"
[ "$(sbatch_value "$dir/demo4/sweep.sbatch" cpus-per-task)" = 4 ] || fail "--cpus-per-task 4 not written"
[ "$(sbatch_value "$dir/demo4/sweep.sbatch" ntasks)" = 2 ] || fail "--ntasks 2 not written"
[ "$(sbatch_value "$dir/demo4/sweep.sbatch" time)" = 1-00:00:00 ] || fail "--time 1-00:00:00 not written"
[ "$(sbatch_value "$dir/demo4/sweep.sbatch" signal)" = B:USR1@600 ] || fail "--time 1-00:00:00: expected the warning 600 s before the limit"
# a short limit is warned a quarter before its end, not at once (Slurm's
# formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S)
for pair in 10:00=150 1:30=22 30=450 40:00=600 0-0:20=300 0-0:16:40=250 0:10:00=150 1-0=600; do
    t=${pair%=*} w=${pair#*=}
    d=$dir/time-${t//:/.}
    "$hipid" slurm jobs/demo.ini --out "$d" --ntasks 2 --time "$t" >/dev/null 2>&1 || fail "--time $t exited $?"
    [ "$(sbatch_value "$d/sweep.sbatch" signal)" = "B:USR1@$w" ] ||
        fail "--time $t: --signal=$(sbatch_value "$d/sweep.sbatch" signal), expected B:USR1@$w"
done
m4=$(sbatch_value "$dir/demo4/sweep.sbatch" mem-per-cpu)
[ "${m4%M}" -lt "${mem%M}" ] || fail "4 CPUs per task: --mem-per-cpu $m4 not below the 1-CPU $mem"

# ---- --array 2500 split at 1000 ----
out=$dir/arr
"$hipid" slurm jobs/demo.ini --array 2500 --max-array-size 1000 --out "$out" >"$dir/arr.txt" 2>&1 ||
    fail "--array 2500 exited $?: $(cat "$dir/arr.txt")"
i=0
for r in 0-999 1000-1999 2000-2499; do
    f=$out/array-$r.sbatch lo=${r%-*} hi=${r#*-}
    [ -e "$f" ] || { fail "no $f"; continue; }
    [ "$(sbatch_value "$f" array)" = "0-$((hi - lo))" ] || fail "$f: --array=$(sbatch_value "$f" array), expected 0-$((hi - lo))"
    grep -qx "SHARD_OFFSET=$lo" "$f" && grep -qx "N_SHARDS=2500" "$f" || fail "$f: expected SHARD_OFFSET=$lo N_SHARDS=2500"
    [ "$(sbatch_value "$f" ntasks)" = 1 ] || fail "$f: a shard of demo has 1 trial at most: --ntasks $(sbatch_value "$f" ntasks)"
    grep -qF "  a$i=\$(sbatch --parsable $f jobs/demo.ini)" "$dir/arr.txt" || fail "no sbatch command for $f"
    bash -n "$f" || fail "$f is not valid bash"
    i=$((i + 1))
done
[ "$(ls "$out" | grep -c '^array')" -eq 3 ] || fail "expected 3 array scripts, found: $(ls "$out")"
grep -qF "  sbatch --dependency=afterok:\$a0:\$a1:\$a2 $out/report.sbatch results/demo" "$dir/arr.txt" ||
    fail "the report does not wait for all three arrays: $(grep dependency "$dir/arr.txt")"
# the last task of the last array runs the global shard 2499/2500
mkdir -p "$dir/stub"
printf '#!/bin/sh\necho "srun $*"\n' >"$dir/stub/srun"
chmod +x "$dir/stub/srun"
run=$(cd "$dir" && env -u HIPID -u HIPID_SLURM_DIR PATH="$dir/stub:$PATH" HIPID_LAUNCHER=srun SLURM_SUBMIT_DIR="$dir" SLURM_JOB_ID=7 \
    SLURM_ARRAY_JOB_ID=7 SLURM_ARRAY_TASK_ID=499 SLURM_ARRAY_TASK_COUNT=500 SLURM_ARRAY_TASK_MIN=0 \
    SLURM_ARRAY_TASK_MAX=499 bash "$out/array-2000-2499.sbatch" jobs/demo.ini 2>&1)
grep -qF -- "$hipid sweep jobs/demo.ini --shard 2499/2500" <<<"$run" || fail "task 499 of array 2000-2499 did not run shard 2499/2500: $run"

# ---- --submit with a stand-in sbatch: ids, and the report after every array ----
cat >"$dir/stub/sbatch" <<EOF
#!/bin/sh
echo "\$*" >>"$dir/sbatch.log"
n=\$(wc -l <"$dir/sbatch.log")
echo "\$((100 + n));cluster"
EOF
chmod +x "$dir/stub/sbatch"
PATH="$dir/stub:$PATH" "$hipid" slurm jobs/demo.ini --array 3 --max-array-size 2 --out "$dir/sub" --submit >"$dir/sub.txt" 2>&1 ||
    fail "--submit with a stand-in sbatch exited $?: $(tail -n 3 "$dir/sub.txt")"
[ "$(wc -l <"$dir/sbatch.log")" -eq 3 ] || fail "expected 3 sbatch calls: $(cat "$dir/sbatch.log")"
grep -qx -- "--parsable --dependency=afterok:101:102 $dir/sub/report.sbatch results/demo" "$dir/sbatch.log" ||
    fail "the report was not submitted after jobs 101 and 102: $(cat "$dir/sbatch.log")"
grep -qx 'sweep jobs: 101:102' "$dir/sub.txt" && grep -qx 'report job: 103' "$dir/sub.txt" ||
    fail "job ids not printed: $(cat "$dir/sub.txt")"

# ---- errors: one line, exit 2 (usage) or 1 (no sbatch) ----
printf '[job]\nname = bad\n[data]\npath = x.h5\n[family a]\nmodel = cnn-paper\nlr = fast\n' >"$dir/bad.ini"
sed 's/^ranks_per_trial = 1 /ranks_per_trial = 2 /; s/^batch = 16/batch = 16\nmicro_batch = 8/' jobs/demo.ini >"$dir/rpt2.ini"
expect_error() {  # STATUS WORDS ARGS...: exits STATUS with one line on stderr holding WORDS
    local want=$1 words=$2 rc
    shift 2
    "$hipid" slurm "$@" >"$dir/err.out" 2>"$dir/err.txt"
    rc=$?
    [ "$rc" -eq "$want" ] || fail "hipid slurm $*: exit $rc, expected $want ($(cat "$dir/err.txt"))"
    [ "$(wc -l <"$dir/err.txt")" -eq 1 ] || fail "hipid slurm $*: expected one line, found: $(cat "$dir/err.txt")"
    grep -qi -- "$words" "$dir/err.txt" || fail "hipid slurm $*: '$words' not in: $(cat "$dir/err.txt")"
}
expect_error 2 "unknown option '--bogus'" jobs/demo.ini --bogus
expect_error 2 "--ntasks expects a positive integer, found '0'" jobs/demo.ini --ntasks 0
expect_error 2 "--time expects" jobs/demo.ini --time 1h
expect_error 2 "--time expects" jobs/demo.ini --time 1:2:3:4
expect_error 2 "--time expects" jobs/demo.ini --time 1-2-3
expect_error 2 "--time expects" jobs/demo.ini --time 1-2:3:4:5
expect_error 2 "--array expects" jobs/demo.ini --array two
expect_error 2 "--max-array-size expects" jobs/demo.ini --array 4 --max-array-size -1
expect_error 2 "needs a value" jobs/demo.ini --partition
expect_error 2 "exactly one job file"
expect_error 2 "exactly one job file" jobs/demo.ini jobs/paper.ini
expect_error 2 "no-such.ini" "$dir/no-such.ini"
expect_error 2 "bad.ini:7: lr" "$dir/bad.ini"
if "$hipid" slurm "$dir/rpt2.ini" --out "$dir/rpt2" >/dev/null 2>&1; then
    expect_error 2 "not a multiple of the job's largest ranks_per_trial (2)" "$dir/rpt2.ini" --ntasks 3 --out "$dir/rpt2"
    [ "$(sbatch_value "$dir/rpt2/sweep.sbatch" ntasks)" = 16 ] || fail "ranks_per_trial 2: default --ntasks $(sbatch_value "$dir/rpt2/sweep.sbatch" ntasks), expected 16 (8 trials at once x 2)"
else
    fail "a demo job with ranks_per_trial 2 failed: $("$hipid" slurm "$dir/rpt2.ini" --out "$dir/rpt2" 2>&1 | tail -n 1)"
fi
mkdir -p "$dir/empty"
PATH=$dir/empty "$hipid" slurm jobs/demo.ini --out "$dir/nosb" --submit >/dev/null 2>"$dir/err.txt"
rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$dir/err.txt")" -eq 1 ] && grep -q 'sbatch not found' "$dir/err.txt" ||
    fail "--submit without sbatch: exit $rc, expected 1 and one line 'sbatch not found': $(cat "$dir/err.txt")"

rm -rf "$dir"
[ "$fails" -eq 0 ] && echo "summary hipid slurm: scripts, split arrays, --submit chain and errors ok"
[ "$fails" -eq 0 ]
