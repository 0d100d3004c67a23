from passerelle.runtime import run_service
from services.audit.app import build

if __name__ == "__main__":
    run_service("audit", build)
