from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("credits/", views.credits_page, name="credits"),
    path("credits/redeem/", views.redeem, name="redeem"),
    path("credits/buy/", views.buy, name="buy"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
]
