"""A NUL character in the URL is a clear 400, never a 500 (PostgreSQL refuses NUL in text)."""

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/activity/?model=a%00b", "/activity/gen%00x/", "/activity/?a%00=1"])
def test_dashboard_urls_with_nul_are_refused(client, url):
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 400


def test_the_generation_api_refuses_nul_with_a_json_error(client, make_customer):
    customer = make_customer()
    response = client.get("/api/v1/generation?id=gen%00x", headers=customer.headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The URL contains a NUL character."
