"""Check every ``resource`` and ``data`` block of ``infra/terraform`` against the real Google provider schema.

``terraform validate`` needs the provider binary, which cannot be downloaded
where CI runs.  The provider's schema still can be had: the npm package
``@cdktf/provider-google`` is generated from it (its ``.jsii`` assembly names
every argument with its Terraform name and whether it is optional; its
generated code says, for every argument, whether it is a block or an
attribute and of which type).  ``--refresh`` installs the pinned package into
a temporary directory, reads both, and writes a compact extract committed
under ``tools/tfschema/`` (``google-<version>.json``); the check reads only
that extract, so it needs neither npm nor the network.

The provider version the extract describes is the one ``versions.tf`` pins,
exactly: a pin that moves without a refresh (or a refresh that brings another
version) fails the check, so the schema checked and the provider deployed
cannot drift apart.

What is checked, per block, recursively: the type exists; every argument and
nested block exists; every required argument and block is there; blocks are
written as blocks and attributes as attributes; literal values convert to the
declared type the way Terraform converts them (``"5"`` is a number, ``"yes"``
is not a bool); deprecated arguments are reported.  Meta-arguments
(``count``, ``for_each``, ``depends_on``, ``provider``, ``lifecycle``,
provisioners) and ``dynamic`` blocks are understood.  Expressions are not
evaluated: their type is undecidable here and passes.

The package does not carry Terraform's ``Deprecated`` flag; deprecation is
read from the argument's description (``Deprecated.``, ``**DEPRECATED**``,
"is deprecated"), which is how the provider's documentation marks it.

    python tools/tfschema.py                 # check infra/terraform; exit 1 on any problem
    python tools/tfschema.py path/to/terraform
    python tools/tfschema.py --refresh       # rebuild the extract from the pinned npm package (needs npm)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[1]
TF_DIR = REPO / "infra" / "terraform"
EXTRACTS = REPO / "tools" / "tfschema"

# The npm package the extract is made from, and the provider it was generated from.
PACKAGE = "@cdktf/provider-google"
PACKAGE_VERSION = "16.12.1"
PROVIDER_SOURCE = "hashicorp/google"

# explicit_blocks marks blocks (``__is_block__``), so `labels = {...}` and `labels {...}` differ.
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=True, strip_string_quotes=True)
IS_BLOCK = "__is_block__"
EXPR = re.compile(r"^\$\{.*\}$", re.S)

# Meta-arguments Terraform itself handles (the same for resources and data sources), and meta-blocks per kind.
META_ATTRIBUTES = frozenset({"count", "for_each", "depends_on", "provider"})
META_BLOCKS = {"resource": {"lifecycle", "provisioner", "connection"}, "data": {"lifecycle"}}
LIFECYCLE = {
    "resource": (
        {"create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"},
        {"precondition", "postcondition"},
    ),
    "data": (set(), {"precondition", "postcondition"}),
}
DYNAMIC_ATTRIBUTES = {"for_each", "iterator", "labels"}


# ------------------------------------------------------------------------------------------ the extract
def pinned_version(tf_dir: Path = TF_DIR) -> str | None:
    """The exact version ``required_providers.google`` pins in ``versions.tf`` (None if not exact)."""
    for path in sorted(tf_dir.glob("*.tf")):
        doc = hcl2.loads(path.read_text(), serialization_options=OPTIONS)
        for terraform in doc.get("terraform", []):
            for providers in terraform.get("required_providers", []):
                google = providers.get("google")
                if isinstance(google, dict):
                    version = str(google.get("version", "")).strip()
                    return version if re.fullmatch(r"=?\s*\d+\.\d+\.\d+", version) else None
    return None


def extract_path(version: str) -> Path:
    return EXTRACTS / f"google-{version.lstrip('= ')}.json"


@dataclass(frozen=True)
class Schema:
    """The extract: provider version, and per kind ("resource", "data") type name -> block schema."""

    version: str
    package: str
    types: dict[str, dict[str, dict[str, Any]]]

    @classmethod
    def load(cls, path: Path) -> Schema:
        raw = json.loads(path.read_text())
        return cls(raw["version"], raw["package"], {"resource": raw["resource"], "data": raw["data"]})


# ------------------------------------------------------------------------------------------ the check
@dataclass
class Checker:
    """Walks parsed blocks against their schema, collecting one line per problem."""

    problems: list[str]

    def block(self, where: str, body: dict[str, Any], spec: dict[str, Any], kind: str | None = None) -> None:
        """``body`` (a parsed block) against ``spec``; ``kind`` is set for a top-level resource/data block."""
        attributes: dict[str, Any] = spec.get("attributes", {})
        blocks: dict[str, Any] = spec.get("blocks", {})
        meta_attrs = META_ATTRIBUTES if kind else frozenset()
        meta_blocks = META_BLOCKS[kind] if kind else set()
        dynamic: dict[str, list[dict[str, Any]]] = {}
        for name, value in body.items():
            if name == IS_BLOCK:
                continue
            if name == "dynamic" and isinstance(value, list):  # [{label: body}, ...]
                for dyn in value:
                    for label, content in dyn.items():
                        if label != IS_BLOCK:
                            dynamic.setdefault(label, []).append(content)
                continue
            if name in meta_attrs and not _is_blocks(value):
                continue
            if name in meta_blocks and isinstance(value, list):  # provisioner "x" {} is labelled: [{x: body}]
                if name == "lifecycle" and kind:
                    self.lifecycle(f"{where}.lifecycle", value, kind)
                continue
            if name in attributes:
                self.attribute(f"{where}.{name}", value, attributes[name])
            elif name in blocks:
                self.nested(f"{where}.{name}", value, blocks[name], dynamic=False)
            else:
                self.problems.append(f"{where}: unknown {'block' if _is_blocks(value) else 'argument'} {name!r}")
        for label, contents in dynamic.items():
            self.dynamic(f"{where}.dynamic.{label}", contents, blocks.get(label), label in attributes)
        for name, attr in attributes.items():
            if attr.get("required") and name not in body:
                self.problems.append(f"{where}: required argument {name!r} is missing")
        for name, sub in blocks.items():
            if sub.get("min_items", 0) > 0 and name not in body and name not in dynamic:
                self.problems.append(f"{where}: required block {name!r} is missing")

    def attribute(self, where: str, value: Any, attr: dict[str, Any]) -> None:
        if _is_blocks(value):
            self.problems.append(f"{where}: is an attribute, written as a block (write `{_leaf(where)} = ...`)")
            return
        if attr.get("deprecated"):
            self.problems.append(f"{where}: deprecated: {attr['deprecated']}")
        if (why := type_mismatch(value, attr["type"])) is not None:
            self.problems.append(f"{where}: {why}")

    def nested(self, where: str, value: Any, spec: dict[str, Any], *, dynamic: bool) -> None:
        if not _is_blocks(value):
            self.problems.append(f"{where}: is a block, written as an attribute (write `{_leaf(where)} {{ ... }}`)")
            return
        if spec.get("deprecated"):
            self.problems.append(f"{where}: deprecated: {spec['deprecated']}")
        if (most := spec.get("max_items")) is not None and len(value) > most and not dynamic:
            self.problems.append(f"{where}: at most {most} block(s), found {len(value)}")
        for i, body in enumerate(value):
            self.block(where if len(value) == 1 else f"{where}[{i}]", body, spec)

    def dynamic(self, where: str, contents: list[dict[str, Any]], spec: dict[str, Any] | None, attr: bool) -> None:
        if spec is None:
            what = "an attribute: dynamic generates blocks only" if attr else "not a block of this type"
            self.problems.append(f"{where}: {_leaf(where)!r} is {what}")
            return
        for dyn in contents:
            for name in dyn:
                if name not in (IS_BLOCK, "content") and name not in DYNAMIC_ATTRIBUTES:
                    self.problems.append(f"{where}: unknown argument {name!r} of a dynamic block")
            content = dyn.get("content")
            if not _is_blocks(content):
                self.problems.append(f"{where}: a dynamic block needs a content block")
                continue
            self.nested(f"{where}.content", content, spec, dynamic=True)

    def lifecycle(self, where: str, value: list[dict[str, Any]], kind: str) -> None:
        attrs, blocks = LIFECYCLE[kind]
        for body in value:
            for name, item in body.items():
                if name != IS_BLOCK and name not in (blocks if _is_blocks(item) else attrs):
                    self.problems.append(f"{where}: unknown lifecycle argument {name!r}")


def check(tf_dir: Path = TF_DIR, schema: Schema | None = None) -> list[str]:
    """Every problem of ``tf_dir`` against the extract of the pinned provider, one line each."""
    pin = pinned_version(tf_dir)
    if pin is None:
        return [f'versions.tf must pin {PROVIDER_SOURCE} to an exact version (version = "X.Y.Z")']
    if schema is None:
        path = extract_path(pin)
        if not path.exists():
            return [f"no schema extract for google {pin} ({path.relative_to(REPO)}): run tools/tfschema.py --refresh"]
        schema = Schema.load(path)
    if schema.version != pin.lstrip("= "):
        return [f"versions.tf pins google {pin}, the schema extract is of {schema.version}"]
    checker = Checker([])
    for kind, rtype, name, body, where in blocks_of(tf_dir):
        types = schema.types[kind]
        label = "data source" if kind == "data" else "resource type"
        if rtype not in types:
            checker.problems.append(f"{where}: {kind}.{rtype}.{name}: unknown {label} {rtype!r}")
        else:
            checker.block(f"{where}: {'data.' if kind == 'data' else ''}{rtype}.{name}", body, types[rtype], kind)
    return checker.problems


def blocks_of(tf_dir: Path) -> Iterator[tuple[str, str, str, dict[str, Any], str]]:
    """(kind, type, name, body, file) of every resource and data block."""
    for path in sorted(tf_dir.glob("*.tf")):
        doc = hcl2.loads(path.read_text(), serialization_options=OPTIONS)
        for kind in ("resource", "data"):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    if rtype == IS_BLOCK:
                        continue
                    for name, body in named.items():
                        if name != IS_BLOCK:
                            yield kind, rtype, name, body, path.name


def type_mismatch(value: Any, declared: str) -> str | None:
    """Why the literal ``value`` cannot convert to ``declared`` (Terraform's rules), or None.

    Expressions (``${...}``) and null are undecidable here and pass.  Like
    Terraform, a number or bool converts to a string, a numeric string to a
    number, and "true"/"false" to a bool.
    """
    if value is None or (isinstance(value, str) and EXPR.match(value)):
        return None
    collection = re.fullmatch(r"(list|set|map)\((.+)\)", declared)
    if collection:
        outer, inner = collection.groups()
        if outer == "map":
            if not isinstance(value, dict):
                return f"expects a map of {inner}, got {_describe(value)}"
            items = [v for k, v in value.items() if k != IS_BLOCK]
        else:
            if not isinstance(value, list):
                return f"expects a {outer} of {inner}, got {_describe(value)}"
            items = value
        for item in items:
            if (why := type_mismatch(item, inner)) is not None:
                return f"element: {why}"
        return None
    if declared == "string":
        ok = isinstance(value, (str, int, float, bool))
    elif declared == "number":
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value) is not None
        )
    elif declared == "bool":
        ok = isinstance(value, bool) or value in ("true", "false")
    else:  # a type this checker does not model: undecidable
        ok = True
    return None if ok else f"expects a {declared}, got {_describe(value)}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the bool {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return "a map" if isinstance(value, dict) else "a list"


def _is_blocks(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get(IS_BLOCK) for v in value)


def _leaf(where: str) -> str:
    return where.rsplit(".", 1)[-1].split("[", maxsplit=1)[0]


# ------------------------------------------------------------------------------------------ --refresh
# One argument of the generated HCL synthesis:   name: { value: ..., isBlock: .., type: "..", storageClassType: ".." },
HCL_ARG = re.compile(
    r"^\s+(\w+): \{\n\s+value: (.*),\n\s+isBlock: (true|false),\n"
    r'\s+type: "(\w+)",\n\s+storageClassType: "(\w+)",\n\s+\},',
    re.M,
)
STRUCT_FN = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{$", re.M)
CLASS = re.compile(r"^class (\w+) extends cdktf\.(TerraformResource|TerraformDataSource) \{$", re.M)
TF_TYPE = re.compile(r'^(\w+)\.tfResourceType = "(\w+)";$', re.M)
MAPPER = re.compile(r"(?<!cdktf\.)\b([a-z]\w*)ToHclTerraform\b")
ANCHOR = re.compile(r"\{@link https://registry\.terraform\.io/\S+#(\w+) \w+#\w+\}")
PRIMITIVE = {"string": "string", "number": "number", "boolean": "bool"}
# How the provider's descriptions mark a deprecated argument (the package has no flag for it).
DEPRECATED = re.compile(
    r"^\W*deprecated\b|\*\*deprecated\*\*"
    r"|\b(?:this|the) (?:field|argument|attribute|block) (?:is|has been) deprecated\b",
    re.I,
)


def refresh(tf_dir: Path = TF_DIR) -> Path:
    """Install the pinned package into a temp dir, write the extract, return its path."""
    with tempfile.TemporaryDirectory() as tmp:
        npm = ["npm", "pack", "--json", f"{PACKAGE}@{PACKAGE_VERSION}"]
        packed = json.loads(subprocess.run(npm, cwd=tmp, check=True, capture_output=True, text=True).stdout)
        (tgz,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tgz) as archive:
            archive.extractall(tmp, filter="data")
        extract = build_extract(Path(tmp) / "package")
        extract["integrity"] = packed[0]["integrity"]
    pin = pinned_version(tf_dir)
    if pin is None or pin.lstrip("= ") != extract["version"]:
        raise SystemExit(
            f"{PACKAGE}@{PACKAGE_VERSION} carries google {extract['version']}, versions.tf pins {pin}: "
            "pin that version (or change PACKAGE_VERSION)"
        )
    path = extract_path(extract["version"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_extract(extract))
    return path


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def dump_extract(extract: dict[str, Any]) -> str:
    """JSON with one type per line: compact, and a refresh's diff shows which types changed."""
    lines = ["{"]
    for key in ("provider", "version", "package", "integrity"):
        lines.append(f"{json.dumps(key)}:{json.dumps(extract[key])},")
    for kind in ("data", "resource"):
        types = sorted(extract[kind].items())
        lines.append(f"{json.dumps(kind)}:{{")
        lines += [f"{json.dumps(name)}:{_compact(spec)}," for name, spec in types]
        lines[-1] = lines[-1].rstrip(",")
        lines.append("}," if kind == "data" else "}")
    return "\n".join(lines) + "\n}\n"


def build_extract(package: Path) -> dict[str, Any]:
    """The extract of an unpacked package: every resource and data source type with its schema.

    All of them (about 1.2 MB): a new resource in the configuration needs no refresh.
    """
    meta = json.loads((package / "package.json").read_text())
    provider = meta["cdktf"]["provider"]
    jsii = json.loads((package / ".jsii").read_text())
    structs: dict[tuple[str, str], dict[str, Any]] = {}
    for t in jsii["types"].values():
        if t.get("kind") == "interface" and t.get("datatype"):
            folder = Path(t["locationInModule"]["filename"]).parts[1]  # src/<folder>/...
            structs[(folder, t["name"])] = {_terraform_name(p): p for p in t.get("properties", [])}
    out: dict[str, Any] = {
        "provider": provider["name"],
        "version": provider["version"],
        "package": f"{meta['name']}@{meta['version']}",
        "resource": {},
        "data": {},
    }
    for js in sorted((package / "lib").glob("*/index.js")):
        folder = js.parent.name
        text = js.read_text()
        structs_text = "\n".join(p.read_text() for p in sorted(js.parent.glob("index-structs/*.js")))
        classes = {m.group(1): m.group(2) for m in CLASS.finditer(text)}
        for cls, tf_type in TF_TYPE.findall(text):
            if cls not in classes:
                continue  # the provider block itself
            kind = "data" if classes[cls] == "TerraformDataSource" else "resource"
            bodies = _hcl_bodies(text, structs_text, cls)
            out[kind][tf_type] = _block_schema(bodies, structs, folder, f"{cls}Config", bodies[cls])
    return out


def _hcl_bodies(text: str, structs_text: str, cls: str) -> dict[str, str]:
    """Struct name -> the text of its HCL synthesis function; ``cls`` -> the class's own.

    Large types keep their structs in ``index-structs/*.js`` beside ``index.js``.
    """
    bodies: dict[str, str] = {}
    for source in (text, structs_text):
        for m in STRUCT_FN.finditer(source):
            name = m.group(1)[0].upper() + m.group(1)[1:]
            bodies[name] = source[m.end() : source.index("\n}\n", m.end())]
    start = text.index("synthesizeHclAttributes() {", text.index(f"class {cls} extends"))
    bodies[cls] = text[start : text.index("\n    }\n", start)]
    return bodies


def _block_schema(
    bodies: dict[str, str], structs: dict[tuple[str, str], dict[str, Any]], folder: str, struct: str, body: str
) -> dict[str, Any]:
    props = structs[(folder, struct)]
    attributes: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for name, value, is_block, kind, storage in HCL_ARG.findall(body):
        prop = props[name]
        optional = bool(prop.get("optional"))
        deprecated = _deprecation(prop.get("docs", {}))
        if is_block == "true":
            (nested,) = MAPPER.findall(value)
            nested = nested[0].upper() + nested[1:]
            spec = _block_schema(bodies, structs, folder, nested, bodies[nested])
            spec["nesting"] = {"struct": "single"}.get(kind, kind)
            if not optional:
                spec["min_items"] = 1
            if "collection" not in json.dumps(prop["type"]):
                spec["max_items"] = 1
            if deprecated:
                spec["deprecated"] = deprecated
            blocks[name] = spec
        else:
            attr: dict[str, Any] = {"type": _attribute_type(kind, storage)}
            if not optional:
                attr["required"] = True
            if deprecated:
                attr["deprecated"] = deprecated
            attributes[name] = attr
    schema: dict[str, Any] = {"attributes": attributes}
    if blocks:
        schema["blocks"] = blocks
    return schema


def _terraform_name(prop: dict[str, Any]) -> str:
    """An argument's Terraform name: its documentation anchor (properties like ``build`` are renamed)."""
    anchors = ANCHOR.findall(prop.get("docs", {}).get("remarks", "") + prop.get("docs", {}).get("summary", ""))
    if anchors:
        return str(anchors[-1])
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), prop["name"])


def _attribute_type(kind: str, storage: str) -> str:
    match = re.fullmatch(r"(string|number|boolean)(List|Map)?", storage)
    if match is None:
        return "any"
    element = PRIMITIVE[match.group(1)]
    if match.group(2) == "Map":
        return f"map({element})"
    if match.group(2) == "List":
        return f"{'set' if kind == 'set' else 'list'}({element})"
    return element


def _deprecation(docs: dict[str, str]) -> str | None:
    summary = docs.get("summary", "")
    text = re.sub(r"Docs at Terraform Registry:.*", "", f"{summary} {docs.get('remarks', '')}", flags=re.S)
    return " ".join(summary.split())[:200] if DEPRECATED.search(text) else None


# ------------------------------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=TF_DIR)
    parser.add_argument("--refresh", action="store_true", help=f"rebuild the extract from {PACKAGE} (needs npm)")
    args = parser.parse_args(argv)
    if args.refresh:
        print(f"wrote {refresh(args.directory)}")
    problems = check(args.directory)
    for problem in problems:
        print(problem)
    if not problems:
        version = pinned_version(args.directory)
        print(f"every resource and data block of {args.directory} fits the google {version} schema")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
