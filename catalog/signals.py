"""Bump the shared catalog version on every catalog write, so all processes reload."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Endpoint, Model, Provider
from catalog.snapshot import bump_version, invalidate_local


@receiver([post_save, post_delete], sender=Provider)
@receiver([post_save, post_delete], sender=Model)
@receiver([post_save, post_delete], sender=Endpoint)
def catalog_changed(**kwargs: object) -> None:
    invalidate_local()
    bump_version()
