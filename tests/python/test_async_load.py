"""A replica with `repl-diskless-load swapdb` keeps serving its old arrays
while a full sync from the same master loads the new ones (Redis's async
loading, which needs every module type to declare HANDLE_REPL_ASYNC_LOAD),
and ends identical to its master."""

from __future__ import annotations

import numpy as np

from npy_bytes import npy
from redis_server import RedisServer, wait_for

OLD = np.arange(10, dtype=np.int16)
NEW = np.linspace(0, 1, 50)


def test_swapdb_full_sync_serves_old_arrays_until_the_new_ones_are_loaded():
    master_config = {"repl-diskless-sync": "yes", "repl-diskless-sync-delay": "0", "repl-backlog-size": "16384"}
    replica_config = {"repl-diskless-load": "swapdb",
                      # serve clients between every couple of keys loaded
                      "loading-process-events-interval-bytes": "1024"}
    with RedisServer(config=master_config) as master, RedisServer(config=replica_config) as replica:
        m, s = master.client(), replica.client()
        m.execute_command("NP.SET", "k", npy(OLD))
        replica.replicate_from(master)
        wait_for(lambda: s.execute_command("NP.GET", "k") == npy(OLD))

        # Break the link and write more than the backlog holds: the replica
        # must resync in full from the same master, which Redis loads
        # asynchronously when every module allows it.
        s.config_set("key-load-delay", "20000")  # 20 ms per key: about 2 s of loading
        # (in one transaction, so the replica cannot reconnect in between)
        transaction = m.pipeline(transaction=True)
        transaction.execute_command("CLIENT", "KILL", "TYPE", "replica")
        transaction.execute_command("NP.MSET", *[x for i in range(100) for x in (f"m{i}", npy(NEW * i))])
        transaction.execute_command("NP.SET", "k", npy(NEW))
        transaction.execute()
        wait_for(lambda: s.info("persistence")["async_loading"] == 1)
        # Still the old dataset, served while the new one loads.
        assert s.execute_command("NP.GET", "k") == npy(OLD)
        assert s.dbsize() == 1
        assert s.info("persistence")["async_loading"] == 1
        s.config_set("key-load-delay", "0")
        wait_for(lambda: s.info("persistence")["async_loading"] == 0
                 and s.info("replication")["master_link_status"] == "up")
        assert s.execute_command("NP.GET", "k") == npy(NEW)
        assert m.execute_command("DEBUG", "DIGEST") == s.execute_command("DEBUG", "DIGEST")
        # INFO counters count what the replica holds now, not the discarded
        # dataset too (which is freed in the background).
        wait_for(lambda: s.info("numpy")["numpy_arrays"] == s.dbsize() == 101)
        assert replica.alive()
