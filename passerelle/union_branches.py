"""Name the branch of every ``["null", T]`` union before fastavro writes a record (a hot path).

To choose a union's branch, fastavro's writer *validates* the value against each candidate; for a
record branch that validation walks the whole nested value, and every union nested inside it is
validated again when its own turn comes. On a translated Patient Summary (``PatientSummaryOutcome``,
~57 KB of sections and entries, unions at every level) encoding cost about twice the CPU it costs
when the branches are named (1.0 → 0.54 ms, docs/performance.md). fastavro's *tuple notation* —
``(branch name, value)`` — names the branch and skips the validation; the bytes are the same.

``branch_tagger(schema)`` compiles, once per schema, a function returning a copy of a record with
the value of every ``["null", T]`` union (T a record, enum, fixed, array or map) in tuple notation.
Anything else is left as it is, for fastavro to handle (and to refuse) as before: other unions,
primitive branches, and values of the wrong Python type (not tagged, so fastavro's error is unchanged).
"""

from __future__ import annotations

from typing import Any, Callable

Tagger = Callable[[Any], Any]
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
NAMED = {"record", "enum", "fixed"}
PYTHON_TYPE = {"record": dict, "map": dict, "array": list, "enum": str, "fixed": bytes}


def full_name(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def defined_name(schema: dict, namespace: str | None) -> str:
    """Full name of a named type's definition (its own namespace first, then the enclosing one)."""
    return full_name(schema["name"], schema.get("namespace", namespace))


def _container_tagger(kind: str, inner: Tagger | None) -> Tagger | None:
    """An array's or a map's tagger: its items' (values') tagger applied to each, or None."""
    if inner is None:
        return None
    if kind == "array":
        return lambda d: [inner(x) for x in d] if type(d) is list else d
    return lambda d: {k: inner(v) for k, v in d.items()} if type(d) is dict else d


def branch_tagger(schema: Any) -> Tagger | None:
    """The tagging function of a self-contained schema, or None when it has nothing to tag."""
    named: dict[str, tuple[str, Tagger | None]] = {}  # full name -> (avro type, tagger)

    def build(s: Any, ns: str | None) -> tuple[str | None, Tagger | None]:
        """(avro type of ``s``, its tagger or None)."""
        if isinstance(s, str):
            if s in PRIMITIVES:
                return s, None
            ref = full_name(s, ns)
            kind, _ = named.get(ref, ("record", None))
            # A reference, maybe to a record still being built (recursion): looked up at call time.
            return kind, lambda d: (named[ref][1] or (lambda x: x))(d)
        if isinstance(s, list):
            return "union", union(s, ns)
        kind = s["type"]
        if isinstance(kind, (list, dict)):
            return build(kind, ns)
        if kind == "record":
            name = defined_name(s, ns)
            inner_ns = name.rsplit(".", 1)[0] if "." in name else None
            named[name] = ("record", None)
            fields = [(f["name"], build(f["type"], inner_ns)[1]) for f in s["fields"]]
            fields = [(n, fn) for n, fn in fields if fn is not None]
            tagger = record_tagger(fields) if fields else None
            named[name] = ("record", tagger)
            return "record", tagger
        if kind in ("enum", "fixed"):
            named[defined_name(s, ns)] = (kind, None)
            return kind, None
        if kind in ("array", "map"):
            return kind, _container_tagger(kind, build(s["items" if kind == "array" else "values"], ns)[1])
        return kind, None

    def union(branches: list, ns: str | None) -> Tagger | None:
        others = [b for b in branches if b != "null"]
        if len(others) != 1 or "null" not in branches:
            for b in others:  # still register the named types defined inside
                build(b, ns)
            return None
        branch = others[0]
        kind, inner = build(branch, ns)
        if kind not in PYTHON_TYPE:
            return None
        if isinstance(branch, str):
            tag = full_name(branch, ns)
        elif kind in NAMED:
            tag = defined_name(branch, ns)
        else:
            tag = kind
        expected = PYTHON_TYPE[kind]
        if inner is None:
            return lambda d: (tag, d) if type(d) is expected else d
        return lambda d: (tag, inner(d)) if type(d) is expected else d

    return build(schema, None)[1]


def record_tagger(fields: list[tuple[str, Tagger]]) -> Tagger:
    def tag(d):
        if type(d) is not dict:
            return d
        out = dict(d)
        for name, fn in fields:
            if name in out:
                out[name] = fn(out[name])
        return out
    return tag
