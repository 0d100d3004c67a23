from passerelle.runtime import run_service
from services.translation.app import build

if __name__ == "__main__":
    run_service("translation", build)
