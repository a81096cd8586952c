"""Property-based tests of the whole API against its own OpenAPI document (schemathesis).

For every operation the document describes, schemathesis generates requests (a bounded
number per operation, some that fit the schema and some that do not), sends them through
the ASGI app, and checks that no answer is a 5xx and that every answer matches the
documented schema. It runs twice, with each caller's own document: as an admin (every
object and field, the user, role and permission-set paths included) and as a rep whose
role scopes records and hides a field. Runs on SQLite and PostgreSQL. Sign-out and token
revocation are left out: they would end the session the run signs in with. Nothing else
is: after each operation the caller must still be signed in, so a generated request may
delete or change users, roles and permission sets but never lock out its own caller (the
last admin can be neither deleted, deactivated nor demoted).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

EXAMPLES_PER_OPERATION = 12
LEFT_OUT = ("/api/auth/logout", "/api/auth/tokens/{token_id}")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.parametrize("person", ["root", "alice"])
def test_every_operation_answers_within_its_documented_schema(api, person):
    headers = api.headers(person)
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", api.client.app, headers=headers)  # the caller's own document
    failures: dict[str, str] = {}
    tried = 0
    operations = [r.ok() for r in schema.exclude(path=list(LEFT_OUT)).get_all_operations()]
    for operation, mode in [(o, m) for o in operations for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]:

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # every failing operation is reported, not just the first
            failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
        tried += 1
        still_signed_in(api, person, headers)
    assert tried > (120 if person == "root" else 40)
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def still_signed_in(api, person: str, headers: dict) -> None:
    """The caller can still act: generated requests may not lock their own caller out."""
    answer = api.client.get("/api/auth/me", headers=headers)
    assert answer.status_code == 200, f"{person} was locked out by the operations run so far: {answer.text}"
