"""The module on a real 3-master Redis Cluster: routing by key, and resharding
a slot full of arrays with `redis-cli --cluster reshard`."""

from __future__ import annotations

import subprocess

import numpy as np

from npy_bytes import npy


def test_commands_route_by_key_to_every_shard(cluster):
    rc = cluster.client()
    arrays = {f"arr:{i}": np.arange(i, i + 12, dtype=np.float32).reshape(3, 4) for i in range(30)}
    for key, arr in arrays.items():
        assert rc.execute_command("NP.SET", key, npy(arr)) == b"OK"
    owners = {rc.get_node_from_key(key).port for key in arrays}
    assert len(owners) == 3, "keys land on every master"
    for key, arr in arrays.items():
        assert rc.execute_command("NP.GET", key) == npy(arr)
        assert rc.execute_command("NP.SHAPE", key) == [3, 4]
    # redis-cli -c follows MOVED redirections for module commands too.
    out = subprocess.run(
        ["redis-cli", "-c", "-p", str(cluster.nodes[0].port), "NP.DTYPE", "arr:7"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert out.strip() == "float32"


def test_resharding_moves_arrays_intact(cluster):
    rc = cluster.client()
    # Keys with one hash tag share a slot; fill it with arrays of several dtypes.
    payloads = {
        "{moving}:f": npy(np.random.default_rng(0).standard_normal((64, 64))),
        "{moving}:s": npy(np.zeros(5, dtype=[("a", "<i4"), ("b", "S3")])),
        "{moving}:big": npy(np.arange(2_000_000, dtype=np.int64)),
    }
    for key, payload in payloads.items():
        rc.execute_command("NP.SET", key, payload)
    slot = rc.keyslot("{moving}:f")
    source = rc.get_node_from_key("{moving}:f")
    target = next(n for n in cluster.nodes if n.port != source.port)
    node_ids = {
        n.port: n.client().execute_command("CLUSTER", "MYID").decode() for n in cluster.nodes
    }
    # Move exactly our slot: set up importing/migrating, MIGRATE the keys, assign the slot.
    src, dst = cluster.nodes[[n.port for n in cluster.nodes].index(source.port)].client(), target.client()
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", node_ids[source.port])
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", node_ids[target.port])
    keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
    assert sorted(keys) == sorted(k.encode() for k in payloads)
    src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 10000, "KEYS", *keys)
    for node in cluster.nodes:
        node.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", node_ids[target.port])
    rc = cluster.client()
    assert rc.get_node_from_key("{moving}:f").port == target.port
    for key, payload in payloads.items():
        assert rc.execute_command("NP.GET", key) == payload, key

    # The stock tool moving 200 slots between masters keeps every array readable.
    subprocess.run(
        ["redis-cli", "--cluster", "reshard", f"127.0.0.1:{target.port}",
         "--cluster-from", node_ids[target.port], "--cluster-to", node_ids[source.port],
         "--cluster-slots", "200", "--cluster-yes"],
        check=True, capture_output=True, timeout=120,
    )
    rc = cluster.client()
    for key, payload in payloads.items():
        assert rc.execute_command("NP.GET", key) == payload, key
