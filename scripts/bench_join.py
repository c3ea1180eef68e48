#!/usr/bin/env python3
"""How long a node takes to join a cluster of ``--users`` users, before it serves anyone.

A joining node fetches the cluster's snapshot from Redis, checks that it can read it, and loads
it into its core. This builds a hub with ``--users`` registered users (50 to a room, as
``bench_snapshot.py`` does), writes its snapshot into a fresh ``redis-server`` (started here on
a free port, persistence off) as a cluster's state, then times ``Hub.start()`` of a new node,
a few rounds. Each round runs in its own process (a fresh heap, as a starting server has),
importing ``chat`` from ``--tree`` to measure another checkout.

    .venv/bin/python scripts/bench_join.py --users 100000 [--tree /tmp/before]
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: One round, in a child process: put the snapshot in Redis as a cluster's, time the join.
_ROUND = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import redis
from chat.config import ServerConfig
from chat.hub import Hub
url, path = sys.argv[2], sys.argv[3]
r = redis.Redis.from_url(url)
r.flushall()
r.mset({"chat:nodes": 1, "chat:epoch": "bench", "chat:snapshot": open(path).read(),
        "chat:snapshot:at": "0-0"})
r.close()
hub = Hub(ServerConfig(port=0, cluster=url))
began = time.perf_counter()
hub.start()
took = time.perf_counter() - began
print(json.dumps({"seconds": took, "users": len(hub.core.users)}))
hub.close()
"""


def main() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_snapshot import arguments, build

    args = arguments(__doc__.split("\n")[0]).parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is needed: apt-get install redis-server")

    from chat.cluster import snapshot

    began = time.perf_counter()
    hub = build(args.users)
    text = snapshot.text(snapshot.capture(hub.core), {"last_id": "0-0", "seqs": {}},
                         frozenset())
    print(f"{args.users:,} users built in {time.perf_counter() - began:.1f} s; "
          f"snapshot {len(text) / 1e6:.1f} MB")
    del hub
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="bench-join-")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", workdir],
                              stdout=subprocess.DEVNULL)
    try:
        path = os.path.join(workdir, "snapshot.json")
        with open(path, "w") as out:
            out.write(text)
        del text
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        times = []
        for _ in range(args.rounds):
            done = subprocess.run([sys.executable, "-c", _ROUND, str(args.tree), url, path],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            assert result["users"] >= args.users, result
            times.append(result["seconds"])
        print(f"chat from {args.tree}: join {' '.join(f'{t:.2f}' for t in times)} s "
              f"(fastest {min(times):.2f} s)")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
