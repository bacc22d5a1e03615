"""The functions are built by their own least-privilege service account, not the default build account.

Without ``build_config.service_account`` Cloud Functions (gen2) builds as the
default Cloud Build account, which newer organisations no longer make a
project Editor: the builds fail there.  The build account gets what the Cloud
Functions docs require of it and nothing more: write the build's logs and push
the image (project-level roles, in ``local.build_roles``), read the source
zips (objectViewer on the sources bucket only).  Each rule is also shown
failing on a copy broken on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.tools.tf_support import TF_DIR, edited_copy
from tools.tfcheck import Terraform, one, walk

BUILD = "google_service_account.build"
BUILD_MEMBER = "serviceAccount:${google_service_account.build.email}"
BUILD_ROLES = {"roles/logging.logWriter", "roles/artifactregistry.writer"}
# How local.function_roles grants the build account its project roles: those of local.build_roles, nothing else.
BUILD_GRANTS = '[{for r in local.build_roles : "build/${r}" => {member = "' + BUILD_MEMBER + '", role = r}}]'


def build_identity_problems(tf: Terraform) -> list[str]:
    problems = []
    fn = tf.function_resource
    if one(fn, "build_config").get("service_account") != "${google_service_account.build.id}":
        problems.append(f"every function must build as {BUILD} (build_config.service_account)")
    if BUILD in str(tf.service_config.get("service_account_email")):
        problems.append("the build account must not be a function's runtime identity")
    if "account_id" not in tf.resource("google_service_account", "build"):
        problems.append(f"{BUILD} must exist")
    roles = set(re.findall(r'"(roles/[^"]+)"', str(tf.locals.get("build_roles"))))
    if roles != BUILD_ROLES:
        problems.append(f"the build account's project roles are {sorted(roles)}, not {sorted(BUILD_ROLES)}")
    if str(tf.locals.get("function_roles")).count(BUILD) != 1 or BUILD_GRANTS not in str(tf.locals["function_roles"]):
        problems.append("the build account's project roles come only from local.build_roles")
    if tf.resource("google_project_iam_member", "fn_roles").get("member") != "${each.value.member}":
        problems.append("project grants must take their member from local.function_roles")
    for rtype, named in tf.resources.items():
        for name, body in named.items():
            if not any(BUILD in str(value) for path, value in walk(body) if path.endswith("member")):
                continue
            reads_sources = (
                rtype == "google_storage_bucket_iam_member"
                and body.get("bucket") == "${google_storage_bucket.sources.name}"
                and body.get("role") == "roles/storage.objectViewer"
            )
            if not reads_sources:
                problems.append(f"{rtype}.{name}: the build account may only read the sources bucket")
    for grant in ("google_project_iam_member.fn_roles", "google_storage_bucket_iam_member.build_sources"):
        if "${" + grant + "}" not in fn.get("depends_on", []):
            problems.append(f"functions must wait for the build account's grants ({grant})")
    return problems


def test_the_functions_build_as_their_own_least_privilege_account() -> None:
    assert build_identity_problems(Terraform.load(TF_DIR)) == []


BREAKS = {
    "the default build account": (
        "functions.tf",
        "    service_account = google_service_account.build.id\n",
        "",
        "every function must build as google_service_account.build",
    ),
    "the build account running the functions": (
        "functions.tf",
        "service_account_email            = google_service_account.fn[each.key].email",
        "service_account_email            = google_service_account.build.email",
        "must not be a function's runtime identity",
    ),
    "a broader build role": (
        "locals.tf",
        '"roles/artifactregistry.writer"]',
        '"roles/artifactregistry.writer", "roles/cloudbuild.builds.builder"]',
        "the build account's project roles are",
    ),
    "the build account reading every bucket": (
        "iam.tf",
        '  bucket = google_storage_bucket.sources.name\n  role   = "roles/storage.objectViewer"',
        '  bucket = google_storage_bucket.exports.name\n  role   = "roles/storage.objectViewer"',
        "google_storage_bucket_iam_member.build_sources: the build account may only read the sources bucket",
    ),
    "the build account granted a function's role": (
        "locals.tf",
        '{ member = "serviceAccount:${google_service_account.fn[fn].email}", role = r }',
        '{ member = "serviceAccount:${google_service_account.build.email}", role = r }',
        "the build account's project roles come only from local.build_roles",
    ),
    "a build started before its grants": (
        "functions.tf",
        "    google_storage_bucket_iam_member.build_sources,\n",
        "",
        "functions must wait for the build account's grants (google_storage_bucket_iam_member.build_sources)",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_a_broken_build_identity_is_reported(tmp_path: Path, case: str) -> None:
    file, old, new, phrase = BREAKS[case]
    problems = build_identity_problems(Terraform.load(edited_copy(tmp_path, {file: (old, new)})))
    assert any(phrase in p for p in problems), problems
