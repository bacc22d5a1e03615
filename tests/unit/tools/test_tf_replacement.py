"""Memorystore and the VPC connector cannot be replaced by a change to the list of enabled APIs.

A data source that depends on ``google_project_service.apis`` (through
``depends_on`` or a reference) is read at apply time whenever that resource
has changes, e.g. an API added to the list.  Its attributes are then unknown
at plan time, and an argument of ``google_redis_instance`` or
``google_vpc_access_connector`` computed from them is planned as "known after
apply": for an argument that forces replacement, Terraform plans to destroy
and recreate Redis (losing its data) and the connector.

The test follows the references of the parsed HCL: every argument of those
two resources (a superset of the ones that force replacement, which the
schema extract does not record), through locals and data sources, must reach
neither ``google_project_service.apis`` nor a data source that depends on it.
Copies broken on purpose show the rule failing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.unit.tools.tf_support import TF_DIR, edited_copy
from tools.tfcheck import Terraform

GUARDED = ("google_redis_instance", "google_vpc_access_connector")
APIS = "google_project_service.apis"
# Arguments that force replacement and must be in the configuration (so a rename cannot dodge the test).
FORCE_NEW = {
    "google_redis_instance": {"name", "region", "authorized_network", "connect_mode", "tier"},
    "google_vpc_access_connector": {"name", "region", "network", "ip_cidr_range"},
}
REFERENCE = re.compile(r"\b(data\.[a-z0-9_]+\.[\w-]+|local\.[\w-]+|var\.[\w-]+|(?<!\.)google_[a-z0-9_]+\.[\w-]+)")


def references(value: Any) -> set[str]:
    """Every ``data.T.N``, ``local.N``, ``var.N`` and ``T.N`` (managed resource) named in ``value``."""
    return set(REFERENCE.findall(str(value)))


def depends_on_apis(tf: Terraform, ref: str, seen: set[str] | None = None) -> list[str]:
    """The path from ``ref`` to the APIs resource through locals and data sources ([] if there is none).

    A managed resource other than the APIs ends the path: its known attributes
    stay known at plan time whatever it depends on.  A data source does not:
    any dependency with changes defers its read to apply time.
    """
    seen = set() if seen is None else seen
    if ref in seen:
        return []
    seen.add(ref)
    if ref == APIS:
        return [ref]
    if ref.startswith("local."):
        body: Any = tf.locals.get(ref.split(".")[1])
    elif ref.startswith("data."):
        _, rtype, name = ref.split(".")
        body = tf.data.get(rtype, {}).get(name)
    else:
        return []
    for nxt in sorted(references(body)):
        if path := depends_on_apis(tf, nxt, seen):
            return [ref, *path]
    return []


def replacement_risks(tf: Terraform) -> list[str]:
    risks = []
    for rtype in GUARDED:
        for name, body in tf.resources.get(rtype, {}).items():
            for arg, value in body.items():
                if arg == "depends_on":  # orders a managed resource's operations; defers nothing
                    continue
                for ref in sorted(references(value)):
                    if path := depends_on_apis(tf, ref):
                        risks.append(f"{rtype}.{name}.{arg} <- {' <- '.join(path)}")
    return risks


def test_redis_and_the_connector_do_not_depend_on_the_api_list() -> None:
    assert replacement_risks(Terraform.load(TF_DIR)) == []


def test_the_arguments_that_force_replacement_are_all_checked() -> None:
    tf = Terraform.load(TF_DIR)
    for rtype, args in FORCE_NEW.items():
        (body,) = tf.resources[rtype].values()
        assert args <= set(body), f"{rtype} misses {args - set(body)}"


NETWORK_DATA = """
data "google_compute_network" "vpc" {
  name = var.network
%s}
"""


def broken(tmp_path: Path, edits: dict[str, tuple[str, str]], extra: str = "") -> Terraform:
    return Terraform.load(edited_copy(tmp_path, edits, extra))


DEFERRED = NETWORK_DATA % "  depends_on = [google_project_service.apis]\n"
BREAKS = {
    "the network read through a data source that depends on the APIs": (
        {
            "redis.tf": (
                "authorized_network = local.network_id",
                "authorized_network = data.google_compute_network.vpc.id",
            )
        },
        DEFERRED,
        "google_redis_instance.cache.authorized_network <- data.google_compute_network.vpc <- " + APIS,
    ),
    "the same through a local": (
        {
            "redis.tf": (
                'network_id = "projects/${var.project}/global/networks/${var.network}"',
                "network_id = data.google_compute_network.vpc.id",
            )
        },
        DEFERRED,
        "google_redis_instance.cache.authorized_network <- local.network_id <- data.google_compute_network.vpc <- "
        + APIS,
    ),
    "the connector's network from a data source naming an API": (
        {"redis.tf": ("network       = var.network", "network       = data.google_compute_network.vpc.name")},
        NETWORK_DATA % '  project = google_project_service.apis["compute.googleapis.com"].project\n',
        "google_vpc_access_connector.connector.network <- data.google_compute_network.vpc <- " + APIS,
    ),
    "an argument computed from the APIs resource itself": (
        {
            "redis.tf": (
                'name               = "${local.name_prefix}-cache"',
                'name               = "${google_project_service.apis["redis.googleapis.com"].id}-cache"',
            )
        },
        "",
        "google_redis_instance.cache.name <- " + APIS,
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_a_dependency_on_the_api_list_is_reported(tmp_path: Path, case: str) -> None:
    edits, extra, risk = BREAKS[case]
    assert risk in replacement_risks(broken(tmp_path, edits, extra))


def test_a_data_source_without_the_dependency_is_fine(tmp_path: Path) -> None:
    edits, _, _ = BREAKS["the network read through a data source that depends on the APIs"]
    assert replacement_risks(broken(tmp_path, edits, NETWORK_DATA % "")) == []
