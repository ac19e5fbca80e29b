"""Users, their tokens and roles: who may do what, and where."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="identity",
    position=10,
    repositories={
        "users": "shipyard.stores.sql.access:SqlUserRepository",
        "tokens": "shipyard.stores.sql.access:SqlTokenRepository",
        "roles": "shipyard.stores.sql.access:SqlRoleRepository",
    },
    tables=("shipyard.stores.sql.schema_access",),
    services={"identity": "shipyard.server.providers.access:identity"},
    routers=("shipyard.server.routers.identity:router",),
    commands={
        "login": "shipyard.cli.access:login",
        "logout": "shipyard.cli.access:logout",
        "whoami": "shipyard.cli.access:whoami",
        "user": "shipyard.cli.access:user_app",
        "token": "shipyard.cli.access:token_app",
        "role": "shipyard.cli.access:role_app",
    },
    cli_position=100,
)
