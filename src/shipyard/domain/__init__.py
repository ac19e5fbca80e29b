"""Pure domain: entities, value rules and the search grammar. Imports nothing of Shipyard's."""
