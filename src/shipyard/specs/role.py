"""``role.yml``: a custom role, a name and the permissions it grants.

```yaml
name: trainer
description: submit jobs and register what they make
permissions: ["jobs:create", "jobs:read", "models:write", "experiments:*"]
```

Each permission is checked against the catalogue (:data:`shipyard.domain.access.PERMISSIONS`)
here, so that a typo is reported with its file and line before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from shipyard.domain.access import check_permission, check_role_name
from shipyard.errors import InvalidArgument
from shipyard.specs._base import SpecModel

__all__ = ["RoleSpec"]


def _as_value_error(check: Callable[[object], str]) -> AfterValidator:
    # A ValueError becomes a pydantic error, which keeps the field's location (and so its line).
    def run(value: str) -> str:
        try:
            return check(value)
        except InvalidArgument as exc:
            raise ValueError(exc.message) from None

    return AfterValidator(run)


class RoleSpec(SpecModel):
    """``shipyard role create -f role.yml``."""

    spec_kind: ClassVar[str] = "role"

    name: Annotated[str, _as_value_error(check_role_name)]
    description: str = ""
    permissions: list[Annotated[str, _as_value_error(check_permission)]] = Field(min_length=1)
