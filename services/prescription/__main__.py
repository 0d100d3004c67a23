"""The prescription service: the state of each foreign prescription a French pharmacist dispenses
(docs/prescription.md)."""
from passerelle.runtime import run_service
from passerelle.service import Service
from services.prescription.app import build

if __name__ == "__main__":
    run_service(Service.PRESCRIPTION, build)
