"""Nova DPO: the domain code of the DPO customization pipeline (no Airflow imports here)."""

__version__ = "0.1.0"
