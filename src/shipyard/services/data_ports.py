"""The repository data assets need from a metadata store."""

from __future__ import annotations

from abc import ABC, abstractmethod

from shipyard.domain.data_assets import DataAsset

__all__ = ["DataAssetRepository"]


class DataAssetRepository(ABC):
    @abstractmethod
    def create(self, workspace_id: int, asset: DataAsset) -> None:
        """Insert a version; raise AlreadyExists when the name and version are taken."""

    @abstractmethod
    def get(self, workspace: str, name: str, version: str) -> DataAsset | None: ...

    @abstractmethod
    def latest(self, workspace: str, name: str) -> DataAsset | None:
        """The version created last."""

    @abstractmethod
    def versions(self, workspace: str, name: str) -> list[DataAsset]:
        """Every version, newest first."""

    @abstractmethod
    def list_latest(self, workspace: str, offset: int, limit: int) -> list[DataAsset]:
        """The newest version of each name, by name."""

    @abstractmethod
    def next_version(self, workspace: str, name: str) -> str:
        """One more than the highest integer version of ``name`` ("1" for a new name)."""
