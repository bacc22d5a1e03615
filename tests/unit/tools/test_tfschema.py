"""tools/tfschema.py: infra/terraform fits the real provider schema, and each kind of mistake is reported.

The configuration must pass; copies of it broken on purpose (one edit each)
must fail with the mistake named, so the checker cannot pass by being unable
to fail.  The extractor is run on a small package shaped like the generated
one, so ``--refresh`` is tested without npm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.tools.tf_support import TF_DIR, edited_copy
from tools import tfschema
from tools.tfschema import Schema, check, extract_path, pinned_version, type_mismatch


def edited(tmp_path: Path, file: str, old: str, new: str) -> Path:
    return edited_copy(tmp_path, {file: (old, new)})


def test_the_configuration_fits_the_schema() -> None:
    assert check(TF_DIR) == []


def test_the_pin_is_exact_and_equals_the_extract_version() -> None:
    pin = pinned_version(TF_DIR)
    assert pin is not None, "versions.tf must pin the google provider to one exact version"
    schema = Schema.load(extract_path(pin))
    assert schema.version == pin
    assert schema.package == f"{tfschema.PACKAGE}@{tfschema.PACKAGE_VERSION}"


def test_the_extract_is_written_as_refresh_writes_it() -> None:
    """Hand edits would not survive the next refresh: the committed file is exactly dump_extract's output."""
    path = extract_path(str(pinned_version(TF_DIR)))
    text = path.read_text()
    assert tfschema.dump_extract(json.loads(text)) == text
    assert len(text) < 2_000_000


CATALOGUE = """
resource "google_dialogflow_cx_webhook" "old" {
  display_name            = "hook"
  enable_spell_correction = true
}
"""

META = """
resource "google_service_account" "meta" {
  count      = 2
  provider   = google
  account_id = "meta-${count.index}"
  depends_on = [google_project_service.apis]

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [description]
    precondition {
      condition     = var.env != ""
      error_message = "env"
    }
  }

  provisioner "local-exec" {
    command = "true"
  }
}

data "google_compute_network" "meta" {
  for_each   = toset(["a"])
  name       = each.value
  depends_on = [google_project_service.apis]
}
"""

# case -> (file, text, replacement, phrase of the problem reported)
BREAKS: dict[str, tuple[str, str, str, str]] = {
    "unknown resource type": (
        "secrets.tf",
        'resource "google_secret_manager_secret" "secret"',
        'resource "google_secret_manager_secrets" "secret"',
        "unknown resource type 'google_secret_manager_secrets'",
    ),
    "unknown data source": (
        "redis.tf",
        "locals {",
        'data "google_compute_networks_x" "vpc" {\n  name = var.network\n}\n\nlocals {',
        "unknown data source 'google_compute_networks_x'",
    ),
    "misspelled argument": (
        "redis.tf",
        "memory_size_gb     = var.redis_memory_gb",
        "memory_size_gib    = var.redis_memory_gb",
        "google_redis_instance.cache: unknown argument 'memory_size_gib'",
    ),
    "misspelled argument in a nested block": (
        "queues.tf",
        "max_doublings = each.value.max_doublings",
        "max_doubling  = each.value.max_doublings",
        "google_cloud_tasks_queue.queue.retry_config: unknown argument 'max_doubling'",
    ),
    "misspelled nested block": (
        "functions.tf",
        "      storage_source {",
        "      storage_sources {",
        "build_config.source: unknown block 'storage_sources'",
    ),
    "missing required argument": (
        "redis.tf",
        "  memory_size_gb     = var.redis_memory_gb\n",
        "",
        "google_redis_instance.cache: required argument 'memory_size_gb' is missing",
    ),
    "missing required argument of a nested block": (
        "storage.tf",
        '    action {\n      type = "Delete"\n    }\n  }\n}\n\n# Evidence',
        "    action {\n    }\n  }\n}\n\n# Evidence",
        "google_storage_bucket.exports.lifecycle_rule.action: required argument 'type' is missing",
    ),
    "missing required block": (
        "secrets.tf",
        "  replication {\n    auto {}\n  }\n",
        "",
        "google_secret_manager_secret.secret: required block 'replication' is missing",
    ),
    "attribute written as a block": (
        "redis.tf",
        "redis_configs = {",
        "redis_configs {",
        "google_redis_instance.cache.redis_configs: is an attribute, written as a block",
    ),
    "block written as an attribute": (
        "storage.tf",
        "  versioning {\n    enabled = true\n  }\n\n  # An overwritten",
        "  versioning = {\n    enabled = true\n  }\n\n  # An overwritten",
        "google_storage_bucket.evidence.versioning: is a block, written as an attribute",
    ),
    "two blocks where one is allowed": (
        "functions.tf",
        "  versioning {\n    enabled = true\n  }\n",
        "  versioning {\n    enabled = true\n  }\n  versioning {\n    enabled = true\n  }\n",
        "google_storage_bucket.sources.versioning: at most 1 block(s), found 2",
    ),
    "a string where a bool goes": (
        "redis.tf",
        "auth_enabled            = true",
        'auth_enabled            = "yes"',
        "google_redis_instance.cache.auth_enabled: expects a bool, got the string 'yes'",
    ),
    "a string where a number goes": (
        "redis.tf",
        "min_instances = 2",
        'min_instances = "two"',
        "google_vpc_access_connector.connector.min_instances: expects a number, got the string 'two'",
    ),
    "a list where a string goes": (
        "redis.tf",
        'machine_type  = "e2-micro"',
        'machine_type  = ["e2-micro"]',
        "machine_type: expects a string, got a list",
    ),
    "a scalar where a list goes": (
        "storage.tf",
        'method          = ["PUT", "GET"]',
        'method          = "PUT"',
        "google_storage_bucket.evidence.cors.method: expects a list of string, got the string 'PUT'",
    ),
    "a map element of the wrong type": (
        "redis.tf",
        'maxmemory-policy = "volatile-lru"',
        "maxmemory-policy = [1]",
        "redis_configs: element: expects a string, got a list",
    ),
    "dynamic over an attribute": (
        "functions.tf",
        'dynamic "secret_environment_variables" {',
        'dynamic "environment_variables" {',
        "'environment_variables' is an attribute: dynamic generates blocks only",
    ),
    "dynamic content with a misspelled argument": (
        "functions.tf",
        "        key        = secret_environment_variables.value",
        "        keys       = secret_environment_variables.value",
        "dynamic.secret_environment_variables.content: unknown argument 'keys'",
    ),
    "unknown lifecycle argument": (
        "apis.tf",
        "  disable_on_destroy = false\n",
        "  disable_on_destroy = false\n  lifecycle {\n    prevent_destroys = true\n  }\n",
        "google_project_service.apis.lifecycle: unknown lifecycle argument 'prevent_destroys'",
    ),
    "deprecated argument": (
        "apis.tf",
        'resource "google_project_service" "apis" {',
        CATALOGUE + '\nresource "google_project_service" "apis" {',
        "google_dialogflow_cx_webhook.old.enable_spell_correction: deprecated: Deprecated.",
    ),
    "a pin that moved without a refresh": (
        "versions.tf",
        'version = "6.50.0"',
        'version = "6.51.0"',
        "no schema extract for google 6.51.0",
    ),
    "a range instead of a pin": (
        "versions.tf",
        'version = "6.50.0"',
        'version = "~> 6.50"',
        "must pin hashicorp/google to an exact version",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_a_broken_copy_is_reported(tmp_path: Path, case: str) -> None:
    file, old, new, phrase = BREAKS[case]
    problems = check(edited(tmp_path, file, old, new))
    assert any(phrase in p for p in problems), problems


def test_every_break_is_reported_alone(tmp_path: Path) -> None:
    """One mistake, one line: a misspelled argument is not also reported as a missing required one."""
    file, old, new, _ = BREAKS["misspelled nested block"]
    assert len(check(edited(tmp_path, file, old, new))) == 1


def test_meta_arguments_are_not_arguments_of_the_type(tmp_path: Path) -> None:
    assert check(edited_copy(tmp_path, {}, META)) == []


def test_the_command_line_exits_1_on_a_broken_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file, old, new, phrase = BREAKS["misspelled argument"]
    assert tfschema.main([str(edited(tmp_path, file, old, new))]) == 1
    assert phrase in capsys.readouterr().out
    assert tfschema.main([str(TF_DIR)]) == 0


@pytest.mark.parametrize(
    ("value", "declared", "ok"),
    [
        ("text", "string", True),
        (5, "string", True),  # Terraform converts numbers and bools to strings
        (True, "string", True),
        ([1], "string", False),
        ({"a": "b"}, "string", False),
        (3, "number", True),
        (0.5, "number", True),
        ("42", "number", True),  # a numeric string converts
        ("4x", "number", False),
        (True, "number", False),
        (False, "bool", True),
        ("true", "bool", True),
        ("yes", "bool", False),
        (1, "bool", False),
        (["a", 1], "list(string)", True),
        ([[1]], "set(string)", False),
        ("a", "list(string)", False),
        ({"a": "1"}, "map(number)", True),
        ({"a": "x"}, "map(number)", False),
        (["a"], "map(string)", False),
        ("${var.anything}", "number", True),  # expressions are undecidable here
        (None, "bool", True),
    ],
)
def test_literals_convert_like_terraform(value: Any, declared: str, ok: bool) -> None:
    assert (type_mismatch(value, declared) is None) is ok


# ------------------------------------------------------------------------------------------ --refresh
def _prop(name: str, anchor: str, type_: dict[str, Any], *, optional: bool = True, summary: str = "") -> dict[str, Any]:
    docs = "https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/thing"
    link = f"{{@link {docs}#{anchor} Thing#{anchor}}}"
    prop = {"name": name, "type": type_, "docs": {"summary": summary, "remarks": f"Docs at Terraform Registry: {link}"}}
    return prop | ({"optional": True} if optional else {})


def _struct(name: str, props: list[dict[str, Any]], folder: str = "thing") -> dict[str, Any]:
    return {
        "kind": "interface",
        "datatype": True,
        "name": name,
        "locationInModule": {"filename": f"src/{folder}/index.ts"},
        "properties": props,
    }


def _arg(name: str, value: str, block: bool, kind: str, storage: str) -> str:
    return (
        f"        {name}: {{\n            value: {value},\n            isBlock: {str(block).lower()},\n"
        f'            type: "{kind}",\n            storageClassType: "{storage}",\n        }},\n'
    )


LIST_OF_STRINGS = "cdktf.listMapperHcl(cdktf.stringToHclTerraform, false)"


def fake_package(root: Path) -> Path:
    """A package shaped like @cdktf/provider-google: one resource, google_thing, with every kind of argument."""
    rule = "@cdktf/provider-google.thing.ThingRule"
    types = {
        "ThingConfig": _struct(
            "ThingConfig",
            [
                _prop("name", "name", {"primitive": "string"}, optional=False),
                _prop("buildAttribute", "build", {"primitive": "number"}),
                _prop("zones", "zones", {"collection": {"kind": "array", "elementtype": {"primitive": "string"}}}),
                _prop("old", "old", {"primitive": "boolean"}, summary="Deprecated. Use new instead."),
                _prop("rule", "rule", {"collection": {"kind": "array", "elementtype": {"fqn": rule}}}, optional=False),
                _prop("timeouts", "timeouts", {"fqn": "@cdktf/provider-google.thing.ThingTimeouts"}),
            ],
        ),
        "ThingRule": _struct("ThingRule", [_prop("labels", "labels", {"collection": {"kind": "map"}})]),
        "ThingTimeouts": _struct("ThingTimeouts", [_prop("create", "create", {"primitive": "string"})]),
    }
    jsii = {"types": {f"@cdktf/provider-google.thing.{name}": t for name, t in types.items()}}
    structs = (
        "function thingRuleToHclTerraform(struct) {\n    const attrs = {\n"
        + _arg("labels", "cdktf.hashMapperHcl(cdktf.stringToHclTerraform)(struct.labels)", False, "map", "stringMap")
        + "    };\n}\n"
        + "function thingTimeoutsToHclTerraform(struct) {\n    const attrs = {\n"
        + _arg("create", "cdktf.stringToHclTerraform(struct.create)", False, "simple", "string")
        + "    };\n}\n"
    )
    cls = (
        "class Thing extends cdktf.TerraformResource {\n    synthesizeHclAttributes() {\n        const attrs = {\n"
        + _arg("name", "cdktf.stringToHclTerraform(this._name)", False, "simple", "string")
        + _arg("build", "cdktf.numberToHclTerraform(this._build)", False, "simple", "number")
        + _arg("zones", f"{LIST_OF_STRINGS}(this._zones)", False, "set", "stringList")
        + _arg("old", "cdktf.booleanToHclTerraform(this._old)", False, "simple", "boolean")
        + _arg(
            "rule",
            "cdktf.listMapperHcl(thingRuleToHclTerraform, true)(this._rule.internalValue)",
            True,
            "set",
            "ThingRuleList",
        )
        + _arg("timeouts", "thingTimeoutsToHclTerraform(this._timeouts.internalValue)", True, "struct", "ThingTimeouts")
        + "        };\n    }\n}\n"
        + 'Thing.tfResourceType = "google_thing";\n'
        + 'GoogleProvider.tfResourceType = "google";\n'
    )
    package = root / "package"
    (package / "lib" / "thing" / "index-structs").mkdir(parents=True)
    (package / "lib" / "thing" / "index.js").write_text(cls)
    (package / "lib" / "thing" / "index-structs" / "structs0.js").write_text(structs)
    (package / ".jsii").write_text(json.dumps(jsii))
    provider = {"name": "registry.terraform.io/hashicorp/google", "version": "6.50.0"}
    meta = {"name": "@cdktf/provider-google", "version": "9.9.9", "cdktf": {"provider": provider}}
    (package / "package.json").write_text(json.dumps(meta))
    return package


def test_the_extractor_reads_names_types_requirements_and_blocks(tmp_path: Path) -> None:
    extract = tfschema.build_extract(fake_package(tmp_path))
    assert extract["version"] == "6.50.0"
    assert extract["package"] == "@cdktf/provider-google@9.9.9"
    assert extract["data"] == {}
    assert extract["resource"] == {
        "google_thing": {
            "attributes": {
                "name": {"type": "string", "required": True},
                "build": {"type": "number"},  # renamed buildAttribute in the package: the anchor has the real name
                "zones": {"type": "set(string)"},
                "old": {"type": "bool", "deprecated": "Deprecated. Use new instead."},
            },
            "blocks": {
                "rule": {"attributes": {"labels": {"type": "map(string)"}}, "nesting": "set", "min_items": 1},
                "timeouts": {"attributes": {"create": {"type": "string"}}, "nesting": "single", "max_items": 1},
            },
        }
    }
    assert json.loads(tfschema.dump_extract(extract | {"integrity": "sha512-x"})) == extract | {"integrity": "sha512-x"}
