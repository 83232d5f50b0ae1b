"""Read YAML into plain data, remembering the line of every value.

The catalog is written by people, so two things matter more than speed of typing:

- YAML 1.1's surprises are switched off. ``on:`` stays the key ``"on"`` (not ``True``),
  ``10:00`` stays the text ``"10:00"`` (not the number 600), ``no`` stays ``"no"``, dates stay
  text for the schema to parse. Only the YAML 1.2 core forms of null, booleans, integers and
  floats are resolved.
- Every value's line is kept, so a problem can say where it is; duplicate keys, which PyYAML
  silently collapses, are reported.

libyaml (``CSafeLoader``) parses when available; the tree walk here is plain Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CoreSchemaLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader that resolves only YAML 1.2 core-schema scalars."""


_CoreSchemaLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        # A dot or an exponent is required: digits alone with a leading zero (an LMS id such
        # as 0123456) are neither int nor float here, so they stay text, zero included.
        r"^[-+]?(?:(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$",
        list("-+.0123456789"),
    ),
):
    _CoreSchemaLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)

_MAX_DEPTH = 40
# Aliases (*name) share one node, so a small text can expand exponentially ("billion laughs").
# An honest catalog has far fewer values than characters; stop expanding well past that.
_MAX_VALUES_BASE = 100_000


@dataclass
class YamlDocument:
    """Plain data from one YAML document, with the 1-based line of each path."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[tuple[Path, str, int | None]] = field(default_factory=list)
    # Paths whose value was refused (a tag, a bad number, too deep) and replaced by None.
    dropped: set[Path] = field(default_factory=set)

    def line_of(self, path: Path) -> int | None:
        """Return the line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


class YamlSyntaxError(ValueError):
    """The text is not YAML; carries the 1-based line where the parser stopped."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def read_yaml(text: str) -> YamlDocument:
    """Parse ``text`` into plain data (dict, list, str, int, float, bool, None) with lines.

    Raises :class:`YamlSyntaxError` for text that is not one YAML document. Structural
    oddities (duplicate keys, non-text keys, unsupported tags) are collected in
    ``problems`` rather than raised, so a caller can report them with everything else.
    """
    loader = _CoreSchemaLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        reason = error.problem or error.context or "invalid YAML"
        if mark and text[mark.index : mark.index + 1] == "\t":
            reason += " (a tab: YAML indents with spaces)"
        elif "mapping values are not allowed" in reason:
            reason += " (put text containing ': ' in quotes)"
        elif reason.startswith("but ") and error.context:  # "expected X ... but found Y"
            reason = f"{error.context}, {reason}"
        elif error.context and error.context_mark and error.problem:
            # The context's line is often the real mistake, such as an unclosed quote.
            reason += f" ({error.context} starting on line {error.context_mark.line + 1})"
        raise YamlSyntaxError(f"not valid YAML: {reason}", line) from None
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        message = f"not valid YAML: character {chr(error.character)!r}: {error.reason}"
        raise YamlSyntaxError(message, line) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(f"not valid YAML: {error}", None) from None
    except RecursionError:  # the pure-Python parser, on nesting libyaml would refuse
        raise YamlSyntaxError("not valid YAML: nested too deeply", None) from None
    finally:
        loader.dispose()
    document = YamlDocument(data=None)
    if node is not None:
        budget = [_MAX_VALUES_BASE + 2 * len(text)]
        document.data = _walk(node, (), document, 0, budget)
    return document


def _walk(
    node: yaml.Node, path: Path, document: YamlDocument, depth: int, budget: list[int]
) -> Any:
    document.lines.setdefault(path, node.start_mark.line + 1)
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlSyntaxError(
            "refused: YAML aliases (*name) expand this file to an implausible number of values",
            node.start_mark.line + 1,
        )
    if depth > _MAX_DEPTH:
        document.problems.append(
            (path, f"is nested more than {_MAX_DEPTH} levels deep", document.line_of(path))
        )
        document.dropped.add(path)
        return None
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP_TAG:
            return _refuse_tag(node.tag, path, document)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _TEXTUAL_TAGS:
                line = key_node.start_mark.line + 1
                shown = f" {key_node.value!r}" if isinstance(key_node, yaml.ScalarNode) else ""
                message = f"has a key{shown} that is not plain text (quote it to use it as text)"
                document.problems.append((path, message, line))
                continue
            key = key_node.value
            key_line = key_node.start_mark.line + 1
            if key in mapping:
                first = document.lines[(*path, key)]
                document.problems.append(
                    ((*path, key), f"appears twice (first on line {first})", key_line)
                )
                continue
            document.lines[(*path, key)] = key_line
            mapping[key] = _walk(value_node, (*path, key), document, depth + 1, budget)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ_TAG:
            return _refuse_tag(node.tag, path, document)
        return [
            _walk(item, (*path, index), document, depth + 1, budget)
            for index, item in enumerate(node.value)
        ]
    return _scalar(node, path, document)


# Mappings and lists may carry only their plain tags: ``!!python/object``, ``!!set``,
# ``!!omap`` and the like are refused rather than silently read as plain data.
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


# Keys may be written as numbers (``1524699:``); they are kept as their text.
_TEXTUAL_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}


def _scalar(node: yaml.ScalarNode, path: Path, document: YamlDocument) -> Any:
    tag, text = node.tag, node.value
    if tag == "tag:yaml.org,2002:str":
        return text
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return text.lower() == "true"
    try:
        if tag == "tag:yaml.org,2002:int":
            return int(text)
        if tag == "tag:yaml.org,2002:float":
            return float(text)
    except ValueError:
        document.problems.append((path, f"{text!r} is not a number", document.line_of(path)))
        document.dropped.add(path)
        return None
    return _refuse_tag(tag, path, document)


def _refuse_tag(tag: str, path: Path, document: YamlDocument) -> None:
    shown = tag.replace("tag:yaml.org,2002:", "!!", 1)
    message = f"uses the YAML tag {shown}; a catalog holds plain values only, so remove the tag"
    document.problems.append((path, message, document.line_of(path)))
    document.dropped.add(path)
