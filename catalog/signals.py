"""Bump the shared catalog version on every catalog write, so all processes reload."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Endpoint, Model, ModelAlias, Provider
from catalog.snapshot import invalidate_local, publish_change


@receiver([post_save, post_delete], sender=Provider)
@receiver([post_save, post_delete], sender=Model)
@receiver([post_save, post_delete], sender=Endpoint)
@receiver([post_save, post_delete], sender=ModelAlias)
def catalog_changed(**kwargs: object) -> None:
    invalidate_local()
    # Bump after commit: a process that saw the new version before the write was
    # visible would rebuild from the old rows and then trust that stale snapshot
    # under the new version until the next edit. Outside a transaction this runs now.
    transaction.on_commit(publish_change)
