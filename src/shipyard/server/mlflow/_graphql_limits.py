"""How much one GraphQL request may ask for, checked on the parsed document before any
validation or execution, so no request costs more than a bounded amount of work.

- the document: at most :data:`MAX_TOKENS` tokens (the parser stops there);
- each operation: at most :data:`MAX_DEPTH` levels of fields, :data:`MAX_SELECTIONS` fields
  in all once fragments are expanded, :data:`MAX_ROOT_FIELDS` root fields and
  :data:`MAX_ALIASES` aliases on any one level — MLflow's server allows the same (the last
  two stop a request from repeating an expensive root field under many names).

Fragments are expanded where they are spread, each at most once per level, so a chain of
fragments that spread each other twice (a "fragment bomb") is counted, not multiplied; every
node the expansion visits counts against :data:`MAX_NODES`, so the check itself stays cheap,
and it stops at the first limit passed.
"""

from __future__ import annotations

from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_ROOT_FIELDS",
    "MAX_SELECTIONS",
    "MAX_TOKENS",
    "TooComplex",
    "check_size",
]

MAX_TOKENS = 2_000  # the UI's largest query (GetRun) has ~200
MAX_NODES = 20_000
MAX_DEPTH = 10
MAX_SELECTIONS = 1_000
MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10


class TooComplex(Exception):
    """The request asks for more than one request may."""


class _Count:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.selections = 0
        self.nodes = 0

    def level(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        """The fields of one level, inline fragments and spreads flattened into it."""
        fields: list[FieldNode] = []
        seen: set[str] = set()
        pending = list(selection_set.selections)
        while pending:
            node = pending.pop()
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise TooComplex(f"the query expands to more than {MAX_NODES} selections and fragments")
            if isinstance(node, FieldNode):
                fields.append(node)
            elif isinstance(node, InlineFragmentNode):
                pending.extend(node.selection_set.selections)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:  # an unknown fragment is validation's to report
                    pending.extend(fragment.selection_set.selections)
        aliases = sum(1 for f in fields if f.alias is not None)
        if aliases > MAX_ALIASES:
            raise TooComplex(f"a level of the query has {aliases} aliases; at most {MAX_ALIASES} are allowed")
        return fields

    def walk(self, selection_set: SelectionSetNode, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise TooComplex(f"the query is nested deeper than {MAX_DEPTH} levels")
        for field in self.level(selection_set):
            self.selections += 1
            if self.selections > MAX_SELECTIONS:
                raise TooComplex(f"the query selects more than {MAX_SELECTIONS} fields")
            if field.selection_set is not None:
                self.walk(field.selection_set, depth + 1)


def check_size(document: DocumentNode) -> None:
    """Raise :class:`TooComplex` saying which limit the document passes."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        count = _Count(fragments)
        roots = count.level(definition.selection_set)
        if len(roots) > MAX_ROOT_FIELDS:
            raise TooComplex(f"the query has {len(roots)} root fields; at most {MAX_ROOT_FIELDS} are allowed")
        count.walk(definition.selection_set, 1)
