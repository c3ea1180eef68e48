"""A cluster node's metrics (``/metrics``) and readiness (``/readyz``): how far behind the log
it is, what waits to be appended, whether Redis is reachable, how many nodes are alive.

Read when scraped, on the engine's thread, from plain numbers the gate and the backplane's
threads keep (no Redis call: a scrape must answer while Redis is away). One value per node,
no labels: the cardinality stays one series per metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from chat.cluster.gate import ClusterGate


def unready(gate: ClusterGate) -> str | None:
    """Why this node cannot serve as part of the cluster now, or None."""
    if gate.backplane.degraded:
        return "cluster unreachable: no link to Redis (clients are kept, commands queued)"
    return None


def collect(gate: ClusterGate) -> Iterator[Metric]:
    """The cluster's metric families for this node."""
    backplane = gate.backplane
    yield GaugeMetricFamily(
        "chat_cluster_lag_seconds", "Time from the last applied log entry's append (Redis's "
        "clock) to its application on this node", value=gate.lag)
    yield GaugeMetricFamily(
        "chat_cluster_queue", "Calls waiting to be appended to the cluster's log",
        value=backplane.queued())
    yield GaugeMetricFamily(
        "chat_cluster_degraded", "1 while this node has no link to Redis (degraded mode)",
        value=1 if backplane.degraded else 0)
    yield GaugeMetricFamily(
        "chat_cluster_nodes", "Live nodes at this node's last heartbeat (itself included)",
        value=backplane.live_nodes)
    yield CounterMetricFamily(
        "chat_cluster_entries_appended", "Calls this node appended to the log",
        value=backplane.appended)
    yield CounterMetricFamily(
        "chat_cluster_entries", "Calls this node read from the log (every node's)",
        value=backplane.read)
    yield CounterMetricFamily(
        "chat_cluster_reconnects", "Times this node got its link to Redis back",
        value=backplane.reconnects)
    yield CounterMetricFamily(
        "chat_cluster_refused", "Commands refused because the queue to the log was full",
        value=gate.refused)
