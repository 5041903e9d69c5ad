"""One real cluster for the whole package (redis-server, engine, two gateways, HAProxy;
subprocesses on loopback ports chosen at run time, stopped at the end): starting one costs
seconds, so tests share it and leave it as they found it (every gateway and the engine
running). Helpers for its tests are in ``helpers``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange.cluster.cluster import Cluster


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # a generous submit timeout: an engine restart on a loaded machine fits in it
    c = Cluster(tmp_path_factory.mktemp("cluster"), 2, sim_rate=5.0,
                env={"TICKWIRE_CLUSTER_SUBMIT_TIMEOUT_S": "120"})  # fmt: skip
    c.start()
    yield c
    c.stop()
