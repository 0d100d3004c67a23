from passerelle.runtime import run_service
from passerelle.service import Service
from services.router.app import build

if __name__ == "__main__":
    run_service(Service.ROUTER, build)
