from passerelle.runtime import run_service
from passerelle.service import Service
from services.foreign_ncp.app import build

if __name__ == "__main__":
    run_service(Service.FOREIGN_NCP, build)
