# netns.sh: the namespace "hosts" of tests/multinode, sourced by
# test_multinode.sh and bench/bench_multinode.sh (root only). Hosts h2-h4 are
# network namespaces with addresses on a private test subnet 10.251.S.0/24
# that exists only inside the run: their cables (veth pairs) meet on a bridge
# inside a namespace of its own, so the machine's own network is untouched.
# Open MPI starts its daemons in the other namespaces through ns-rsh (what ssh
# does on a cluster) and talks TCP between them; each link is limited to RATE
# (tc tbf; "none": no limit).
#
# Defines: P (namespace prefix), NET, HOSTS, created (namespaces made, for
# the caller's cleanup), MCA (mpirun options), and
#   net_up           build the network (1 on failure)
#   net_down         kill every process in the namespaces, delete them
#   cable N up|down  host N's link, seen from the switch
#   on_hosts HOSTLIST NP ARGS...   mpirun in h2's namespace (host name h2)
# Needs RATE set by the caller; HIPID_NS_DIR is this folder.
HIPID_NS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
P=hm$$-                     # namespace names: hm<pid>-sw, hm<pid>-2 .. -4
NET=10.251.$(($$ % 200 + 20))
HOSTS=(2 3 4)
created=()

net_down() {
    local ns
    for ns in "${created[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -CONT 2>/dev/null
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    done
    sleep 0.5
    for ns in "${created[@]}"; do ip netns del "$ns" 2>/dev/null; done
    created=()
}

# ---- the network ----
net_up() {
    local n
    ip netns add "${P}sw" && created+=("${P}sw") || return 1
    ip -n "${P}sw" link add br0 type bridge && ip -n "${P}sw" link set br0 up || return 1
    for n in "${HOSTS[@]}"; do
        ip netns add "$P$n" && created+=("$P$n") || return 1
        ip link add "hv$$-$n" type veth peer name eth0 netns "$P$n" || return 1
        ip link set "hv$$-$n" netns "${P}sw" || return 1
        ip -n "${P}sw" link set "hv$$-$n" master br0 up || return 1
        ip -n "$P$n" addr add "$NET.$n/24" dev eth0 && ip -n "$P$n" link set eth0 up && ip -n "$P$n" link set lo up ||
            return 1
        if [ "$RATE" != none ]; then
            tc -n "$P$n" qdisc add dev eth0 root tbf rate "$RATE" burst 256kb latency 50ms || return 1
        fi
    done
}
# cable N up|down: host N's link, seen from the switch
cable() { ip -n "${P}sw" link set "hv$$-$1" "$2"; }

# ---- running ----
# The "hosts" share this machine's cores, but each one's daemon sees them all
# and would bind its first rank to core 0: every rank on one core, compute
# twice as slow as on a real cluster (hwloc_base_binding_policy none; a real
# cluster keeps Open MPI's binding).
export HIPID_NS_PREFIX=$P OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
MCA=(--mca plm_rsh_agent "$HIPID_NS_DIR/ns-rsh" --mca btl tcp,self
     --mca btl_tcp_if_include "$NET.0/24" --mca oob_tcp_if_include "$NET.0/24"
     --mca mpi_yield_when_idle 1
     --mca hwloc_base_binding_policy none
     --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3)

# on_hosts HOSTLIST NP ARGS...: mpirun in h2's namespace (its own host name)
on_hosts() {
    local hosts=$1 np=$2
    shift 2
    ip netns exec "${P}2" unshare --uts sh -c 'hostname h2; exec "$@"' sh \
        mpirun --oversubscribe --host "$hosts" -np "$np" "${MCA[@]}" "$@"
}
