"""Announce what an operator changed in Django admin, field by field, old and new.

An admin mixin that knows no app: it sends ``admin_changed`` and whoever keeps the
audit log listens (``accounts.audit_log.receivers``). Catalog's admin uses it
without importing accounts, which the layers forbid.

Old values come from the form's ``initial`` (what the page showed), new ones from
``cleaned_data``, for the model's own fields only; list-editable rows and inlines
go through the same hooks as the change form.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.dispatch import Signal
from django.forms.models import model_to_dict

# sender: the model class; kwargs: request, obj (an instance or a (type, id, repr) tuple),
# action ("<app>.<model>.add|change|delete"), old and new (dicts of field values, or None).
admin_changed = Signal()


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.QuerySet):
        return [item.pk for item in value]
    return value


def _changes(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    names = {field.name for field in form._meta.model._meta.concrete_fields}
    changed = [name for name in form.changed_data if name in names]
    if getattr(form, "cleaned_data", {}).get("clear_api_key") and "api_key" in names:
        changed.append("api_key")  # a write-only field cleared by a checkbox of its own
    old = {name: _plain(form.initial.get(name)) for name in changed}
    new = {name: _plain(form.cleaned_data.get(name)) for name in changed}
    # JSON fields re-rendered by the form count as changed though their value is the same.
    same = [name for name in changed if old[name] == new[name]]
    for name in same:
        del old[name], new[name]
    return old, new


def _action(obj: Any, verb: str) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}.{verb}"


def _target(obj: Any) -> tuple[str, str, str]:
    return (f"{obj._meta.app_label}.{obj._meta.model_name}", str(obj.pk), str(obj)[:200])


def _send(request: Any, obj: Any, action: str, old: Any, new: Any, model: type) -> None:
    admin_changed.send(sender=model, request=request, obj=obj, action=action, old=old, new=new)


class AuditedAdmin:
    """Mix into a ``ModelAdmin`` (before it) to announce adds, changes and deletes,
    its own and its inlines'."""

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        old, new = _changes(form)
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        if change and not new:
            return
        _send(
            request, obj, _action(obj, "change" if change else "add"), old if change else None, new, type(obj)
        )

    def delete_model(self, request: Any, obj: Any) -> None:
        target, old, model = _target(obj), model_to_dict(obj), type(obj)
        super().delete_model(request, obj)  # type: ignore[misc]
        _send(request, target, _action(obj, "delete"), {k: _plain(v) for k, v in old.items()}, None, model)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        gone = [(_target(obj), _action(obj, "delete"), model_to_dict(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        for target, action, old in gone:
            _send(request, target, action, {k: _plain(v) for k, v in old.items()}, None, queryset.model)

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        deleted = {id(f) for f in getattr(formset, "deleted_forms", [])}
        pending = []
        for inline_form in formset.forms:
            instance = inline_form.instance
            if id(inline_form) in deleted:
                if instance.pk is not None:
                    pending.append((inline_form, _target(instance), "delete", model_to_dict(instance), None))
            elif inline_form.has_changed():
                old, new = _changes(inline_form)
                verb = "change" if instance.pk is not None else "add"
                pending.append((inline_form, None, verb, old if verb == "change" else None, new))
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        model = formset.model
        for inline_form, target, verb, old, new in pending:
            instance = inline_form.instance
            action = f"{model._meta.app_label}.{model._meta.model_name}.{verb}"
            if verb == "delete":
                _send(request, target, action, {k: _plain(v) for k, v in old.items()}, None, model)
            elif verb == "add" or new:
                _send(request, instance, action, old, new, model)
