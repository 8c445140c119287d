"""YAML read safely and bounded: plain data only, size, depth and alias expansion limited.

The rules, for every file chaosflow reads (scenario files, fault plans, load profiles):

- at most ``MAX_YAML_BYTES`` bytes;
- at most ``MAX_DEPTH`` levels of nested mappings and lists;
- at most ``MAX_NODES`` values once every alias is expanded, so a few hundred bytes of nested
  anchors (the "billion laughs") are refused before anything walks them; an alias to an
  enclosing collection (a cycle) is refused too;
- plain data only: mappings, lists, strings, numbers, booleans and null. A YAML timestamp
  (``2024-01-01``, ``2024-01-01T10:00:00Z``) is kept as the string it was written as, since
  JSON has no date; ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs`` and every other tag
  (``!!python/...``, ``!custom``) are refused, naming the tag and the line;
- a key written twice in one mapping is refused (YAML would silently keep the last).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._errors import InputError

MAX_YAML_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000

_PLAIN_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp", "merge")
)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as text and knows no tag beyond plain data."""

    def compose_document(self) -> Node | None:
        node: Node | None = super().compose_document()
        if node is not None:
            _check_tree(node)
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # Depth is checked while composing: the composer recurses, so a file nested thousands
        # deep would otherwise end in a RecursionError rather than a message.
        depth = getattr(self, "_depth", 0) + 1
        if depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise InputError(
                f"is nested more than {MAX_DEPTH} levels deep at line {mark.line + 1}; flatten "
                f"it (at most {MAX_DEPTH} levels of mappings and lists)."
            )
        self._depth = depth
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth - 1


def _mapping_once(loader: yaml.SafeLoader, node: Node) -> Iterator[dict[Any, Any]]:
    # A key written twice is refused: YAML would keep the last silently, hiding the first.
    assert isinstance(node, MappingNode)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            key = loader.construct_object(key_node)
            if key in seen:
                raise InputError(
                    f"has the key {key!r} twice in one mapping (line "
                    f"{key_node.start_mark.line + 1}); keep one."
                )
            seen.add(key)
    return loader.construct_yaml_map(node)  # a generator, as PyYAML's own constructor is


def _timestamp_as_text(loader: yaml.SafeLoader, node: Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _refuse(loader: yaml.SafeLoader, node: Node) -> Any:
    raise InputError(
        f"uses the tag {node.tag!r} at line {node.start_mark.line + 1}, which is not plain data; "
        "write a plain mapping, list, string, number, true/false or null."
    )


_BoundedLoader.yaml_constructors = {
    tag: constructor
    for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
    if tag in _PLAIN_TAGS
}
_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_BoundedLoader.add_constructor("tag:yaml.org,2002:map", _mapping_once)
_BoundedLoader.add_constructor(None, _refuse)


def _check_tree(root: Node) -> None:
    """Count the values the tree holds with every alias expanded; refuse cycles and excess."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_NODES:
                raise InputError(
                    f"expands to more than {MAX_NODES} values once its aliases (*name) are "
                    f"expanded (near line {node.start_mark.line + 1}); write the data out, or "
                    "use fewer nested anchors."
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise InputError(
                f"has an alias that refers to a collection containing it (line "
                f"{node.start_mark.line + 1}); a file must describe a tree, not a cycle."
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    assert isinstance(node, ScalarNode)
    return []


def load_yaml(text: str | bytes, where: str) -> Any:
    """The plain data in ``text`` (YAML or JSON), under the rules of this module.

    ``where`` names the input in messages ("Scenario file 'x.yaml'"); every error is an
    :class:`InputError` that starts with it.
    """
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_YAML_BYTES:
        raise InputError(
            f"{where} is {size} bytes, more than the limit of {MAX_YAML_BYTES}; a scenario, plan "
            "or profile is a short file (keep large input sets in a file of their own)."
        )
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except InputError as error:
        raise InputError(f"{where} {error}") from None
    except yaml.YAMLError as error:
        raise InputError(f"{where} is not valid YAML: {error}") from None
    except RecursionError:
        raise InputError(f"{where} is nested too deeply to read; flatten it.") from None
    except (ValueError, TypeError) as error:  # e.g. an unhashable key: [a]: 1
        raise InputError(f"{where} holds something that is not plain data: {error}") from None


def read_yaml_file(path: str | Path, where: str) -> Any:
    """Read and load the YAML file at ``path`` (size checked before it is read whole)."""
    return load_yaml(read_input_text(path, where), where)


def read_input_text(path: str | Path, where: str) -> str:
    """The text of the input file at ``path``: UTF-8, its size checked before it is read."""
    source = Path(path)
    try:
        size = source.stat().st_size
        if size > MAX_YAML_BYTES:
            raise InputError(
                f"{where} is {size} bytes, more than the limit of {MAX_YAML_BYTES}; a scenario, "
                "plan or profile is a short file."
            )
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{where} is not UTF-8 text ({error.reason} at byte {error.start})."
        ) from None
    except OSError as error:
        raise InputError(f"{where} cannot be read ({error.strerror or error}).") from None
    return text
