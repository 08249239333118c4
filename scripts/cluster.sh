#!/usr/bin/env bash
# A local Redis Cluster of three masters on 127.0.0.1, each with the module:
#   scripts/cluster.sh start [first-port] [dir]   (ports first-port .. first-port+2)
#   scripts/cluster.sh stop  [first-port] [dir]
# Each node keeps its nodes.conf, RDB and log in dir/<port>/, so a later
# `start` brings the same cluster back with its data. $REDIS_SERVER picks the
# server binary (default: redis-server on PATH), $MODULE the module.
set -euo pipefail

cmd=${1:-start}
first=${2:-7000}
dir=$(realpath -m "${3:-run/cluster}")
server=${REDIS_SERVER:-redis-server}
module=$(realpath "${MODULE:-target/release/libredis_numpy.so}")
ports=("$first" "$((first + 1))" "$((first + 2))")

cli() { redis-cli -h 127.0.0.1 -p "$@"; }

wait_until() { # seconds, what, command...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then
            echo "cluster.sh: timed out waiting for $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

state_ok() { cli "$1" CLUSTER INFO | grep -q '^cluster_state:ok'; }

case $cmd in
start)
    for port in "${ports[@]}"; do
        mkdir -p "$dir/$port"
        "$server" --port "$port" --bind 127.0.0.1 --dir "$dir/$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
            --loadmodule "$module" --daemonize yes \
            --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log"
    done
    for port in "${ports[@]}"; do
        wait_until 20 "127.0.0.1:$port to answer" cli "$port" PING
    done
    # A fresh set of nodes has no slots: create the cluster once. Nodes that
    # come back with their nodes.conf find each other again by themselves.
    if cli "$first" CLUSTER INFO | grep -q '^cluster_slots_assigned:0'; then
        redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-yes >"$dir/create.log"
    fi
    for port in "${ports[@]}"; do
        wait_until 30 "cluster_state:ok on 127.0.0.1:$port" state_ok "$port"
    done
    echo "Redis Cluster up on 127.0.0.1:${ports[0]}-${ports[2]} with $module"
    echo "  try: redis-cli -c -p $first NP.SHAPE somekey; stop it with: scripts/cluster.sh stop $first $dir"
    ;;
stop)
    for port in "${ports[@]}"; do
        cli "$port" SHUTDOWN >/dev/null 2>&1 || true
    done
    for port in "${ports[@]}"; do
        pidfile="$dir/$port/redis.pid"
        if [[ -f $pidfile ]]; then
            pid=$(cat "$pidfile")
            wait_until 30 "redis-server $pid to exit" bash -c "! kill -0 $pid"
        fi
    done
    ;;
*)
    echo "usage: $0 start|stop [first-port] [dir]" >&2
    exit 2
    ;;
esac
