"""The organisation story in a real browser: an owner creates an organisation, tops it up
and invites a member; the member signs up from the emailed link, creates a key and spends it
through the ``openai`` SDK until their budget stops them with a clear error; the owner sees
the member's spend on the organisation page, raises the budget, and the audit log shows it all.
"""

from __future__ import annotations

import re
from decimal import Decimal

import openai
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from accounts.organisations.models import Membership, Organisation
from billing import services as billing
from billing.models import CreditAccount, Generation
from promptgrid.money import format_usd
from tests.browser.conftest import in_thread, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER, MEMBER, PASSWORD = "owner@team.test", "dev@team.test", "a-long-team-passphrase-42"


@pytest.fixture
def story_setup(settings, make_mock_model):
    settings.SIGNUP_CREDITS = Decimal("0")
    make_mock_model(input_price="1", output_price="2")
    owner = get_user_model().objects.create_user("owner", OWNER, PASSWORD)
    billing.account_for_user(user=owner)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=owner, email=OWNER, verified=True, primary=True)
    staff = get_user_model().objects.create_user("ops", "ops@team.test", PASSWORD, is_staff=True)
    return billing.redeem_codes_create(count=1, value_nanos=20_000_000_000, created_by=staff).codes[0]


def _ask(client: openai.OpenAI) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(
        model="mock/echo", messages=[{"role": "user", "content": "team work"}], max_tokens=20
    )


def test_owner_invites_member_who_spends_hits_the_budget_and_is_raised(
    story_setup, live_server_url, screenshot_dir, chromium
):
    base, code = live_server_url, story_setup
    owner_ctx = chromium.new_context(viewport={"width": 1360, "height": 900})
    owner = login(owner_ctx, base, OWNER, PASSWORD)

    # The owner creates the organisation; it becomes the dashboard's context.
    owner.goto(f"{base}/orgs/new/")
    owner.fill("input[name=name]", "Acme Team")
    owner.get_by_role("button", name="Create organisation").click()
    owner.wait_for_url(f"{base}/orgs/acme-team/")
    slug = "acme-team"
    expect(owner.locator("#context-select")).to_have_value(slug)

    # Tops it up with a redeem code on Credits (the organisation's account, not the owner's).
    owner.goto(f"{base}/credits/")
    owner.fill("input[name=code]", code)
    owner.get_by_role("button", name="Redeem").click()
    expect(owner.get_by_test_id("balance")).to_have_text("$20.00")
    organisation = in_thread(lambda: Organisation.objects.get(slug=slug))

    def org_balance() -> int:
        return in_thread(lambda: CreditAccount.objects.get(organisation=organisation).balance_nanos)

    assert org_balance() == 20_000_000_000

    # New members start with a budget of $0.0003; then the owner invites one by email.
    owner.goto(f"{base}/orgs/{slug}/")
    owner.fill("input[name=default_limit_usd]", "0.0003")
    owner.get_by_role("button", name="Save settings").click()
    owner.fill("#invite-form input[name=email]", MEMBER)
    owner.get_by_role("button", name="Send invitation").click()
    expect(owner.locator("#invitations-table")).to_contain_text(MEMBER)
    (message,) = mail.outbox
    link = re.search(r"http\S+/orgs/invitations/\S+/", message.body).group(0)
    invite_path = link[link.index("/orgs/") :]

    # The member, not signed up yet, follows the link, signs up and accepts.
    member_ctx = chromium.new_context(viewport={"width": 1360, "height": 900})
    member = member_ctx.new_page()
    member.goto(f"{base}{invite_path}")
    expect(member.locator("#invitation")).to_contain_text("Acme Team")
    member.get_by_role("link", name="Sign up").click()
    member.fill("input[name=email]", MEMBER)
    member.fill("input[name=password1]", PASSWORD)
    member.fill("input[name=password2]", PASSWORD)
    member.locator("form button[type=submit]").last.click()
    member.wait_for_url(f"{base}{invite_path}")
    member.get_by_role("button", name="Accept and join Acme Team").click()
    member.wait_for_url(f"{base}/")
    expect(member.locator("#context-select")).to_have_value(slug)

    # The owner keeps the organisation page open while the member works.
    owner.goto(f"{base}/orgs/{slug}/")

    # Creates a key in the organisation and spends it with the openai SDK until the budget stops it.
    member.goto(f"{base}/keys/")
    member.get_by_role("link", name="Create key").click()
    member.fill("input[name=name]", "dev laptop")
    member.get_by_role("button", name="Create key").click()
    secret = member.locator("#new-key-secret").inner_text().strip()
    client = openai.OpenAI(base_url=f"{base}/api/v1", api_key=secret, max_retries=0)
    answered = 0
    with pytest.raises(openai.APIStatusError) as refused:
        for _ in range(60):
            assert _ask(client).choices[0].message.content == "team work"
            answered += 1
    assert answered >= 1
    assert refused.value.status_code == 402 and refused.value.body["code"] == "member_budget_reached"
    assert "budget in this organisation" in refused.value.body["message"]
    assert "Ask an organisation admin to raise your budget" in refused.value.body["message"]
    spent = in_thread(
        lambda: sum(Generation.objects.filter(organisation=organisation).values_list("cost_nanos", flat=True))
    )
    assert org_balance() == 20_000_000_000 - spent

    # The owner sees the member's spend appear on the open page (it refreshes itself) ...
    member_row = in_thread(lambda: Membership.objects.get(organisation=organisation, user__email=MEMBER))
    row = owner.locator(f"#member-{member_row.pk}")
    expected = f"${Decimal(spent) / 10**9:.9f}".rstrip("0")
    expect(row.locator(".member-spend")).to_have_text(expected, timeout=15_000)
    owner.screenshot(path=str(screenshot_dir / "org-members.png"), full_page=True)

    # ... and raises the budget; the member's next request goes through.
    manage = owner.locator(f"#manage-{member_row.pk}")
    manage.get_by_text("Change").click()
    manage.locator(f"input[name=m{member_row.pk}-limit_usd]").fill("1")
    manage.get_by_role("button", name="Save").click()
    expect(owner.locator(f"#member-{member_row.pk} .member-budget")).to_contain_text("$1.00")
    assert _ask(client).choices[0].message.content == "team work"

    # The organisation's audit log shows each step.
    owner.goto(f"{base}/orgs/{slug}/audit-log/")
    log = owner.locator("main").inner_text()
    for action in (
        "organisation.create",
        "organisation.settings",
        "invitation.create",
        "invitation.accept",
        "member.add",
        "key.create",
        "member.budget",
    ):
        assert action in log, action
    assert format_usd(spent)  # the figures above are exact to the nano
