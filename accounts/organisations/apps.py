from django.apps import AppConfig


class OrganisationsConfig(AppConfig):
    name = "accounts.organisations"
    label = "organisations"
    verbose_name = "Organisations"
