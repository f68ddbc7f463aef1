"""YAML loading that remembers where every value stands, so problems read `FILE:LINE: ...`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]

# libyaml's parser when PyYAML was built with it (it is, in the wheels): ten times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Located:
    """A parsed YAML document plus the line of every mapping key and list item."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """Line of the deepest known location on the path `loc` (1 when nothing is known)."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], file: str, problems: list[Problem]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(file, line, f"duplicate key '{key}' (first at line {seen[key]})")
                )
                continue
            seen[key] = line
            lines[loc + (key,)] = line
            _walk(value_node, loc + (key,), lines, file, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[loc + (i,)] = item.start_mark.line + 1
            _walk(item, loc + (i,), lines, file, problems)


def load(path: Path, display: str | None = None) -> tuple[Located | None, list[Problem]]:
    """Parse one YAML file. Returns the document (None when it cannot be parsed) and problems."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 1, f"cannot read file: {exc}")]
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [Problem(name, line, f"not valid YAML: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 1, f"not valid YAML: {exc}")]
    problems: list[Problem] = []
    located = Located(name, data)
    if node is not None:
        _walk(node, (), located.lines, name, problems)
    return located, problems
