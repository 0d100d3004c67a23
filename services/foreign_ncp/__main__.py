from passerelle.runtime import run_service
from services.foreign_ncp.app import build

if __name__ == "__main__":
    run_service("foreign-ncp", build)
