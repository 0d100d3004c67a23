"""What the notifications service reads from configuration: the core's settings. Its own
(``PASSERELLE_NOTIFICATIONS__*``: the SMTP relay, the notification store, retention) are in
``passerelle/settings.py`` (``NotificationSettings``) because the notification store is a read model
the gateway's patient space reads too, as the audit store's settings are the core's."""

from passerelle.settings import Settings

NotificationsSettings = Settings
