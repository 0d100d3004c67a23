from passerelle.runtime import run_service
from services.country_a.app import build

if __name__ == "__main__":
    run_service("country-a", build)
