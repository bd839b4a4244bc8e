#!/usr/bin/env bash
# cluster.sh: a throwaway single-node Slurm cluster on this machine, for
# testing the scripts in slurm/.
#
#   tests/slurm/cluster.sh start DIR   write a config under DIR, start munged,
#                                      slurmctld and slurmd, wait for the node
#                                      to be idle
#   tests/slurm/cluster.sh stop DIR    cancel jobs, stop those daemons by pid
#
# Everything (config, MUNGE key and socket, state, spool, logs, pid files)
# lives under DIR; nothing is written to /etc, /var or /run. After `start`,
# `source DIR/env` points sinfo/sbatch/squeue at this cluster (SLURM_CONF).
# Needs root (SlurmUser=root) and the packages of
# scripts/install-slurm-deps.sh; installs nothing itself. If a daemon does
# not come up, prints why (the tail of its log) and exits 1.
#
# Environment: SLURM_TEST_PORT (default 6817): slurmctld listens there and
# slurmd on the next port; change it to run two clusters at once.
# Does not do: more than one node, accounting, cgroups, real users.
set -u

die() { echo "cluster.sh: $*" >&2; exit 1; }

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

# show_log NAME FILE...: the last lines of each existing file, indented
show_log() {
    local name=$1 f; shift
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "---- $name: last lines of $f" >&2
        tail -n 25 "$f" | sed 's/^/    /' >&2
    done
}

# alive PID: true while the process exists and is not a zombie
alive() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_gone PID SECONDS: wait until PID has exited (gone or zombie)
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while alive "$pid"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# start_daemon NAME LOG CMD...: start CMD in the foreground mode of the
# daemon, detached (own session), and record its pid in DIR/pids.
# HIPID_SLURM_CLUSTER marks it and its children (slurmstepd) as ours.
start_daemon() {
    local name=$1 log=$2; shift 2
    HIPID_SLURM_CLUSTER="$dir" setsid "$@" >>"$log" 2>&1 </dev/null &
    local pid=$!
    echo "$name $pid" >>"$dir/pids"
    sleep 0.5
    if ! alive "$pid"; then
        echo "cluster.sh: $name exited right after start; its command: $*" >&2
        show_log "$name" "$log"
        return 1
    fi
}

cmd_start() {
    local t0=$SECONDS host conf cpuline mungesock port
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v munged >/dev/null && command -v sinfo >/dev/null ||
        die "slurmctld, slurmd, munged or sinfo not found: run scripts/install-slurm-deps.sh (as root)"
    [ "$(id -u)" -eq 0 ] || die "needs root (the test cluster runs SlurmUser=root)"
    [ -e "$dir/pids" ] && die "$dir/pids exists: a cluster may be running there; run '$0 stop $dir' first"
    port=${SLURM_TEST_PORT:-6817}
    for p in "$port" $((port + 1)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            die "port $p on 127.0.0.1 is in use (another slurmctld/slurmd?); set SLURM_TEST_PORT to a free pair"
        fi
    done

    mkdir -p "$dir"/{etc,state,spool,log,run,tmp,munge/sock} || die "cannot create folders under $dir"
    dir=$(cd "$dir" && pwd)
    chmod 700 "$dir/munge"
    chmod 755 "$dir/munge/sock"   # munged refuses a socket folder others can write to
    host=$(hostname -s)
    conf="$dir/etc/slurm.conf"
    mungesock="$dir/munge/sock/munge.socket.2"

    # MUNGE: its own key, socket, pid and log, as root
    if [ ! -s "$dir/munge/munge.key" ]; then
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none ||
            die "cannot write $dir/munge/munge.key"
        chmod 400 "$dir/munge/munge.key"
    fi
    start_daemon munged "$dir/log/munged.out" munged --foreground --force \
        --key-file="$dir/munge/munge.key" --socket="$mungesock" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge/munged.seed" ||
        { show_log munged "$dir/log/munged.log"; die "munged did not start"; }
    local deadline=$((SECONDS + 10))
    until [ -S "$mungesock" ]; do
        [ "$SECONDS" -ge "$deadline" ] && { show_log munged "$dir/log/munged.out" "$dir/log/munged.log"; die "munged made no socket at $mungesock"; }
        sleep 0.2
    done

    # the node line: real CPUs, sockets, cores and memory of this machine
    cpuline=$(slurmd -C | grep '^NodeName=' | sed "s/^NodeName=[^ ]*/NodeName=$host NodeAddr=127.0.0.1/") ||
        die "slurmd -C failed: cannot read this machine's CPUs and memory"
    cat >"$conf" <<EOF
# single-node test cluster written by tests/slurm/cluster.sh
ClusterName=hipidtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire=10: a requeued job may start again after ~10 s, not ~2 min
AuthInfo=socket=$mungesock,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/etc/plugstack.conf
TmpFS=$dir/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=5,bf_interval=5
MpiDefault=none
JobRequeue=1
ReturnToService=2
MailProg=/bin/true
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
$cpuline State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    : >"$dir/etc/plugstack.conf"
    printf 'export SLURM_CONF=%q\n' "$conf" >"$dir/env"
    export SLURM_CONF="$conf"

    start_daemon slurmctld "$dir/log/slurmctld.out" slurmctld -D -i -f "$conf" ||
        { show_log slurmctld "$dir/log/slurmctld.log"; cmd_stop; die "slurmctld did not start"; }
    start_daemon slurmd "$dir/log/slurmd.out" slurmd -D -N "$host" -f "$conf" ||
        { show_log slurmd "$dir/log/slurmd.log"; cmd_stop; die "slurmd did not start"; }

    local state="" name pid
    deadline=$((SECONDS + 60))
    while :; do
        state=$(sinfo -h -n "$host" -o %t 2>/dev/null | head -n1)
        [ "$state" = idle ] && break
        while read -r name pid; do
            alive "$pid" || { show_log "$name" "$dir/log/$name.out" "$dir/log/$name.log"; cmd_stop; die "$name died while waiting for the node (state '${state:-none}')"; }
        done <"$dir/pids"
        if [ "$SECONDS" -ge "$deadline" ]; then
            sinfo -N -l >&2
            show_log slurmctld "$dir/log/slurmctld.out" "$dir/log/slurmctld.log"
            show_log slurmd "$dir/log/slurmd.out" "$dir/log/slurmd.log"
            cmd_stop
            die "node $host not idle after 60 s (state '${state:-none}')"
        fi
        sleep 0.5
    done
    echo "cluster.sh: node $host idle after $((SECONDS - t0)) s; source $dir/env to use it"
}

# our_pids: processes of this cluster still running after its daemons: the
# daemons carry HIPID_SLURM_CLUSTER=DIR in their environment; slurmstepd
# (which gets a fresh environment) holds files open under DIR
our_pids() {
    local p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = $$ ] && continue
        alive "$pid" || continue
        if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "HIPID_SLURM_CLUSTER=$dir"; then
            echo "$pid"
        elif [ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] &&
            { ls -l "$p/fd/"; } 2>/dev/null | grep -qF -- "-> $dir/"; then
            echo "$pid"
        fi
    done
}

cmd_stop() {
    local name pid ids left=0
    [ -e "$dir/pids" ] || { echo "cluster.sh: nothing started under $dir" >&2; return 0; }
    export SLURM_CONF="$dir/etc/slurm.conf"
    # cancel jobs first so that slurmstepd ends their processes
    ids=$(squeue -h -o %A 2>/dev/null)
    if [ -n "$ids" ]; then
        scancel $ids 2>/dev/null
        local deadline=$((SECONDS + 15))
        while [ -n "$(squeue -h -o %A 2>/dev/null)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    fi
    # slurmd, slurmctld, munged: reverse order of start
    for name in slurmd slurmctld munged; do
        pid=$(awk -v n="$name" '$1 == n {print $2}' "$dir/pids")
        [ -n "$pid" ] || continue
        alive "$pid" && kill -TERM "$pid" 2>/dev/null
        if ! wait_gone "$pid" 20; then
            echo "cluster.sh: $name ($pid) ignored SIGTERM for 20 s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
            wait_gone "$pid" 5 || { echo "cluster.sh: $name ($pid) still running" >&2; left=1; }
        fi
    done
    for pid in $(our_pids); do
        echo "cluster.sh: stopping leftover $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) ($pid)" >&2
        kill -KILL "$pid" 2>/dev/null
        wait_gone "$pid" 5 || left=1
    done
    [ "$left" -eq 0 ] || die "some processes of the cluster under $dir are still running"
    rm -f "$dir/pids"
}

[ $# -eq 2 ] || usage
dir=$2
case $1 in
    start) mkdir -p "$dir" || die "cannot create $dir"; dir=$(cd "$dir" && pwd); cmd_start ;;
    stop)  [ -d "$dir" ] || die "no folder $dir"; dir=$(cd "$dir" && pwd); cmd_stop ;;
    *) usage ;;
esac
