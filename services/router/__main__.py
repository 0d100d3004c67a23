from passerelle.runtime import run_service
from services.router.app import build

if __name__ == "__main__":
    run_service("router", build)
