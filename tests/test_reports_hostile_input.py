"""Hostile and odd input to the report and dashboard endpoints: each answered with a refusal or figures, never a 500."""

from __future__ import annotations

from test_reports import put_report


def test_odd_parameters_and_definitions_are_refused_or_answered_never_a_server_error(api):
    runtime = api.world.runtime
    put_report(runtime, {"name": "p", "object": "account", "group_by": [{"field": "industry"}, {"field": "created_at", "bucket": "week"}],
                         "measures": [{"aggregate": "avg", "field": "annual_revenue"}, {"aggregate": "count_distinct", "field": "owner"}],
                         "period": {"field": "created_at", "range": "last_30_days"}})
    bad = []
    for params in [{"period": "last_0_days"}, {"period": "last_99999_days"}, {"owner": "99999999999999999999"}, {"owner__in": "1,x"},
                   {"annual_revenue__gte": "1e400"}, {"annual_revenue__gte": "NaN"}, {"created_at__gte": "2026-13-45"}, {"industry": "\x00"},
                   {"sort": "-x"}, {"limit": "-1"}, {"q": "%"}, {"format": "xlsx", "industry": "=cmd|' /C calc'!A0"}, {"period": "next_9999_days"}]:
        r = api.get("root", "/api/reports/p/run", params=params)
        if r.status_code >= 500:
            bad.append((params, r.status_code, r.text[:200]))
    for path in ["/api/dashboards/sales?owner=99999999999999999999", "/api/dashboards/x?team=" + "y" * 5000, "/api/reports/%00/run",
                 "/api/dashboards/nothing?period=bad", "/reports/p/records?industry=x&created_at=notadate", "/reports/p/records?created_at=2026-W01",
                 "/reports/p?period=last_9999_days", "/dashboards/sales?owner=abc"]:
        r = api.get("root", path)
        if r.status_code >= 500:
            bad.append((path, r.status_code, r.text[:200]))
    for body in [{"object": "account", "group_by": [{"field": "a.b.c.d.e"}]}, {"object": "account", "measures": [{"aggregate": "avg", "field": "owner.username"}], "group_by": [{"field": "industry"}]},
                 {"object": "account", "history": "industry", "group_by": [{"field": "history.value"}]}, {"object": "account", "group_by": [{"field": "history.value"}]},
                 {"object": "account", "kind": "tabular", "columns": ["parent_account.parent_account.parent_account.name"], "sort": {"by": "parent_account.parent_account.parent_account.name"}},
                 {"object": "account", "group_by": [{"field": "industry"}], "chart": {"type": "funnel", "steps": ["nope"]}},
                 {"tiles": [{"report": "p"}]}]:
        r = api.put("root", "/api/meta/reports/probe", json=body)
        if r.status_code >= 500:
            bad.append((body, r.status_code, r.text[:300]))
    r = api.put("root", "/api/meta/dashboards/probe", json={"tiles": [{"report": "nope"}, {"widget": "x"}], "roles": ["nobody"]})
    assert r.status_code == 422, r.text
    ok = api.put("root", "/api/meta/reports/deep", json={"object": "account", "kind": "tabular", "columns": ["name", "parent_account.parent_account.name"], "sort": {"by": "parent_account.parent_account.name", "descending": True}})
    assert ok.status_code == 200, ok.text
    assert api.get("root", "/api/reports/deep/run").status_code == 200
    assert api.get("alice", "/api/reports/deep/run").status_code == 200
    assert bad == [], bad
