from passerelle.runtime import run_service
from services.consent.app import build

if __name__ == "__main__":
    run_service("consent", build)
