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

from .units import show

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
        return _Builder(loader, _MAX_VALUES_BASE + 2 * len(text)).document()
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
    finally:
        loader.dispose()


class _Frame:
    """An open mapping or list while the event stream is read."""

    __slots__ = ("anchor", "container", "key", "key_line", "path", "skip", "start_count")

    def __init__(self, container: Any, path: Path, anchor: str | None, start_count: int) -> None:
        self.container = container
        self.path = path
        self.anchor = anchor
        self.start_count = start_count
        self.key: str | None = None  # mappings: the key whose value comes next
        self.key_line = 0
        self.skip = False  # mappings: the pending key was refused or repeated; drop its value


class _Builder:
    """Builds plain data straight from libyaml's event stream.

    Reading events, rather than PyYAML's node tree, halves the time for a large catalog; an
    explicit stack (not recursion) keeps hostile nesting from exhausting Python's stack.
    """

    def __init__(self, loader: Any, budget: int) -> None:
        self.loader = loader
        self.budget = budget
        self.count = 0  # values built so far, aliases counted by the size they expand to
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.doc = YamlDocument(data=None)

    def document(self) -> YamlDocument:
        get_event = self.loader.get_event
        get_event()  # StreamStartEvent
        if isinstance(self.loader.peek_event(), yaml.StreamEndEvent):
            return self.doc
        get_event()  # DocumentStartEvent
        self.doc.data = self.build(get_event)
        get_event()  # DocumentEndEvent
        extra = get_event()
        if not isinstance(extra, yaml.StreamEndEvent):
            raise YamlSyntaxError(
                "not valid YAML: expected a single document in the stream,"
                " but found another document",
                extra.start_mark.line + 1,
            )
        return self.doc

    def build(self, get_event: Any) -> Any:
        doc = self.doc
        lines = doc.lines
        stack: list[_Frame] = []
        while True:
            event = get_event()
            line = event.start_mark.line + 1
            top = stack[-1] if stack else None
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                value = top.container
                if top.anchor is not None:
                    self.anchors[top.anchor] = (value, self.count - top.start_count)
                done, result = self.place(stack, value, top.path)
                if done:
                    return result
                continue
            # A key of a mapping: plain text only, each once.
            if top is not None and isinstance(top.container, dict) and top.key is None:
                self.take_key(top, event, line, get_event)
                continue
            path = self.child_path(top)
            lines.setdefault(path, line)
            self.count += 1
            if self.count > self.budget:
                raise YamlSyntaxError(
                    "refused: YAML aliases (*name) expand this file to an implausible"
                    " number of values",
                    line,
                )
            if isinstance(event, yaml.ScalarEvent):
                value = self.scalar(event, path)
                if event.anchor is not None:
                    self.anchors[event.anchor] = (value, 1)
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in self.anchors:
                    # Also a recursive alias: its anchor is defined only once it is complete.
                    raise YamlSyntaxError(
                        f"not valid YAML: *{_shown(event.anchor)} refers to no anchor"
                        " defined before it",
                        line,
                    )
                value, size = self.anchors[event.anchor]
                self.count += size - 1
                if self.count > self.budget:
                    raise YamlSyntaxError(
                        "refused: YAML aliases (*name) expand this file to an implausible"
                        " number of values",
                        line,
                    )
            else:  # MappingStartEvent or SequenceStartEvent
                mapping = isinstance(event, yaml.MappingStartEvent)
                tag = event.tag
                plain = _MAP_TAG if mapping else _SEQ_TAG
                if len(stack) > _MAX_DEPTH:
                    message = f"is nested more than {_MAX_DEPTH} levels deep"
                    self.refuse(path, message, get_event, event)
                    value = None
                elif tag not in (None, "!", plain):
                    self.refuse(path, _tag_message(tag), get_event, event)
                    value = None
                else:
                    container: Any = {} if mapping else []
                    stack.append(_Frame(container, path, event.anchor, self.count))
                    continue
            done, result = self.place(stack, value, path)
            if done:
                return result

    @staticmethod
    def child_path(top: _Frame | None) -> Path:
        if top is None:
            return ()
        if isinstance(top.container, dict):
            return (*top.path, top.key)
        return (*top.path, len(top.container))

    @staticmethod
    def place(stack: list[_Frame], value: Any, path: Path) -> tuple[bool, Any]:
        """Put a finished value into its parent; (True, value) when it is the document."""
        if not stack:
            return True, value
        parent = stack[-1]
        if isinstance(parent.container, dict):
            if not parent.skip:
                parent.container[parent.key] = value
            parent.key, parent.skip = None, False
        else:
            parent.container.append(value)
        return False, None

    def take_key(self, frame: _Frame, event: Any, line: int, get_event: Any) -> None:
        doc = self.doc
        tag = self.scalar_tag(event) if isinstance(event, yaml.ScalarEvent) else None
        frame.key, frame.skip = "", True
        if tag not in _TEXTUAL_TAGS:
            shown = f" {show(event.value)}" if isinstance(event, yaml.ScalarEvent) else ""
            message = f"has a key{shown} that is not plain text (quote it to use it as text)"
            doc.problems.append((frame.path, message, line))
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                self.skip_collection(get_event)
            return
        key = event.value
        path = (*frame.path, key)
        if key in frame.container:
            first = doc.lines[path]
            doc.problems.append((path, f"appears twice (first on line {first})", line))
            return
        doc.lines[path] = line
        frame.key, frame.skip = key, False

    def scalar_tag(self, event: Any) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            return self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        return tag

    def scalar(self, event: Any, path: Path) -> Any:
        doc = self.doc
        tag, text = self.scalar_tag(event), event.value
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
            doc.problems.append((path, f"{show(text)} is not a number", doc.line_of(path)))
            doc.dropped.add(path)
            return None
        doc.problems.append((path, _tag_message(tag), doc.line_of(path)))
        doc.dropped.add(path)
        return None

    def refuse(self, path: Path, message: str, get_event: Any, start: Any) -> None:
        """Report a mapping or list that cannot be used and skip to its end."""
        self.doc.problems.append((path, message, self.doc.line_of(path)))
        self.doc.dropped.add(path)
        self.skip_collection(get_event)

    def skip_collection(self, get_event: Any) -> None:
        depth = 1
        while depth:
            event = get_event()
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1


def _tag_message(tag: str) -> str:
    shown = _shown(tag.replace("tag:yaml.org,2002:", "!!", 1))
    return f"uses the YAML tag {shown}; a catalog holds plain values only, so remove the tag"


_PLAIN_NAME = re.compile(r"^[!-~]{1,60}$")


def _shown(name: str) -> str:
    """A tag or anchor name as written, or quoted and cut if long or unusual: a tag may
    decode %0A to a line break, which must not start a forged line of output."""
    return name if _PLAIN_NAME.match(name) else show(name)


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
