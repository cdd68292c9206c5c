"""The Credits page: balances, top-ups (redeem codes, card payments) and the ledger history."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.organisations.context import DashContext, current_context
from billing import selectors, services
from billing.forms import BuyForm, RedeemForm
from billing.models import CreditAccount

logger = logging.getLogger(__name__)

LEDGER_PAGE_SIZE = 25


def _account(request: HttpRequest) -> tuple[DashContext, CreditAccount]:
    """The chosen context's account: the user's own, or their organisation's."""
    ctx = current_context(request)
    if ctx.organisation is None:
        return ctx, services.account_for_user(user=request.user)
    return ctx, services.account_for_organisation(organisation=ctx.organisation)


def _payer(request: HttpRequest) -> CreditAccount | None:
    """The account a top-up may credit: personal, or an organisation's for its owners only
    (billing is the owners'); None, with a message, for an admin or member."""
    ctx, account = _account(request)
    if ctx.is_owner:
        return account
    messages.error(request, f"Only an owner of {ctx.name} can add credits to it.")
    return None


def _context(request: HttpRequest, account: CreditAccount, **extra: object) -> dict[str, object]:
    account.refresh_from_db()
    ctx = current_context(request)
    ledger = selectors.ledger_for_account(account=account)
    if ctx.organisation is not None and not ctx.sees_everyone:
        ledger = ledger.none()  # a member sees the balance they spend, not the team's books
    page = Paginator(ledger, LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, object] = {
        "account": account,
        "page": page,
        "redeem_form": RedeemForm(),
        "buy_form": BuyForm() if services.stripe_configured() else None,
        "topup_min": settings.STRIPE_TOPUP_MIN_USD,
        "topup_max": settings.STRIPE_TOPUP_MAX_USD,
        "checkout": request.GET.get("checkout", ""),
        "ctx": ctx,
    }
    context.update(extra)
    return context


@require_GET
@login_required
def credits_page(request: HttpRequest) -> HttpResponse:
    _, account = _account(request)
    context = _context(request, account)
    if request.htmx and request.htmx.target == "ledger":
        return render(request, "billing/credits.html#ledger", context)
    return render(request, "billing/credits.html", context)


@require_POST
@login_required
def redeem(request: HttpRequest) -> HttpResponse:
    account = _payer(request)
    if account is None:
        return redirect("billing:credits")
    form = RedeemForm(request.POST)
    result_error = result_ok = ""
    if form.is_valid():
        try:
            entry = services.redeem_code_redeem(
                account_id=account.pk, code=form.cleaned_data["code"], actor=request.user
            )
        except services.RedeemRefused as exc:
            result_error = str(exc)
        else:
            from promptgrid.money import format_usd

            result_ok = f"Code redeemed: {format_usd(entry.amount_nanos)} added to your balance."
    else:
        result_error = "Enter a code."
    if not request.htmx:
        (messages.error if result_error else messages.success)(request, result_error or result_ok)
        return redirect("billing:credits")
    context = _context(request, account, redeem_error=result_error, redeem_ok=result_ok)
    if result_error:
        context["redeem_form"] = form
    return render(request, "billing/_redeem_response.html", context)


@require_POST
@login_required
def buy(request: HttpRequest) -> HttpResponse:
    if not services.stripe_configured():
        return HttpResponseNotFound("Card payments are not configured.")
    account = _payer(request)
    if account is None:
        return redirect("billing:credits")
    form = BuyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("billing:credits")
    base = settings.SITE_URL + reverse("billing:credits")
    try:
        url = services.checkout_start(
            account=account,
            amount_usd=form.cleaned_data["amount"],
            success_url=f"{base}?checkout=success",
            cancel_url=f"{base}?checkout=cancelled",
        )
    except services.CheckoutRefused as exc:
        messages.error(request, str(exc))
        return redirect("billing:credits")
    except Exception:
        logger.exception("could not start a Stripe Checkout session")
        messages.error(request, "The payment page could not be opened. Please try again in a minute.")
        return redirect("billing:credits")
    if request.htmx:
        from django_htmx.http import HttpResponseClientRedirect

        return HttpResponseClientRedirect(url)
    return redirect(url)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's signed event delivery. Anything not genuine is a 400 and credits nothing."""
    if not services.stripe_configured():
        return HttpResponseNotFound()
    import stripe

    try:
        outcome = services.stripe_webhook_handle(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except (ValueError, KeyError, TypeError, stripe.SignatureVerificationError):
        logger.warning("rejected a Stripe webhook that failed verification")
        return HttpResponseBadRequest("invalid payload or signature")
    return HttpResponse(outcome, content_type="text/plain")
