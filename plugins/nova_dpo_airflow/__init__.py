"""Airflow extensions for the Nova DPO pipeline: operators, triggers, hooks and waiters."""
