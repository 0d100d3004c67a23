"""The notifications service as a process: ``python -m services.notifications`` (= ``passerelle worker notifications``)."""
from passerelle.runtime import run_service
from services.notifications.app import build

if __name__ == "__main__":
    run_service("notifications", build)
