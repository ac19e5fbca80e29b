""":class:`MonitorSources` over the server's stores, as a monitor's creator may read them.

Lineage, for the default reference: the deployment serves a registered model version; the
version names the run that logged it; the run names its job (``shipyard.job.name``); the
job's inputs name data assets. The first input that is a table (Parquet or CSV) is the
training data. ``@latest`` is read as it was when the job ran: the newest version created
before the job, not one registered since.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.domain.context import RequestContext
from shipyard.domain.data_assets import DataAsset
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services.access.secrets import SecretService
from shipyard.services.monitoring.sources import Collection, MonitorSources, Reference
from shipyard.services.ports import ArtifactStore, Database
from shipyard.services.registry import RegistryService
from shipyard.services.snapshots import SnapshotService

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PROFILES_PREFIX", "ServerSources"]

PROFILES_PREFIX = "_monitoring/profiles"
_TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


class ServerSources(MonitorSources):
    def __init__(
        self,
        ctx: RequestContext,
        db: Database,
        store: ArtifactStore,
        snapshots: SnapshotService,
        secrets: SecretService | None,
    ) -> None:
        self.ctx = ctx
        self.db = db
        self.store = store
        self.snapshots = snapshots
        self.secrets = secrets
        self._notes: list[str] = []

    # -- references -------------------------------------------------------------------

    def training_data(self, endpoint: str, deployment: str) -> Reference:
        ws = self.ctx.workspace
        with self.db.read() as uow:
            found = uow.deployments.get(ws, endpoint, deployment)
        if found is None:
            raise NotFound(f"endpoint {endpoint!r} has no deployment {deployment!r} in workspace {ws!r}")
        model = found.model or {}
        name, version = model.get("name"), model.get("version")
        if name is None or version is None:
            raise InvalidArgument(
                f"{endpoint}:{deployment} serves a model folder, not a registered version: its"
                " training data cannot be found; give the signal's reference_data"
            )
        mv = RegistryService(self.db).get_version(self.ctx, str(name), int(version))
        hint = "; give the signal's reference_data"
        if not mv.run_id:
            raise InvalidArgument(f"model {name}:{version} names no run it came from{hint}")
        with self.db.read() as uow:
            run = uow.runs.get(mv.run_id)
            job_name = run.tags.get("shipyard.job.name") if run is not None else None
            job = uow.jobs.get(ws, job_name) if job_name else None
            if job is None:
                raise InvalidArgument(
                    f"model {name}:{version} was logged by run {mv.run_id}, which no Shipyard job"
                    f" ran: its training data is unknown{hint}"
                )
            assets = [a for a in self._job_assets(uow, ws, job.spec, job.created_at) if _is_table(a)]
        if not assets:
            raise InvalidArgument(
                f"job {job.name} (which trained {name}:{version}) has no table among its data inputs{hint}"
            )
        asset = assets[0]
        return Reference(
            table=self._read(asset),
            description=(
                f"{asset.name}:{asset.version}, the training data of model {name}:{version} (job {job.name})"
            ),
            key=f"{ws}/{asset.name}/{asset.version}/{asset.content_hash}",
        )

    def _job_assets(self, uow: Any, ws: str, spec: Mapping[str, Any], at: int) -> list[DataAsset]:
        out = []
        for value in dict(spec.get("inputs") or {}).values():
            # A job keeps each input as {kind, value, type}: a data asset is kind "data",
            # its value ``name:version`` or ``name@latest``.
            if (
                isinstance(value, Mapping)
                and value.get("kind") == "data"
                and isinstance(value.get("value"), str)
            ):
                asset = self._find(uow, ws, str(value["value"]), before=at)
                if asset is not None:
                    out.append(asset)
        return out

    def _find(self, uow: Any, ws: str, reference: str, *, before: int | None = None) -> DataAsset | None:
        text = reference.removeprefix("azureml:")
        name, sep, version = text.partition(":")
        if sep:
            found: DataAsset | None = uow.data_assets.get(ws, name, version)
            return found
        name, _, label = text.partition("@")
        if label not in ("", "latest"):
            raise InvalidArgument(f"data asset label {label!r} in {reference!r} is unknown; use @latest")
        versions = uow.data_assets.versions(ws, name)
        if before is not None:
            versions = [v for v in versions if v.created_at <= before] or versions
        return max(versions, key=lambda v: v.created_at) if versions else None

    def asset(self, reference: str) -> Reference:
        if not reference.startswith("azureml:"):
            raise InvalidArgument(
                f"{reference!r} is not a data asset; a monitor's server reads registered data:"
                " give azureml:<name>:<version> (`shipyard data create` registers a file)"
            )
        with self.db.read() as uow:
            asset = self._find(uow, self.ctx.workspace, reference)
        if asset is None:
            raise NotFound(
                f"no data asset {reference!r} in workspace {self.ctx.workspace!r}"
                " (`shipyard data list` shows those there are)"
            )
        return Reference(
            table=self._read(asset),
            description=f"{asset.name}:{asset.version}",
            key=f"{self.ctx.workspace}/{asset.name}/{asset.version}/{asset.content_hash}",
        )

    def _read(self, asset: DataAsset) -> pa.Table:
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        if not asset.content_hash:
            raise InvalidArgument(
                f"data asset {asset.name}:{asset.version} is an external URL ({asset.path}); register"
                " the file itself to monitor against it"
            )
        with tempfile.TemporaryDirectory(prefix="shipyard-reference-") as tmp:
            dest = Path(tmp) / "data"
            self.snapshots.materialize(asset.content_hash, dest)
            files = sorted(p for p in dest.rglob("*") if p.is_file() and p.suffix.lower() in _TABLE_SUFFIXES)
            if not files:
                raise InvalidArgument(
                    f"data asset {asset.name}:{asset.version} holds no Parquet or CSV file to compare against"
                )
            try:
                tables = [pq.read_table(f) if f.suffix.lower() != ".csv" else pcsv.read_csv(f) for f in files]
                return pa.concat_tables(tables, promote_options="permissive")
            except pa.ArrowException as error:
                raise InvalidArgument(
                    f"data asset {asset.name}:{asset.version} could not be read as a table: {error}"
                ) from error

    # -- production -------------------------------------------------------------------

    def collected(
        self, endpoint: str, deployment: str, collection: Collection, start_ms: int, end_ms: int
    ) -> Iterator[pa.RecordBatch]:
        from shipyard.services.monitoring.production import ReadStats, collected_batches

        stats = ReadStats()
        # Rows sent without column names (``instances``/``inputs`` as lists) take the names of
        # the model's input signature, as the model itself reads them.
        columns = self._input_names(endpoint, deployment) if collection == "model_inputs" else None
        yield from collected_batches(
            self.store, self.ctx.workspace, endpoint, deployment, collection, start_ms, end_ms,
            columns=columns, stats=stats,
        )  # fmt: skip
        self._notes.extend(f"{collection}: {note}" for note in stats.notes())

    def drain_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes

    def _input_names(self, endpoint: str, deployment: str) -> list[str] | None:
        """The deployed MLflow model's input column names, from its MLmodel signature."""
        import yaml

        with self.db.read() as uow:
            found = uow.deployments.get(self.ctx.workspace, endpoint, deployment)
        # The resolved deployment (its spec) says where the model's files are in the store.
        model = dict(found.spec.get("model") or {}) if found is not None else {}
        prefix = model.get("prefix")
        if not prefix:
            return None
        try:
            with self.store.get(f"{prefix}/MLmodel") as handle:
                meta = yaml.safe_load(handle.read())
            inputs = orjson.loads(meta["signature"]["inputs"])
            names = [str(column["name"]) for column in inputs if "name" in column]
        except (NotFound, KeyError, TypeError, ValueError, yaml.YAMLError):
            return None
        return names or None

    def sql(self, connection: str, query: str, start_ms: int, end_ms: int) -> Iterator[pa.RecordBatch]:
        from shipyard.services.monitoring.sql_source import sql_batches

        url = connection
        if "${{" in connection:
            if self.secrets is None:  # pragma: no cover - every server has its secrets store
                raise InvalidArgument("this server keeps no secrets: write the connection URL")
            url = self.secrets.reveal(self.ctx.workspace, {"url": connection})["url"]
        return sql_batches(url, query, start_ms, end_ms)

    def system(
        self, endpoint: str, deployment: str, start_ms: int, end_ms: int
    ) -> Mapping[str, float | None]:
        from shipyard.services.monitoring.system import system_signal

        return system_signal(self.store, self.ctx.workspace, endpoint, deployment, start_ms, end_ms)

    def secret(self, name: str) -> str:
        if self.secrets is None:  # pragma: no cover
            raise NotFound(f"no secret {name!r}: this server keeps no secrets")
        return self.secrets.reveal(self.ctx.workspace, {"v": "${{secrets." + name + "}}"})["v"]

    # -- profiles ---------------------------------------------------------------------

    def _profile_key(self, key: str) -> str:
        import hashlib

        return f"{PROFILES_PREFIX}/{hashlib.sha256(key.encode()).hexdigest()}.json"

    def stored_profile(self, key: str) -> Mapping[str, object] | None:
        try:
            with self.store.get(self._profile_key(key)) as handle:
                data = orjson.loads(handle.read())
        except (NotFound, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def store_profile(self, key: str, profile: Mapping[str, object]) -> None:
        with self.store.staging_file() as (staged, handle):
            handle.write(orjson.dumps(profile, option=orjson.OPT_SERIALIZE_NUMPY))
            handle.flush()
            handle.close()
            self.store.put(self._profile_key(key), staged)


def _is_table(asset: DataAsset) -> bool:
    if asset.columns:
        return True
    return asset.path.lower().endswith(_TABLE_SUFFIXES) or asset.type == "mltable"
