"""History and room persistence: what the server remembers across restarts.

Layout: ``records`` (the plain values a store keeps), ``store`` (the :class:`HistoryStore`
interface every store implements), ``memory``, ``sqlite`` and ``redis_store`` (the stores;
Redis is the cluster's), ``convert`` (core events to records and back), ``service`` (the
writer and reader threads that keep disk off the engines' hot path) and ``observer`` (the hub
observer that feeds the writer).
"""
