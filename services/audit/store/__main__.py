"""The audit store writer as a process: ``python -m services.audit.store`` (= ``passerelle worker audit-store``)."""
from passerelle.runtime import run_service
from passerelle.service import Service
from services.audit.store.app import build

if __name__ == "__main__":
    run_service(Service.AUDIT_STORE, build)
