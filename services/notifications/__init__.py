"""The patient is informed of every access to their data: e-mail and in-app notification (docs/notifications.md)."""
