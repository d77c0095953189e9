"""A YAML loader mixin that refuses a key given twice in one mapping.

YAML keeps the later of two equal keys and drops the earlier without a word: a second `leader:`
in a roster, or a second `fire:` added under `suppress:` in a parser file, would silently lose
what the first held. Every hand-edited YAML file GridBot reads goes through this.
"""

from __future__ import annotations

from typing import Any

import yaml


class UniqueKeys:
    """Mix in before a PyYAML loader class: `class L(UniqueKeys, yaml.SafeLoader)`."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"重复的键「{key}」", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


def safe_loader() -> type:
    """PyYAML's safe loader that refuses repeated keys; libyaml's where PyYAML has it (several
    times faster than the pure one, which gives the same data)."""
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return type("UniqueKeySafeLoader", (UniqueKeys, base), {})
