"""Prometheus metrics: a hub observer that counts per flush, and gauges read at scrape time.

Cheap where it runs often: ``flushed`` adds a few integers per flush, and ``Hub.written`` makes
one histogram observation per flush; nothing is counted per delivery or per recipient. The
bytes sent are counted by the engine, which measures every write anyway (``EngineStats``); a
second pass here over every recipient's chunks cost 13 % of a 1,000-recipient flush. A hub
without an engine (the in-memory tests) counts them here instead. Everything
that is state rather than an event (connections by dialect, rooms, users, the history
writer's queue and counters, the engine's stats) is read only when ``/metrics`` is scraped,
on the engine's thread like every other read of the hub.

The registry is our own (never ``prometheus_client``'s global one), so two servers in one
process (tests) never share or collide on metrics.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, chain
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from chat.core import events as e
from chat.hub.output import Output

if TYPE_CHECKING:
    from chat.hub.hub import Hub

#: Close reasons the server gives, by label; the rest (quits, kicks from the server...) are
#: "other". Send-queue cuts are the hub's aborts, labelled "sendq".
_EXACT = {
    "Excess flood": "flood",
    "Registration timed out": "register_timeout",
    "Server shutting down": "shutdown",
    "Internal server error": "error",
    "Server is full, try again later": "refused",
}
_PREFIXES = (("Ping timeout", "ping_timeout"), ("Too many connections from", "refused"),
             ("HTTP ", "http"))
#: Fan-out latency buckets, in seconds: from a small room on an idle server (~100 µs) to a
#: loaded one (hundreds of ms); beyond 2.5 s is +Inf.
FANOUT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                  0.5, 1.0, 2.5)
#: Transports by (WebSocket, TLS): index ``websocket * 2 + tls``.
TRANSPORTS = ("tcp", "tls", "ws", "wss")
REASONS = ("sendq", "flood", "ping_timeout", "register_timeout", "refused", "shutdown", "error",
           "http", "other")


def close_label(reason: str) -> str:
    """The low-cardinality label for a close reason (free text never becomes a label)."""
    label = _EXACT.get(reason)
    if label is not None:
        return label
    for prefix, label in _PREFIXES:
        if reason.startswith(prefix):
            return label
    return "other"


class LatencyHistogram:
    """A histogram observed once per flush: a bucket array under one lock.

    ``prometheus_client``'s Histogram takes a lock for the sum and another for the bucket it
    finds by a linear scan, about 1.1 µs an observation; on a server of small rooms that was
    a visible share of a delivery. One lock stays, since the threaded engine observes from
    every connection's thread.
    """

    __slots__ = ("bounds", "counts", "doc", "lock", "name", "total")

    def __init__(self, name: str, doc: str, bounds: Sequence[float]) -> None:
        self.name, self.doc = name, doc
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last is +Inf
        self.total = 0.0
        self.lock = threading.Lock()

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound is >= it (Prometheus's ``le``)."""
        index = bisect_left(self.bounds, value)
        with self.lock:
            self.counts[index] += 1
            self.total += value

    def metric(self) -> HistogramMetricFamily:
        """The cumulative buckets, count and sum as one Prometheus histogram."""
        with self.lock:
            counts, total = list(self.counts), self.total
        cumulative = list(accumulate(counts))
        les = [*(repr(float(b)) for b in self.bounds), "+Inf"]
        buckets = list(zip(les, cumulative, strict=True))
        return HistogramMetricFamily(self.name, self.doc, buckets=buckets, sum_value=total)


class Metrics:
    """Counts what the hub hands the engines, and renders every metric for ``/metrics``."""

    __slots__ = ("bytes_sent", "closes", "deliveries", "fanout_latency", "flushes", "hub",
                 "registry")

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.flushes = 0  # non-empty flushes
        self.deliveries = 0  # connection writes: one per connection per flush with bytes for it
        self.bytes_sent = 0  # bytes handed to the engines for sending
        self.closes = dict.fromkeys(REASONS, 0)  # closes and cuts the server decided, by label
        self.registry = CollectorRegistry(auto_describe=False)
        #: Observed by ``Hub.written`` once per flush that wrote anything after a read.
        self.fanout_latency = LatencyHistogram(
            "chat_fanout_latency_seconds", "Time from the first line read to the last "
            "recipient's write, per flush of output (one observation per flush, not per "
            "recipient)", FANOUT_BUCKETS)
        self.registry.register(_HubCollector(self))
        ProcessCollector(registry=self.registry)  # CPU, memory, file descriptors (Linux)

    # -- the observer (on the engine's thread) -------------------------------------------

    def delivered(self, outputs: Sequence[e.Output]) -> None:
        """Nothing per core call: counted per flush instead."""

    def flushed(self, out: Output) -> None:
        """One flush: its writes, bytes and closes."""
        self.flushes += 1
        writes = out.writes
        if writes:
            self.deliveries += len(writes)
            if self.hub.engine_stats is None:  # no engine counting them (tests in memory)
                self.bytes_sent += sum(map(len, chain.from_iterable(writes.values())))
        if out.closes:
            closes = self.closes
            for reason in out.closes.values():
                closes[close_label(reason)] += 1
        if out.aborts:
            self.closes["sendq"] += len(out.aborts)

    # -- scraping ------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition of every metric (Prometheus text format 0.0.4)."""
        return generate_latest(self.registry)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class _HubCollector(Collector):
    """Reads the counters above and the hub's state when scraped."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        hub = metrics.hub
        yield metrics.fanout_latency.metric()
        by_dialect: dict[str, int] = {}
        by_transport = dict.fromkeys(TRANSPORTS, 0)
        for session in hub.sessions.values():
            dialect = session.dialect
            name = "detecting" if dialect is None else dialect.name
            by_dialect[name] = by_dialect.get(name, 0) + 1
            websocket = dialect is not None and dialect.websocket
            by_transport[TRANSPORTS[websocket * 2 + session.tls]] += 1
        open_ = GaugeMetricFamily("chat_connections", "Open connections, by dialect",
                                  labels=["dialect"])
        for name in ("human", "structured", "irc", "http", "detecting"):
            open_.add_metric([name], by_dialect.pop(name, 0))
        for name, count in sorted(by_dialect.items()):
            open_.add_metric([name], count)
        yield open_
        transports = GaugeMetricFamily(
            "chat_connections_by_transport", "Open connections, by transport (tcp, tls, and "
            "WebSocket over either: ws, wss)", labels=["transport"])
        for name, count in by_transport.items():
            transports.add_metric([name], count)
        yield transports
        yield _counter("chat_connections_opened", "Connections accepted", hub.opened)
        closed = CounterMetricFamily(
            "chat_disconnects", "Connections the server closed or cut (sendq: too slow a "
            "reader), by reason", labels=["reason"])
        for label, count in metrics.closes.items():
            closed.add_metric([label], count)
        yield closed
        yield _counter("chat_lines_received", "Lines received from clients",
                       hub.lines_received)
        yield _counter("chat_rate_limited", "Times a connection's input was held back by the "
                       "rate limit", hub.rate_limited)
        yield _counter("chat_flow_braked", "Times a sender's input was held back because "
                       "its readers were behind (flow control)", hub.flow.pauses)
        yield _counter("chat_flow_turns", "Times a sender used up its turn and the rest of "
                       "its input waited for the next round", hub.flow.yields)
        yield _counter("chat_flushes", "Non-empty batches of output handed to the engine",
                       metrics.flushes)
        yield _counter("chat_deliveries", "Writes to connections (one per connection per "
                       "flush)", metrics.deliveries)
        stats: Callable[[], Any] | None = hub.engine_stats
        snapshot = stats() if stats is not None else None
        yield _counter("chat_bytes_sent", "Bytes handed to the engine for sending",
                       snapshot.bytes_out if snapshot is not None else metrics.bytes_sent)
        core = hub.core
        yield _gauge("chat_rooms", "Rooms (kept empty rooms included)", len(core.rooms))
        yield _gauge("chat_users", "Users with a nick", len(core.nicks))
        history = hub.history
        if history is not None:
            yield _gauge("chat_history_queue", "Records waiting for the history writer",
                         history.queued)
            yield _counter("chat_history_records_written", "History records committed",
                           history.written)
            yield _counter("chat_history_dropped", "Core calls whose records were dropped "
                           "because the history queue was full", history.dropped)
            yield _counter("chat_history_records_failed", "History records a failing store "
                           "refused", history.failed)
            yield _counter("chat_history_requests_refused", "History requests refused while "
                           "the history writer was busy", history.refused)
        if hub.config.cluster:
            from chat.cluster import metrics as cluster_metrics  # imports redis: clustered only
            yield from cluster_metrics.collect(hub.gate)  # type: ignore[arg-type]
        if snapshot is not None:
            yield _gauge("chat_engine_queued_bytes", "Unsent bytes the engine holds",
                         snapshot.queued_bytes)
            yield _gauge("chat_engine_handshaking", "Connections in their TLS handshake",
                         snapshot.handshaking)
            yield _gauge("chat_engine_workers", "Connection threads (threaded) or set-up "
                         "tasks (asyncio)", snapshot.workers)
