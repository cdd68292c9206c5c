from __future__ import annotations

from accounts.models import UserSettings


def test_settings_page_shows_logging_off_by_default(client_a, user):
    page = client_a.get("/settings/").content.decode()
    assert "Log prompts and completions" in page and 'value="30"' in page
    assert 'name="log_prompts" id="id_log_prompts" checked' not in page
    assert UserSettings.objects.get(user=user).log_prompts is False


def test_saving_turns_logging_on_with_a_retention(client_a, user):
    response = client_a.post("/settings/", {"log_prompts": "on", "log_retention_days": "7"})
    assert response.status_code == 302
    prefs = UserSettings.objects.get(user=user)
    assert (prefs.log_prompts, prefs.log_retention_days) == (True, 7)
    assert "Settings saved." in client_a.get("/settings/").content.decode()


def test_retention_must_be_at_least_a_day(client_a, user):
    response = client_a.post("/settings/", {"log_prompts": "on", "log_retention_days": "0"})
    assert response.status_code == 200 and "field-error" in response.content.decode()
    assert UserSettings.objects.get(user=user).log_prompts is False


def test_saving_with_htmx_swaps_the_form_with_a_confirmation(client_a, user):
    page = client_a.post("/settings/", {"log_retention_days": "90"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in page and 'id="settings-form"' in page and "Settings saved." in page
    assert UserSettings.objects.get(user=user).log_retention_days == 90


def test_settings_are_per_user(client_a, client_b, user, other_user):
    client_a.post("/settings/", {"log_prompts": "on", "log_retention_days": "5"})
    page = client_b.get("/settings/").content.decode()
    assert 'value="5"' not in page
    assert UserSettings.objects.get(user=other_user).log_prompts is False


def test_key_lookup_sees_the_new_logging_choice(client, client_a, user, long_key_cache):
    from accounts import keyauth
    from accounts.tests.factories import make_key

    _, secret = make_key(user)
    assert keyauth.authenticate(secret).log_prompts is False
    client_a.post("/settings/", {"log_prompts": "on", "log_retention_days": "5"})
    assert keyauth.authenticate(secret).log_prompts is True
