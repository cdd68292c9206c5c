from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing.alerts.delivery import webhooks_deliver, webhooks_purge
from billing.alerts.scan import alerts_scan
from billing.alerts.services import alert_emails_send


class Command(BaseCommand):
    help = (
        "Email and webhook alerts for low balances and keys at 80%/100% of their limit, and "
        "webhook retries. Run every minute (cron), or keep it running with --loop SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", type=int, default=0, metavar="SECONDS", help="repeat every SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["loop"]
        if interval < 0:
            self.stderr.write("--loop takes a positive number of seconds")
            raise SystemExit(2)
        while True:
            fired = alerts_scan()
            mailed, unmailed = alert_emails_send()
            delivered, pending = webhooks_deliver()
            webhooks_purge()
            self.stdout.write(
                f"{fired} alert(s) fired, {mailed} email(s) sent ({unmailed} to retry), "
                f"{delivered} webhook(s) delivered ({pending} to retry)."
            )
            if not interval:
                return
            time.sleep(interval)
