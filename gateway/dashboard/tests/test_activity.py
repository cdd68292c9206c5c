"""Activity: the list with filters and keyset pages, the detail view, and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from tests.factories import ApiKeyFactory, GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _ids(response) -> list[str]:
    return [g.id for g in response.context["page"].rows]


def test_new_user_is_told_what_to_do(client, user):
    body = client.get("/activity/").content.decode()
    assert 'data-testid="empty-activity"' in body
    assert "Create an API key" in body


def test_lists_only_the_users_generations_newest_first(client, user):
    now = timezone.now()
    old = GenerationFactory(user=user, created_at=now - timedelta(hours=2))
    new = GenerationFactory(user=user, created_at=now - timedelta(minutes=1))
    GenerationFactory(user=UserFactory(), model_slug="other/secret")
    response = client.get("/activity/")
    assert _ids(response) == [new.id, old.id]
    body = response.content.decode()
    assert "other/secret" not in body
    assert "$0.000001" in body  # cost per row, in dollars


def test_filters_by_key_model_status_and_dates(client, user):
    now = timezone.now()
    key_a = ApiKeyFactory(user=user, name="alpha")
    key_b = ApiKeyFactory(user=user, name="beta")
    a = GenerationFactory(user=user, api_key=key_a, model_slug="openai/gpt-4o-mini")
    b = GenerationFactory(user=user, api_key=key_b, status="error")
    c = GenerationFactory(user=user, api_key=key_b, created_at=now - timedelta(days=10))
    assert _ids(client.get(f"/activity/?key={key_a.id}")) == [a.id]
    assert _ids(client.get("/activity/?model=openai/gpt-4o-mini")) == [a.id]
    assert _ids(client.get("/activity/?status=error")) == [b.id]
    day = (now - timedelta(days=10)).date().isoformat()
    assert _ids(client.get(f"/activity/?from={day}&to={day}")) == [c.id]


def test_another_users_key_filter_shows_nothing(client, user):
    stranger_key = ApiKeyFactory()
    GenerationFactory(user=stranger_key.user, api_key=stranger_key)
    assert _ids(client.get(f"/activity/?key={stranger_key.id}")) == []


def test_bad_filters_say_what_is_wrong_instead_of_failing(client, user):
    GenerationFactory(user=user)
    response = client.get("/activity/?from=yesterday&status=weird&key=abc")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Use a date like 2026-01-31." in body
    assert len(_ids(response)) == 1


def test_keyset_pages_walk_every_row_once(client, user):
    base = timezone.now() - timedelta(days=1)
    # Same timestamps in pairs: the id breaks ties so no row is skipped or repeated.
    gens = [GenerationFactory(user=user, created_at=base + timedelta(seconds=i // 2)) for i in range(120)]
    seen: list[str] = []
    response = client.get("/activity/")
    while True:
        seen += _ids(response)
        page = response.context["page"]
        if not page.older_cursor:
            break
        response = client.get("/activity/", {"before": page.older_cursor})
    assert len(seen) == 120 and set(seen) == {g.id for g in gens}
    # And back: "Newer" from the last page returns the page before it.
    newer = client.get("/activity/", {"after": response.context["page"].newer_cursor})
    assert _ids(newer) == seen[50:100]


def test_htmx_filter_request_gets_only_the_results(client, user):
    GenerationFactory(user=user)
    response = client.get(
        "/activity/?status=success", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="activity-results"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="activity-results"')
    assert "<html" not in body


def test_activity_query_count_is_constant(client, user, django_assert_max_num_queries):
    for _ in range(60):
        GenerationFactory(user=user, api_key=ApiKeyFactory(user=user))
    with django_assert_max_num_queries(7):
        response = client.get("/activity/")
    assert len(_ids(response)) == 50


def test_detail_shows_numbers_and_hides_unlogged_text(client, user):
    gen = GenerationFactory(user=user, cost_nanos=1_234_000, prompt_tokens=11, completion_tokens=7)
    body = client.get(f"/activity/{gen.id}/").content.decode()
    assert gen.id in body and "$0.001234" in body
    assert 'data-testid="not-logged"' in body


def test_detail_shows_prompt_and_completion_when_logged(client, user):
    gen = GenerationFactory(
        user=user,
        prompt_text=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi <b>there</b>"},
        ],
        completion_text="Hello!",
    )
    body = client.get(f"/activity/{gen.id}/").content.decode()
    assert "Be brief." in body and "Hello!" in body
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in body  # escaped, never rendered as HTML


def test_another_users_generation_is_not_found(client, user):
    gen = GenerationFactory(user=UserFactory(), completion_text="private")
    response = client.get(f"/activity/{gen.id}/")
    assert response.status_code == 404
    assert "private" not in response.content.decode()


def test_csv_export_streams_the_filtered_rows(client, user):
    key = ApiKeyFactory(user=user, name="ci")
    GenerationFactory(user=user, api_key=key, cost_nanos=2_500_000, model_slug="a/one")
    GenerationFactory(user=user, api_key=key, status="error", model_slug="a/two")
    GenerationFactory(user=UserFactory(), model_slug="other/secret")
    response = client.get("/activity/export.csv?status=success")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["model"] for r in rows] == ["a/one"]
    assert rows[0]["key"] == "ci" and rows[0]["cost_nanos"] == "2500000" and rows[0]["cost_usd"] == "0.0025"


def test_pages_require_login(client):
    for url in ("/activity/", "/activity/export.csv", "/activity/gen-x/"):
        assert client.get(url).status_code == 302


@pytest.mark.django_db(transaction=True)
async def test_csv_export_streams_under_asgi_without_buffering(async_client):
    # Closes its thread's connection afterwards, so PostgreSQL can drop the test database.
    @database_sync_to_async
    def setup():
        user = UserFactory()
        key = ApiKeyFactory(user=user)
        from billing.models import Generation

        Generation.objects.bulk_create(
            [GenerationFactory.build(user=user, api_key=key, cost_nanos=i) for i in range(1_205)]
        )
        return user

    user = await setup()
    await async_client.aforce_login(user)
    response = await async_client.get("/activity/export.csv")
    assert response.is_async  # an async iterator: ASGI sends it as it is produced
    body = "".join([chunk.decode() async for chunk in response.streaming_content])
    # The test client hands the stream over after the request ended, so the batches ran on
    # asgiref's shared thread (a server streams inside the request, which closes them).
    await database_sync_to_async(lambda: None)()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 1_205
    assert sorted(int(r["cost_nanos"]) for r in rows) == list(range(1_205))


def test_activity_shows_which_api_surface_a_request_used(client, user):
    messages = GenerationFactory(user=user, api="messages", model_slug="a/claude")
    GenerationFactory(user=user, model_slug="a/chat")  # chat completions: no label
    body = client.get("/activity/").content.decode()
    assert body.count('title="API surface"') == 1 and "Messages" in body
    detail = client.get(f"/activity/{messages.id}/").content.decode()
    assert "<dt>API</dt><dd>Messages</dd>" in detail
    rows = list(
        csv.DictReader(io.StringIO(b"".join(client.get("/activity/export.csv").streaming_content).decode()))
    )
    assert sorted(r["api"] for r in rows) == ["chat", "messages"]


def test_csv_export_neutralises_spreadsheet_formulas(client, user):
    names = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "plain"]
    for name in names:
        GenerationFactory(user=user, api_key=ApiKeyFactory(user=user, name=name), cost_nanos=1)

    response = client.get("/activity/export.csv")

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["key"] for r in rows) == sorted(["'" + n for n in names[:4]] + ["plain"])
    assert {r["cost_nanos"] for r in rows} == {"1"}  # numbers are left as they are
