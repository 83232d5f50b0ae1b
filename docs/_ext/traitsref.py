"""A Sphinx directive that documents a class's configurable traits from the class itself.

Usage in a MyST page::

    ```{traits} campushub.auth.CampusAuthenticator
    ```

It imports the class and lists every config trait defined by the class and by the campushub
classes it inherits from (mixins included), with its type, its default (``dynamic`` when a
``@default`` method computes it) and its help text. Upstream settings whose default the class
changes are named after the list. The page therefore cannot drift from the code it documents.

Help text is written in reStructuredText-ish style (````double backticks````). It is parsed
with plain docutils in a throwaway document; if that parse reports anything at warning level
or above, or produces anything but simple body elements, the help is shown verbatim as a
literal block instead, so a trait's help never breaks a build run with ``-W``.
"""

from __future__ import annotations

import importlib
import inspect
import io
from typing import Any

from docutils import nodes
from docutils.core import publish_doctree
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_id
from traitlets import Container, Dict, HasTraits, Instance, TraitType

# Nodes a help text may produce and still be rendered as parsed text.
_SIMPLE_NODES = (
    nodes.document,
    nodes.Text,
    nodes.paragraph,
    nodes.literal,
    nodes.emphasis,
    nodes.strong,
    nodes.title_reference,
    nodes.reference,
    nodes.bullet_list,
    nodes.enumerated_list,
    nodes.list_item,
    nodes.definition_list,
    nodes.definition_list_item,
    nodes.term,
    nodes.definition,
    nodes.literal_block,
    nodes.block_quote,
)

_PARSE_SETTINGS = {
    "report_level": 5,  # collect nothing on the console; max_level still records the worst
    "halt_level": 5,
    "warning_stream": io.StringIO(),
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "doctitle_xform": False,
    "docinfo_xform": False,
    "sectsubtitle_xform": False,
    "_disable_config": True,
}


def help_nodes(text: str) -> list[nodes.Node]:
    """Docutils nodes for a help text: parsed when that is clean, else verbatim."""
    text = inspect.cleandoc(text)
    if not text:
        return [nodes.paragraph("", "(No help text.)")]
    verbatim: list[nodes.Node] = [nodes.literal_block(text, text)]
    try:
        doctree = publish_doctree(text, settings_overrides=dict(_PARSE_SETTINGS))
    except Exception:  # any markup the plain parser cannot take is shown as written
        return verbatim
    if doctree.reporter.max_level >= doctree.reporter.WARNING_LEVEL:
        return verbatim
    for node in doctree.findall():
        if not isinstance(node, _SIMPLE_NODES):
            return verbatim
        if isinstance(node, nodes.reference) and ("refuri" not in node or "refname" in node):
            return verbatim
    parsed = []
    for child in doctree.children:
        copy = child.deepcopy()
        # `single backticks` mean code in trait help, not a title.
        for cite in list(copy.findall(nodes.title_reference)):
            cite.replace_self(nodes.literal(cite.rawsource, cite.astext()))
        parsed.append(copy)
    return parsed


def documented_classes(cls: type) -> list[type]:
    """``cls`` and the classes it inherits from in the same top-level package (its mixins)."""
    package = cls.__module__.split(".")[0]
    return [klass for klass in cls.__mro__ if klass.__module__.split(".")[0] == package]


def own_config_traits(cls: type[HasTraits]) -> dict[str, tuple[type, TraitType[Any, Any]]]:
    """Config traits defined by ``cls`` or its same-package bases: name -> (definer, trait)."""
    found: dict[str, tuple[type, TraitType[Any, Any]]] = {}
    for klass in documented_classes(cls):
        for name, value in vars(klass).items():
            if isinstance(value, TraitType) and value.metadata.get("config") and name not in found:
                found[name] = (klass, value)
    return dict(sorted(found.items()))


def dynamic_defaults(cls: type) -> set[str]:
    """Names of traits whose default a ``@default`` method of ``cls`` or a base computes."""
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(vars(klass).get("_trait_default_generators", {}))
        names.update(
            name.removeprefix("_").removesuffix("_default")
            for name in vars(klass)
            if name.startswith("_") and name.endswith("_default")
        )
    return names


def changed_upstream_defaults(cls: type[HasTraits]) -> dict[str, type]:
    """Inherited config traits whose default ``cls`` (or a same-package base) replaces."""
    own = own_config_traits(cls)
    traits = cls.class_traits(config=True)
    changed: dict[str, type] = {}
    for klass in documented_classes(cls):
        for name in vars(klass).get("_trait_default_generators", {}):
            if name in traits and name not in own and name not in changed:
                changed[name] = traits[name].this_class or klass
    return dict(sorted(changed.items()))


def type_name(trait: TraitType[Any, Any]) -> str:
    """The trait's class name, with the class or element type it holds where there is one."""
    name = type(trait).__name__
    inner = getattr(trait, "_trait", None)  # the element trait of a List, Set or Tuple
    if isinstance(inner, TraitType):
        name = f"{name}({type(inner).__name__})"
    elif (
        isinstance(trait, Instance)
        and not isinstance(trait, Container | Dict)
        and isinstance(trait.klass, type)
    ):
        name = f"{name}({trait.klass.__name__})"
    if trait.allow_none:
        name += " or None"
    return name


def default_text(cls: type, name: str, trait: TraitType[Any, Any]) -> str:
    if name in dynamic_defaults(cls):
        return "dynamic"
    try:
        return trait.default_value_repr()
    except Exception:
        return repr(trait.default_value)


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class TraitsDirective(SphinxDirective):
    """``{traits} package.module.Class``: the class's configuration settings."""

    required_arguments = 1
    has_content = False
    option_spec: dict[str, Any] = {}

    def import_class(self, path: str) -> type[HasTraits]:
        module_name, _, class_name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError) as error:
            raise self.error(f"traits: cannot import {path!r}: {error}") from None
        if not (isinstance(cls, type) and issubclass(cls, HasTraits)):
            raise self.error(f"traits: {path!r} is not a traitlets class")
        return cls

    def run(self) -> list[nodes.Node]:
        cls = self.import_class(self.arguments[0].strip())
        for klass in documented_classes(cls):
            source = inspect.getsourcefile(klass)
            if source:
                self.env.note_dependency(source)

        result: list[nodes.Node] = []
        doc = inspect.getdoc(cls)
        if doc:
            result.extend(help_nodes(doc.split("\n\n")[0]))

        traits = own_config_traits(cls)
        if traits:
            intro = nodes.paragraph()
            intro += nodes.Text("Set each in ")
            intro += nodes.literal("", "jupyterhub_config.py")
            intro += nodes.Text(" as ")
            intro += nodes.literal("", f"c.{cls.__name__}.<name> = <value>")
            intro += nodes.Text(".")
            result.append(intro)
            listing = nodes.definition_list(classes=["traits-reference"])
            for name, (definer, trait) in traits.items():
                listing += self.trait_item(cls, name, definer, trait)
            result.append(listing)
        else:
            bases = [base for base in cls.__bases__ if base is not object]
            none = nodes.paragraph()
            none += nodes.literal("", cls.__name__)
            none += nodes.Text(" defines no settings of its own; it takes the settings of ")
            for index, base in enumerate(bases):
                if index:
                    none += nodes.Text(", ")
                none += nodes.literal("", qualified(base))
            none += nodes.Text(".")
            result.append(none)

        changed = changed_upstream_defaults(cls)
        if changed:
            para = nodes.paragraph()
            para += nodes.Text(f"{cls.__name__} also gives these inherited settings a default")
            para += nodes.Text(" of its own: ")
            for index, (name, definer) in enumerate(changed.items()):
                if index:
                    para += nodes.Text(", ")
                para += nodes.literal("", name)
                para += nodes.Text(f" (from {definer.__name__})")
            para += nodes.Text(".")
            result.append(para)
        return result

    def trait_item(
        self, cls: type, name: str, definer: type, trait: TraitType[Any, Any]
    ) -> nodes.definition_list_item:
        fullname = f"{qualified(cls)}.{name}"
        node_id = make_id(self.env, self.state.document, "", fullname)
        term = nodes.term("", "", ids=[node_id])
        term += nodes.literal("", name)
        self.state.document.note_explicit_target(term)
        self.env.get_domain("py").note_object(fullname, "attribute", node_id, location=term)
        index = addnodes.index(
            entries=[("single", f"{name} ({cls.__name__} setting)", node_id, "", None)]
        )

        facts = nodes.paragraph()
        facts += nodes.strong("", "Type")
        facts += nodes.Text(": ")
        facts += nodes.literal("", type_name(trait))
        facts += nodes.Text("; ")
        facts += nodes.strong("", "default")
        facts += nodes.Text(": ")
        facts += nodes.literal("", default_text(cls, name, trait))
        if definer is not cls:
            facts += nodes.Text("; from ")
            facts += nodes.literal("", definer.__name__)
            facts += nodes.Text(", so ")
            facts += nodes.literal("", f"c.{definer.__name__}.{name}")
            facts += nodes.Text(" sets it too")
        facts += nodes.Text(".")

        definition = nodes.definition()
        definition += index
        definition += facts
        definition.extend(help_nodes(trait.help or ""))
        item = nodes.definition_list_item()
        item += term
        item += definition
        return item


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("traits", TraitsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
