"""Property-based tests of the whole API against its own OpenAPI document (schemathesis).

For every operation the document describes, schemathesis generates requests (a bounded
number per operation, some that fit the schema and some that do not), sends them as an
admin through the ASGI app (the document is the admin's: it lists every object and field), and checks that no answer is a 5xx and that every answer
matches the documented schema. Runs on SQLite and
PostgreSQL. Sign-out and token revocation are left out: they would end the session the
run signs in with.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

EXAMPLES_PER_OPERATION = 12
LEFT_OUT = ("/api/auth/logout", "/api/auth/tokens/{token_id}")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_every_operation_answers_within_its_documented_schema(api):
    headers = api.headers("root")
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", api.client.app, headers=headers)  # the admin's document
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
    assert tried > 120
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
