from passerelle.runtime import run_service
from passerelle.service import Service
from services.country_a.app import build

if __name__ == "__main__":
    run_service(Service.COUNTRY_A, build)
